"""Group-photo corruptions of face crops: for robust training and for the robustness benchmark.

Faces in group photos are small, blurred, JPEG-compressed, turned, partly hidden and badly lit.
Each corruption here takes one uint8 grey crop ``(H, W)`` and returns one of the same shape and
dtype. :func:`robust_augment` draws a random mix of them per face for training
(``train-faces --augment robust``); :data:`BENCHMARK_CORRUPTIONS` are the fixed settings that
``benchmarks/bench_robustness.py`` measures.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Corruption = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def downscale(img: np.ndarray, side: int) -> np.ndarray:
    """Shrink to ``side`` pixels (area) and back up (bilinear): a small face upscaled by the pipeline."""
    h, w = img.shape[:2]
    small = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Re-encode as JPEG at ``quality`` (1-100)."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    decoded = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if ok else None
    return img if decoded is None else np.asarray(decoded).reshape(img.shape)


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``sigma`` pixels."""
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma).reshape(img.shape)


def rotate(img: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the centre, edges replicated (as the training augmenter fills)."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2 - 0.5, h / 2 - 0.5), degrees, 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(img.shape)


def tone(img: np.ndarray, gamma: float, contrast: float, shift: float) -> np.ndarray:
    """Lighting: gamma, then contrast about mid-grey, then a brightness shift (fractions of 255)."""
    x = (img.astype(np.float32) / 255.0) ** gamma
    x = (x - 0.5) * contrast + 0.5 + shift
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def erase(img: np.ndarray, rng: np.random.Generator, area: tuple[float, float], noise: bool = True) -> np.ndarray:
    """Random erasing: a rectangle of ``area`` (fractions of the crop) filled with noise or grey."""
    h, w = img.shape[:2]
    frac = rng.uniform(*area)
    aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0)))
    eh = int(min(h, max(1, round(np.sqrt(frac * h * w * aspect)))))
    ew = int(min(w, max(1, round(np.sqrt(frac * h * w / aspect)))))
    top, left = int(rng.integers(0, h - eh + 1)), int(rng.integers(0, w - ew + 1))
    out = img.copy()
    fill = rng.integers(0, 256, size=(eh, ew)) if noise else np.full((eh, ew), int(img.mean()))
    out[top : top + eh, left : left + ew] = fill.astype(np.uint8).reshape(out[top : top + eh, left : left + ew].shape)
    return out


def robust_augment(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random group-photo corruption mix (each step with its own probability) of a uint8 crop."""
    out = img
    if rng.random() < 0.35:
        out = downscale(out, int(rng.integers(14, 41)))
    if rng.random() < 0.1:
        out = blur(out, float(rng.uniform(0.5, 1.5)))
    if rng.random() < 0.35:
        out = jpeg(out, int(rng.integers(15, 91)))
    if rng.random() < 0.4:
        out = tone(
            out,
            float(np.exp(rng.uniform(np.log(0.6), np.log(1.6)))),
            float(rng.uniform(0.5, 1.2)),
            float(rng.uniform(-0.15, 0.15)),
        )
    if rng.random() < 0.3:
        out = erase(out, rng, (0.02, 0.2), noise=bool(rng.random() < 0.5))
    return out


def robust_batch(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """:func:`robust_augment` on every crop of a float batch ``(n, H, W, 1)`` in [0, 1]."""
    crops = np.clip(np.rint(np.asarray(batch) * 255.0), 0, 255).astype(np.uint8)
    out = np.stack([robust_augment(c[..., 0], rng) for c in crops])[..., None]
    return out.astype(np.float32) / 255.0


BENCHMARK_CORRUPTIONS: dict[str, Corruption] = {
    "clean": lambda img, rng: img,
    "blur (sigma 1.5 px)": lambda img, rng: blur(img, 1.5),
    "downscale to 24 px": lambda img, rng: downscale(img, 24),
    "JPEG quality 20": lambda img, rng: jpeg(img, 20),
    "occlusion (15-25 % area)": lambda img, rng: erase(img, rng, (0.15, 0.25), noise=False),
    "rotation 20 degrees": lambda img, rng: rotate(img, 20.0),
    "low contrast, dark": lambda img, rng: tone(img, 1.0, 0.5, -0.2),
}


def corrupt_all(images: np.ndarray, name: str, seed: int = 0) -> np.ndarray:
    """Every grey crop of ``images`` (n, H, W) under the benchmark corruption ``name``, seeded."""
    rng = np.random.default_rng(seed)
    fn = BENCHMARK_CORRUPTIONS[name]
    return np.stack([fn(img, rng) for img in images])
