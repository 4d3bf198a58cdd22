"""``kubeline run``'s usual command line, read without typer.

typer 0.29 converts every option through a pydantic TypeAdapter, and importing pydantic
and building the adapters costs 50-70 ms, a tenth of a one-task ``kubeline run``. The
plain lines people type (a pipeline, ``-p name=value``, ``--no-cache``, ``--workers N``,
``--allow-installs``, ``--output text|json``, a leading ``-v``) are read here; anything
else (``--help``, ``--version``, a bad value, an unknown option, a repeated single-value
option, ``--``) returns None and goes through typer, which says what is wrong exactly as
before. tests/cli/test_runline.py checks that both readings give the command the same values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["RunLine", "read_run_line"]

_ROOT_FLAGS = frozenset({"-v", "--verbose"})
_PARAM = frozenset({"-p", "--param"})
_SINGLE = frozenset({"--workers", "--output"})
_OUTPUTS = frozenset({"text", "json"})


@dataclass(frozen=True)
class RunLine:
    """The values ``kubeline run`` gets, as typer would give them."""

    pipeline: str = "lifecycle"
    param: tuple[str, ...] = ()
    no_cache: bool = False
    workers: int | None = None
    allow_installs: bool = False
    output: str = "text"
    verbose: bool = False


def _workers(text: str) -> int | None:
    """A plain number of at least 1 (``3``; not ``03``, ``+3``, ``3.0`` or ``0``)."""
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number >= 1 and str(number) == text else None


def read_run_line(argv: Sequence[str]) -> RunLine | None:
    """The values of a plain ``kubeline run`` line, or None for typer to read it."""
    words = list(argv)
    verbose = False
    while words and words[0] in _ROOT_FLAGS:
        verbose = True
        words.pop(0)
    if not words or words.pop(0) != "run":
        return None
    pipeline: str | None = None
    params: list[str] = []
    flags: set[str] = set()
    single: dict[str, str] = {}
    while words:
        word = words.pop(0)
        name, has_value, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if name in ("--no-cache", "--allow-installs") and not has_value:
            flags.add(name)
        elif name in _PARAM or name in _SINGLE:
            if not has_value:
                if not words or words[0].startswith("-"):
                    return None
                value = words.pop(0)
            if name in _PARAM:
                params.append(value)
            elif name in single:
                return None  # given twice: typer's to settle
            else:
                single[name] = value
        elif word.startswith("-") or pipeline is not None:
            return None  # --help, --version, an unknown option, a second argument
        else:
            pipeline = word
    workers = _workers(single["--workers"]) if "--workers" in single else None
    output = single.get("--output", "text")
    if ("--workers" in single and workers is None) or output not in _OUTPUTS:
        return None
    return RunLine(
        pipeline=pipeline if pipeline is not None else "lifecycle",
        param=tuple(params),
        no_cache="--no-cache" in flags,
        workers=workers,
        allow_installs="--allow-installs" in flags,
        output=output,
        verbose=verbose,
    )
