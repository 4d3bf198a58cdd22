"""``kubeline run FILE.yaml`` starts the run's warm worker parent before anything else.

The parent imports what the pipeline's Python components import (kfp's executor, pandas,
scikit-learn...); for a pipeline of pandas and scikit-learn tasks that is the longest part
of the run (1.5 s on 2 cores). Started at the top of ``main()``, from a quick reading of the
command line (:mod:`kubeline.cli.runline`) and of the file, its imports overlap, on another
core, all the CLI does before the engine would start it: kfp's protobuf classes, the spec
check, SQLAlchemy and the store. Any doubt (a line typer must read, a file that does not
parse) means no early start: the usual path then starts the parent, or says what is wrong,
as before.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from kubeline.cli.runline import RunLine

__all__ = ["close", "run_file", "start_early", "take"]

#: A larger file is not read early: the engine reads it again, and reading it twice
#: would cost more than the early start saves.
_MAX_BYTES = 1 << 20

_started: list[Any] = []


def run_file(line: RunLine | None) -> Path | None:
    """The compiled pipeline file a plain ``kubeline run`` line names (see
    :mod:`kubeline.cli.runline`); None for any other line, the default pipeline or a
    ``.py`` reference."""
    from kubeline.engine.spec import SPEC_SUFFIXES

    if line is None or not line.pipeline.lower().endswith(SPEC_SUFFIXES):
        return None
    path = Path(line.pipeline).expanduser()
    with contextlib.suppress(OSError):
        if path.is_file() and path.stat().st_size <= _MAX_BYTES:
            return path
    return None


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _parse(text: str) -> dict[str, Any] | None:
    """The pipeline spec in ``text``, or None when it does not read as one."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = next(iter(yaml.load_all(text, Loader=loader)))
    except (StopIteration, RecursionError, yaml.YAMLError):
        return None
    if isinstance(document, dict) and "root" not in document:
        document = document.get("pipelineSpec")  # a PipelineJob wrapping the spec
    return document if isinstance(document, dict) else None


def start_early(line: RunLine | None) -> None:
    """Start the warm parent of ``kubeline run FILE`` when ``line`` is that command (once:
    the program's entry point may have started it already).

    The parent starts as soon as the file's text shows a Python component, and begins
    with kfp's executor; the file is parsed meanwhile (PyYAML's import and the parse take
    ~40 ms), then the parent is told what the components import.
    """
    if _started:
        return
    # Only ever a head start: whatever goes wrong here, the usual path does it again.
    with contextlib.suppress(Exception):
        from kubeline.engine import mentions_python_components, start_warm_parent, warm_imports

        path = run_file(line)
        text = _text(path) if path is not None else None
        if text is None or not mentions_python_components(text):
            return
        server = start_warm_parent()
        if server is None:
            return
        _started.append(server)
        spec = _parse(text)
        if spec is not None:
            server.preload(warm_imports(spec))


def take() -> Any:
    """The parent started early, or None; the caller owns it now (the run closes it)."""
    return _started.pop() if _started else None


def close() -> None:
    """Stop a parent nobody took: the command ended before its run started."""
    while _started:
        _started.pop().close()
