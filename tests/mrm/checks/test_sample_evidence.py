"""What a monitoring run keeps of the day's rows: the seeded sample behind the Evidently report and the
GX result (in day_aggregate.npz) holds no raw event_id, only a salted hash, and the report still builds;
and the reference profile's SHA-256 is recorded in the run, so a cached profile changed afterwards is
rebuilt (security review findings 12 and 22)."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mrm import pipeline
from mrm.checks.reference import HASH_FILE, profile_sha256
from mrm.checks.sample_evidence import ID_DIGITS

DAY = date(2026, 9, 5)


def path_of(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


def raw_ids(demo_files: str, model_id: str, day: date) -> set[str]:
    folder = path_of(demo_files) / "scoring" / model_id / f"dt={day.isoformat()}"
    return {
        str(v)
        for f in folder.glob("*.parquet")
        for v in pq.read_table(f, columns=["event_id"])[0].to_pylist()
    }


def stored_sample(run: dict) -> pa.Table:
    data = np.load(path_of(run["evidence"]["day_aggregate"]["uri"]), allow_pickle=False)
    return pq.read_table(pa.BufferReader(data["sample"].tobytes()))


def test_the_stored_sample_has_no_raw_event_id_and_the_report_still_builds(
    mrm_home, file_inventory, demo_files, monkeypatch
):
    monkeypatch.setenv("MRM_SAMPLE_ROWS", "500")
    run = pipeline.get_store().run(pipeline.run_model("card_fraud", DAY)["run_id"])
    ids = raw_ids(demo_files, "card_fraud", DAY)

    sample = stored_sample(run)
    hashed = [v for v in sample.column("event_id").to_pylist() if v is not None]
    assert sample.num_rows == 500 and len(hashed) == len(set(hashed)) > 400
    assert all(len(v) == ID_DIGITS and int(v, 16) >= 0 for v in hashed)
    assert not set(hashed) & ids  # no raw id, in the column or in any other form of it
    blob = path_of(run["evidence"]["day_aggregate"]["uri"]).read_bytes()
    assert not [i for i in list(ids)[:200] if i.encode() in blob]

    gx = path_of(run["evidence"]["quality_gx"]["uri"]).read_text()
    assert not [i for i in ids if f'"{i}"' in gx]
    assert json.loads(gx)["meta"]["mrm_sample"]["event_id"].startswith("salted HMAC-SHA256")
    html = path_of(run["evidence"]["drift_report"]["uri"]).read_text()
    assert "Drift in column" in html and not [i for i in list(ids)[:200] if f'"{i}"' in html]


def test_the_run_records_the_profiles_sha256_and_a_changed_profile_is_rebuilt(
    mrm_home, file_inventory, caplog
):
    from mrm.settings import profile_cache_uri

    first = pipeline.get_store().run(pipeline.run_model("aml_alert", date(2026, 9, 2))["run_id"])
    (folder,) = [p.parent for p in path_of(profile_cache_uri()).glob("aml_alert/*/profile.json")]
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != HASH_FILE}
    assert first["reference"]["profile_sha256"] == profile_sha256(files)
    assert first["reference"]["profile_fingerprint"] == folder.name

    # a writer to the cache shifts the reference's score distribution and rewrites the hash record too
    arrays = dict(np.load(folder / "arrays.npz", allow_pickle=False))
    arrays["score/counts"] = arrays["score/counts"][::-1].copy()
    with (folder / "arrays.npz").open("wb") as fh:
        np.savez(fh, **arrays)
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != HASH_FILE}
    (folder / HASH_FILE).write_text(json.dumps({"sha256": profile_sha256(files), "files": sorted(files)}))

    with caplog.at_level(logging.WARNING, logger="mrm.checks.reference"):
        again = pipeline.get_store().run(pipeline.run_model("aml_alert", date(2026, 9, 2))["run_id"])
    lines = [r.getMessage() for r in caplog.records]
    assert lines and all("not the one its runs recorded" in line for line in lines)
    assert again["reference"]["profile_sha256"] == first["reference"]["profile_sha256"]

    def metrics(run):
        return sorted(
            (m["metric"], m["column"] or "", m["value"])
            for m in pipeline.get_store().metrics(run_id=run["run_id"])
        )

    assert metrics(again) == metrics(first)  # as from a fresh build, not the shifted one
