"""``loop1000``: a ParallelFor over many trivial items (a pipeline input list), which
shows what one loop iteration costs each engine and how the scheduler copes with many
task instances in one run.

kfp.local runs each item as a Python start-up plus a ``pip install``. When a 10-item
probe says the full loop would take the peer more than ~10 minutes, the peer runs 100
items instead, and the table says so; nothing is extrapolated.
"""

from __future__ import annotations

import os

from bench.context import Context
from bench.ours import run_ours
from bench.peers import run_peer
from bench.pipelines import loop_pipeline
from bench.report import Figure, Row

__all__ = ["NAME", "run"]

NAME = "loop1000"
PEER_BUDGET_SECONDS = 600.0
PEER_FALLBACK_ITEMS = 100
_PROBE_ITEMS = 10
_TIMEOUT = 1800.0


def _peer_items(ctx: Context, items: int) -> int:
    """How many items the peer runs: all, unless a probe predicts more than the budget."""
    if items <= PEER_FALLBACK_ITEMS:
        return items
    pipeline_yaml = ctx.compiled("loop", loop_pipeline)
    probe = run_peer(
        ctx.folder("loop-peer-probe"),
        pipeline_yaml,
        {"items": list(range(_PROBE_ITEMS))},
        timeout=_TIMEOUT,
    )[0]
    predicted = probe.seconds / _PROBE_ITEMS * items
    return items if predicted <= PEER_BUDGET_SECONDS else PEER_FALLBACK_ITEMS


def run(ctx: Context) -> list[Row]:
    items = ctx.sizes.loop
    workers = os.cpu_count() or 1
    pipeline_yaml = ctx.compiled("loop", loop_pipeline)
    peer_items = _peer_items(ctx, items)
    peer = run_peer(
        ctx.folder("loop-peer"),
        pipeline_yaml,
        {"items": list(range(peer_items))},
        timeout=_TIMEOUT,
    )[0]
    ours = run_ours(
        ctx.folder("loop-kubeline"),
        pipeline_yaml,
        {"items": list(range(items))},
        workers=workers,
        timeout=_TIMEOUT,
    ).runs[0]
    same = peer_items == items
    note = "" if same else f"({peer_items} items)"
    rows = [
        Row(
            NAME,
            f"total time ({items:,} items; kubeline workers={workers})",
            Figure(peer.seconds, note=note),
            Figure(ours.seconds),
            compare=same,
        ),
        Row(
            NAME,
            "time per item",
            Figure(peer.seconds / peer_items, note=note),
            Figure(ours.seconds / items),
        ),
    ]
    if not same:
        rows.append(
            Row(
                NAME,
                f"kfp.local ran {peer_items} items: a {_PROBE_ITEMS}-item probe predicted "
                f"more than {PEER_BUDGET_SECONDS / 60:.0f} min for {items:,}",
                compare=False,
            )
        )
    return rows
