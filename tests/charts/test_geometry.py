"""Where the charts put things: a ROC point lands at its pixel, bars and histogram bins are
proportional to their values, heat-map cells are coloured by value, labels are escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from kubeline.charts import (
    bar_chart_svg,
    bin_edges,
    confusion_heatmap_svg,
    heatmap_svg,
    histogram_counts,
    histogram_svg,
    roc_curve_svg,
    series_legend_html,
    series_style,
    small_multiples_html,
)
from kubeline.charts.colours import (
    contrast_ratio,
    diverging_colour,
    hex_colour,
    sequential_colour,
)

SVG = "{http://www.w3.org/2000/svg}"
SCRIPT = "<script>alert(1)</script>"


def parse(svg: Markup) -> ET.Element:
    assert isinstance(svg, Markup)
    return ET.fromstring(str(svg))


def numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", text)]


def test_a_roc_point_lands_where_its_rates_say() -> None:
    # The plot is a 260 px square whose corner (0, 0) is at (52, 290): x grows right, y up.
    root = parse(roc_curve_svg([(0.0, 0.0), (0.25, 0.75), (1.0, 1.0)], auc=0.75, title="ROC"))
    line = root.find(f"{SVG}polyline")
    assert line is not None
    points = [tuple(map(float, p.split(","))) for p in (line.get("points") or "").split()]
    assert points == [(52.0, 290.0), (52 + 0.25 * 260, 290 - 0.75 * 260), (312.0, 30.0)]
    diagonal = root.find(f"{SVG}line[@class='chart-diagonal']")
    assert diagonal is not None
    assert [diagonal.get(k) for k in ("x1", "y1", "x2", "y2")] == ["52", "290", "312", "30"]


def test_bars_are_proportional_to_their_values() -> None:
    root = parse(bar_chart_svg([("a", 10), ("b", 30), ("c", 20)], title="Rows per class"))
    widths = [float(r.get("width") or 0) for r in root.iter(f"{SVG}rect")]
    assert len(widths) == 3
    assert widths[1] == pytest.approx(3 * widths[0], rel=0.01)
    assert widths[2] == pytest.approx(2 * widths[0], rel=0.01)
    starts = {r.get("x") for r in root.iter(f"{SVG}rect")}
    assert len(starts) == 1  # every bar grows from the same zero line


def test_histogram_counts_fall_in_their_bins() -> None:
    edges = bin_edges(0.0, 4.0, 4)
    assert edges == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert histogram_counts([0, 0.5, 1, 2.5, 4, None, float("nan"), -1, 9], edges) == [2, 1, 1, 1]
    assert bin_edges(3.0, 3.0, 2) == [2.0, 3.0, 4.0]  # a constant column still gets bins
    with pytest.raises(ValueError, match="at least one bin"):
        bin_edges(0, 1, 0)


def _heights(path: str, base: float) -> list[float]:
    """The bin tops of a histogram outline, left to right (each bin is two L points)."""
    pts = [tuple(map(float, p.split(","))) for p in re.findall(r"L(-?[\d.]+,-?[\d.]+)", path)]
    tops = pts[:-1:2]  # the last point goes back down to the base
    return [round(base - y, 2) for _, y in tops]


def test_histogram_bins_are_proportional_and_each_group_has_its_style() -> None:
    svg = histogram_svg([("a", [0, 0, 0, 0, 1, 2]), ("b", [2, 2])], title="x", bins=2)
    root = parse(svg)
    paths = [p for p in root.iter(f"{SVG}path") if p.get("class") == "chart-hist"]
    assert len(paths) == 2
    base = 28 + 120  # the plot's top plus its height: the zero line
    a, b = (_heights(p.get("d") or "", base) for p in paths)
    # a: 4 values in [0, 1), 2 in [1, 2]; b: 2 in [1, 2]; the y axis runs to 4 (or past it).
    assert a[0] == pytest.approx(2 * a[1]) and a[0] > 0
    assert b == [0, a[1]]
    assert [p.get("stroke") for p in paths] == [series_style(0).colour, series_style(1).colour]
    assert paths[1].get("stroke-dasharray") == series_style(1).dash
    label = root.get("aria-label") or ""
    assert "from 0 to 2 in 2 bins, 8 values" in label and "a: 6 values; b: 2 values" in label


def test_histogram_without_values_says_so() -> None:
    root = parse(histogram_svg([("a", [None, float("nan")])], title="empty"))
    assert "no values" in (root.get("aria-label") or "")
    assert not [p for p in root.iter(f"{SVG}path")]


def _cells(root: ET.Element) -> dict[str, str]:
    """Each heat-map cell's fill, by its title ("row, column: value")."""
    found = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "chart-cell":
            title, rect = group.find(f"{SVG}title"), group.find(f"{SVG}rect")
            assert title is not None and rect is not None
            found[title.text or ""] = rect.get("fill") or ""
    return found


def test_heatmap_cells_are_coloured_by_value() -> None:
    root = parse(
        heatmap_svg(
            ["x", "y"],
            ["x", "y"],
            [[1.0, -0.5], [None, 0.0]],
            title="Correlations",
            diverging=True,
        )
    )
    cells = _cells(root)
    assert cells == {
        "x, x: 1": hex_colour(diverging_colour(1.0)),
        "x, y: -0.5": hex_colour(diverging_colour(-0.5)),
        "y, x: n/a": "#cbd2d9",
        "y, y: 0": hex_colour(diverging_colour(0.0)),
    }
    assert diverging_colour(1.0)[0] > diverging_colour(1.0)[2]  # positive: red
    assert diverging_colour(-1.0)[2] > diverging_colour(-1.0)[0]  # negative: blue


def test_a_sequential_heatmap_darkens_with_the_value_and_prints_readable_numbers() -> None:
    root = parse(heatmap_svg(["r"], ["a", "b", "c"], [[0, 5, 10]], title="t", show_values=True))
    fills = list(_cells(root).values())
    assert fills == [hex_colour(sequential_colour(t)) for t in (0.0, 0.5, 1.0)]
    texts = [t for t in root.iter(f"{SVG}text") if t.get("class") == "chart-cell-value"]
    assert [t.text for t in texts] == ["0", "5", "10"]
    for text, fill in zip(texts, fills, strict=True):
        rgb = tuple(int(fill[i : i + 2], 16) for i in (1, 3, 5))
        ink = tuple(int((text.get("fill") or "")[i : i + 2], 16) for i in (1, 3, 5))
        assert contrast_ratio(rgb, ink) >= 4.5


def test_confusion_heatmap_shades_by_share_of_row_and_escapes_names() -> None:
    svg = confusion_heatmap_svg([SCRIPT, "b"], [[9, 1], [0, 4]])
    assert "<script" not in str(svg)
    root = parse(svg)
    cells = _cells(root)
    assert cells[f"{SCRIPT}, {SCRIPT}: 9"] == hex_colour(sequential_colour(0.9))
    assert cells[f"{SCRIPT}, b: 1"] == hex_colour(sequential_colour(0.1))
    assert cells[f"b, {SCRIPT}: 0"] == hex_colour(sequential_colour(0.0))
    assert cells["b, b: 4"] == hex_colour(sequential_colour(1.0))
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "Predicted" in labels and "True" in labels


def test_small_multiples_share_one_escaped_legend() -> None:
    panels = [histogram_svg([(SCRIPT, [1, 2])], title=f"f{i}", legend=False) for i in range(3)]
    html = str(
        small_multiples_html(panels, caption=SCRIPT, legend=series_legend_html([SCRIPT, "b"]))
    )
    assert "<script" not in html
    assert html.count('class="chart chart-histogram"') == 3
    assert html.count("<li>") == 2 and html.count('class="series-key"') == 2
    assert html.count("chart-marker") == 2
    plain = str(series_legend_html(["a"], markers=False))
    assert 'class="series-key"' in plain and "chart-marker" not in plain
