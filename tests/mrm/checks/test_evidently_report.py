"""The Evidently report's data reaches its HTML only escaped (security review finding 1): a day whose
categorical values carry script payloads, through the real pipeline and drift check, gives a report
whose every <script> element (as the HTML tokenizer sees it) is the report's own, while its JSON blocks
still hold the values exactly. Evidently's own template, given the same data, is what the guard refuses.
"""

from __future__ import annotations

import json

import pytest
from hostile_reports import PAYLOADS, data_blocks, hostile_run, in_evidentlys_template, scripts_of

from mrm.checks.evidently_report import (
    DATA_ID,
    GRAPHS_ID,
    foreign_scripts,
    inline_scripts,
    json_for_html,
    script_hashes,
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return hostile_run(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def report(hostile) -> str:
    return hostile.report.read_text(encoding="utf-8")


@pytest.mark.parametrize("text", [*PAYLOADS, "a&b", "é\u2028", "\ud800"])
def test_json_for_html_reads_back_the_same_and_holds_no_html_specials(text):
    out = json_for_html({"v": [text, 1.5], text: None})
    assert json.loads(out) == {"v": [text, 1.5], text: None}
    assert not set(out) & {"<", ">", "&", "\u2028", "\u2029"} and out.isascii()


def test_json_for_html_writes_nan_and_infinities_as_null():
    import numpy as np

    assert json.loads(json_for_html({"x": [float("nan"), np.float64("inf"), -np.inf, np.int64(3)]})) == {
        "x": [None, None, None, 3]
    }


def test_no_script_element_of_the_hostile_report_holds_attacker_text(report):
    scripts = scripts_of(report)
    own = set(inline_scripts())
    kinds = []
    for attrs, text in scripts:
        assert "PWNED" not in text or attrs.get("type") == "application/json", (attrs, text[:80])
        assert "onerror" not in attrs
        if attrs.get("type") == "application/json":
            kinds.append(attrs["id"])
            assert "<" not in text
        elif attrs.get("src"):
            kinds.append("bundle")
            assert not text
        else:
            kinds.append("inline")
            assert text in own
    assert kinds == [DATA_ID, GRAPHS_ID, "inline", "bundle", "inline", "inline"]
    assert foreign_scripts(report.encode()) == []


def test_the_report_data_still_holds_every_payload_exactly(hostile, report):
    dashboard, graphs = data_blocks(report)
    blob = json.dumps([dashboard, graphs], ensure_ascii=False)
    for payload in PAYLOADS:
        assert json.dumps(payload, ensure_ascii=False)[1:-1] in blob, payload
    assert "Drift in column 'merchant_category'" in blob
    assert hostile.run["status"] == "completed"


def test_the_guard_finds_the_attackers_scripts_in_evidentlys_own_template(report):
    """Finding 1 as it was: the same data through Evidently's template opens attacker <script>s."""
    old = in_evidentlys_template(report)
    injected = [t for a, t in scripts_of(old) if t.strip() == "window.PWNED=1"]
    assert injected  # the tokenizer closes the data block: the payload's <script> is an element
    found = foreign_scripts(old.encode())
    assert any("window.PWNED" in f for f in found) and any("onerror" in f for f in found)


def test_the_csp_hashes_are_those_of_the_reports_inline_scripts(report):
    import base64
    import hashlib

    inline = [t for a, t in scripts_of(report) if not a.get("src") and a.get("type") is None]
    assert sorted(script_hashes()) == sorted(
        "'sha256-" + base64.b64encode(hashlib.sha256(t.encode()).digest()).decode() + "'" for t in inline
    )
