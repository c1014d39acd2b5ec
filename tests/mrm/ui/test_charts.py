"""The SVG line chart: threshold bands on the worse side of each threshold, breaches marked as recorded,
a missing value breaking the line."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

from ui_pages import SVG_NS, bands, breaches

from mrm.ui.charts import LEFT, RIGHT, TOP, H, Point, Series, W, line_chart

D = [date(2026, 9, d) for d in range(1, 6)]


def draw(metric: str, points: list[tuple[float | None, str]], amber=None, red=None) -> ET.Element:
    series = Series(metric, None, [Point(d, v, s) for d, (v, s) in zip(D, points, strict=False)], amber, red)
    return ET.fromstring(line_chart(series, D[0], D[-1]))


def test_higher_is_worse_bands_sit_above_the_thresholds():
    svg = draw(
        "score_psi",
        [(0.05, "GREEN"), (0.12, "AMBER"), (0.3, "RED"), (0.02, "GREEN"), (0.01, "GREEN")],
        0.1,
        0.25,
    )
    found = bands(svg)
    assert found["amber"] == (0.1, 0.25)
    assert found["red"][0] == 0.25 and found["red"][1] >= 0.3
    assert breaches(svg) == [("2026-09-02", "AMBER", 0.12), ("2026-09-03", "RED", 0.3)]


def test_lower_is_worse_bands_sit_below_and_higher_points_plot_higher():
    svg = draw(
        "volume_ratio",
        [(1.0, "GREEN"), (0.7, "AMBER"), (0.5, "RED"), (0.95, "GREEN"), (1.02, "GREEN")],
        0.8,
        0.6,
    )
    found = bands(svg)
    assert found["amber"] == (0.6, 0.8)
    assert found["red"][1] == 0.6 and found["red"][0] <= 0.5
    red_rect = next(r for r in svg.findall("svg:rect", SVG_NS) if "band-red" in r.get("class"))
    assert float(red_rect.get("y")) + float(red_rect.get("height")) <= H - TOP  # at the bottom of the plot
    amber_point, red_point = svg.findall("svg:circle", SVG_NS)
    assert float(amber_point.get("cy")) < float(red_point.get("cy"))  # 0.7 is drawn above 0.5


def test_a_missing_value_breaks_the_line_and_is_not_marked():
    svg = draw(
        "psi",
        [(0.01, "GREEN"), (0.02, "GREEN"), (None, "INSUFFICIENT_DATA"), (0.3, "RED"), (0.02, "GREEN")],
        0.1,
        0.25,
    )
    lines = svg.findall("svg:polyline", SVG_NS)
    assert [len(line.get("points").split()) for line in lines] == [2, 2]
    assert breaches(svg) == [("2026-09-04", "RED", 0.3)]
    xs = [float(p.split(",")[0]) for line in lines for p in line.get("points").split()]
    assert xs[0] == LEFT and xs[-1] == W - RIGHT  # the window spans the plot's width


def test_a_metric_without_thresholds_has_no_bands():
    svg = draw("auc", [(0.8, "INFO"), (0.79, "INFO"), (0.81, "INFO"), (0.8, "INFO"), (0.78, "INFO")])
    assert bands(svg) == {} and breaches(svg) == []
    assert svg.get("aria-label") == "auc: 5 values, 0 breaches"
