"""A ClassificationMetrics artifact drawn from its metadata: escaped names, the counts in the
right cells, shading by each cell's share of its row with readable text, the ROC curve."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import pytest

from kubeline.charts import (
    classification_html,
    classification_view,
    confusion_table,
    parse_confusion,
    roc_points,
)
from kubeline.charts.colours import (
    contrast_ratio,
    diverging_colour,
    sequential_colour,
    text_colour,
)

SCRIPT = "<script>alert(1)</script>"


def confusion(rows: list[list[float]], names: list[Any]) -> dict[str, Any]:
    return {
        "rows": [{"row": r} for r in rows],
        "annotationSpecs": [{"displayName": n} for n in names],
    }


class Cells(HTMLParser):
    """The table's cells as (tag, attributes, text), row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[tuple[str, dict[str, str | None], str]]] = []
        self.tags: list[str] = []
        self._cell: tuple[str, dict[str, str | None]] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell, self._text = (tag, dict(attrs)), ""

    def handle_data(self, data: str) -> None:
        self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell:
            self.rows[-1].append((*self._cell, self._text))
            self._cell = None


def red(style: str) -> int:
    """The red channel of a cell's background (the blues darken as red falls)."""
    found = re.search(r"background-color:#([0-9a-f]{2})", style)
    assert found, style
    return int(found.group(1), 16)


def cells(html: str) -> Cells:
    parser = Cells()
    parser.feed(html)
    return parser


def test_a_category_named_script_comes_out_escaped() -> None:
    meta = {
        "confusionMatrix": confusion([[3, 1], [0, 4]], [SCRIPT, 'a"b&c']),
        "confidenceMetrics": [{"falsePositiveRate": 0.0, "recall": 1.0}],
    }
    html = str(classification_html(meta, label=SCRIPT))
    assert "<script" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # header, row, ROC title
    assert "a&#34;b&amp;c" in html
    parsed = cells(html)
    assert "script" not in parsed.tags
    assert [c[2] for c in parsed.rows[0][1:]] == [SCRIPT, 'a"b&c']


def test_counts_sit_in_their_cells_shaded_by_share_of_row() -> None:
    names, counts = parse_confusion(confusion([[8, 2], [0, 5]], ["cat", "dog"]))
    assert names == ["cat", "dog"] and counts == [[8.0, 2.0], [0.0, 5.0]]
    parsed = cells(str(confusion_table(names, counts)))
    body = parsed.rows[1:]
    assert [[c[2] for c in row] for row in body] == [["cat", "8", "2"], ["dog", "0", "5"]]
    style = {
        (row[0][2], col): row[i + 1][1]["style"] for row in body for i, col in enumerate(names)
    }
    # 8 of 10 is darker than 2 of 10; 5 of 5 is the darkest; 0 is the lightest.
    assert style[("dog", "dog")] == "background-color:#08306b;color:#ffffff"
    assert style[("dog", "cat")] == "background-color:#f7fbff;color:#000000"
    shade = {k: red(v or "") for k, v in style.items()}
    assert shade[("cat", "cat")] < shade[("cat", "dog")]
    assert "80% of the row" in (body[0][1][1]["title"] or "")


def test_the_text_on_every_shade_keeps_wcag_contrast() -> None:
    for k in range(101):
        for bg in (sequential_colour(k / 100), diverging_colour(k / 50 - 1)):
            assert contrast_ratio(bg, text_colour(bg)) >= 4.5, bg
    assert diverging_colour(-1) != diverging_colour(1)
    assert diverging_colour(0) == (247, 247, 247)


def test_roc_from_metadata_is_drawn_with_its_area() -> None:
    meta = {
        "confidenceMetrics": [
            {"falsePositiveRate": 1.0, "recall": 1.0},
            {"falsePositiveRate": 0.0, "recall": 0.0},
            {"falsePositiveRate": 0.0, "recall": 1.0},
            {"falsePositiveRate": "x", "recall": 0.5},
        ]
    }
    assert roc_points(meta["confidenceMetrics"]) == [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]
    view = classification_view(meta, label="evaluate")
    assert view.notes == ("ROC AUC 1",)
    svg = re.search(r"<svg.*?</svg>", str(view.html), flags=re.S)
    assert svg is not None
    root = ET.fromstring(svg.group(0))
    assert "AUC 1" in (root.get("aria-label") or "")


@pytest.mark.parametrize(
    ("meta", "said"),
    [
        ({}, "neither a confusion matrix nor an ROC curve"),
        ({"confusionMatrix": {"rows": [{"row": [1, "x"]}]}}, "not a list of numbers"),
        ({"confusionMatrix": confusion([[1, 2, 3], [4, 5, 6]], ["a", "b"])}, "not square"),
        ({"confidenceMetrics": "nope"}, "confidenceMetrics is not a list"),
        ({"confidenceMetrics": []}, "no usable points"),
    ],
)
def test_bad_or_missing_parts_are_said_in_a_sentence(meta: dict[str, Any], said: str) -> None:
    html = str(classification_html(meta, label="x"))
    assert said in html and "<table" not in html and "<svg" not in html
