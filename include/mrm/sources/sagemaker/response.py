"""The response side of capture records: the score, decision and model version of each input row (a CSV
line's fields or JSON key paths), and the decision derived from the score where the endpoint gives none."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mrm.inventory.sources import CaptureSourceConfig, parse_path
from mrm.sources.sagemaker import safejson
from mrm.sources.sagemaker.keypath import MISSING, walk
from mrm.sources.sagemaker.values import NESTED, Bad, as_text, objects, shown

if TYPE_CHECKING:
    import numpy as np

_Answer = tuple[list | None, list | None, list | None, str | None]  # scores, decisions, versions, why not


class ResponseDecoder:
    def __init__(self, config: CaptureSourceConfig):
        self.config = config
        self._score = parse_path(config.score_path) if config.score_path else None
        self._decision = parse_path(config.decision_path) if config.decision_path else None
        self._version = parse_path(config.model_version_path) if config.model_version_path else None
        self._single = config.decision_column is None and config.score_column == 0

    def decode(self, texts: list[str | None], rows_per: np.ndarray, cols, bad: Bad):
        """Score, decision and model version per input row, from each record's response; and the record
        of each row."""
        import numpy as np

        scores: Any = []
        decisions: list = []
        versions: list = []
        out_rec: list[int] = []
        todo = [r for r, text in enumerate(texts) if text is not None and r not in bad]
        fast = self._one_score_each(texts, rows_per, todo)
        if fast is not None:
            scores, out_rec = fast, todo
            decisions = versions = [None] * len(todo)
            todo = []
        for r in todo:
            want = int(rows_per[r])
            if self.config.output_format == "csv":
                s, d, v, why = self._csv(texts[r], want)
            else:
                s, d, v, why = self._json(texts[r], want, cols["out_type"][r])
            if why:
                bad.add(r, why)
                continue
            scores.extend(s)
            decisions.extend(d if d is not None else [None] * want)
            versions.extend(v if v is not None else [None] * want)
            out_rec.extend([r] * want)
        rec = np.asarray(out_rec, dtype=np.int64)
        return _numbers(scores, rec, bad), objects(decisions), objects(versions), rec

    def _one_score_each(self, texts: list[str | None], rows_per: np.ndarray, todo: list[int]):
        """The usual response, one CSV score per one-row request, read column-wise: the scores as text,
        or None when some response holds more than that."""
        if not (self.config.output_format == "csv" and self._single and todo and (rows_per[todo] == 1).all()):
            return None
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pc.utf8_trim_whitespace(pa.array([texts[r] for r in todo], type=pa.string()))
        if pc.any(pc.match_substring_regex(arr, r"[,\n\r]")).as_py():
            return None
        return arr.to_numpy(zero_copy_only=False)

    def _csv(self, text: str, want: int) -> _Answer:
        cfg = self.config
        lines = [ln.split(",") for ln in text.strip().splitlines()]
        if self._single and want > 1 and len(lines) == 1 and len(lines[0]) == want:
            lines = [[x] for x in lines[0]]  # a batch answered on one line: "0.1,0.7,0.2"
        if len(lines) != want:
            return None, None, None, f"endpointOutput has {len(lines)} CSV line(s) for {want} input row(s)"
        width = max(cfg.score_column, cfg.decision_column or 0) + 1
        short = [len(f) for f in lines if len(f) < width]
        if short:
            why = f"endpointOutput CSV line has {short[0]} field(s), the config reads {width}"
            return None, None, None, why
        s = [f[cfg.score_column].strip() for f in lines]
        d = None if cfg.decision_column is None else [f[cfg.decision_column].strip() or None for f in lines]
        return s, d, None, None

    def _json(self, text: str, want: int, ctype: str | None) -> _Answer:
        cfg = self.config
        try:
            doc = safejson.loads(text)
        except ValueError as exc:
            return None, None, None, f"endpointOutput.data is not JSON ({exc}); observedContentType {ctype!r}"
        got = {}
        for key, path, given in (
            ("score", self._score, cfg.score_path),
            ("decision", self._decision, cfg.decision_path),
            ("model version", self._version, cfg.model_version_path),
        ):
            if path is None:
                continue
            val, why = _values(doc, key, path, given, want)
            if why:
                return None, None, None, why
            got[key] = val
        s, d, v = got["score"], got.get("decision"), got.get("model version")
        d = d and [None if x is None else as_text(x) for x in d]
        v = v and [None if x is None else as_text(x) for x in v]
        if NESTED in (d or ()) or NESTED in (v or ()):
            which = "decision_path" if NESTED in (d or ()) else "model_version_path"
            return None, None, None, f"endpointOutput at {getattr(cfg, which)!r} is an object or array"
        return s, d, v, None


def _values(doc: Any, key: str, path: tuple, given: str, want: int) -> tuple[list | None, str | None]:
    """(one value per input row at ``path``, or what is wrong)."""
    val = walk(doc, path)
    if val is MISSING or ("*" in path and any(x is MISSING for x in val)):
        return None, f"endpointOutput has no {given!r}"
    if "*" in path:
        if len(val) != want:
            return None, f"endpointOutput has {len(val)} {key}(s) at {given!r} for {want} input rows"
        return val, None
    if want == 1 or key == "model version":  # a response-level version covers its batch
        return [val] * want, None
    return None, f"endpointOutput has one {key} at {given!r} for {want} input rows; use [*]"


def _numbers(scores, rec: np.ndarray, bad: Bad) -> np.ndarray:
    """The scores as float64; a score that is not a number marks its record (a JSON null is a null score;
    "" or "n/a" is bad)."""
    import numpy as np
    import pandas as pd

    raw = pd.Series(scores, dtype=object)
    nested = np.fromiter((isinstance(x, (dict, list, bool)) for x in scores), bool, len(scores))
    num = pd.to_numeric(raw.where(~nested, "x") if nested.any() else raw, errors="coerce")
    num = num.to_numpy(dtype="float64", na_value=np.nan)
    failed = np.isnan(num) & raw.notna().to_numpy()
    for i in np.flatnonzero(failed):
        bad.add(rec[i], f"score {shown(scores[i])} is not a number")
    return num


def decide(score: np.ndarray, thresholds: list[tuple[float, str]]) -> np.ndarray:
    """The decision of the highest threshold each score reaches; None below the first or for a null score."""
    import numpy as np

    cuts = np.asarray([t for t, _ in thresholds], dtype="float64")
    names = np.asarray([None, *(d for _, d in thresholds)], dtype=object)
    idx = np.searchsorted(cuts, score, side="right")
    idx[np.isnan(score)] = 0
    return names[idx]
