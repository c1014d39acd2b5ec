"""Label-free estimates (CBPE) in a real monitoring run of the example inventory, on a day whose labels
have not matured: the estimated_* rows are stored with their bands and equal an independent
computation (scikit-learn's isotonic fit on the reference's labelled rows, the expected confusion
matrix written out); once that day's labels mature, a later run stores the estimation error."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
import yaml
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from mrm import pipeline
from mrm.checks.performance import labelled
from mrm.demo.data import day as demo_day
from mrm.sources.labels import known_between
from mrm.sources.registry import source_for
from mrm.wiring import clear_caches

MODEL = "card_fraud"
ESTIMATED = [
    "estimated_auc",
    "estimated_precision",
    "estimated_recall",
    "estimated_f1",
    "estimated_positive_rate",
]


def enable(folder, model_id: str = MODEL, **settings) -> None:
    path = folder / f"{model_id}.yaml"
    data = yaml.safe_load(path.read_text())
    data["monitoring"]["performance"]["estimation"] = {"enabled": True, **settings}
    data["monitoring"]["controls"] = {"estimated_auc": {"amber": 0.70, "red": 0.60}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    clear_caches()


def stored(model_id: str, day) -> dict[str, dict]:
    rows = pipeline.get_store().metrics(model_id, day, day)
    return {r["metric"]: r for r in rows if r["check"] == "performance"}


def oracle(entry, day) -> dict[str, float]:
    """The estimates computed independently: scikit-learn's calibrator, the formulas written out."""
    from mrm.checks.performance import labelled

    ref, perf = entry.monitoring.reference, entry.monitoring.performance
    known_by = ref.end + timedelta(days=perf.label_maturity_days)
    scores = source_for(entry).read_days(ref.days(), columns=("event_id", "score")).frame
    joined, _ = labelled(scores, known_between(entry, ref.start, known_by), known_by)
    iso = IsotonicRegression(out_of_bounds="clip").fit(joined["score"], joined["label"])
    s = source_for(entry).read_days([day], columns=("event_id", "score")).frame
    s = s.drop_duplicates("event_id")["score"].to_numpy(dtype="float64")
    p = iso.predict(s)
    hit = s >= perf.threshold
    tp = p[hit].sum()
    auc_num = 0.0  # Σ_i Σ_j p_i (1 − p_j) ([s_i > s_j] + ½ [s_i = s_j]), 500 rows i at a time; minus i = j
    for i in range(0, s.size, 500):
        a, b = s[i : i + 500, None], p[i : i + 500, None]
        auc_num += (b * (1 - p) * ((a > s) + 0.5 * (a == s))).sum()
    auc_num -= 0.5 * (p * (1 - p)).sum()
    pairs = p.sum() * (1 - p).sum() - (p * (1 - p)).sum()
    return {
        "estimated_precision": tp / hit.sum(),
        "estimated_recall": tp / p.sum(),
        "estimated_f1": 2 * tp / (hit.sum() + p.sum()),
        "estimated_positive_rate": hit.mean(),
        "estimated_auc": auc_num / pairs,
    }


def test_a_run_stores_the_estimates_of_its_own_day(mrm_home, file_inventory):
    enable(file_inventory)
    day = demo_day(3)  # its labels mature 21 days later
    summary = pipeline.run_model(MODEL, day)

    assert summary["overall_status"] != "ERROR"
    rows = stored(MODEL, day)
    assert set(ESTIMATED) <= set(rows)
    entry = pipeline.get_inventory().get(MODEL)
    want = oracle(entry, day)
    for name in ESTIMATED:
        row, detail = rows[name], rows[name]["detail"]
        assert row["value"] == pytest.approx(want[name], abs=1e-9), name
        assert detail["ci_low"] <= row["value"] <= detail["ci_high"], name
        assert row["cohort_start"] == row["cohort_end"] == day
        assert detail["calibration"] == "isotonic" and detail["confidence"] == 0.95
    assert rows["estimated_auc"]["status"] in ("GREEN", "AMBER", "RED")  # its own control applies
    assert rows["estimated_precision"]["status"] == "INFO"  # no control set
    assert rows["estimated_auc"]["detail"]["ci_high"] > rows["estimated_auc"]["detail"]["ci_low"]
    assert rows["auc"]["value"] is None  # the matured cohort (21 days earlier) has no data: no labels
    # the estimation error of the day 21 days earlier: no estimate was stored for it
    for name in ("auc", "precision", "recall", "f1"):
        assert rows[f"estimation_error_{name}"]["value"] is None
        assert "no estimates stored" in rows[f"estimation_error_{name}"]["detail"]["insufficient"]
    auc = rows["estimated_auc"]["detail"]  # the band holds both errors: the labels' and the calibrator's
    assert auc["se_labels"] > 0 and auc["se_calibration"] > 0 and "calibrator" in auc["ci"]


def test_when_the_labels_mature_the_estimation_error_is_stored(mrm_home, file_inventory):
    enable(file_inventory)
    estimated_on = demo_day(3)
    pipeline.run_model(MODEL, estimated_on)
    estimate = stored(MODEL, estimated_on)["estimated_auc"]["value"]
    matured = estimated_on + timedelta(days=21)

    pipeline.run_model(MODEL, matured)

    row = stored(MODEL, matured)["estimation_error_auc"]
    entry = pipeline.get_inventory().get(MODEL)
    # the frame-based join (the row-level oracle of the compact cohort) of that day's events and labels
    scored = source_for(entry).read_days([estimated_on], columns=("event_id", "score")).frame
    joined, _ = labelled(scored, known_between(entry, estimated_on, matured), matured)
    realised = roc_auc_score(joined["label"], joined["score"])
    assert row["detail"]["estimated"] == estimate and row["detail"]["realised"] == pytest.approx(
        realised, abs=1e-12
    )
    assert row["value"] == pytest.approx(abs(estimate - realised), abs=1e-12)
    assert row["cohort_start"] == row["cohort_end"] == estimated_on
    pred = (joined["score"] >= entry.monitoring.performance.threshold).astype(int)
    beside = row["detail"]["beside"]
    assert beside["precision"]["realised"] == pytest.approx(precision_score(joined["label"], pred), abs=1e-12)
    assert beside["recall"]["estimated"] == stored(MODEL, estimated_on)["estimated_recall"]["value"]
    then = stored(MODEL, estimated_on)
    rows = stored(MODEL, matured)
    for name, realised in (
        ("precision", precision_score(joined["label"], pred)),
        ("recall", recall_score(joined["label"], pred)),
        ("f1", f1_score(joined["label"], pred)),
    ):
        error = rows[f"estimation_error_{name}"]
        assert error["detail"]["estimated"] == then[f"estimated_{name}"]["value"]
        assert error["value"] == pytest.approx(abs(then[f"estimated_{name}"]["value"] - realised), abs=1e-12)
    assert "estimation_error_positive_rate" not in rows  # known without labels: nothing to estimate


def test_calibration_none_takes_the_scores_as_probabilities(mrm_home, file_inventory):
    enable(file_inventory, calibration="none", confidence=0.8)
    day = demo_day(4)
    pipeline.run_model(MODEL, day)
    rows = stored(MODEL, day)
    entry = pipeline.get_inventory().get(MODEL)
    s = source_for(entry).read_days([day], columns=("event_id", "score")).frame
    s = s.drop_duplicates("event_id")["score"].to_numpy(dtype="float64")
    hit = s >= entry.monitoring.performance.threshold
    assert rows["estimated_precision"]["value"] == pytest.approx(s[hit].mean(), abs=1e-12)
    assert rows["estimated_recall"]["value"] == pytest.approx(s[hit].sum() / s.sum(), abs=1e-12)
    assert rows["estimated_auc"]["detail"]["confidence"] == 0.8
    assert "reference_positives" not in rows["estimated_auc"]["detail"]
    assert rows["estimated_auc"]["detail"]["se_calibration"] is None  # no calibrator: no calibrator error
    assert "no calibrator error" in rows["estimated_auc"]["detail"]["ci"]


def test_estimation_is_off_unless_the_inventory_enables_it(mrm_home, file_inventory):
    day = demo_day(3)
    pipeline.run_model(MODEL, day)
    assert not set(ESTIMATED) & set(stored(MODEL, day))


def test_too_few_labelled_reference_rows_give_insufficient_data(mrm_home, file_inventory):
    path = file_inventory / f"{MODEL}.yaml"
    enable(file_inventory)
    data = yaml.safe_load(path.read_text())
    data["monitoring"]["performance"]["min_positives"] = 10**6
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    clear_caches()
    day = demo_day(3)
    pipeline.run_model(MODEL, day)
    rows = stored(MODEL, day)
    assert all(rows[m]["value"] is None for m in ESTIMATED)
    assert rows["estimated_auc"]["status"] == "INSUFFICIENT_DATA"
    assert "the calibrator needs at least 1000000" in rows["estimated_auc"]["detail"]["insufficient"]
    assert np.isfinite(rows["estimated_auc"]["detail"]["reference_negatives"])
