"""The results table: rows of figures, rendered once with rich for the terminal and once
as Markdown for ``--markdown``, from the same cells so the two never disagree."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table

__all__ = ["COLUMNS", "Figure", "Row", "markdown_table", "rich_table"]

COLUMNS = ("benchmark", "measure", "kfp.local", "kubeline", "ratio", "goal", "met?")


@dataclass(frozen=True)
class Figure:
    """A measured number with its kind: ``seconds``, ``percent``, ``mb`` or ``count``."""

    value: float
    kind: str = "seconds"
    note: str = ""  # shown after the number, e.g. "(100 items)"

    def __str__(self) -> str:
        text = _FORMATS[self.kind](self.value)
        return f"{text} {self.note}" if self.note else text


def _seconds(value: float) -> str:
    if value < 0.01:
        return f"{value * 1000:.1f} ms"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"
    return f"{value / 60:.1f} min"


_FORMATS = {
    "seconds": _seconds,
    "percent": lambda v: f"{v:.1f}%",
    "mb": lambda v: f"{v:.0f} MB",
    "count": lambda v: f"{v:,.0f}",
}

#: A cell: a figure, a short text ("not run", "n/a: ..."), or nothing.
Cell = Figure | str | None


@dataclass(frozen=True)
class Row:
    """One line of the table. ``met`` is None when the row has no goal."""

    benchmark: str
    measure: str
    peer: Cell = None
    ours: Cell = None
    goal: str = ""
    met: bool | None = None
    compare: bool = True  # False: the two figures are not of the same work, no ratio

    @property
    def ratio(self) -> str:
        """peer / ours for two times, e.g. ``12.3x faster`` (or ``2.0x slower``)."""
        peer, ours = self.peer, self.ours
        if not (self.compare and isinstance(peer, Figure) and isinstance(ours, Figure)):
            return ""
        if peer.kind != "seconds" or ours.kind != "seconds" or min(peer.value, ours.value) <= 0:
            return ""
        ratio = peer.value / ours.value
        return f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"

    def cells(self) -> list[str]:
        met = "" if self.met is None else ("yes" if self.met else "no")
        return [
            self.benchmark,
            self.measure,
            _text(self.peer),
            _text(self.ours),
            self.ratio,
            self.goal,
            met,
        ]


def _text(cell: Cell) -> str:
    return "" if cell is None else str(cell)


def rich_table(rows: list[Row], title: str, caption: str = "") -> Table:
    table = Table(title=title, caption=caption or None, show_lines=False)
    for name in COLUMNS:
        numeric = name in ("kfp.local", "kubeline", "ratio")
        table.add_column(name, justify="right" if numeric else "left", overflow="fold")
    previous = None
    for row in rows:
        cells = row.cells()
        if row.met is not None:
            cells[-1] = f"[green]{cells[-1]}[/]" if row.met else f"[red]{cells[-1]}[/]"
        if row.benchmark == previous:
            cells[0] = ""  # one name per group of rows reads better
        else:
            if previous is not None:
                table.add_section()
            previous = row.benchmark
        table.add_row(*cells)
    return table


def markdown_table(rows: list[Row]) -> str:
    align = ["---:" if c in ("kfp.local", "kubeline", "ratio") else "---" for c in COLUMNS]
    lines = ["| " + " | ".join(COLUMNS) + " |", "| " + " | ".join(align) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(_md(c) for c in row.cells()) + " |")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
