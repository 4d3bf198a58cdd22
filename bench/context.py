"""What every benchmark gets: the sizes to run at, a scratch folder, and a memo so two
benchmarks can share one expensive measurement (``rerun`` reuses ``sklearn13``'s runs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FULL", "QUICK", "Context", "Sizes"]


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark is."""

    chain: int  # tasks in the chain
    sleep_tasks: int  # independent sleeping tasks (kubeline gets one worker each)
    sleep_seconds: float
    loop: int  # ParallelFor items
    rows: int  # rows of the lifecycle dataset


FULL = Sizes(chain=10, sleep_tasks=8, sleep_seconds=1.0, loop=1000, rows=1_000_000)
#: Small enough that every benchmark finishes in about a minute: for checking the script.
QUICK = Sizes(chain=3, sleep_tasks=4, sleep_seconds=0.5, loop=20, rows=20_000)


@dataclass
class Context:
    """A benchmark session: one per ``run.py`` invocation."""

    workdir: Path
    sizes: Sizes
    memo: dict[str, Any] = field(default_factory=dict)
    _used: set[str] = field(default_factory=set)

    def folder(self, name: str) -> Path:
        """A fresh folder under the session's scratch folder (``name``, ``name-2``, ...)."""
        candidate, index = name, 1
        while candidate in self._used:
            index += 1
            candidate = f"{name}-{index}"
        self._used.add(candidate)
        path = self.workdir / candidate
        path.mkdir(parents=True)
        return path

    def once(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time ``key`` is asked for; the same value afterwards."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]

    def compiled(self, name: str, pipeline: Any) -> Path:
        """The YAML of ``pipeline``, compiled once per session; both engines run this file."""
        from bench.pipelines import compile_to

        def build() -> Path:
            return compile_to(pipeline, self.folder(f"yaml-{name}") / f"{name}.yaml")

        return self.once(f"yaml:{name}", build)
