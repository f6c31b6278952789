"""Safe decoding of any photo input into an upright RGB uint8 array.

Handles EXIF rotation, CMYK, palette and alpha (composited on white), 16-bit and float images,
and very large photos (decoded at reduced size where the format allows, then downscaled). Pillow's
decompression-bomb guard stays on: a photo over its limit raises :class:`ImageTooLarge`.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gerec.errors import ImageTooLarge, InvalidImage

MAX_SIDE = 2048
"""Longest side, in pixels, of the array gerec analyses; larger photos are downscaled."""

PhotoSource = str | Path | bytes | BinaryIO | np.ndarray


@dataclass(frozen=True, eq=False)
class Photo:
    """A decoded photo: RGB pixels, its name, its original size and the scale applied."""

    pixels: np.ndarray
    name: str
    original_size: tuple[int, int]  # (width, height) before downscaling
    scale: float  # analysed size / original size
    encoded: bytes | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the analysed pixels."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])


def _read_bytes(source: PhotoSource) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray):
        return bytes(source), "<bytes>"
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise InvalidImage(f"{path}: no such file")
        try:
            return path.read_bytes(), path.name
        except OSError as exc:
            raise InvalidImage(f"{path}: cannot read: {exc}") from exc
    if isinstance(source, np.ndarray):  # pragma: no cover - arrays never reach here
        raise InvalidImage("an array is not an encoded photo")
    data = source.read()
    return data, str(getattr(source, "name", "<stream>"))


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; alpha is composited on white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        if img.mode == "F":
            top = max(float(arr.max()), 1.0)
        grey = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _from_array(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or min(arr.shape[:2]) < 1:
        raise InvalidImage(f"{name}: expected an HxW, HxWx3 or HxWx4 array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.max() <= 1.0:
            arr = arr * 255.0
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr[:, :, :3])


def downscale(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink so the longest side is at most ``max_side`` (area interpolation)."""
    import cv2

    h, w = pixels.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return pixels
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def load_image(source: PhotoSource, name: str | None = None, max_side: int = MAX_SIDE) -> Photo:
    """Decode a path, bytes, stream or array into an upright RGB :class:`Photo`.

    Raises :class:`InvalidImage` (empty, corrupt, truncated, not an image) or
    :class:`ImageTooLarge` (over Pillow's decompression-bomb limit).
    """
    if isinstance(source, np.ndarray):
        pixels = _from_array(source, name or "<array>")
        h, w = pixels.shape[:2]
        small = downscale(pixels, max_side)
        return Photo(small, name or "<array>", (w, h), small.shape[1] / w)
    data, default_name = _read_bytes(source)
    name = name or default_name
    if not data:
        raise InvalidImage(f"{name}: the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
            original = opened.size
            opened.draft("RGB", (max_side, max_side))  # JPEG: decode at reduced size when huge
            img: Image.Image = ImageOps.exif_transpose(opened) or opened
            img.load()
            rgb = _to_rgb(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"{name}: too many pixels to decode safely ({exc})") from exc
    except UnidentifiedImageError as exc:
        if _looks_like_image(data):
            raise InvalidImage(f"{name}: the image data is corrupt (the header is unreadable)") from exc
        raise InvalidImage(f"{name}: not an image file gerec can read (jpg, png, webp, ...)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        reason = "truncated or corrupt" if "truncat" in str(exc).lower() else "corrupt"
        raise InvalidImage(f"{name}: the image data is {reason} ({exc})") from exc
    pixels = downscale(np.asarray(rgb, dtype=np.uint8), max_side)
    if _is_transposed(original, img.size):
        original = (original[1], original[0])
    return Photo(np.ascontiguousarray(pixels), name, original, pixels.shape[1] / original[0], data)


_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")


def _looks_like_image(data: bytes) -> bool:
    """True when the bytes start like a known image format (so the file is corrupt, not foreign)."""
    return data.startswith(_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _is_transposed(before: tuple[int, int], after: tuple[int, int]) -> bool:
    """True when EXIF rotation swapped width and height (compared by aspect)."""
    return (before[0] > before[1]) != (after[0] > after[1]) and before[0] != before[1]
