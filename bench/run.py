"""Run kubeline's benchmarks side by side with kfp.local and print one table.

    .venv/bin/python bench/run.py [--only NAME ...] [--quick] [--markdown docs/benchmarks.md]

Benchmarks run on demand only, never in the test suite. Progress goes to stderr, the
table to stdout (and, with ``--markdown``, the same table to that file).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import import_module
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

# Run as a script, Python puts bench/ itself first on the path, where its module names
# (data, measure, ...) could shadow other packages; import it as the package `bench`.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

if TYPE_CHECKING:
    from rich.console import Console

    from bench.context import Context, Sizes
    from bench.report import Row

#: Every benchmark, in the order they run and appear in the table: the module
#: ``bench/<name>.py``, whose ``run(ctx)`` returns its rows.
BENCHMARKS = ("chain10", "sklearn13", "sleep8", "rerun", "loop1000", "lifecycle1m")

_TITLE = "kubeline vs kfp.local (SubprocessRunner(use_venv=False)), same compiled YAML"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__.split("\n\n")[0].strip()
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(BENCHMARKS),
        metavar="NAME",
        help=f"run only these benchmarks (of: {', '.join(BENCHMARKS)})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, to check that the script works (1.5 to 2 minutes)",
    )
    parser.add_argument(
        "--markdown", type=Path, metavar="PATH", help="also write the table as Markdown here"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        metavar="PATH",
        help="keep the runs' files and logs here (default: a temporary folder, removed)",
    )
    return parser


@contextmanager
def _scratch(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield Path(tempfile.mkdtemp(prefix="kubeline-bench-", dir=keep))
        return
    path = Path(tempfile.mkdtemp(prefix="kubeline-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _caption(sizes: Sizes, quick: bool) -> str:
    facts = [
        f"{os.cpu_count()} CPUs",
        f"{platform.system()} {platform.machine()}",
        f"Python {platform.python_version()}",
        f"kfp {version('kfp')}",
        f"kubeline {version('kubeline')}",
        datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    ]
    caption = ", ".join(facts)
    if quick:
        caption += (
            f". QUICK sizes (chain {sizes.chain}, loop {sizes.loop}, {sizes.rows:,} rows): "
            "for checking the script, not for quoting"
        )
    return caption


def run_benchmarks(names: list[str], ctx: Context, progress: Console) -> list[Row]:
    """Run ``names`` in table order; a benchmark that fails becomes a FAILED row."""
    from bench.report import Row

    rows: list[Row] = []
    for name in [n for n in BENCHMARKS if n in names]:
        progress.print(f"[bold]{name}[/]: running…")
        started = time.perf_counter()
        try:
            rows.extend(import_module(f"bench.{name}").run(ctx))
        except Exception as exc:  # noqa: BLE001 - one failed benchmark must not hide the others
            rows.append(Row(name, f"FAILED: {type(exc).__name__}: {exc}", met=False))
            progress.print(f"[red]{name} failed[/]: {exc}")
        progress.print(f"[bold]{name}[/]: {time.perf_counter() - started:.1f} s")
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; exit 1 when any of them failed to run."""
    from rich.console import Console

    from bench.context import FULL, QUICK, Context
    from bench.report import markdown_table, rich_table

    args = _parser().parse_args(argv)
    sizes = QUICK if args.quick else FULL
    progress = Console(stderr=True)
    with _scratch(args.workdir) as workdir:
        progress.print(f"scratch folder: {workdir}")
        ctx = Context(workdir=workdir, sizes=sizes)
        rows = run_benchmarks(args.only or list(BENCHMARKS), ctx, progress)
    caption = _caption(sizes, args.quick)
    # Wide enough for the table when stdout is a file or a pipe (rich assumes 80 there).
    out = Console() if sys.stdout.isatty() else Console(width=160)
    out.print(rich_table(rows, _TITLE, caption))
    if args.markdown:
        command = shlex.join(
            ["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])]
        )
        text = f"# kubeline benchmarks\n\n{_TITLE}.\n\n{caption}. Made by `{command}`.\n\n"
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text + markdown_table(rows), encoding="utf-8")
        progress.print(f"Markdown table written to {args.markdown}")
    return 1 if any(r.measure.startswith("FAILED") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
