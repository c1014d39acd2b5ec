-- mrm's generic scoring-log query: every scored event of one model on one logical date.
--
-- The leading comment lines are documentation and are not sent to Athena. The query text below them is
-- sent unchanged; values are never written into it:
--   {{table}}      the quoted "database"."table" from the source config or connection, each part checked
--                  against ^[a-z_][a-z0-9_]*$ before it is used (an identifier, not a value)
--   %(model_id)s   the model id (varchar), bound by pyathena (Athena) or DuckDB ($model_id)
--   %(dt)s         the logical date as 'YYYY-MM-DD' (varchar): the table's partition key
--   %(day)s        the logical date as a DATE (not used here)
-- A literal percent sign is written %% (pyathena's pyformat style).
--
-- Contract: one SELECT (or WITH) query, no trailing semicolon, no ORDER BY; one row per scored event with
-- the scoring-log columns event_id, event_ts, score, decision and the model's features (model_id and
-- model_version may come too). Partition columns it returns (dt) are dropped by the source.
-- Filter on the partition key, so that Athena reads one day's partition only.
SELECT *
FROM {{table}}
WHERE dt = %(dt)s
  AND model_id = %(model_id)s
