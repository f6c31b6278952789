"""Safe decoding of any photo input into an upright RGB uint8 array.

Only the formats gerec advertises are decoded (:data:`FORMATS`), recognised by their content,
never by the file name. A file over :data:`MAX_FILE_BYTES` is refused before it is read, and a
JPEG with more scans than its size allows, or a JPEG-compressed TIFF with a strip or tile of that
many, before it is decoded (:mod:`gerec.jpeg_scans`). Before any pixel is decoded, the decoded
size is checked against a memory budget that counts bit depth and channels (:data:`MAX_DECODE_BYTES`
per photo, :data:`TOTAL_DECODE_BYTES` for every photo being decoded at once, in any thread).
Large JPEGs are decoded at reduced size (Pillow's ``draft``) and other formats are reduced right
after decoding, so a 108 MP phone photo is analysed, not refused; the original size is kept in
:class:`Photo`.
EXIF rotation is applied; a damaged EXIF block is ignored with a note. Any decoder failure is an
:class:`InvalidImage`, and a photo over the budget an :class:`ImageTooLarge`. Pixel modes become RGB in
:mod:`gerec.pixel_modes`.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from gerec.errors import ImageTooLarge, InvalidImage
from gerec.jpeg_scans import check_scans
from gerec.pixel_modes import from_array, low_grey_bits, scale_grey_key, to_rgb

MAX_SIDE = 2048
"""Longest side, in pixels, of the array gerec analyses; larger photos are downscaled."""

FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
"""Pillow formats gerec decodes (chosen by content); everything else is refused unread."""
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
)
"""File-name suffixes Pillow registers for :data:`FORMATS`: how photos are found in folders (the
content still decides). HEIC/HEIF and AVIF are not among them: gerec does not decode them."""

MAX_DECODE_BYTES = 256 * 2**20
"""Memory one decoded photo may take (Pillow's storage: width x height x bytes per pixel)."""

TOTAL_DECODE_BYTES = 512 * 2**20
"""Memory all photos being decoded at the same moment may take together (threads wait)."""

MAX_FILE_BYTES = 50 * 2**20
"""Largest photo file read, checked before reading (the dashboard's ``maxUploadSize`` is the same 50 MB).

The whole file is held in memory (and sent to Cloud Vision), so its size is bounded like its pixels.
"""

# Bytes per pixel in Pillow's storage; every other mode uses 4.
_STORAGE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# gerec applies its own budget (above) after JPEG draft; Pillow's warning at 89 MP would only
# repeat it. Its hard error (twice that) still applies and becomes ImageTooLarge.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

PhotoSource = str | Path | bytes | BinaryIO | np.ndarray


@dataclass(frozen=True, eq=False)
class Photo:
    """A decoded photo: RGB pixels, its name, its original size and the scale applied."""

    pixels: np.ndarray
    name: str
    original_size: tuple[int, int]  # (width, height) before downscaling
    scale: float  # analysed size / original size
    encoded: bytes | None = None
    notes: tuple[str, ...] = ()  # what the loader ignored or changed (e.g. a damaged EXIF block)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the analysed pixels."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])


class DecodeBudget:
    """Bytes of decoded pixels allowed at once across threads; a decode waits for its share."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.in_use = 0
        self._cond = threading.Condition()

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        """Hold ``nbytes`` of the budget while decoding (waits while others hold too much)."""
        nbytes = min(nbytes, self.total)  # one photo larger than the whole budget waits for all of it
        with self._cond:
            self._cond.wait_for(lambda: self.in_use + nbytes <= self.total)
            self.in_use += nbytes
        try:
            yield
        finally:
            with self._cond:
                self.in_use -= nbytes
                self._cond.notify_all()


BUDGET = DecodeBudget(TOTAL_DECODE_BYTES)


def decoded_bytes(mode: str, size: tuple[int, int]) -> int:
    """Memory Pillow needs to hold an image of this mode and size."""
    return size[0] * size[1] * _STORAGE_BYTES.get(mode, 4)


def _too_big(what: object, size: int | None) -> ImageTooLarge:
    """The refusal of a file over :data:`MAX_FILE_BYTES` (``size`` None: more than that, read no further)."""
    told = f"{size / 2**20:.1f} MB" if size is not None else f"over {MAX_FILE_BYTES / 2**20:.0f} MB"
    return ImageTooLarge(
        f"{what}: the file is {told}; gerec reads photos of at most "
        f"{MAX_FILE_BYTES / 2**20:.0f} MB (save it at a smaller size or as a JPEG)"
    )


def _read_bytes(source: PhotoSource) -> tuple[bytes, str]:
    """The encoded bytes and a name; a file over :data:`MAX_FILE_BYTES` is refused unread."""
    if isinstance(source, bytes | bytearray):
        data, name = bytes(source), "<bytes>"
    elif isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise InvalidImage(f"{path}: no such file")
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise _too_big(path, size)
            with path.open("rb") as handle:  # at most one byte over: a file growing after stat()
                data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise InvalidImage(f"{path}: cannot read: {exc}") from exc
        name = path.name
    elif isinstance(source, np.ndarray):  # pragma: no cover - arrays never reach here
        raise InvalidImage("an array is not an encoded photo")
    else:
        name = str(getattr(source, "name", "<stream>"))
        data = source.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:  # bytes as given, or a file or stream read one byte past the limit
        raise _too_big(name, len(data) if isinstance(source, bytes | bytearray) else None)
    return data, name


def _shrink(img: Image.Image, max_side: int) -> Image.Image:
    """Reduce by a whole factor towards ``max_side`` (box filter) before any mode conversion."""
    factor = max(img.size) // max(max_side, 1)
    if factor < 2:
        return img
    size = (max(1, img.width // factor), max(1, img.height // factor))
    if img.mode in ("P", "1") or "transparency" in img.info:
        # palette indices cannot be averaged, nor a colour key (an average would no longer match it)
        return img.resize(size, Image.Resampling.NEAREST)
    if img.mode.startswith("I;16"):  # no reduce() for 16-bit grey; a box resize averages the same way
        return img.resize(size, Image.Resampling.BOX)
    return img.reduce(factor)


def downscale(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink so the longest side is at most ``max_side`` (area interpolation)."""
    import cv2

    h, w = pixels.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return pixels
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def _orientation(img: Image.Image) -> tuple[int, tuple[str, ...]]:
    """The EXIF orientation (1 = upright); a damaged EXIF block is ignored with a note."""
    try:
        value = img.getexif().get(_ORIENTATION, 1)
        return (int(value) if int(value) in _TRANSPOSE else 1), ()
    except Exception as exc:  # noqa: BLE001 - EXIF parsing raises many types; the pixels are fine
        return 1, (f"EXIF ignored: the block is damaged ({type(exc).__name__}: {exc})",)


def _open(data: bytes, name: str) -> ImageFile.ImageFile:
    try:
        return Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"{name}: too many pixels to decode safely ({exc})") from exc
    except UnidentifiedImageError as exc:
        if looks_like_image(data):
            raise InvalidImage(f"{name}: the image data is corrupt (the header is unreadable)") from exc
        raise InvalidImage(f"{name}: not an image file gerec can read ({', '.join(FORMATS).lower()})") from exc
    except Exception as exc:  # noqa: BLE001 - any header parser failure means a corrupt file
        raise InvalidImage(f"{name}: the image data is corrupt ({type(exc).__name__}: {exc})") from exc


def _decode(opened: ImageFile.ImageFile, name: str, max_side: int) -> tuple[Image.Image, tuple[str, ...]]:
    """Pixels decoded within the budget, reduced towards ``max_side``, converted to RGB, upright."""
    try:
        opened.draft("RGB", (max_side, max_side))  # JPEG: decode at 1/2, 1/4 or 1/8 when huge
        need = decoded_bytes(opened.mode, opened.size)
    except Exception as exc:  # noqa: BLE001
        raise InvalidImage(f"{name}: the image data is corrupt ({type(exc).__name__}: {exc})") from exc
    if need > MAX_DECODE_BYTES:
        w, h = opened.size
        raise ImageTooLarge(
            f"{name}: {w} x {h} pixels ({opened.mode}) need {need / 2**20:.0f} MB to decode; "
            f"gerec decodes at most {MAX_DECODE_BYTES / 2**20:.0f} MB per photo"
        )
    bits = low_grey_bits(opened)
    with BUDGET.reserve(need):
        try:
            opened.load()
            scale_grey_key(opened, bits)
            orientation, notes = _orientation(opened)
            img = to_rgb(_shrink(opened, max_side))
        except MemoryError as exc:
            raise ImageTooLarge(f"{name}: out of memory while decoding") from exc
        except Exception as exc:  # noqa: BLE001 - decoders raise OSError, SyntaxError, RuntimeError...
            reason = "truncated or corrupt" if "truncat" in str(exc).lower() else "corrupt"
            raise InvalidImage(f"{name}: the image data is {reason} ({type(exc).__name__}: {exc})") from exc
    if orientation != 1:
        img = img.transpose(_TRANSPOSE[orientation])
    return img, notes


def load_image(source: PhotoSource, name: str | None = None, max_side: int = MAX_SIDE) -> Photo:
    """Decode a path, bytes, stream or array into an upright RGB :class:`Photo`.

    An array follows the rules of a file with the same pixels: uint8 as is, uint16 scaled from
    0-65535, bool as black and white, floats from 0.0-1.0, other integers 0-255; HxW grey, HxWx3
    RGB, HxWx4 RGBA with alpha composited on white. Anything else is an :class:`InvalidImage`.

    Raises :class:`InvalidImage` (empty, corrupt, truncated, not a supported format, an array
    that is not pixels) or :class:`ImageTooLarge` (over a size, decode or scan limit). Nothing
    else, whatever the bytes.
    """
    if isinstance(source, np.ndarray):  # the same rules as a file with these pixels (alpha on white)
        pixels = np.asarray(to_rgb(from_array(source, name or "<array>")), dtype=np.uint8)
        h, w = pixels.shape[:2]
        small = np.ascontiguousarray(downscale(pixels, max_side))
        return Photo(small, name or "<array>", (w, h), small.shape[1] / w)
    data, default_name = _read_bytes(source)
    name = name or default_name
    if not data:
        raise InvalidImage(f"{name}: the file is empty (0 bytes)")
    opened = _open(data, name)
    original = opened.size
    if min(original) < 1:
        raise InvalidImage(f"{name}: the image has no pixels ({original[0]} x {original[1]})")
    check_scans(opened, data, name)
    img, notes = _decode(opened, name, max_side)
    pixels = downscale(np.asarray(img, dtype=np.uint8), max_side)
    if _is_transposed(original, img.size):
        original = (original[1], original[0])
    return Photo(np.ascontiguousarray(pixels), name, original, pixels.shape[1] / original[0], data, notes)


_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")


def looks_like_image(data: bytes) -> bool:
    """True when the bytes start like a supported format (a corrupt photo, not a foreign file)."""
    return data.startswith(_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _is_transposed(before: tuple[int, int], after: tuple[int, int]) -> bool:
    """True when EXIF rotation swapped width and height (compared by aspect)."""
    return (before[0] > before[1]) != (after[0] > after[1]) and before[0] != before[1]
