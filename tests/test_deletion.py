"""Greedy deletion saliency: the path, its values adding up, and a map ordered as the path."""

from __future__ import annotations

import numpy as np
import pytest

from gerec.deletion import TIE, deletion_map, greedy_path, grid, pooled


def spot_reader(spot: tuple[slice, slice], other: tuple[slice, slice]):
    """P rises with the brightness of ``spot`` and, four times less, of ``other`` (one function per baseline)."""

    def probability(faces: np.ndarray) -> np.ndarray:
        a = faces[:, spot[0], spot[1]].mean(axis=(1, 2)) / 255
        b = faces[:, other[0], other[1]].mean(axis=(1, 2)) / 255
        return 1 / (1 + np.exp(-8 * (a + b / 4 - 0.6)))

    calls = []

    def read(batches):
        calls.append([len(b) for b in batches])
        return [probability(b) for b in batches]

    return read, calls


def test_grid():
    cells = grid(48, 6)
    assert cells.shape == (48, 48) and cells.max() == 63 and np.bincount(cells.ravel()).tolist() == [36] * 64
    assert grid(10, 4).max() == 8  # the last cells are smaller
    with pytest.raises(ValueError):
        grid(48, 0)


def test_pooled_is_non_increasing_and_keeps_the_sum():
    values, weights = np.array([1.0, 3.0, 2.0, 0.5, 0.7]), np.array([1.0, 1.0, 2.0, 1.0, 3.0])
    out = pooled(values, weights)
    assert (np.diff(out) <= 1e-12).all() and (out * weights).sum() == pytest.approx((values * weights).sum())
    assert out[:3] == pytest.approx([2.0, 2.0, 2.0]) and out[3:] == pytest.approx([0.65, 0.65])
    assert pooled(np.array([3.0, 2.0, 1.0]), np.ones(3)).tolist() == [3.0, 2.0, 1.0]


def test_path_deletes_what_the_model_reads_first_and_adds_up():
    face = np.full((48, 48), 40.0, dtype=np.float32)
    face[30:36, 18:30] = 240  # the spot the model reads most: cells 5*8+3 and 5*8+4
    face[6:12, 6:12] = 240  # the other spot: cell 1*8+1
    fills = [np.full_like(face, 128.0), np.full_like(face, 60.0)]
    read, calls = spot_reader((slice(30, 36), slice(18, 30)), (slice(6, 12), slice(6, 12)))
    prior = np.zeros_like(face)
    prior[30:36] = 1.0  # ranks the spot's row of cells first, the other spot's cell among the rest
    path = greedy_path(read, face, fills, prior, cell=6, candidates=10, per_step=2)
    assert all(len(c) == 2 for c in calls) and len(calls) == 33  # one batch per baseline, 32 steps and the end
    assert sorted(path.order.tolist()) == list(range(64))
    assert set(path.order[:2].tolist()) == {43, 44}
    assert path.drops.sum() == pytest.approx(path.start - path.end, abs=1e-12)
    full = [read([face[None]])[0][0] for _ in fills]
    assert path.start == pytest.approx(float(np.mean(full)))
    ends = read([f[None] for f in fills])
    assert path.end == pytest.approx(float(np.mean([e[0] for e in ends])))
    values = deletion_map(path)
    assert values.sum() == pytest.approx(path.start - path.end, abs=1e-9)
    # the map's order by value is the deletion order, cell by cell
    order = np.argsort(-values.ravel(), kind="stable")
    cells_in_order = list(dict.fromkeys(path.cells.ravel()[order].tolist()))
    assert cells_in_order == path.order.tolist()
    # the tie-breaker is far below the values
    assert np.abs(values - values.mean()).max() > 1e3 * TIE
