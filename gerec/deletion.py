"""Greedy deletion saliency: the cells whose removal, in turn, lowers the probability most.

No streamlit, no TensorFlow. The face is cut into square cells (6 px on the 48 px face). Starting
from the whole face, each step deletes (replaces by the baseline) the ``per_step`` cells, among
the ``candidates`` a cheap prior map ranks highest, whose removal lowers the probability most,
given the cells already deleted; it goes on until every cell is deleted and the face is the
baseline. Each baseline has its own reader (one per explained view), and a cell's score is the
mean over the baselines. A cell's value is the probability its deletion took away: each step
also reads the face as it then is, and each of the step's cells gets its own drop plus an equal
share of the step's joint drop beyond the sum of their own drops. The values therefore add up
exactly: their sum is the probability on the face minus the probability on the baselines.

The map (:func:`deletion_map`) spreads each cell's value over its pixels and makes the values
non-increasing along the deletion order (pool adjacent violators: a later cell that took more
than an earlier one is averaged with it, which keeps the sum); ties are broken by the deletion
order with steps of 1e-8 that sum to zero, so the order of the pixels by value is the deletion
order. Deleting the most salient pixels first is then the greedy path itself, which is why this
map is faithful by deletion curves (docs/explanations.md, round 4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

CELL = 6
"""Side, in pixels of the 48 px face, of the cells deleted together."""
CANDIDATES = 24
"""Cells tried at each step: the remaining ones the prior map ranks highest. 24 tried, 6 deleted per
step, were chosen on 60 validation faces kept for that choice (docs/explanations.md, round 8)."""
PER_STEP = 6
"""Cells deleted at each step."""
TIE = 1e-8
"""Step of the tie-breaker that orders pixels of equal value by their deletion order."""

Reader = Callable[[Sequence[np.ndarray]], Sequence[np.ndarray]]
"""One batch of faces per baseline -> per baseline an (n,) array of probabilities, or (n, M) for M members."""


@dataclass(frozen=True, eq=False)
class DeletionPath:
    """The greedy path: which cells went in which order, and what each took away (in all, and from each member)."""

    cells: np.ndarray
    """(side, side) int labels of the cells."""
    order: np.ndarray
    """Cell labels in deletion order."""
    drops: np.ndarray
    """Per cell label, the (weighted) probability its deletion took away (mean over the baselines)."""
    start: float
    """Probability on the whole face (mean over the baselines' readers)."""
    end: float
    """Probability with every cell deleted: on the baselines (their mean)."""
    weights: np.ndarray
    """(M,) the members' weights (summing to 1); ``(1.0,)`` for one model."""
    member_drops: np.ndarray
    """(M, cells): per member, what each cell's deletion took from its own probability."""
    member_start: np.ndarray
    """(M,) each member's probability on the whole face."""
    member_end: np.ndarray
    """(M,) each member's probability on the baselines."""


def grid(side: int, cell: int = CELL) -> np.ndarray:
    """(side, side) labels of square cells of ``cell`` px, row by row (the last ones may be smaller)."""
    if not 0 < cell <= side:
        raise ValueError(f"cells of {cell} px do not fit a {side} px face")
    band = np.arange(side) // cell
    return band[:, None] * int(np.ceil(side / cell)) + band[None, :]


def _read(read: Reader, batches: list[np.ndarray]) -> np.ndarray:
    """(n, M): the mean over the baselines of what ``read`` gives (a (n,) reading is one member)."""
    return np.mean([np.asarray(p, dtype=np.float64).reshape(len(b), -1) for p, b in zip(read(batches), batches)], 0)


def _candidate_batches(
    states: Sequence[np.ndarray], fills: Sequence[np.ndarray], masks: Sequence[np.ndarray], rest: Sequence[int]
) -> list[np.ndarray]:
    """Per baseline, the face as it stands, then one copy per candidate cell with that cell deleted too."""
    batches = []
    for state, fill in zip(states, fills):
        batch = np.repeat(state[None], len(rest) + 1, axis=0)
        for j, i in enumerate(rest):
            batch[j + 1][masks[i]] = fill[masks[i]]
        batches.append(batch)
    return batches


def greedy_path(
    read: Reader,
    face: np.ndarray,
    fills: Sequence[np.ndarray],
    prior: np.ndarray,
    cell: int = CELL,
    candidates: int = CANDIDATES,
    per_step: int = PER_STEP,
    weights: Sequence[float] | None = None,
) -> DeletionPath:
    """Delete cells greedily, ``per_step`` at a time among ``candidates`` ranked by ``prior``.

    With M members (``read`` gives (n, M) arrays and ``weights`` their M weights), each step deletes
    the cells that lower the weighted probability most: one path for all of them, along which each
    member's own drops are recorded, so the weighted drops are the members' drops weighted.
    """
    face = np.asarray(face, dtype=np.float32)
    cells = grid(face.shape[0], cell)
    n = int(cells.max()) + 1
    masks = [cells == i for i in range(n)]
    rank = np.argsort(-np.bincount(cells.ravel(), np.asarray(prior, dtype=np.float64).ravel(), n), kind="stable")
    states = [face.copy() for _ in fills]
    deleted = np.zeros(n, dtype=bool)
    order: list[int] = []
    picked: list[int] = []
    w = np.ones(1) if weights is None else np.asarray(weights, dtype=np.float64) / np.sum(weights)
    drops = np.zeros((len(w), n))
    own = before = start = np.zeros(len(w))
    while True:
        rest = [int(i) for i in rank if not deleted[i]][:candidates]
        probs = _read(read, _candidate_batches(states, fills, masks, rest))
        if probs.shape[1] != len(w):
            raise ValueError(f"the reader gives {probs.shape[1]} probabilities per face for {len(w)} weights")
        now = probs[0]
        if picked:  # the previous step's cells share its joint drop, member by member
            drops[:, picked] = own + ((before - now - own.sum(axis=1)) / len(picked))[:, None]
        else:
            start = now
        if not rest:
            return DeletionPath(
                cells, np.asarray(order, dtype=int), w @ drops, float(w @ start), float(w @ now), w, drops, start, now
            )
        best = np.argsort(probs[1:] @ w, kind="stable")[:per_step]
        picked = [rest[j] for j in best]
        own = (now - probs[1:][best]).T  # (M, per_step)
        for i in picked:
            deleted[i] = True
            for state, fill in zip(states, fills):
                state[masks[i]] = fill[masks[i]]
        order += picked
        before = now


def pooled_blocks(values: np.ndarray, weights: np.ndarray) -> list[tuple[int, int]]:
    """The [first, stop) runs that pool adjacent violators merges for a non-increasing weighted fit of ``values``."""
    blocks: list[list[float]] = []  # [weighted sum, weight, count]
    for v, w in zip(np.asarray(values, dtype=np.float64), np.asarray(weights, dtype=np.float64)):
        blocks.append([v * w, w, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] < blocks[-1][0] / blocks[-1][1]:
            s, w2, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += w2
            blocks[-1][2] += c
    stops = np.cumsum([int(c) for _, _, c in blocks])
    return [(int(a), int(b)) for a, b in zip(np.concatenate([[0], stops[:-1]]), stops)]


def block_means(values: np.ndarray, weights: np.ndarray, blocks: Sequence[tuple[int, int]]) -> np.ndarray:
    """Each block's weighted mean of ``values``, repeated over the block (same weighted sum)."""
    v, w = np.asarray(values, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    return np.concatenate([np.full(b - a, (v[a:b] * w[a:b]).sum() / w[a:b].sum()) for a, b in blocks])


def pooled(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted least-squares non-increasing fit of ``values`` (pool adjacent violators); same weighted sum."""
    return block_means(values, weights, pooled_blocks(values, weights))


def member_maps(path: DeletionPath) -> np.ndarray:
    """(M, side, side): per member, per-pixel values (probability units) that sum to its start - end.

    Each member's drops are averaged over the same runs of cells (in deletion order) that pool
    adjacent violators merges in the weighted drops, so the weighted sum of the members' maps is
    :func:`deletion_map`, whose order by value is the deletion order.
    """
    cells, order = path.cells, path.order
    size = np.bincount(cells.ravel(), minlength=path.member_drops.shape[1]).astype(np.float64)
    blocks = pooled_blocks(path.drops[order] / size[order], size[order])
    position = np.empty(len(size), dtype=np.int64)
    position[order] = np.arange(len(order))
    # pixels in deletion order (cell by cell, then row-major): a centred tie-breaker keeps that order
    flat = np.lexsort((np.arange(cells.size), position[cells.ravel()]))
    tie = np.empty(cells.size)
    tie[flat] = np.linspace(1.0, -1.0, cells.size) * TIE * cells.size / 2
    maps = []
    for drops in path.member_drops:
        value = np.empty(len(size))
        value[order] = block_means(drops[order] / size[order], size[order], blocks)
        maps.append(value[cells] + tie.reshape(cells.shape))
    return np.stack(maps)


def deletion_map(path: DeletionPath) -> np.ndarray:
    """Per-pixel values (probability units) whose order is the deletion order and whose sum is start - end:
    the members' maps (:func:`member_maps`) weighted."""
    return np.tensordot(path.weights, member_maps(path), axes=1)
