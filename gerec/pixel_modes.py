"""Any pixel mode a photo arrives in, as the 8-bit RGB gerec analyses: 16-bit and float grey scaled,
alpha and colour keys (PNG ``tRNS``) laid on white, 2- and 4-bit grey PNG keys in 8 bits, and numpy
arrays read as the file with those pixels would be. :mod:`gerec.imaging` calls these while decoding."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFile

from gerec.errors import InvalidImage

# PNG grey below 8 bits, by Pillow's raw mode: unpacked to 0-255 (v * 255 / (2^bits - 1)).
LOW_GREY_BITS = {"L;2": 2, "L;4": 4}


def low_grey_bits(img: ImageFile.ImageFile) -> int | None:
    """2 or 4 for a 2- or 4-bit grey PNG (the raw mode Pillow will unpack; read before loading)."""
    raw = img.tile[0].args if img.format == "PNG" and img.tile else None
    return LOW_GREY_BITS.get(raw) if isinstance(raw, str) else None


def scale_grey_key(img: Image.Image, bits: int | None) -> None:
    """Give a 2- or 4-bit grey PNG's colour key in 8 bits, as Pillow unpacked the pixels (1 of 2
    bits is 85); a key no pixel of that depth can hold is dropped (Pillow leaves it unscaled)."""
    key = img.info.get("transparency")
    if bits is None or not isinstance(key, int):
        return
    top = 2**bits - 1
    if 0 <= key <= top:
        img.info["transparency"] = key * 255 // top
    else:
        del img.info["transparency"]


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; alpha, and a colour key (PNG ``tRNS``), on white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        peak = float(np.nanmax(arr)) if arr.size else 0.0
        top = 65535.0 if img.mode.startswith("I;16") or peak > 255 else 255.0
        if img.mode == "F":
            top = max(peak, 1.0) if np.isfinite(peak) else 1.0
        with np.errstate(over="ignore", invalid="ignore"):  # inf and nan pixels are clipped below
            grey = np.clip(np.nan_to_num(arr / top * 255.0 + 0.5), 0, 255).astype(np.uint8)
        key = img.info.get("transparency")
        if isinstance(key, int):  # a 16-bit grey PNG's colour key: those pixels are transparent
            grey[arr == key] = 255
        return Image.fromarray(grey).convert("RGB")
    if img.has_transparency_data:  # an alpha channel, a palette with alpha, or a colour key (L, RGB)
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def from_array(arr: np.ndarray, name: str) -> Image.Image:
    """The 8-bit image a file with these pixels gives: uint8 as is, uint16 scaled as 16-bit files,
    bool as 1-bit files, floats 0.0-1.0, other integers 0-255; HxW grey, HxWx3 RGB, HxWx4 RGBA."""
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)) or min(arr.shape[:2]) < 1:
        raise InvalidImage(f"{name}: expected an HxW, HxWx3 or HxWx4 array, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        eight = arr
    elif arr.dtype == np.uint16:  # as a 16-bit PNG or TIFF: 0-65535 onto 0-255
        eight = np.floor(arr.astype(np.float32) / 65535.0 * 255.0 + 0.5).astype(np.uint8)
    elif arr.dtype == np.bool_:
        eight = arr.astype(np.uint8) * 255
    elif arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise InvalidImage(f"{name}: the array holds NaN or infinite values")
        low, high = float(arr.min()), float(arr.max())
        if low < 0.0 or high > 1.0:
            raise InvalidImage(
                f"{name}: a float array must hold 0.0 to 1.0 (this one holds {low:g} to {high:g}); "
                "divide by 255, or pass uint8"
            )
        eight = np.floor(arr.astype(np.float32) * 255.0 + 0.5).astype(np.uint8)
    elif arr.dtype.kind in "iu":
        low, high = int(arr.min()), int(arr.max())
        if low < 0 or high > 255:
            raise InvalidImage(
                f"{name}: a {arr.dtype} array must hold 0 to 255 (this one holds {low} to {high}); "
                "pass uint16 for 16-bit pixels"
            )
        eight = arr.astype(np.uint8)
    else:
        raise InvalidImage(f"{name}: a {arr.dtype} array is not pixels (use uint8, uint16, bool or float 0.0-1.0)")
    return Image.fromarray(np.ascontiguousarray(eight))
