"""Evidence for auditors: written once under <model>/<date>/<run_id>/, with a SHA-256 of each file."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import pytest

from mrm.core.storage import ObjectInfo
from mrm.errors import SourceError
from mrm.evidence.writer import EvidenceWriter, fingerprint


@pytest.fixture
def writer(tmp_path) -> EvidenceWriter:
    return EvidenceWriter(tmp_path.as_uri(), "toy_model", date(2026, 9, 1), "run-1")


def test_a_file_is_written_under_model_date_and_run_with_its_sha256(writer, tmp_path):
    data = b"<html>drift</html>"

    info = writer.put("drift.html", data)

    path = tmp_path / "toy_model" / "2026-09-01" / "run-1" / "drift.html"
    assert path.read_bytes() == data
    assert info == {
        "uri": f"{tmp_path.as_uri()}/toy_model/2026-09-01/run-1/drift.html",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def test_evidence_is_never_overwritten(writer):
    writer.put("summary.json", b"{}")

    with pytest.raises(SourceError, match=r"summary\.json already exists; evidence is written once"):
        writer.put("summary.json", b'{"tampered": true}')
    assert writer.get_json("summary.json") == {}


def test_json_evidence_round_trips_with_sorted_keys(writer):
    info = writer.put_json("controls.json", {"b": 1, "a": date(2026, 9, 1)})

    assert writer.get_json("controls.json") == {"a": "2026-09-01", "b": 1}
    assert (
        info["sha256"]
        == hashlib.sha256(
            json.dumps({"a": "2026-09-01", "b": 1}, indent=1, sort_keys=True).encode()
        ).hexdigest()
    )


def test_the_input_fingerprint_ignores_order_and_form_but_not_content():
    a = ObjectInfo("s3://b/dt=2026-09-01/a.parquet", 10, "e1")
    b = ObjectInfo("s3://b/dt=2026-09-01/b.parquet", 20, "e2")
    as_dicts = [{"uri": o.uri, "size": o.size, "etag": o.etag} for o in (b, a)]

    assert fingerprint([a, b]) == fingerprint([b, a]) == fingerprint(as_dicts)
    assert fingerprint([a, b]) != fingerprint([a, ObjectInfo(b.uri, b.size, "e3")])


def test_a_changed_shared_file_is_written_again_with_a_warning(tmp_path, caplog):
    """Evidently's shared script in <evidence>/_lib/ changed by someone with write access: the next run
    puts the installed bytes back (the page refuses the changed file meanwhile)."""
    from mrm.evidence.writer import write_shared

    base = tmp_path.as_uri()
    write_shared(base, {"evidently-1.0.js": b"window.ok=1"})
    (tmp_path / "_lib" / "evidently-1.0.js").write_bytes(b"window.ok=1;steal()")
    with caplog.at_level("WARNING", logger="mrm.evidence.writer"):
        info = write_shared(base, {"evidently-1.0.js": b"window.ok=1"})
    assert (tmp_path / "_lib" / "evidently-1.0.js").read_bytes() == b"window.ok=1"
    assert info["evidently-1.0.js"]["sha256"] == hashlib.sha256(b"window.ok=1").hexdigest()
    (line,) = [r.getMessage() for r in caplog.records]
    assert "did not have the SHA-256 of the installed file" in line and "written again" in line

    caplog.clear()
    write_shared(base, {"evidently-1.0.js": b"window.ok=1"})  # intact: left alone, silently
    assert caplog.records == []
