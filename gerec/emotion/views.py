"""Test-time views of a member's input batch: mirror images, 10 % zooms and corner crops.

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

CORNERS = ("crop_tl", "crop_tr", "crop_bl", "crop_br")
"""The four corner crops, each the size of the ``zoom_in`` centre crop (44 of a 48 px side)."""

_CROPS = tuple(v for base in ("zoom_in", *CORNERS) for v in (base, f"{base}+mirror"))

TTA_MODES: dict[str, tuple[str, ...]] = {
    "none": ("identity",),
    "flip": ("identity", "identity+mirror"),
    "zoom": ("zoom_in", "zoom_in+mirror", "zoom_out", "zoom_out+mirror"),
    "flip+zoom": ("identity", "identity+mirror", "zoom_in", "zoom_in+mirror", "zoom_out", "zoom_out+mirror"),
    "crops": _CROPS,
    "all": ("identity", "identity+mirror", *_CROPS, "zoom_out", "zoom_out+mirror"),
}
"""TTA mode -> the views averaged, in order of cost (1, 2, 4, 6, 10 and 14 model inputs per face).
A view is a base (``identity``, ``zoom_in``, ``zoom_out``, a corner crop), optionally ``+mirror``;
``crops`` is the classic ten-crop (centre and corners, each mirrored)."""

FIT_TTA_MODES = ("none", "flip", "zoom", "flip+zoom")
"""The modes ``fit-ensemble`` offers each member unless ``--tta-modes`` names others (the shipped
registry was fitted with these; ``crops`` and ``all`` did not improve it: docs/models.md, round 11)."""


def covering_mode(modes: tuple[str, ...]) -> str:
    """The cheapest mode whose views include every view of ``modes``: one run of it scores them all."""
    unknown = [m for m in modes if m not in TTA_MODES]
    if unknown or not modes:
        raise ValueError(f"TTA modes must be among {tuple(TTA_MODES)}, got {modes!r}")
    wanted = set().union(*(TTA_MODES[m] for m in modes))
    return next(m for m in TTA_MODES if wanted <= set(TTA_MODES[m]))


def _margin(side: int) -> int:
    """Pixels cut from (zoom in) or added to (zoom out) each border of a ``side``-pixel face."""
    return max(1, int(round(side * (ZOOM - 1) / 2)))


def _crop(x: np.ndarray, top: int, left: int) -> np.ndarray:
    """Each image of a (n, H, W, C) float batch cut to (H - 2m, W - 2m) at (top, left) in units of the
    margin m (0, 1 or 2: first, centre or last position) and resized back to (H, W)."""
    n, h, w, c = x.shape
    m = _margin(min(h, w))
    y0, x0 = top * m, left * m
    out = np.empty_like(x)
    for i in range(n):
        cut = x[i, y0 : y0 + h - 2 * m, x0 : x0 + w - 2 * m]
        out[i] = cv2.resize(cut, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, c)
    return out


def zoom_in(x: np.ndarray) -> np.ndarray:
    """Each image of a (n, H, W, C) float batch, centre-cropped by ~1/ZOOM and resized back."""
    return _crop(x, 1, 1)


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
    "crop_tl": lambda x: _crop(x, 0, 0),
    "crop_tr": lambda x: _crop(x, 0, 2),
    "crop_bl": lambda x: _crop(x, 2, 0),
    "crop_br": lambda x: _crop(x, 2, 2),
}
"""A view's base, by name: the batch itself, a zoom or a corner crop; ``+mirror`` flips it."""


def view(x: np.ndarray, name: str) -> np.ndarray:
    """One named view (a key of :data:`BASES`, optionally ``+mirror``) of a batch."""
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
