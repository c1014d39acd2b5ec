"""Helpers to read the Model Risk app's answers in tests: CSV tables, SVG charts, heat map cells, and an
independent worst-status rule (the order the README gives, written out here)."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

SVG_NS = {"svg": "http://www.w3.org/2000/svg"}
WORST_FIRST = ["RED", "ERROR", "AMBER", "INSUFFICIENT_DATA", "GREEN"]


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(response.text)))


def chart(html: str, series: str) -> ET.Element:
    """The SVG chart of one series (``psi(amount)``), parsed as XML."""
    match = re.search(rf'<svg class="metric-chart" data-series="{re.escape(series)}".*?</svg>', html, re.S)
    assert match, f"no chart for {series}"
    return ET.fromstring(match.group(0))


def chart_titles(html: str) -> list[str]:
    return re.findall(r'<svg class="metric-chart" data-series="([^"]+)"', html)


def bands(svg: ET.Element) -> dict[str, tuple[float, float]]:
    out = {}
    for rect in svg.findall("svg:rect", SVG_NS):
        name = rect.get("class").split()[-1].removeprefix("band-")
        out[name] = (float(rect.get("data-from")), float(rect.get("data-to")))
    return out


def breaches(svg: ET.Element) -> list[tuple[str, str, float]]:
    """(date, status, value) of every marked point."""
    return [
        (c.get("data-date"), c.get("class").split("-")[-1], float(c.get("data-value")))
        for c in svg.findall("svg:circle", SVG_NS)
    ]


def heat_cells(html: str) -> dict[tuple[str, str], tuple[str, str]]:
    """``{(feature, date): (status class, text)}`` of the PSI heat map."""
    table = re.search(r'<table class="heat">.*?</table>', html, re.S).group(0)
    out = {}
    for feature, cells in re.findall(r"<tr><th>([^<]+)</th>(.*?)</tr>", table, re.S):
        for status, day, text in re.findall(
            r'<td class="h-([A-Z_]+)" title="[^"]*" data-date="([^"]+)">([^<]*)<', cells
        ):
            out[(feature, day)] = (status, text)
    return out


def worst(statuses) -> str | None:
    present = set(statuses)
    found = [s for s in WORST_FIRST if s in present]
    return found[0] if found else None
