"""The number of PSI bins is configurable per model (``monitoring.psi_bins``) and reaches Evidently."""

from __future__ import annotations

import pytest
from oracles.frame_checks import check_drift

from mrm.checks import stats


def test_psi_bins_from_the_inventory_are_used_in_the_evidently_report(make_entry, make_scoring_frame):
    entry10, entry20 = make_entry(), make_entry(psi_bins=20)
    reference = make_scoring_frame(entry10, 400, seed=1)
    current = make_scoring_frame(entry10, 300, seed=2, shift=0.4)

    r10 = {(r.metric, r.column): r for r in check_drift(reference, current, entry10).results}
    r20 = {(r.metric, r.column): r for r in check_drift(reference, current, entry20).results}

    ref, cur = reference["amount"].to_numpy(dtype="float64"), current["amount"].to_numpy(dtype="float64")
    assert r20[("psi", "amount")].value == pytest.approx(stats.psi_numeric(ref, cur, 20), abs=1e-12)
    assert r10[("psi", "amount")].value == pytest.approx(stats.psi_numeric(ref, cur, 10), abs=1e-12)
    assert r20[("psi", "amount")].value != pytest.approx(r10[("psi", "amount")].value, abs=1e-6)
    detail = r20[("psi", "amount")].detail
    assert (detail["method"], detail["bins"], detail["binning"]) == ("mrm_psi_20", 20, "deciles_mass_points")
    assert r10[("score_psi", None)].detail["method"] == "mrm_psi"


def test_psi_bins_outside_2_to_50_are_rejected(make_entry):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="psi_bins"):
        make_entry(psi_bins=1)
