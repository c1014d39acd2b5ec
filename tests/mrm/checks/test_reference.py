"""The reference profile of a model, cached by a fingerprint of its inputs: the Parquet window's files,
or an Athena/SageMaker capture source's identity, found without reading the window."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import record_daily_runs

from mrm.checks import reference as ref_module
from mrm.checks import stats
from mrm.checks.reference import HASH_FILE, ProfileCache, profile_sha256, reference_profile
from mrm.errors import NoDataError, SchemaError
from mrm.inventory import ModelEntry


def write_days(root, entry, make_scoring_frame, days: list[date], rows: int = 400) -> None:
    for i, day in enumerate(days):
        folder = root / f"dt={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        frame = make_scoring_frame(entry, rows + 50 * i, seed=10 + i)
        frame.loc[: 5 * i, "amount"] = np.nan
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "part-0.parquet")


@pytest.fixture
def file_entry(tmp_path, make_entry, make_scoring_frame) -> ModelEntry:
    raw = make_entry()
    root = tmp_path / "scoring"
    ref = raw.monitoring.reference
    days = [d for d in ref.days() if d != ref.start + timedelta(days=3)]  # one day missing
    probe = make_entry(scoring_log=root.as_uri() + "/")
    write_days(root, probe, make_scoring_frame, days)
    return probe


def test_the_profile_of_the_files_carries_the_pipelines_reference_information(file_entry, tmp_path):
    from mrm.evidence.writer import fingerprint
    from mrm.sources.contract import conform, required_columns
    from mrm.sources.parquet import PartitionedParquet

    profile, cached = reference_profile(file_entry, (tmp_path / "profiles").as_uri())
    data = PartitionedParquet(file_entry.monitoring.scoring_log).read_days(
        file_entry.monitoring.reference.days()
    )
    frame = conform(data.frame, file_entry, "reference")

    assert not cached
    assert profile.info == {
        "window": ["2026-08-18", "2026-08-31"],
        "rows": len(frame),
        "files": len(data.files),
        "fingerprint": fingerprint(data.files),
        "missing_days": [d.isoformat() for d in data.missing_days],
        "median_daily_rows": float(frame.groupby("_dt").size().median()),
        "daily_rows": [int(n) for n in frame.groupby("_dt").size()],
        "null_rates": {c: float(frame[c].isna().mean()) for c in required_columns(file_entry)},
    }
    for name, p in profile.numeric.items():
        assert np.array_equal(p.psi_edges, stats.decile_edges(frame[name].to_numpy(dtype="float64"))), name
        assert p.mean == float(frame[name].mean()) and p.std == pytest.approx(
            float(np.std(frame[name].dropna()))
        )
    region = frame["region"].value_counts().to_dict()
    assert profile.categorical["region"].counts == region
    assert profile.sample.num_rows == len(frame)  # fewer rows than the sample size: all of them


def test_a_window_read_as_rows_records_the_same_reference_information_as_its_files(file_entry, tmp_path):
    """Sources that return the window as rows (Athena, SageMaker capture) go through read_reference."""
    profile, _ = reference_profile(file_entry, (tmp_path / "profiles").as_uri())

    frame, info = ref_module.read_reference(file_entry)

    assert info == profile.info and info["missing_days"] == ["2026-08-21"] and len(frame) == info["rows"]


def test_the_second_call_reads_the_cache_and_not_the_reference(file_entry, tmp_path, monkeypatch):
    cache = (tmp_path / "profiles").as_uri()
    first, cached_first = reference_profile(file_entry, cache)
    monkeypatch.setattr(ref_module, "profile_from_files", lambda *a, **k: pytest.fail("recomputed"))

    second, cached_second = reference_profile(file_entry, cache)

    assert (cached_first, cached_second) == (False, True)
    assert second.fingerprint == first.fingerprint
    assert [o.uri.rsplit("/", 1)[1] for o in ProfileCache(cache).store.list(cache + "/")] == [
        "arrays.npz", "profile.json", "profile.sha256", "sample.parquet",
    ]  # fmt: skip
    assert np.array_equal(second.numeric["amount"].counts, first.numeric["amount"].counts)


def test_a_changed_reference_file_or_inventory_entry_gets_a_new_profile(
    file_entry, tmp_path, make_scoring_frame
):
    cache = (tmp_path / "profiles").as_uri()
    first, _ = reference_profile(file_entry, cache)
    raw = copy.deepcopy(file_entry.model_dump(mode="json"))
    raw["monitoring"]["psi_bins"] = 5
    rebinned, cached = reference_profile(ModelEntry.model_validate(raw), cache)
    assert (
        not cached
        and rebinned.fingerprint != first.fingerprint
        and rebinned.numeric["amount"].psi_edges.size == 4
    )

    day = file_entry.monitoring.reference.start
    root = tmp_path / "scoring"
    write_days(root, file_entry, make_scoring_frame, [day], rows=999)
    changed, cached = reference_profile(file_entry, cache)
    assert (
        not cached and changed.fingerprint != first.fingerprint and changed.info["rows"] != first.info["rows"]
    )


def test_a_reference_window_without_files_names_the_window(make_entry, tmp_path):
    entry = make_entry(scoring_log=(tmp_path / "nothing").as_uri() + "/")

    with pytest.raises(
        NoDataError, match=r"no reference scoring log data at all for 2026-08-18\.\.2026-08-31"
    ):
        reference_profile(entry, (tmp_path / "profiles").as_uri())


def test_missing_and_non_numeric_reference_columns_are_schema_errors(
    make_entry, make_scoring_frame, tmp_path
):
    root = tmp_path / "scoring"
    entry = make_entry(scoring_log=root.as_uri() + "/")
    folder = root / "dt=2026-08-20"
    folder.mkdir(parents=True)
    frame = make_scoring_frame(entry, 50).drop(columns=["tenure"])
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "part-0.parquet")
    with pytest.raises(SchemaError, match=r"toy_model: reference window .* lacks required column"):
        reference_profile(entry, (tmp_path / "p").as_uri())

    frame = make_scoring_frame(entry, 50)
    frame["amount"] = "12"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "part-0.parquet")
    with pytest.raises(SchemaError, match="wrong column types: amount is object, expected numeric"):
        reference_profile(entry, (tmp_path / "p").as_uri())


# -- integrity of the cache (security review finding 22) ------------------------------------------------
def shift_counts(folder, column: str = "amount") -> None:
    """What a writer to the cache could do: move reference mass between bins of one column, keeping a
    valid profile (its files still load)."""
    arrays = dict(np.load(folder / "arrays.npz", allow_pickle=False))
    counts = arrays[f"{column}/counts"]
    arrays[f"{column}/counts"] = counts[::-1].copy()
    with (folder / "arrays.npz").open("wb") as fh:
        np.savez(fh, **arrays)


def cached_folder(tmp_path, profile):
    return tmp_path / "profiles" / profile.model_id / profile.fingerprint


def test_a_cached_profile_carries_its_hash_record_and_a_rebuild_has_the_same_hash(file_entry, tmp_path):
    cache = (tmp_path / "profiles").as_uri()
    built, _ = reference_profile(file_entry, cache)
    folder = cached_folder(tmp_path, built)
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != HASH_FILE}

    record = json.loads((folder / HASH_FILE).read_text())
    assert record["sha256"] == built.sha256 == profile_sha256(files)
    assert reference_profile(file_entry, cache)[0].sha256 == built.sha256

    again, cached = reference_profile(file_entry, (tmp_path / "elsewhere").as_uri())
    assert not cached and again.sha256 == built.sha256  # deterministic: the history's hash stays valid


def test_a_tampered_cached_profile_is_not_used_but_rebuilt_with_one_warning(file_entry, tmp_path, caplog):
    cache = (tmp_path / "profiles").as_uri()
    fresh, _ = reference_profile(file_entry, cache)
    folder = cached_folder(tmp_path, fresh)
    shift_counts(folder)
    assert not np.array_equal(np.load(folder / "arrays.npz")["amount/counts"], fresh.numeric["amount"].counts)

    with caplog.at_level("WARNING", logger="mrm.checks.reference"):
        used, cached = reference_profile(file_entry, cache)

    assert not cached
    assert np.array_equal(used.numeric["amount"].counts, fresh.numeric["amount"].counts)
    assert used.sha256 == fresh.sha256
    (line,) = [r.getMessage() for r in caplog.records]
    assert (
        f"reference profile {folder.as_uri()}/ of toy_model no longer has the SHA-256 of its hash record"
        in line
    )
    assert line.endswith("not used, rebuilt from the reference window")
    assert profile_sha256({p.name: p.read_bytes() for p in folder.iterdir() if p.name != HASH_FILE}) == (
        fresh.sha256
    )  # the cache holds the rebuilt profile again


def test_a_tampered_profile_with_a_rewritten_hash_record_is_caught_by_the_history(
    file_entry, tmp_path, caplog
):
    """The attacker rewrites profile.sha256 too; the hash the runs recorded (chained) still tells."""
    cache = (tmp_path / "profiles").as_uri()
    fresh, _ = reference_profile(file_entry, cache)
    folder = cached_folder(tmp_path, fresh)
    shift_counts(folder)
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != HASH_FILE}
    (folder / HASH_FILE).write_text(json.dumps({"sha256": profile_sha256(files), "files": sorted(files)}))
    history = {fresh.fingerprint: {fresh.sha256}}

    assert reference_profile(file_entry, cache)[1] is True  # without the history, the record is all there is
    with caplog.at_level("WARNING", logger="mrm.checks.reference"):
        used, cached = reference_profile(file_entry, cache, recorded=lambda fp: history.get(fp, set()))

    assert not cached and used.sha256 == fresh.sha256
    assert np.array_equal(used.numeric["amount"].counts, fresh.numeric["amount"].counts)
    (line,) = [r.getMessage() for r in caplog.records]
    assert f"not the one its runs recorded ({fresh.sha256[:12]}…)" in line


def test_an_intact_profile_the_history_recorded_is_used_without_a_warning(file_entry, tmp_path, caplog):
    cache = (tmp_path / "profiles").as_uri()
    fresh, _ = reference_profile(file_entry, cache)
    with caplog.at_level("WARNING", logger="mrm.checks.reference"):
        used, cached = reference_profile(file_entry, cache, recorded=lambda fp: {fresh.sha256})
    assert cached and used.sha256 == fresh.sha256 and caplog.records == []


def test_a_profile_cached_without_a_hash_record_is_rebuilt(file_entry, tmp_path, caplog):
    """Profiles cached before hash records were kept are rebuilt once, with their record."""
    cache = (tmp_path / "profiles").as_uri()
    fresh, _ = reference_profile(file_entry, cache)
    (cached_folder(tmp_path, fresh) / HASH_FILE).unlink()
    with caplog.at_level("WARNING", logger="mrm.checks.reference"):
        used, cached = reference_profile(file_entry, cache)
    assert not cached and used.sha256 == fresh.sha256
    assert "has no hash record (profile.sha256)" in caplog.records[0].getMessage()
    assert (cached_folder(tmp_path, fresh) / HASH_FILE).exists()


def profile_reference(fp: str, digest: str | None) -> dict:
    """A run's reference recording the profile ``fp`` with (or without) its SHA-256."""
    return {"profile_fingerprint": fp, **({"profile_sha256": digest} if digest else {})}


def test_the_history_gives_the_hashes_its_runs_recorded_for_a_profile(any_history):
    from mrm.store.reads import profile_hashes

    kept = [("fp-a", "1" * 64), ("fp-a", "2" * 64), ("fp-b", "3" * 64), ("fp-a", None)]
    record_daily_runs(any_history, [{"reference": profile_reference(fp, digest)} for fp, digest in kept])

    assert profile_hashes(any_history.engine, "toy_model", "fp-a") == {"1" * 64, "2" * 64}
    assert profile_hashes(any_history.engine, "toy_model", "fp-b") == {"3" * 64}
    assert profile_hashes(any_history.engine, "other_model", "fp-a") == set()


def test_a_nested_reference_column_is_a_schema_error_naming_the_window(
    make_entry, make_scoring_frame, tmp_path
):
    root = tmp_path / "scoring"
    entry = make_entry(scoring_log=root.as_uri() + "/")
    folder = root / "dt=2026-08-20"
    folder.mkdir(parents=True)
    frame = make_scoring_frame(entry, 50)
    table = pa.Table.from_pandas(frame.drop(columns="region"), preserve_index=False)
    table = table.append_column("region", pa.array([{"code": r} for r in frame["region"]]))
    pq.write_table(table, folder / "part-0.parquet")

    with pytest.raises(
        SchemaError, match=r"^toy_model: reference window .* cannot read: region is struct<code"
    ):
        reference_profile(entry, (tmp_path / "p").as_uri())
