"""The SVG charts: well-formed XML, the right shapes, escaped labels, accessible names."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from kubeline.server.web.charts import auc_trapezoid, bar_chart_svg, format_number, roc_curve_svg

NS = {"svg": "http://www.w3.org/2000/svg"}
NASTY = 'a<b & "c">'


def parse(svg: Markup) -> ET.Element:
    assert isinstance(svg, Markup)
    return ET.fromstring(str(svg))


def classes(el: ET.Element) -> set[str]:
    return set((el.get("class") or "").split())


def all_text(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{{{NS['svg']}}}text")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (114.0, "114"),
        (3, "3"),
        (0.9957010582010583, "0.9957"),
        (0.0810220988397395, "0.08102"),
        (1.6839622641509433, "1.684"),
        (0.5, "0.5"),
        (12345.6, "12346"),
        (-2.5, "-2.5"),
        (0.99996, "1"),
        (1.5e-7, "1.5e-07"),
        (float("nan"), "NaN"),
        (True, "true"),
    ],
)
def test_format_number(value: float, expected: str) -> None:
    assert format_number(value) == expected


def test_auc_trapezoid_sorts_and_integrates() -> None:
    points = [(1.0, 1.0), (0.0, 0.0), (0.5, 0.75), (0.0, 0.5)]
    # sorted: (0,0) (0,.5) (.5,.75) (1,1): 0 + .5*(.5+.75)/2 + .5*(.75+1)/2
    assert auc_trapezoid(points) == pytest.approx(0.3125 + 0.4375)
    assert auc_trapezoid([(0.0, 0.0), (1.0, 1.0)]) == pytest.approx(0.5)
    assert auc_trapezoid([(0.2, 0.3)]) is None
    assert auc_trapezoid([(0.0, 0.0), (float("nan"), 1.0), (1.0, 1.0)]) == pytest.approx(0.5)


def test_roc_curve_svg_shapes_and_accessibility() -> None:
    points = [(0.0, 0.0), (0.0, 0.6), (0.2, 0.9), (1.0, 1.0)]
    svg = roc_curve_svg(points, auc=0.91, title=NASTY)
    root = parse(svg)
    assert root.tag == f"{{{NS['svg']}}}svg"
    assert root.get("role") == "img"
    assert "AUC 0.91" in root.get("aria-label", "")
    assert NASTY in root.get("aria-label", "")
    assert {"chart"} <= classes(root)

    lines = root.findall(".//svg:polyline", NS)
    assert len(lines) == 1 and "chart-line" in classes(lines[0])
    coords = lines[0].get("points", "").split()
    assert len(coords) == len(points)
    diagonal = [el for el in root.iter() if "chart-diagonal" in classes(el)]
    assert len(diagonal) == 1 and diagonal[0].get("stroke-dasharray")
    assert [el for el in root.iter() if "chart-axis" in classes(el)]

    texts = all_text(root)
    assert "False positive rate" in texts and "True positive rate" in texts
    assert NASTY in texts  # the title, escaped in the source and intact once parsed
    for tick in ("0", "0.2", "0.4", "0.6", "0.8", "1"):
        assert tick in texts
    assert "<b" not in str(svg) and "&lt;b" in str(svg)
    assert "font-family" not in str(svg)
    assert "currentColor" in str(svg)
    assert "<script" not in str(svg)


def test_roc_curve_svg_handles_no_points_and_no_auc() -> None:
    root = parse(roc_curve_svg([], auc=None, title="empty"))
    assert "not available" in root.get("aria-label", "")
    assert not root.findall(".//svg:polyline", NS)


def bars(root: ET.Element) -> list[ET.Element]:
    return [el for el in root.iter(f"{{{NS['svg']}}}rect") if "chart-bar" in classes(el)]


def test_bar_chart_one_bar_per_value_with_na_and_highlight() -> None:
    long_label = "run-" + "x" * 60
    items: list[tuple[str, float | None]] = [
        ("first", 0.5),
        (NASTY, 0.75),
        ("missing", None),
        (long_label, 1.0),
        ("nan", float("nan")),
    ]
    svg = bar_chart_svg(items, title="accuracy <by run>", highlight=NASTY)
    root = parse(svg)
    found = bars(root)
    assert len(found) == 3
    highlighted = [b for b in found if "highlight" in classes(b)]
    assert len(highlighted) == 1

    texts = all_text(root)
    assert texts.count("n/a") == 2
    assert NASTY in texts
    assert "0.75" in texts and "0.5" in texts and "1" in texts
    assert long_label not in texts
    assert any(t.startswith("run-xxx") and t.endswith("…") and len(t) <= 24 for t in texts)

    aria = root.get("aria-label", "")
    assert root.get("role") == "img"
    for part in ("accuracy <by run>", "first 0.5", f"{NASTY} 0.75", "missing n/a", long_label):
        assert part in aria
    raw = str(svg)
    assert "&lt;b &amp;" in raw and "<b " not in raw
    assert "font-family" not in raw and "currentColor" in raw


def test_bar_chart_axis_starts_at_zero_for_positive_values() -> None:
    root = parse(bar_chart_svg([("a", 0.9), ("b", 0.95)], title="t"))
    a, b = bars(root)
    # both bars start at the same x (the zero line), and a is shorter than b
    assert float(a.get("x", "nan")) == float(b.get("x", "nan"))
    assert float(a.get("width", 0)) / float(b.get("width", 1)) == pytest.approx(0.9 / 0.95, 0.02)
    assert "0" in all_text(root)


def test_bar_chart_with_negative_values_crosses_zero() -> None:
    root = parse(bar_chart_svg([("loss", -2.0), ("gain", 3.0)], title="delta"))
    neg, pos = bars(root)
    neg_right = float(neg.get("x", "nan")) + float(neg.get("width", "nan"))
    assert math.isclose(neg_right, float(pos.get("x", "nan")), abs_tol=0.02)
    assert "-2" in all_text(root)


def test_bar_chart_empty_and_all_missing() -> None:
    assert bars(parse(bar_chart_svg([], title="nothing"))) == []
    root = parse(bar_chart_svg([("a", None)], title="all missing"))
    assert bars(root) == [] and "n/a" in all_text(root)
