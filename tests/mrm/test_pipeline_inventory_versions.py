"""Each run records the hash of the inventory entry it ran with, and the history keeps every version
of every entry ever used, so an auditor can see which thresholds applied on any date."""

from __future__ import annotations

from datetime import date

from mrm import pipeline


def test_every_entry_version_used_by_a_run_is_kept_once(mrm_home, file_inventory):
    pipeline.run_model("aml_alert", date(2026, 9, 2))
    pipeline.run_model("aml_alert", date(2026, 9, 3))  # same entry: no second copy
    path = file_inventory / "aml_alert.yaml"
    path.write_text(path.read_text().replace("controls: {}", "controls: {psi: {amber: 0.12, red: 0.3}}"))
    pipeline.run_model("aml_alert", date(2026, 9, 4))

    store = pipeline.get_store()
    versions = store.inventory_versions("aml_alert")
    runs = store.runs("aml_alert")

    assert len(versions) == 2
    assert [r["inventory_hash"] for r in runs] == [versions[0]["inventory_hash"]] * 2 + [
        versions[1]["inventory_hash"]
    ]
    assert versions[0]["content"]["monitoring"]["controls"]["psi"] == {
        "amber": 0.1,
        "red": 0.25,
        "columns": {},
    }
    assert versions[1]["content"]["monitoring"]["controls"]["psi"] == {
        "amber": 0.12,
        "red": 0.3,
        "columns": {},
    }
    assert versions[1]["first_used_by_run"] == runs[-1]["run_id"]


def test_a_run_records_its_lineage(mrm_home, file_inventory):
    from importlib.metadata import version

    pipeline.run_model("aml_alert", date(2026, 9, 2))
    (run,) = pipeline.get_store().runs("aml_alert")
    lineage = run["lineage"]

    assert lineage["evidently"] == version("evidently") == "0.7.23"
    assert lineage["great-expectations"] == "1.24.1" and lineage["pandas"] == version("pandas")
    assert lineage["git_commit"] is None or len(lineage["git_commit"]) == 40
    assert set(lineage["step_seconds"]) == {"quality", "drift", "performance"}
    assert all(v >= 0 for v in lineage["step_seconds"].values())
    assert not any(k.endswith("_seconds") for k in run["evidence"])  # evidence keeps only files
    assert run["input_files"] and run["reference"]["fingerprint"] and len(run["inventory_hash"]) == 64
