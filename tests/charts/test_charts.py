"""The SVG charts: well-formed XML, the right shapes, escaped labels, accessible names."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from kubeline.charts import (
    SERIES,
    Curve,
    auc_trapezoid,
    bar_chart_svg,
    fitted_axis,
    format_distinct,
    format_number,
    marker_path,
    roc_curve_svg,
    roc_overlay_svg,
    series_key_svg,
    series_style,
    thin,
)

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


# ------------------------------------------------------------- compare: axes that fit


def test_format_distinct_adds_digits_only_where_values_would_print_alike() -> None:
    assert format_distinct([0.9722, 0.9737]) == ["0.9722", "0.9737"]
    assert format_distinct([0.97221, 0.97224, None]) == ["0.97221", "0.97224", "n/a"]
    assert format_distinct([0.5, 0.5]) == ["0.5", "0.5"]  # equal values stay equal
    assert format_distinct([0.99996, 1.0]) == ["0.99996", "1"]
    assert format_distinct([]) == []


@pytest.mark.parametrize(
    "values",
    [[0.9722, 0.9737], [0.97221, 0.97224], [0.081, 0.0812], [1e6, 1.0001e6], [-0.5, -0.4]],
)
def test_fitted_axis_fits_close_values_with_padding_and_honest_ticks(values: list[float]) -> None:
    axis = fitted_axis(values)
    lo, hi = min(values), max(values)
    assert axis.lo < lo and hi < axis.hi  # padded on both sides
    assert axis.zoomed  # zero left out, and the axis says so
    # the values sit well apart, not squeezed into a sliver of a 0..1 axis
    assert axis.fraction(hi) - axis.fraction(lo) > 0.3
    ticks = [axis.tick_text(t) for t in axis.ticks]
    assert len(set(ticks)) == len(ticks) >= 3  # every tick labelled, none twice
    assert "to" in axis.words and axis.tick_text(axis.lo) in axis.words


def test_fitted_axis_starts_at_zero_when_zero_is_near_and_keeps_scores_in_0_1() -> None:
    near = fitted_axis([3.0, 10.0])
    assert near.lo == 0 and not near.zoomed
    scores = fitted_axis([0.98, 1.0])
    assert scores.hi == 1.0 and 0.9 <= scores.lo < 0.98
    assert fitted_axis([0.0, 0.02]).lo == 0.0
    assert fitted_axis([]).ticks == [0.0, 0.25, 0.5, 0.75, 1.0]
    single = fitted_axis([5.0])
    assert single.lo < 5.0 < single.hi
    assert [single.tick_text(t) for t in single.ticks] == ["4.6", "4.8", "5.0", "5.2", "5.4"]
    assert [fitted_axis([]).tick_text(t) for t in (0.25, 1.0)] == ["0.25", "1.00"]


def test_fitted_bar_chart_makes_close_values_look_different() -> None:
    svg = bar_chart_svg(
        [("a", 0.9722), ("b", 0.9737)],
        title="accuracy",
        fit=True,
        best={1},
        note="higher is better",
    )
    root = parse(svg)
    a, b = bars(root)
    wa, wb = float(a.get("width", 0)), float(b.get("width", 0))
    assert wb - wa > 60  # of a 300 px plot; from zero they would differ by half a pixel
    texts = all_text(root)
    assert "0.971" in texts and "0.975" in texts and "0" not in texts
    assert any(t.startswith("Zoomed: axis from 0.971 to 0.975") for t in texts)
    assert "higher is better" in texts
    assert "best" in classes(b) and "best" not in classes(a)
    assert "0.9737 ★ best" in texts and "0.9722" in texts
    aria = root.get("aria-label", "")
    assert "b 0.9737 (best)" in aria and "not from 0" in aria and "higher is better" in aria


def test_zero_based_bar_chart_is_still_the_default() -> None:
    root = parse(bar_chart_svg([("a", 0.9722), ("b", 0.9737)], title="t"))
    a, b = bars(root)
    assert float(b.get("width", 0)) - float(a.get("width", 0)) < 1
    assert not [t for t in all_text(root) if t.startswith("Zoomed")]


# ------------------------------------------------------------------ compare: series


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def test_series_styles_differ_without_colour_and_meet_graphics_contrast() -> None:
    assert len(SERIES) >= 10  # the compare page takes up to ten runs
    assert len({s.colour for s in SERIES}) == len(SERIES)
    assert len({s.dash for s in SERIES}) == len(SERIES)
    assert len({s.marker for s in SERIES}) == len(SERIES)
    assert len({s.words for s in SERIES}) == len(SERIES)
    for style in SERIES:
        ratio = (1.05) / (_luminance(style.colour) + 0.05)  # against white
        assert ratio >= 3, (style.colour, ratio)  # WCAG 1.4.11, graphical objects
    assert series_style(len(SERIES)) == SERIES[0]


@pytest.mark.parametrize("marker", [s.marker for s in SERIES])
def test_marker_paths_are_closed_shapes_around_their_centre(marker: str) -> None:
    d = marker_path(marker, 100.0, 50.0)
    assert d.startswith("M") and d.endswith("Z")
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
    if marker != "circle":  # polygons: every corner within a few px of the centre
        xs, ys = numbers[0::2], numbers[1::2]
        assert all(abs(x - 100) <= 7 for x in xs) and all(abs(y - 50) <= 7 for y in ys)


def test_thin_keeps_ends_and_at_most_the_limit() -> None:
    points = [(float(i), float(i)) for i in range(1000)]
    kept = thin(points, 50)
    assert len(kept) == 50 and kept[0] == points[0] and kept[-1] == points[-1]
    assert thin(points[:10], 50) == points[:10]


def test_roc_overlay_draws_one_styled_curve_per_run_with_aucs_in_legend() -> None:
    curves = [
        Curve("lr (abc)", [(0.0, 0.0), (0.1, 0.8), (1.0, 1.0)], 0.9123, 0),
        Curve(NASTY, [(0.0, 0.0), (0.3, 0.7), (1.0, 1.0)], 0.7456, 1),
    ]
    svg = roc_overlay_svg(curves, title="ROC curves: evaluate")
    root = parse(svg)
    lines = [el for el in root.iter() if "chart-series-line" in classes(el)]
    assert len(lines) == 2
    assert lines[0].get("stroke") != lines[1].get("stroke")
    assert lines[0].get("stroke-dasharray") != lines[1].get("stroke-dasharray")
    markers = [el for el in root.iter() if "chart-marker" in classes(el)]
    assert len(markers) == 2 * 5 + 2  # five along each curve, one in each legend entry
    texts = all_text(root)
    assert "lr (abc) · AUC 0.9123" in texts and f"{NASTY} · AUC 0.7456" in texts
    assert "chance · AUC 0.5" in texts
    aria = root.get("aria-label", "")
    assert root.get("role") == "img"
    assert "2 ROC curves" in aria and "AUC 0.9123" in aria and NASTY in aria
    assert SERIES[0].words in aria and SERIES[1].words in aria
    assert "<b" not in str(svg)


def test_roc_overlay_prints_aucs_that_would_round_alike_apart() -> None:
    curves = [Curve("a", [(0, 0), (1, 1)], 0.99501, 0), Curve("b", [(0, 0), (1, 1)], 0.99504, 1)]
    texts = all_text(parse(roc_overlay_svg(curves, title="t")))
    assert "a · AUC 0.99501" in texts and "b · AUC 0.99504" in texts


def test_series_key_is_hidden_from_screen_readers() -> None:
    root = parse(series_key_svg(3))
    assert root.get("aria-hidden") == "true"
    assert any(el.get("stroke-dasharray") == SERIES[3].dash for el in root.iter())
