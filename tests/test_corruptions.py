"""Group-photo corruptions (robust training and the robustness benchmark) do what they say."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gerec.emotion import corruptions as cor


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """A 48 px grey test card with edges and texture (no data needed)."""
    rng = np.random.default_rng(0)
    img = np.full((48, 48), 128, np.uint8)
    cv2.circle(img, (24, 24), 16, 220, -1)
    cv2.rectangle(img, (14, 30), (34, 34), 30, -1)
    return np.clip(img.astype(int) + rng.integers(-20, 21, img.shape), 0, 255).astype(np.uint8)


def sharpness(img: np.ndarray) -> float:
    return float(cv2.Laplacian(img.astype(np.float64), cv2.CV_64F).var())


@pytest.mark.parametrize("name", list(cor.BENCHMARK_CORRUPTIONS))
def test_every_benchmark_corruption_keeps_shape_and_dtype(face, name):
    out = cor.corrupt_all(face[None], name)
    assert out.shape == (1, 48, 48) and out.dtype == np.uint8
    assert (name == "clean") == np.array_equal(out[0], face)


def test_downscale_and_blur_remove_detail(face):
    assert sharpness(cor.downscale(face, 16)) < 0.3 * sharpness(face)
    assert sharpness(cor.blur(face, 1.5)) < 0.3 * sharpness(face)
    assert sharpness(cor.downscale(face, 40)) > sharpness(cor.downscale(face, 16))


def test_jpeg_is_lossy_but_close(face):
    low, high = cor.jpeg(face, 15), cor.jpeg(face, 90)
    err = [np.abs(x.astype(int) - face).mean() for x in (low, high)]
    assert 0 < err[1] < err[0] < 30


def test_erase_covers_the_asked_area_and_nothing_else(face):
    rng = np.random.default_rng(1)
    for _ in range(20):
        out = cor.erase(face, rng, (0.15, 0.25), noise=False)
        changed = np.argwhere(out != face)
        if len(changed):  # the grey fill may equal a few original pixels, never the bounding box
            (top, left), (bottom, right) = changed.min(0), changed.max(0)
            assert (bottom - top + 1) * (right - left + 1) <= 0.35 * face.size
        assert (out != face).mean() > 0.05


def test_tone_darkens_and_flattens(face):
    dark = cor.tone(face, 1.0, 0.5, -0.2)
    assert dark.mean() < face.mean() - 30 and dark.std() < 0.6 * face.std()


def test_rotation_turns_the_face(face):
    assert np.array_equal(cor.rotate(face, 0.0), face)
    assert np.abs(cor.rotate(face, 20.0).astype(int) - face).mean() > 5


def test_robust_batch_is_seeded_in_range_and_mixes(face):
    batch = np.repeat(face[None, ..., None], 64, axis=0).astype(np.float32) / 255.0
    a = cor.robust_batch(batch, np.random.default_rng(3))
    b = cor.robust_batch(batch, np.random.default_rng(3))
    assert a.shape == batch.shape and a.dtype == np.float32 and a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    changed = np.abs(a - batch).reshape(64, -1).mean(1) > 1e-3
    assert 0.3 < changed.mean() < 1.0  # most faces corrupted, some left clean


def test_robust_training_batches_go_through_the_corruptions():
    from gerec.emotion.augmentation import training_batches
    from gerec.emotion.training import TrainConfig

    x = np.full((32, 48, 48, 1), 0.5, np.float32)
    x[:, 10:38, 10:38] = np.random.default_rng(0).random((32, 28, 28, 1))
    y, w = np.eye(7, dtype=np.float32)[np.zeros(32, int)], np.ones(32)
    runs = {}
    for augment in ("standard", "robust"):
        cfg = TrainConfig(data="", out="", batch=32, augment=augment)
        runs[augment] = next(iter(training_batches(x, y, w, cfg)))[0].numpy()
    for batch in runs.values():
        assert batch.shape == x.shape and batch.min() >= 0.0 and batch.max() <= 1.0
    # the corruptions run on 8-bit crops: robust batches hold exact 8-bit levels, standard ones do not
    assert np.allclose(runs["robust"] * 255, np.rint(runs["robust"] * 255), atol=1e-3)
    assert not np.allclose(runs["standard"] * 255, np.rint(runs["standard"] * 255), atol=1e-3)


def test_a_resumed_run_does_not_replay_the_first_epochs_data():
    from gerec.emotion.augmentation import training_batches
    from gerec.emotion.training import TrainConfig

    x = np.random.default_rng(1).random((64, 48, 48, 1)).astype(np.float32)
    y = np.eye(7, dtype=np.float32)[np.arange(64) % 7]
    w = np.arange(64, dtype=np.float64)  # the per-face weight tells which face came first
    cfg = TrainConfig(data="", out="", batch=64, augment="robust", seed=3)

    def first_order(done: int) -> np.ndarray:
        return next(iter(training_batches(x, y, w, cfg, done)))[2].numpy()

    fresh = first_order(0)
    assert sorted(fresh.tolist()) == list(range(64))
    assert np.array_equal(fresh, first_order(0))  # seeded: a fresh run is reproducible
    assert not np.array_equal(fresh, first_order(7))  # resumed after 7 epochs: another order
