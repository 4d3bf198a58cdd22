"""A small Sugiyama-style layout of one connected DAG, on plain node indices and sizes:
longest-path layers, barycenter ordering to reduce crossings, then x positions centred on
neighbours without overlap. Long edges pass through dummy slots so they are routed around
nodes, not through them.
"""

from __future__ import annotations

import itertools

from kubeline.server.web.graph.model import DUMMY_WIDTH, H_GAP, SWEEPS, V_GAP

__all__ = ["sugiyama"]


def sugiyama(
    sizes: list[tuple[float, float]], links: list[tuple[int, int]]
) -> tuple[list[tuple[float, float]], list[list[tuple[float, float]]], float, float]:
    """Sugiyama-style layout of one connected DAG: longest-path layers top to bottom,
    barycenter ordering, then x positions centred on neighbours without overlap."""
    n = len(sizes)
    if n == 0:
        return [], [], 0.0, 0.0
    succ: list[list[int]] = [[] for _ in range(n)]
    pred: list[list[int]] = [[] for _ in range(n)]
    for s, t in dict.fromkeys(links):
        succ[s].append(t)
        pred[t].append(s)

    layer = _layers(n, pred, succ)

    # Long edges get one dummy node per layer they cross, so they take part in ordering
    # and positioning and are routed around the nodes, not through them.
    widths = [w for w, _ in sizes]
    heights = [h for _, h in sizes]
    up: list[list[int]] = [[] for _ in range(n)]
    down: list[list[int]] = [[] for _ in range(n)]
    chains: list[list[int]] = []
    for s, t in links:
        if layer[t] <= layer[s]:  # only in a cyclic (invalid) spec: drawn, not laid out
            chains.append([s, t])
            continue
        chain = [s]
        for level in range(layer[s] + 1, layer[t]):
            dummy = len(widths)
            widths.append(DUMMY_WIDTH)
            heights.append(0.0)
            layer.append(level)
            up.append([])
            down.append([])
            chain.append(dummy)
        chain.append(t)
        for a, b in itertools.pairwise(chain):
            if b not in down[a]:
                down[a].append(b)
                up[b].append(a)
        chains.append(chain)

    depth = max(layer) + 1
    rows: list[list[int]] = [[] for _ in range(depth)]
    for v in range(len(layer)):  # nodes in spec order, dummies in edge order
        rows[layer[v]].append(v)
    _order(rows, up, down)
    center = _positions(rows, widths, up, down)

    tops: list[float] = []
    bottoms: list[float] = []
    y = 0.0
    for row in rows:
        tops.append(y)
        y += max(heights[v] for v in row)
        bottoms.append(y)
        y += V_GAP
    height = y - V_GAP
    left = min(center[v] - widths[v] / 2 for v in range(len(widths)))
    right = max(center[v] + widths[v] / 2 for v in range(len(widths)))
    pos = [(center[v] - widths[v] / 2 - left, tops[layer[v]]) for v in range(n)]

    points: list[list[tuple[float, float]]] = []
    for chain in chains:
        s, t = chain[0], chain[-1]
        pts = [(center[s] - left, tops[layer[s]] + heights[s])]
        for d in chain[1:-1]:
            pts.append((center[d] - left, tops[layer[d]]))
            pts.append((center[d] - left, bottoms[layer[d]]))
        pts.append((center[t] - left, tops[layer[t]]))
        points.append(pts)
    return pos, points, right - left, height


def _layers(n: int, pred: list[list[int]], succ: list[list[int]]) -> list[int]:
    """Longest-path layering; a task with no inputs sits just above its first consumer
    rather than at the very top, which keeps its edge short."""
    indegree = [len(p) for p in pred]
    ready = [v for v in range(n) if indegree[v] == 0]
    order: list[int] = []
    while ready:
        v = ready.pop(0)
        order.append(v)
        for t in succ[v]:
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    placed = set(order)
    order += [v for v in range(n) if v not in placed]  # a cycle: keep going regardless
    layer = [0] * n
    done: set[int] = set()
    for v in order:
        layer[v] = max((layer[p] + 1 for p in pred[v] if p in done), default=0)
        done.add(v)
    for v in reversed(order):
        if not pred[v] and succ[v]:
            layer[v] = max(layer[v], min(layer[t] for t in succ[v]) - 1)
    return layer


def _order(rows: list[list[int]], up: list[list[int]], down: list[list[int]]) -> None:
    """Reorder each layer by the barycenter of its neighbours, sweeping down and up, and
    keep the ordering with the fewest crossings."""
    if len(rows) < 2:
        return
    best = [row[:] for row in rows]
    best_cross = _crossings(rows, down)
    for _ in range(SWEEPS):
        if best_cross == 0:
            break
        for i in range(1, len(rows)):
            _by_barycenter(rows[i], rows[i - 1], up)
        for i in range(len(rows) - 2, -1, -1):
            _by_barycenter(rows[i], rows[i + 1], down)
        cross = _crossings(rows, down)
        if cross < best_cross:
            best, best_cross = [row[:] for row in rows], cross
    rows[:] = best


def _by_barycenter(row: list[int], ref: list[int], links: list[list[int]]) -> None:
    where = {v: i for i, v in enumerate(ref)}
    keys: dict[int, float] = {}
    for i, v in enumerate(row):
        near = [where[u] for u in links[v] if u in where]
        keys[v] = sum(near) / len(near) if near else float(i)
    row.sort(key=keys.__getitem__)  # stable: ties keep their order


def _crossings(rows: list[list[int]], down: list[list[int]]) -> int:
    """Edge crossings between consecutive layers, counted as inversions."""
    total = 0
    for upper, lower in itertools.pairwise(rows):
        where = {v: i for i, v in enumerate(lower)}
        ends = [where[t] for v in upper for t in sorted(down[v], key=where.__getitem__)]
        tree = [0] * (len(lower) + 1)  # Fenwick tree of lower positions seen so far
        for seen, e in enumerate(ends):
            i, below = e + 1, 0
            while i > 0:
                below += tree[i]
                i -= i & -i
            total += seen - below  # earlier edges ending to the right of this one
            i = e + 1
            while i <= len(lower):
                tree[i] += 1
                i += i & -i
    return total


def _positions(
    rows: list[list[int]], widths: list[float], up: list[list[int]], down: list[list[int]]
) -> list[float]:
    """Centre x of every node: each layer in turn moves its nodes as close as it can to the
    mean of their neighbours above (or below), keeping order and spacing; the last sweep
    is downward so children sit centred under their parents."""
    center = [0.0] * len(widths)
    for row in rows:
        offsets = _offsets(row, widths)
        for v, o in zip(row, offsets, strict=True):
            center[v] = o - offsets[-1] / 2
    for sweep in range(SWEEPS * 2 + 1):
        downward = sweep % 2 == 0
        order = range(1, len(rows)) if downward else range(len(rows) - 2, -1, -1)
        links = up if downward else down
        for i in order:
            row = rows[i]
            wanted = [
                sum(center[u] for u in links[v]) / len(links[v]) if links[v] else center[v]
                for v in row
            ]
            offsets = _offsets(row, widths)
            fitted = _isotonic([w - o for w, o in zip(wanted, offsets, strict=True)])
            for v, f, o in zip(row, fitted, offsets, strict=True):
                center[v] = f + o
    return center


def _offsets(row: list[int], widths: list[float]) -> list[float]:
    """Each node's centre relative to the first's when packed tightly."""
    out = [0.0]
    for a, b in itertools.pairwise(row):
        gap = H_GAP if widths[a] > DUMMY_WIDTH and widths[b] > DUMMY_WIDTH else H_GAP / 2
        out.append(out[-1] + (widths[a] + widths[b]) / 2 + gap)
    return out


def _isotonic(values: list[float]) -> list[float]:
    """The non-decreasing sequence closest to ``values`` (least squares, pool adjacent
    violators): with the packing offsets removed, it places a layer's nodes nearest to
    where they want to be without overlap or reordering."""
    blocks: list[list[float]] = []  # [sum, count]
    for value in values:
        total, count = value, 1.0
        while blocks and blocks[-1][0] / blocks[-1][1] > total / count:
            previous = blocks.pop()
            total += previous[0]
            count += previous[1]
        blocks.append([total, count])
    out: list[float] = []
    for total, count in blocks:
        out.extend([total / count] * int(count))
    return out
