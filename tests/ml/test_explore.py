"""Explore: the dataset profile, its scalar metrics, Markdown and the HTML report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from kubeline.errors import DataValidationError
from kubeline.ml.explore import (
    profile_dataset,
    profile_html,
    profile_markdown,
    profile_metrics,
)

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def small() -> pd.DataFrame:
    """8 rows: classes a (5) and b (3); row 4 duplicates row 0; two missing cells."""
    return pd.DataFrame(
        {
            "perfect": [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0],  # separates the classes
            "gappy": [1.0, np.nan, 3.0, 4.0, 1.0, np.nan, 7.0, 8.0],
            "flat": [2.0] * 8,
            "colour": ["red", "red", "red", "blue", "red", "blue", "blue", "green"],
            "target": ["a", "a", "a", "a", "a", "b", "b", "b"],
        }
    )


def test_profile_counts(small: pd.DataFrame) -> None:
    profile = profile_dataset(small, "target")
    assert profile.target == "target"
    assert profile.n_rows == 8
    assert profile.n_columns == 4
    assert (profile.n_numeric, profile.n_categorical) == (3, 1)
    assert profile.missing_cells == 2
    assert profile.duplicate_rows == 1
    assert profile.class_counts == {"a": 5, "b": 3}
    assert profile.imbalance_ratio == pytest.approx(5 / 3)


def test_profile_column_statistics(small: pd.DataFrame) -> None:
    columns = {c.name: c for c in profile_dataset(small, "target").columns}
    gappy = columns["gappy"]
    assert gappy.kind == "numeric"
    assert (gappy.missing, gappy.missing_fraction, gappy.unique) == (2, 0.25, 5)
    present = [1.0, 3.0, 4.0, 1.0, 7.0, 8.0]
    assert gappy.mean == pytest.approx(np.mean(present))
    assert gappy.std == pytest.approx(np.std(present, ddof=1))
    assert (gappy.min, gappy.max) == (1.0, 8.0)
    assert columns["flat"].skew == 0.0  # undefined skew of a constant column reads as 0
    colour = columns["colour"]
    assert colour.kind == "categorical"
    assert colour.top == "red"
    assert colour.mean is None


def test_association_ranks_the_separating_column_first(small: pd.DataFrame) -> None:
    pairs = profile_dataset(small, "target").target_association
    association = dict(pairs)
    ranked = [name for name, _ in pairs]
    assert ranked[0] == "perfect"
    assert association["perfect"] == pytest.approx(1.0)
    assert association["flat"] == 0.0
    assert all(0.0 <= eta <= 1.0 for eta in association.values())
    assert [eta for _, eta in pairs] == sorted(association.values(), reverse=True)
    assert "colour" not in association  # only numeric columns are scored


def test_profile_of_an_all_empty_numeric_column() -> None:
    frame = pd.DataFrame({"empty": [np.nan] * 4, "x": [1.0, 2.0, 3.0, 4.0], "t": list("abab")})
    (empty, _) = profile_dataset(frame, "t").columns
    assert (empty.missing, empty.mean, empty.std, empty.skew) == (4, None, None, None)


def test_profile_without_the_target_column(small: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match="Target column 'label' is missing"):
        profile_dataset(small, "label")


def test_profile_to_dict_is_json_ready(small: pd.DataFrame) -> None:
    data = json.loads(json.dumps(profile_dataset(small, "target").to_dict()))
    assert data["n_rows"] == 8
    assert data["columns"][0]["name"] == "perfect"


def test_imbalance_ratio_of_balanced_classes(iris: pd.DataFrame) -> None:
    assert profile_dataset(iris, "target").imbalance_ratio == 1.0


def test_profile_metrics_match_the_profile(small: pd.DataFrame) -> None:
    profile = profile_dataset(small, "target")
    metrics = profile_metrics(profile)
    assert metrics == {
        "rows": 8.0,
        "features": 4.0,
        "numeric_features": 3.0,
        "categorical_features": 1.0,
        "classes": 2.0,
        "missing_cells": 2.0,
        "duplicate_rows": 1.0,
        "imbalance_ratio": pytest.approx(5 / 3),
        "strongest_association": pytest.approx(1.0),
    }
    assert all(isinstance(v, float) for v in metrics.values())


def test_profile_metrics_without_numeric_columns() -> None:
    frame = pd.DataFrame({"c": ["u", "v", "u", "v"], "t": list("abab")})
    assert profile_metrics(profile_dataset(frame, "t"))["strongest_association"] == 0.0


def test_profile_markdown_states_the_numbers(iris: pd.DataFrame) -> None:
    text = profile_markdown(profile_dataset(iris, "target"), top=2)
    assert "**150 rows**, 4 features (4 numeric, 0 categorical)" in text
    assert "Classes (3): `setosa` 50, `versicolor` 50, `virginica` 50" in text
    assert "(largest/smallest = 1.00)" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + 2  # header + the top 2 features
    assert rows[1].startswith("| petal length (cm) |")  # the strongest feature of iris


def test_profile_markdown_uses_thousands_separators() -> None:
    frame = pd.DataFrame({"x": np.arange(1234.0), "t": ["a", "b"] * 617})
    assert "**1,234 rows**" in profile_markdown(profile_dataset(frame, "t"))


def _script_frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    labels = np.array(["p", "q"] * 10)
    return pd.DataFrame(
        {
            SCRIPT: (labels == "q") * 2.0 + rng.normal(size=20),
            "other": rng.normal(size=20),
            "colour": rng.choice(["red", "blue"], 20),
            "target": labels,
        }
    )


def test_profile_html_is_one_escaped_document() -> None:
    frame = _script_frame()
    html = profile_html(frame, profile_dataset(frame, "target"))
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert html.rstrip().endswith("</html>")
    assert html.lower().count("<!doctype") == 1
    assert html.count("<html") == 1
    assert "<?xml" not in html  # the SVG prolog is stripped from inline plots
    assert "<svg" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html


def charts_of(html: str, kind: str) -> list[str]:
    """The report's inline SVG charts of one kind (chart-bars, chart-histogram...)."""
    return re.findall(rf'<svg [^>]*class="chart {kind}".*?</svg>', html, flags=re.S)


def test_profile_html_has_a_plot_per_section() -> None:
    frame = _script_frame()
    profile = profile_dataset(frame, "target")
    html = profile_html(frame, profile)
    numeric = [c.name for c in profile.columns if c.kind == "numeric"]
    assert len(charts_of(html, "chart-bars")) == 1  # class balance
    assert len(charts_of(html, "chart-histogram")) == len(numeric)  # one per strong feature
    assert len(charts_of(html, "chart-heatmap")) == 1  # correlations between them
    for chart in charts_of(html, "chart-(?:bars|histogram|heatmap)"):
        ET.fromstring(chart)  # well-formed, inline, no prolog


def test_profile_html_draws_what_the_profile_says() -> None:
    frame = pd.DataFrame(
        {
            "up": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "down": [6.0, 5.0, 4.0, 3.0, 2.0, 1.0],
            "target": ["a", "a", "a", "a", "b", "b"],
        }
    )
    html = profile_html(frame, profile_dataset(frame, "target"))
    (bars,) = charts_of(html, "chart-bars")
    widths = [float(w) for w in re.findall(r'<rect class="chart-bar" [^>]*width="([\d.]+)"', bars)]
    assert widths[0] == pytest.approx(2 * widths[1], rel=0.01)  # 4 rows of a, 2 of b
    (heat,) = charts_of(html, "chart-heatmap")
    assert "<title>up, down: -1</title>" in heat  # perfectly anti-correlated: the blue end
    assert "#2166ac" in heat and "#b2182b" in heat  # -1 blue, +1 (the diagonal) red
    hists = charts_of(html, "chart-histogram")
    assert len(hists) == 2 and all("a: 4 values; b: 2 values" in h for h in hists)
    assert html.count('class="chart-legend-list"') == 1  # one legend for the histograms


def test_the_reports_need_no_plotting_library() -> None:
    """matplotlib is not a dependency: the reports render with it unimportable."""
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import pandas as pd\n"
        "from kubeline.ml.explore import profile_dataset, profile_html\n"
        "f = pd.DataFrame({'x': [1.0, 2.0, 3.0, 4.0], 'y': [2.0, 1.0, 4.0, 3.0],"
        " 't': list('abab')})\n"
        "print(profile_html(f, profile_dataset(f, 't')).count('<svg'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 3


def test_profile_html_with_one_numeric_column_skips_correlations() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": list("uvuv"), "t": list("abab")})
    html = profile_html(frame, profile_dataset(frame, "t"))
    assert len(charts_of(html, "chart-bars")) == 1
    assert len(charts_of(html, "chart-histogram")) == 1
    assert not charts_of(html, "chart-heatmap")
    assert "Correlations between features" not in html


def test_profile_html_draws_the_largest_classes_when_styles_would_repeat() -> None:
    sizes = {f"c{i:02d}": 3 + i for i in range(12)}  # c11 is the largest, c00 the smallest
    labels = [name for name, size in sizes.items() for _ in range(size)]
    frame = pd.DataFrame({"x": np.arange(len(labels), dtype=float), "target": labels})
    html = profile_html(frame, profile_dataset(frame, "target"))
    (hist,) = charts_of(html, "chart-histogram")
    drawn = re.findall(r"<title>(c\d\d): \d+ values</title>", hist)
    assert drawn == [f"c{i:02d}" for i in range(2, 12)]  # the 10 largest, in the table's order
    assert "(the 10 largest of 12 classes)" in html
    legend = re.search(r'<ul class="chart-legend-list">.*?</ul>', html, flags=re.S)
    assert legend and legend.group(0).count("<li>") == 10
    assert "chart-marker" not in legend.group(0)  # histograms draw lines, not markers
