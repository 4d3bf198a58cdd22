"""Artifact previews, on real files written under a real kubeline home: what each type shows,
and that nothing outside home/runs is read, nothing past max_bytes, and nothing raises."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kubeline.charts import auc_trapezoid
from kubeline.server.web.previews import KINDS, Preview, format_bytes, preview
from kubeline.store import ArtifactRecord

URL = "/kubeline/api/artifacts/a1/content"
NASTY = '<script>alert("x")</script> & co'


# --------------------------------------------------------------------------- helpers


@dataclass
class Cell:
    tag: str
    attrs: dict[str, str]
    text: str = ""


@dataclass
class Table:
    attrs: dict[str, str]
    caption: str = ""
    rows: list[list[Cell]] = field(default_factory=list)
    head_rows: int = 0

    @property
    def body(self) -> list[list[Cell]]:
        return self.rows[self.head_rows :]


class _Tables(HTMLParser):
    """Collects every <table> of a fragment: caption, and rows of cells with their text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[Table] = []
        self.stack: list[Table] = []
        self.cell: Cell | None = None
        self.in_caption = False
        self.in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table":
            self.stack.append(Table(a))
        elif not self.stack:
            return
        elif tag == "caption":
            self.in_caption = True
        elif tag == "thead":
            self.in_head = True
        elif tag == "tr":
            self.stack[-1].rows.append([])
            if self.in_head:
                self.stack[-1].head_rows += 1
        elif tag in ("td", "th"):
            self.cell = Cell(tag, a)
            self.stack[-1].rows[-1].append(self.cell)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.stack:
            self.tables.append(self.stack.pop())
        elif tag == "caption":
            self.in_caption = False
        elif tag == "thead":
            self.in_head = False
        elif tag in ("td", "th"):
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.in_caption and self.stack:
            self.stack[-1].caption += data
        elif self.cell is not None:
            self.cell.text += data


def tables(p: Preview, cls: str | None = None) -> list[Table]:
    parser = _Tables()
    parser.feed(str(p.html))
    return [t for t in parser.tables if cls is None or cls in t.attrs.get("class", "").split()]


def one_table(p: Preview, cls: str) -> Table:
    found = tables(p, cls)
    assert len(found) == 1, p.html
    return found[0]


def write(home: Path, rel: str, content: bytes | str) -> Path:
    path = home / "runs" / "run-1" / "tasks" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def artifact(
    schema_title: str,
    uri: str | Path = "",
    metadata: dict[str, Any] | None = None,
    **extra: Any,
) -> ArtifactRecord:
    return ArtifactRecord(
        artifact_id="a1",
        run_id="run-1",
        producer_task_id="t1",
        output_name=extra.pop("output_name", "out"),
        uri=str(uri),
        schema_title=schema_title,
        metadata=metadata or {},
        **extra,
    )


def show(a: ArtifactRecord, home: Path, **options: Any) -> Preview:
    p = preview(a, home=home, content_url=URL, **options)
    assert isinstance(p, Preview) and p.kind in KINDS
    assert "<script" not in str(p.html)
    return p


def one_sentence(p: Preview) -> str:
    """The explanation paragraph: one sentence, ending with a full stop."""
    found = re.findall(r'<p class="preview-message">(.*?)</p>', str(p.html), flags=re.S)
    assert found, p.html
    text = unescape(found[0])
    assert text.endswith(".")
    assert not re.search(r"\.\s+[A-Z]", text), f"more than one sentence: {text}"
    return text


@pytest.fixture
def home(kubeline_home: Path) -> Path:
    (kubeline_home / "runs").mkdir(exist_ok=True)
    return kubeline_home


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def wcag_contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def style_colours(style: str) -> tuple[str, str]:
    bg = re.search(r"background-color:\s*(#[0-9a-fA-F]{6})", style)
    fg = re.search(r"(?<!-)color:\s*(#[0-9a-fA-F]{6})", style)
    assert bg and fg, style
    return bg.group(1), fg.group(1)


# --------------------------------------------------------------------------- metrics


def test_metrics_table_formats_values(home: Path) -> None:
    meta = {
        "roc_auc": 0.9957010582010583,
        "test_rows": 114.0,
        "log_loss": 0.0810220988397395,
        "trial": NASTY,
        "display_name": "Evaluation",
    }
    p = show(artifact("system.Metrics", home / "runs/run-1/tasks/t/metrics", meta), home)
    assert p.kind == "metrics"
    table = one_table(p, "metrics")
    assert "Evaluation" in table.caption
    values = {row[0].text: row[1].text for row in table.body}
    assert values == {
        "roc_auc": "0.9957",
        "test_rows": "114",
        "log_loss": "0.08102",
        "trial": NASTY,
    }
    assert "&lt;script&gt;" in str(p.html)
    assert 'class="download"' not in str(p.html)


def test_metrics_empty_and_odd_values_do_not_raise(home: Path) -> None:
    p = show(artifact("system.Metrics", "", {}), home)
    assert p.kind == "metrics"
    one_sentence(p)
    p = show(artifact("system.Metrics", "", {"nested": {"a": [1, 2]}, "none": None}), home)
    values = {row[0].text: row[1].text for row in one_table(p, "metrics").body}
    assert values == {"nested": "a: 1, 2", "none": "null"}


# --------------------------------------------------------------------------- classification

ROC = [
    {"falsePositiveRate": 0.0, "recall": 0.0, "confidenceThreshold": 1.0},
    {"falsePositiveRate": 0.5, "recall": 0.9, "confidenceThreshold": 0.4},
    {"falsePositiveRate": 0.0, "recall": 0.6, "confidenceThreshold": 0.8},
    {"falsePositiveRate": 1.0, "recall": 1.0, "confidenceThreshold": 0.0},
]


def confusion(rows: list[list[float]], names: list[str]) -> dict[str, Any]:
    return {
        "rows": [{"row": r} for r in rows],
        "annotationSpecs": [{"displayName": n} for n in names],
    }


def test_confusion_matrix_headers_counts_and_contrast(home: Path) -> None:
    meta = {
        "confusionMatrix": confusion([[71.0, 1.0], [2.0, 40.0]], ["benign", NASTY]),
        "confidenceMetrics": ROC,
    }
    p = show(artifact("system.ClassificationMetrics", "", meta), home)
    assert p.kind == "classification"
    table = one_table(p, "confusion")
    assert "true label" in table.caption and "predicted label" in table.caption
    header = table.rows[0]
    assert all(c.tag == "th" and c.attrs.get("scope") == "col" for c in header)
    assert [c.text for c in header[1:]] == ["benign", NASTY]
    assert [row[0].text for row in table.body] == ["benign", NASTY]
    assert all(row[0].attrs.get("scope") == "row" for row in table.body)
    assert [[c.text for c in row[1:]] for row in table.body] == [["71", "1"], ["2", "40"]]
    backgrounds = set()
    for row in table.body:
        for cell in row[1:]:
            bg, fg = style_colours(cell.attrs["style"])
            backgrounds.add(bg)
            assert wcag_contrast(bg, fg) >= 4.5, (bg, fg)
    assert len(backgrounds) == 4  # shading follows each cell's share of its row
    assert 'class="download"' not in str(p.html)


def test_confusion_contrast_holds_across_all_shares(home: Path) -> None:
    n = 10
    rows = [[float((i * 7 + j * 3) % 11) if i != j else 50.0 for j in range(n)] for i in range(n)]
    rows[3] = [0.0] * n  # a class never seen: no division by zero
    meta = {"confusionMatrix": confusion(rows, [f"digit {i}" for i in range(n)])}
    p = show(artifact("system.ClassificationMetrics", "", meta), home)
    table = one_table(p, "confusion")
    assert len(table.body) == n and all(len(row) == n + 1 for row in table.body)
    for row in table.body:
        for cell in row[1:]:
            assert wcag_contrast(*style_colours(cell.attrs["style"])) >= 4.5
    # no ROC part: the matrix alone is shown
    assert "<svg" not in str(p.html)


def test_roc_auc_is_the_trapezoid_value(home: Path) -> None:
    meta = {"confidenceMetrics": ROC}
    p = show(artifact("system.ClassificationMetrics", "", meta), home)
    expected = 0.6 * 0 + 0.5 * (0.6 + 0.9) / 2 + 0.5 * (0.9 + 1.0) / 2  # sorted by FPR, recall
    assert expected == pytest.approx(0.85)
    assert auc_trapezoid([(e["falsePositiveRate"], e["recall"]) for e in ROC]) == pytest.approx(
        expected
    )
    summary = one_table(p, "roc-summary")
    values = {row[0].text: row[1].text for row in summary.rows}
    assert values["Area under this curve"] == "0.85"
    assert values["Thresholds"] == "4"
    # Why it may differ from a roc_auc metric beside it is said on the page.
    assert "can differ from a <code>roc_auc</code> metric" in str(p.html)
    assert 'aria-label="' in str(p.html) and "AUC 0.85" in str(p.html)
    assert not tables(p, "confusion")  # no matrix: the ROC alone is shown
    assert "0.85" in p.note


def test_classification_without_parts_or_with_bad_parts(home: Path) -> None:
    p = show(artifact("system.ClassificationMetrics", "", {}), home)
    assert p.kind == "classification"
    one_sentence(p)
    meta = {"confusionMatrix": {"rows": [{"row": [1, "x"]}]}, "confidenceMetrics": "nope"}
    p = show(artifact("system.ClassificationMetrics", "", meta), home)
    assert p.kind == "classification"
    assert "could not be shown" in str(p.html)
    meta = {"confusionMatrix": confusion([[1, 2, 3], [4, 5, 6]], ["a", "b"])}
    assert "not square" in str(show(artifact("system.ClassificationMetrics", "", meta), home).html)


# --------------------------------------------------------------------------- html, markdown


def test_html_report_is_a_sandboxed_iframe(home: Path) -> None:
    report = "<html><body><script>alert(1)</script>" + "x" * 200_000 + "</body></html>"
    path = write(home, "explore/report", report)
    p = show(artifact("system.HTML", path, name=NASTY), home)
    assert p.kind == "html"
    html = str(p.html)
    frame = re.search(r"<iframe [^>]*>", html)
    assert frame is not None
    assert 'class="artifact-html"' in frame.group(0)
    assert 'sandbox=""' in frame.group(0)
    assert f'src="{URL}"' in frame.group(0)
    assert "&lt;script&gt;" in frame.group(0)  # the title, from the artifact's name
    assert f'<a class="download" href="{URL}" download>' in html
    assert format_bytes(path.stat().st_size) in p.note


def test_markdown_is_rendered_and_raw_html_escaped(home: Path) -> None:
    text = (
        "# Report\n\n<script>alert('x')</script>\n\n<b>bold?</b>\n\n"
        "| rank | trial |\n| ---: | --- |\n| 1 | svm-0 |\n| 2 | knn-1 |\n\n"
        "[bad](javascript:alert(1))\n"
    )
    path = write(home, "select-best/leaderboard", text)
    p = show(artifact("system.Markdown", path), home)
    assert p.kind == "markdown"
    html = str(p.html)
    assert '<div class="markdown">' in html
    assert "<h3>Report</h3>" in html  # under the page's own headings
    assert "&lt;script&gt;" in html and "&lt;b&gt;" in html
    assert "<b>" not in html and 'href="javascript:' not in html
    table = tables(p)[0]
    assert [c.text for c in table.rows[0]] == ["rank", "trial"]
    assert [[c.text for c in row] for row in table.body] == [["1", "svm-0"], ["2", "knn-1"]]
    assert f'href="{URL}"' in html


def test_binary_markdown_explains(home: Path) -> None:
    path = write(home, "t/notes", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    p = show(artifact("system.Markdown", path), home)
    assert p.kind == "markdown"
    assert "UTF-8" in one_sentence(p)


def test_huge_markdown_is_cut_at_max_bytes(home: Path) -> None:
    max_bytes = 10_000
    body = ("word " * 100 + "\n\n") * 100  # about 50 KB
    path = write(home, "t/huge", body + "TAIL-MARKER\n")
    p = show(artifact("system.Markdown", path), home, max_bytes=max_bytes)
    html = str(p.html)
    assert "TAIL-MARKER" not in html
    assert html.count("word") <= max_bytes // len("word ")
    assert "Cut at" in p.note and format_bytes(max_bytes) in p.note


def test_cut_inside_a_multibyte_character_is_still_text(home: Path) -> None:
    path = write(home, "t/accents", "é" * 5000)  # 2 bytes each
    p = show(artifact("system.Markdown", path), home, max_bytes=1001)
    assert p.kind == "markdown" and "é" * 500 in str(p.html)


# --------------------------------------------------------------------------- datasets


def frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": list(range(rows)),
            "score": [i / 3 for i in range(rows)],
            "label": [f"row-{i}" for i in range(rows)],
        }
    )


def check_rows(p: Preview, first: int, total: int | None) -> Table:
    assert p.kind == "dataset"
    table = one_table(p, "dataset")
    assert table.head_rows == 2  # names, then dtypes
    assert [c.text for c in table.rows[0]] == ["#", "id", "score", "label"]
    assert len(table.body) == first
    assert [row[1].text for row in table.body] == [str(i) for i in range(first)]
    assert table.body[1][2].text == "0.3333"
    assert table.body[-1][3].text == f"row-{first - 1}"
    if total is not None:
        assert f"of {total} rows" in table.caption
        assert "3 columns" in table.caption
    return table


def test_parquet_dataset_shows_first_rows_and_total(home: Path) -> None:
    path = write(home, "ingest/data", b"")
    frame(57).to_parquet(path, row_group_size=10)
    p = show(artifact("system.Dataset", path, {"format": "parquet"}), home, max_rows=7)
    table = check_rows(p, 7, 57)
    assert [c.text for c in table.rows[1][1:]] == ["int64", "double", "large_string"] or [
        c.text for c in table.rows[1][1:]
    ] == ["int64", "double", "string"]
    assert f'href="{URL}"' in str(p.html)


def test_parquet_detected_by_magic_bytes(home: Path) -> None:
    path = write(home, "ingest/data", b"")
    frame(5).to_parquet(path)
    p = show(artifact("system.Dataset", path), home, max_rows=20)
    table = one_table(p, "dataset")
    assert len(table.body) == 5 and table.caption.startswith("All 5 rows")


def test_parquet_rows_larger_than_the_limit_are_not_read(home: Path) -> None:
    path = write(home, "ingest/data", b"")
    big = pd.DataFrame({"blob": ["x" * 1000 + str(i) for i in range(2000)]})
    big.to_parquet(path, compression="none")
    assert path.stat().st_size > 1_000_000
    p = show(artifact("system.Dataset", path), home, max_bytes=200_000, max_rows=5)
    assert p.kind == "dataset"
    table = one_table(p, "dataset")
    assert table.body == [] and "2,000 rows" in table.caption
    assert "preview limit" in str(p.html)


def test_csv_dataset_shows_first_rows_and_total(home: Path) -> None:
    path = write(home, "split/train_data", frame(45).to_csv(index=False))
    p = show(artifact("system.Dataset", path), home, max_rows=5)
    table = check_rows(p, 5, 45)
    assert [c.text for c in table.rows[1][1:3]] == ["int64", "float64"]


def test_tsv_and_json_lines_datasets(home: Path) -> None:
    path = write(home, "t/data.tsv", frame(12).to_csv(index=False, sep="\t"))
    check_rows(show(artifact("system.Dataset", path), home, max_rows=4), 4, 12)
    path = write(home, "t/data", frame(9).to_json(orient="records", lines=True))
    check_rows(show(artifact("system.Dataset", path, {"format": "jsonl"}), home, max_rows=3), 3, 9)


def test_csv_larger_than_max_bytes_reads_only_the_start(home: Path) -> None:
    path = write(home, "t/big.csv", frame(100_000).to_csv(index=False))
    size = path.stat().st_size
    assert size > 1_000_000
    p = show(artifact("system.Dataset", path), home, max_rows=6, max_bytes=500_000)
    check_rows(p, 6, None)
    table = one_table(p, "dataset")
    assert "total rows unknown" in table.caption
    assert "Only the start" in str(p.html)
    # with the count in the metadata, the caption says where it comes from
    p = show(
        artifact("system.Dataset", path, {"rows": 100000.0}), home, max_rows=6, max_bytes=500_000
    )
    assert "of 100,000 rows (from its metadata)" in one_table(p, "dataset").caption


def test_corrupt_parquet_gives_one_sentence(home: Path) -> None:
    path = write(home, "ingest/data", b"PAR1" + b"\x00garbage" * 100)
    p = show(artifact("system.Dataset", path, {"format": "parquet"}), home)
    assert p.kind == "dataset"
    assert "Parquet" in one_sentence(p)
    assert f'href="{URL}"' in str(p.html)


def test_binary_csv_and_bad_json_lines_explain(home: Path) -> None:
    path = write(home, "t/data.csv", b"\x00\x01\x02" * 100)
    assert "binary" in one_sentence(show(artifact("system.Dataset", path), home))
    path = write(home, "t/data.jsonl", "{not json\n{also not\n")
    assert "JSONL" in one_sentence(show(artifact("system.Dataset", path), home))
    path = write(home, "t/empty.csv", "")
    assert "empty" in one_sentence(show(artifact("system.Dataset", path), home))


def test_folder_dataset_lists_its_first_files(home: Path) -> None:
    folder = home / "runs/run-1/tasks/t/parts"
    (folder / "sub").mkdir(parents=True)
    for i in range(55):
        (folder / f"part-{i:03d}.parquet").write_bytes(b"x" * (i + 1))
    (folder / "sub" / "z.csv").write_text("a\n1\n")
    p = show(artifact("system.Dataset", folder), home)
    assert p.kind == "dataset"
    table = one_table(p, "files")
    assert len(table.body) == 50
    assert table.body[0][0].text == "part-000.parquet" and table.body[0][1].text == "1 B"
    assert "56 files" in table.caption
    assert 'class="download"' not in str(p.html)  # a folder is not served


# --------------------------------------------------------------------------- model, file


def test_model_metadata_size_and_digest(home: Path) -> None:
    path = write(home, "train/model", b"\x80\x04joblib-ish" * 100)
    meta = {
        "framework": "sklearn",
        "derived_features": [f"f{i}" for i in range(15)],
        "metrics": {"accuracy": 0.97368},
        "note": NASTY,
    }
    digest = "632ed200922d1ed50a70a79c3d3ba2b2629b34194b44de07db5f1835835d0364"
    p = show(artifact("system.Model", path, meta, digest=digest), home)
    assert p.kind == "model"
    rows = {row[0].text: row[1].text for row in one_table(p, "model").rows}
    assert rows["framework"] == "sklearn"
    assert rows["derived_features"] == ", ".join(f"f{i}" for i in range(10)) + " … and 5 more"
    assert rows["metrics"] == "accuracy: 0.9737"
    assert rows["note"] == NASTY
    assert rows["Size"] == "1.2 KB"  # 1200 bytes
    assert rows["Digest"] == digest[:12]
    assert f'title="{digest}"' in str(p.html)
    assert f'href="{URL}"' in str(p.html)
    assert "sklearn" in p.note


def test_folder_model_lists_files(home: Path) -> None:
    folder = home / "runs/run-1/tasks/train/model"
    folder.mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"x" * 2048)
    p = show(artifact("system.Model", folder, {"framework": "tensorflow"}), home)
    assert p.kind == "model"
    files = one_table(p, "files")
    assert [[c.text for c in row] for row in files.body] == [["saved_model.pb", "2.0 KB"]]


def test_generic_text_and_binary_files(home: Path) -> None:
    text = json.dumps({"columns": [NASTY] * 2000})
    path = write(home, "t/feature_spec", text)
    p = show(artifact("system.Artifact", path, digest="ab" * 32), home)
    assert p.kind == "file"
    pre = re.search(r'<pre class="text-preview">(.*?)</pre>', str(p.html), flags=re.S)
    assert pre is not None and "&lt;script&gt;" in pre.group(1)
    assert len(pre.group(1).replace("&lt;", "<").replace("&gt;", ">")) < 4096 * 2
    rows = {row[0].text: row[1].text for row in one_table(p, "facts").rows}
    assert rows["Digest"] == "ab" * 6
    assert "First 4.0 KB" in str(p.html)
    assert f'href="{URL}"' in str(p.html)

    path = write(home, "t/blob", bytes(range(256)) * 10)
    p = show(artifact("my.CustomThing", path), home)
    assert p.kind == "file" and "binary" in p.note
    assert "Binary content" in str(p.html)


# --------------------------------------------------------------------------- where it is


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.txt"
    path.parent.mkdir()
    path.write_text("TOP-SECRET-CONTENT,a\n1,2\n")
    return path


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every path the preview opens through pathlib."""
    seen: list[Path] = []
    original = Path.open

    def spy(self: Path, *args: Any, **kwargs: Any) -> Any:
        seen.append(self.resolve())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", spy)
    return seen


@pytest.mark.parametrize(
    "schema_title", ["system.Dataset", "system.Markdown", "system.Artifact", "system.HTML"]
)
def test_symlink_out_of_home_runs_is_not_read(
    home: Path, secret: Path, opened: list[Path], schema_title: str
) -> None:
    link = home / "runs/run-1/tasks/t/data"
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)
    p = show(artifact(schema_title, link), home)
    assert p.kind == "none"
    assert "TOP-SECRET" not in str(p.html)
    assert "outside kubeline's runs folder" in one_sentence(p)
    assert secret.resolve() not in opened
    assert "<iframe" not in str(p.html) and 'class="download"' not in str(p.html)


def test_plain_path_outside_home_and_dotdot_are_not_read(
    home: Path, secret: Path, opened: list[Path]
) -> None:
    for uri in (str(secret), f"file://{secret}", f"{home}/runs/../../{secret.parent.name}/x"):
        p = show(artifact("system.Markdown", uri), home)
        assert p.kind == "none" and "TOP-SECRET" not in str(p.html)
    assert secret.resolve() not in opened


def test_model_outside_home_still_shows_its_metadata(home: Path, secret: Path) -> None:
    p = show(artifact("system.Model", secret, {"framework": "sklearn"}), home)
    assert p.kind == "model"
    assert "sklearn" in str(p.html)
    assert "outside kubeline's runs folder" in unescape(str(p.html))
    assert 'class="download"' not in str(p.html)


def test_symlinked_file_in_a_folder_is_listed_not_measured(home: Path, secret: Path) -> None:
    folder = home / "runs/run-1/tasks/t/parts"
    folder.mkdir(parents=True)
    (folder / "leak").symlink_to(secret)
    p = show(artifact("system.Dataset", folder), home)
    rows = {row[0].text: row[1].text for row in one_table(p, "files").body}
    assert rows == {"leak": "link outside kubeline's runs folder"}


def test_missing_remote_and_special_paths(home: Path) -> None:
    p = show(artifact("system.Dataset", home / "runs/run-1/tasks/gone"), home)
    assert p.kind == "none" and "does not exist" in one_sentence(p)
    p = show(artifact("system.Dataset", "gs://bucket/data.csv"), home)
    assert p.kind == "none" and "gs://bucket/data.csv" in one_sentence(p)
    p = show(artifact("system.Artifact", ""), home)
    assert p.kind == "none"
    one_sentence(p)
    fifo = home / "runs/run-1/fifo"
    fifo.parent.mkdir(parents=True)
    import os

    os.mkfifo(fifo)
    p = show(artifact("system.Markdown", fifo), home)  # must not block reading a pipe
    assert p.kind == "none" and "not a regular file" in one_sentence(p)


def test_names_in_captions_are_escaped(home: Path) -> None:
    path = write(home, "t/model", b"m")
    p = show(artifact("system.Model", path, {}, name=NASTY), home)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in str(p.html)


def test_download_url_and_cut_html_note(home: Path) -> None:
    path = write(home, "t/report", "<p>" + "x" * 5000 + "</p>")
    p = show(artifact("system.HTML", path), home, max_bytes=1000, download_url=URL + "?download=1")
    html = str(p.html)
    assert f'src="{URL}"' in html
    assert f'<a class="download" href="{URL}?download=1" download>' in html
    assert "first 1000 B" in p.note


def test_json_array_and_sniffed_tsv_datasets(home: Path) -> None:
    path = write(home, "t/records", frame(8).to_json(orient="records"))
    check_rows(show(artifact("system.Dataset", path, {"format": "json"}), home, max_rows=2), 2, 8)
    wide = frame(6).rename(columns={"label": "label" + "_long" * 10})
    path = write(home, "t/table", wide.to_csv(index=False, sep="\t"))
    p = show(artifact("system.Dataset", path), home, max_rows=3)
    assert one_table(p, "dataset").caption == "First 3 of 6 rows, 3 columns"
