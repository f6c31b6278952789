"""Test-time views of a member's input batch: mirror images and 10 % zooms.

A member's prediction can be the mean over several views of each face (test-time
augmentation). Which views, a *TTA mode*, is one of :data:`TTA_MODES`, chosen per member on the
validation split by ``python -m gerec fit-ensemble``. Our members were trained on faces that the
augmenter almost always resampled (rotated, shifted, zoomed), so a resampled view of a test face
is closer to what they learned from than the sharp original.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

ZOOM = 1.1  # zoom in crops 1/ZOOM of the side; zoom out pads the side by (ZOOM - 1)

TTA_MODES: dict[str, tuple[str, ...]] = {
    "none": ("identity",),
    "flip": ("identity", "identity+mirror"),
    "zoom": ("zoom_in", "zoom_in+mirror", "zoom_out", "zoom_out+mirror"),
    "flip+zoom": ("identity", "identity+mirror", "zoom_in", "zoom_in+mirror", "zoom_out", "zoom_out+mirror"),
}
"""TTA mode -> the views averaged, in order of cost (1, 2, 4 and 6 model inputs per face).
A view is a base (``identity``, ``zoom_in``, ``zoom_out``), optionally ``+mirror``."""

EVERY_VIEW_MODE = "flip+zoom"
"""The mode whose views include every other mode's: run once, it scores all modes."""


def _margin(side: int) -> int:
    """Pixels cut from (zoom in) or added to (zoom out) each border of a ``side``-pixel face."""
    return max(1, int(round(side * (ZOOM - 1) / 2)))


def zoom_in(x: np.ndarray) -> np.ndarray:
    """Each image of a (n, H, W, C) float batch, centre-cropped by ~1/ZOOM and resized back."""
    n, h, w, c = x.shape
    m = _margin(min(h, w))
    out = np.empty_like(x)
    for i in range(n):
        out[i] = cv2.resize(x[i, m : h - m, m : w - m], (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, c)
    return out


def zoom_out(x: np.ndarray) -> np.ndarray:
    """Each image of a (n, H, W, C) float batch, its border replicated by ~ZOOM - 1 and resized back."""
    n, h, w, c = x.shape
    m = _margin(min(h, w))
    out = np.empty_like(x)
    for i in range(n):
        padded = cv2.copyMakeBorder(x[i], m, m, m, m, cv2.BORDER_REPLICATE)
        out[i] = cv2.resize(padded, (w, h), interpolation=cv2.INTER_AREA).reshape(h, w, c)
    return out


def mirror(x: np.ndarray) -> np.ndarray:
    """Each image flipped left to right."""
    return x[:, :, ::-1]


BASES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda x: x,
    "zoom_in": zoom_in,
    "zoom_out": zoom_out,
}
"""A view's base, by name: the batch itself or a zoom; ``+mirror`` flips it."""


def view(x: np.ndarray, name: str) -> np.ndarray:
    """One named view (``identity``, ``zoom_in``, ``zoom_out``, optionally ``+mirror``) of a batch."""
    base, _, flip = name.partition("+")
    if base not in BASES or flip not in ("", "mirror"):
        raise ValueError(f"unknown view {name!r}")
    out = BASES[base](x)
    return mirror(out) if flip else out


def make_views(x: np.ndarray, mode: str) -> np.ndarray:
    """The views of ``mode`` stacked along the batch axis: (len(views) * n, H, W, C), view-major."""
    if mode not in TTA_MODES:
        raise ValueError(f"TTA mode must be one of {tuple(TTA_MODES)}, got {mode!r}")
    names = TTA_MODES[mode]
    if names == ("identity",):
        return x
    built = {base: BASES[base](x) for base in dict.fromkeys(v.split("+")[0] for v in names)}  # each base once
    return np.concatenate([mirror(built[v.split("+")[0]]) if v.endswith("+mirror") else built[v] for v in names])


def split_views(probs: np.ndarray, mode: str) -> np.ndarray:
    """View-major predictions (len(views) * n, k) from :func:`make_views` as (len(views), n, k)."""
    return probs.reshape(len(TTA_MODES[mode]), -1, probs.shape[-1])
