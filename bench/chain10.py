"""``chain10``: ten trivial default components in a row, so nothing runs side by side and
the wall time is all per-task cost (the peer: a Python start-up and a ``pip install`` per
task; kubeline: a fork from a warm parent).

Goal: kubeline at most 30 ms per task once the engine has started.
"""

from __future__ import annotations

from bench.context import Context
from bench.ours import run_ours
from bench.peers import run_peer
from bench.pipelines import chain_pipeline
from bench.report import Figure, Row

__all__ = ["NAME", "run"]

NAME = "chain10"
GOAL_SECONDS = 0.030
_TIMEOUT = 600.0


def run(ctx: Context) -> list[Row]:
    length = ctx.sizes.chain
    pipeline_yaml = ctx.compiled(f"chain{length}", chain_pipeline(length))
    peer = run_peer(ctx.folder("chain-peer"), pipeline_yaml, timeout=_TIMEOUT)[0]
    ours = run_ours(ctx.folder("chain-kubeline"), pipeline_yaml, timeout=_TIMEOUT).runs[0]
    startup = ours.first_start or 0.0
    after_startup = (ours.seconds - startup) / length
    ends = sorted(end for _, end in ours.intervals())
    rows = [
        Row(NAME, f"wall time ({length} tasks)", Figure(peer.seconds), Figure(ours.seconds)),
        Row(
            NAME,
            f"per task: wall / {length}",
            Figure(peer.seconds / length),
            Figure(ours.seconds / length),
        ),
        Row(
            NAME,
            f"per task: (wall - engine start-up) / {length}",
            None,
            Figure(after_startup),
            goal=f"<= {GOAL_SECONDS * 1000:.0f} ms",
            met=after_startup <= GOAL_SECONDS,
        ),
        Row(NAME, "engine start-up (until the first task starts)", None, Figure(startup)),
    ]
    if len(ends) > 1:
        steady = (ends[-1] - ends[0]) / (len(ends) - 1)
        rows.append(
            Row(NAME, "per task after the first (first to last task end)", None, Figure(steady))
        )
    return rows
