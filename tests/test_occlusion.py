"""Multi-scale sliding occlusion: patches, cells, the refined map's total, and the resolution measure."""

from __future__ import annotations

import numpy as np
import pytest

from gerec import occlusion


def spot_probability(rows: slice, cols: slice):
    """A numpy 'model': the probability is the mean brightness of one small spot, in [0, 1]."""
    return lambda faces: np.asarray(faces)[:, rows, cols].mean(axis=(1, 2)) / 255.0


def test_positions_and_jobs():
    assert occlusion.positions(48, 8, 4)[-1] == 40 and occlusion.positions(48, 12, 6) == list(range(0, 37, 6))
    assert occlusion.positions(10, 4, 4) == [0, 4, 6]  # the last patch is flush with the edge
    with pytest.raises(ValueError):
        occlusion.positions(48, 60, 3)
    patches = occlusion.jobs(48)
    assert len(patches) == 11 * 11 + 7 * 7
    for size, stride in occlusion.SCALES:  # both baselines reach every pixel but the corners
        corners = np.zeros((48, 48), dtype=bool)
        for rows in (slice(0, stride), slice(48 - stride, 48)):
            for cols in (slice(0, stride), slice(48 - stride, 48)):
                corners[rows, cols] = True
        for baseline in (0, 1):
            cover = np.zeros((48, 48), dtype=int)
            for p, r, c, b in patches:
                if p == size and b == baseline:
                    cover[r : r + p, c : c + p] += 1
            assert cover[~corners].min() >= 1 and cover.sum() > 0


def test_occlusion_map_finds_the_spot_and_is_constant_on_cells():
    face = np.full((48, 48), 200.0)
    grey = np.full((48, 48), 128.0)
    dark = np.zeros((48, 48))
    values = occlusion.occlusion_map(spot_probability(slice(32, 36), slice(20, 24)), face, [grey, dark])
    peak = np.unravel_index(np.argmax(values), values.shape)
    assert 32 <= peak[0] < 36 and 20 <= peak[1] < 24
    assert values[:20].max() == 0 and values[32:36, 20:24].min() > 0  # the eyes' rows carry nothing
    labels = occlusion.cells(48)
    assert labels.max() + 1 == len(np.unique(labels)) == 256
    for lab in np.unique(labels):
        assert np.ptp(values[labels == lab]) < 1e-12  # one value per cell
    regions, largest, apart = occlusion.resolution(occlusion.intersect(labels))
    assert (regions, largest, apart) == (256, 16, True)


def test_one_reader_per_baseline_reads_its_own_patches():
    """With one function per baseline, baseline b's patches are read by function b only."""
    face, fills = np.full((48, 48), 200.0), [np.full((48, 48), 128.0), np.zeros((48, 48))]
    spot = spot_probability(slice(32, 36), slice(20, 24))
    seen: list[list[int]] = [[], []]

    def reader(b: int):
        def read(faces: np.ndarray) -> np.ndarray:
            seen[b].append(len(faces))
            return spot(faces) * (1 + b)  # baseline 1's reader is twice as sensitive

        return read

    both = occlusion.occlusion_map([reader(0), reader(1)], face, fills)
    patches = occlusion.jobs(48)
    assert seen == [[1 + sum(p[3] == 0 for p in patches)], [1 + sum(p[3] == 1 for p in patches)]]
    one = occlusion.occlusion_map(spot, face, fills)  # the same function for both: the same map
    np.testing.assert_allclose(occlusion.occlusion_map([spot, spot], face, fills), one, atol=1e-12)
    assert both[32:36, 20:24].sum() > one[32:36, 20:24].sum() > 0
    with pytest.raises(ValueError, match="baselines"):
        occlusion.occlusion_map([spot], face, fills)


def test_refine_keeps_the_total_and_orders_within_regions():
    coarse = np.zeros((48, 48))
    coarse[24:] = 0.01  # one region over the lower half: eyes and mouth lumped together
    fine = np.zeros((48, 48))
    fine[33:36, 21:24] = 1.0
    out = occlusion.refine(coarse, fine)
    assert out.sum() == pytest.approx(coarse.sum())
    assert out[34, 22] > out[40, 40] > out[5, 5]  # the spot first, then the rest of its region
    np.testing.assert_array_equal(occlusion.refine(coarse, np.ones((48, 48))), coarse)


def test_resolution_of_a_lumped_map():
    labels = np.zeros((48, 48), dtype=int)
    labels[10:45, 10:40] = 1  # one region over the eyes and the mouth
    regions, largest, apart = occlusion.resolution(labels)
    assert regions == 2 and largest == 48 * 48 - 35 * 30 and not apart
    split = occlusion.intersect(labels, (np.arange(48) >= 28)[:, None].repeat(48, axis=1).astype(int))
    assert occlusion.resolution(split)[0] == 4 and occlusion.resolution(split)[2]
