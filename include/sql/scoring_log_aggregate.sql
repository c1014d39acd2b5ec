-- mrm's pushdown aggregation (scoring_log.athena.aggregate: pushdown): the day's counts computed in Athena.
--
-- Sections start with a line "-- @name". mrm renders one @numeric section per numeric column, one
-- @categorical per categorical column, @ids, @times, and one @segment per (segment column, column), joins
-- them with UNION ALL into {{branches}} of @query, and runs @query once (a model too wide for Athena's
-- 262,144-byte query text gets its branches split over as few queries as fit); @sample is the other
-- query (the evidence sample). Each branch reads only its own columns of the Parquet table, so the
-- counts scan each column about once however they are split.
--
-- What is never written into the text from data: values are bound (%(dt)s, %(model_id)s, %(day)s,
-- %(seed)s, by pyathena for Athena, by DuckDB in tests). What mrm renders into the text:
--   {{day}}       the model's own scoring-log query (its template, e.g. scoring_log.sql), its values bound
--   {{column}}    a column name checked against ^[a-z_][a-z0-9_]*$ (or the contract's names), "quoted"
--   {{name}}      the same name as a string literal
--   {{edges}}     the reference's edges (floats from the profile): for Athena the IEEE-754 bits in one
--                 base64 literal, decoded by from_ieee754_64; for DuckDB an ARRAY of exact E-notation literals
--   {{bin}}       width_bucket(x, e), or IF(x IS NULL, NULL, 0) when the column has no sketch
--   {{low}} {{high}} the inventory's bounds as E-notation double literals (finite floats only)
--   {{sums}}      true or false; {{last}} the last bin's number (the edges' count)
--   {{kept}}      a boolean over v: v is one of the listed reference/inventory labels (quotes doubled)
--   {{limit}} {{cut}} {{segments}} integers; {{named}} a boolean over seg (one of the reference's values)
--   {{segment_x}} {{segment_v}} the column as double (numeric) or varchar (categorical), the other NULL;
--   {{segment_key}} {{segment_digest}} {{segment_bin}}: over v and x (and s: the bins of each reference
--                 segment value, through a CASE with the value as a literal)
-- Bins: width_bucket(x, e) is the number of edges <= x, as numpy's searchsorted(edges, x, "right").
--
-- Result columns (every branch): kind, col, seg, sdigest, slen, key, digest, len, bin, n, total, lo, hi, out
--   numeric     bin (NULL: the nulls, NaN included), n rows, out the rows outside [low, high]; total the
--               bin's sum where it is used ({{sums}}: every bin, for Wasserstein's sums per bin or the
--               score's total; else the two open-ended bins 0 and {{last}} only), lo the column's min on
--               its lowest bin and hi its max on its highest (NULL elsewhere: nothing is sent twice)
--   categorical key = the value (its first {{cut}} characters if longer), digest its sha256 (hex) if
--               longer, len its length; out = 1 on the one row of the values beyond {{limit}} (total:
--               their rows longer than {{cut}}); key NULL and out 0: the nulls
--   ids         n non-null ids, bin the null ids, out the rows whose id occurs more than once
--   times       n events inside the day, bin the null timestamps, hi the newest inside (ms since epoch)
--   segment     seg/sdigest/slen the segment value as key/digest/len above (out = 1: the values beyond
--               {{segments}}, together), then bin or key/digest as above (digest '*': not a reference
--               category), n rows, total the sum of the non-null values
-- @numeric
SELECT 'numeric', {{name}}, NULL, NULL, NULL, NULL, NULL, NULL, b, count(*),
       IF({{sums}} OR b = 0 OR b = {{last}}, sum(x), NULL),
       IF(b = min(b) OVER (), min(x), NULL), IF(b = max(b) OVER (), max(x), NULL),
       count_if(x < {{low}} OR x > {{high}})
FROM (
  SELECT x, {{bin}} AS b
  FROM (SELECT IF(is_nan(v), NULL, v) AS x FROM (SELECT CAST({{column}} AS double) AS v FROM day))
  CROSS JOIN (SELECT {{edges}} AS e)
)
GROUP BY b
-- @categorical
SELECT 'categorical', {{name}}, NULL, NULL, NULL, IF(kept, key, NULL), IF(kept, digest, NULL), IF(kept, len, NULL), NULL,
       sum(n), sum(IF(len > {{cut}}, n, 0)), NULL, NULL, IF(kept, 0, 1)
FROM (
  SELECT key, digest, len, n,
         key IS NULL OR rk <= {{limit}} OR {{kept}} AS kept
  FROM (
    SELECT key, digest, len, n, v, row_number() OVER (ORDER BY n DESC, key, digest) AS rk
    FROM (
      SELECT IF(length(v) > {{cut}}, substr(v, 1, {{cut}}), v) AS key,
             IF(length(v) > {{cut}}, lower(to_hex(sha256(to_utf8(v)))), NULL) AS digest,
             length(v) AS len, min(v) AS v, count(*) AS n
      FROM (SELECT CAST({{column}} AS varchar) AS v FROM day)
      GROUP BY 1, 2, 3
    )
  )
)
GROUP BY kept, IF(kept, key, NULL), IF(kept, digest, NULL), IF(kept, len, NULL)
-- @ids
SELECT 'ids', NULL, NULL, NULL, NULL, NULL, NULL, NULL, sum(IF(missing, k, 0)), sum(IF(missing, 0, k)),
       NULL, NULL, NULL, sum(IF(NOT missing AND k > 1, k, 0))
FROM (SELECT event_id IS NULL AS missing, count(*) AS k FROM day GROUP BY event_id)
-- @times
SELECT 'times', NULL, NULL, NULL, NULL, NULL, NULL, NULL, count_if(event_ts IS NULL), count_if(inside), NULL,
       NULL, max(IF(inside, date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00', event_ts), NULL)), NULL
FROM (
  SELECT event_ts, coalesce(event_ts >= CAST(%(day)s AS timestamp)
                            AND event_ts < CAST(%(day)s AS timestamp) + INTERVAL '1' DAY, false) AS inside
  FROM day
)
-- @segment
SELECT 'segment', {{name}}, IF(named, seg, NULL), IF(named, sdigest, NULL), IF(named, slen, NULL), key, digest, NULL, bin,
       sum(n), sum(total), NULL, NULL, IF(named, 0, 1)
FROM (
  SELECT *, dense_rank() OVER (ORDER BY rows DESC, seg, sdigest) <= {{segments}} OR {{named}} AS named
  FROM (
    SELECT *, sum(n) OVER (PARTITION BY seg, sdigest) AS rows
    FROM (
      SELECT IF(length(s) > {{cut}}, substr(s, 1, {{cut}}), s) AS seg,
             IF(length(s) > {{cut}}, lower(to_hex(sha256(to_utf8(s)))), NULL) AS sdigest, length(s) AS slen,
             {{segment_key}} AS key, {{segment_digest}} AS digest, {{segment_bin}} AS bin,
             count(*) AS n, sum(x) AS total
      FROM (
        SELECT s, IF(is_nan(x), NULL, x) AS x, v
        FROM (SELECT CAST({{segment}} AS varchar) AS s, {{segment_x}} AS x, {{segment_v}} AS v FROM day)
        WHERE s IS NOT NULL
      )
      GROUP BY 1, 2, 3, 4, 5, 6
    )
  )
)
GROUP BY named, IF(named, seg, NULL), IF(named, sdigest, NULL), IF(named, slen, NULL), key, digest, bin
-- @query
WITH day AS (
{{day}}
),
facts (kind, col, seg, sdigest, slen, key, digest, len, bin, n, total, lo, hi, out) AS (
  SELECT CAST(NULL AS varchar), CAST(NULL AS varchar), CAST(NULL AS varchar), CAST(NULL AS varchar),
         CAST(NULL AS bigint), CAST(NULL AS varchar), CAST(NULL AS varchar), CAST(NULL AS bigint),
         CAST(NULL AS bigint), CAST(NULL AS bigint), CAST(NULL AS double), CAST(NULL AS double),
         CAST(NULL AS double), CAST(NULL AS bigint)
  WHERE false
{{branches}}
)
SELECT * FROM facts
-- @sample
WITH day AS (
{{day}}
)
SELECT * FROM day
ORDER BY xxhash64(to_utf8(concat(%(seed)s, coalesce(CAST(event_id AS varchar), '')))), event_ts
LIMIT {{limit}}
