"""Scan-bomb limits: the scans of a JPEG, or of a JPEG-compressed TIFF's strips and tiles, counted
in the encoded bytes before any pixel is decoded.

Each scan is another pass of the decoder over the image, and a scan can be repeated thousands of
times in a small valid file, so :func:`check_scans` refuses data with more scans than its size
allows (:data:`MAX_JPEG_SCANS`, :data:`MAX_JPEG_SCAN_PIXELS`) as an :class:`ImageTooLarge`.
"""

from __future__ import annotations

import re

import numpy as np
from PIL import ImageFile, TiffImagePlugin

from gerec.errors import ImageTooLarge

MAX_JPEG_SCANS = 256
"""Most scans (start-of-scan markers) a JPEG may have: libjpeg's progressive files have 6-10 and
scan optimisers a few dozen, while a scan can be repeated thousands of times in a small file
(libjpeg-turbo's "LJT-01-003"); 256 is nvImageCodec's default cap for the same attack."""

MAX_JPEG_SCAN_PIXELS = 2 * 10**9
"""Pixels x scans a JPEG may ask for. Each scan is another pass over the image (a refinement scan,
the costliest, about 0.34 s per 10^9 pixels here), so this bounds the work near 0.7 s whatever the
size, and still lets the largest photo Pillow opens (179 MP) have libjpeg's 10 progressive scans:
11 scans at 179 MP, 18 at 108 MP, 166 at 12 MP, :data:`MAX_JPEG_SCANS` at 7.8 MP and less."""

_SOS = b"\xff\xda"
# A JPEG marker: 0xFF then anything but stuffing (0x00), fill (0xFF), RST0-7 or TEM, which carry
# no length and never end a scan's entropy-coded data.
_MARKER = re.compile(rb"\xff[^\x00\x01\xd0-\xd7\xff]")


def jpeg_scans(data: bytes, stop_after: int) -> int:
    """Start-of-scan markers of a JPEG's picture, as the decoder meets them (up to its end marker).

    Segments are skipped by their length, so the bytes of EXIF, ICC, thumbnails and anything after
    the end marker (an MPO's second picture, a phone's appended video) are not counted. Counting
    stops past ``stop_after`` scans, and past ``8 * stop_after`` markers (no photo has that many).
    """
    if data.count(_SOS) <= stop_after:  # an upper bound, at C speed: the usual answer
        return data.count(_SOS)
    scans, markers, pos = 0, 0, 2
    while scans <= stop_after and markers <= 8 * stop_after:
        found = _MARKER.search(data, pos)
        if found is None or data[found.start() + 1] == 0xD9:  # the end of the data, or EOI
            break
        marker, pos, markers = data[found.start() + 1], found.start() + 2, markers + 1
        scans += marker == 0xDA
        if marker != 0xD8:  # every marker but SOI has a length (SOS: its header; its data follows)
            pos += int.from_bytes(data[pos : pos + 2], "big")
    return scans if markers <= 8 * stop_after else stop_after + 1


# A TIFF's Compression tag for JPEG (7): libtiff decodes each strip or tile as a JPEG, progressive
# ones too (old-style JPEG, 6, refuses them). Then the tags of the strips' and tiles' offsets and
# byte counts.
_TIFF_COMPRESSION, _TIFF_JPEG = 259, 7
_TIFF_PIECES = ((273, 279), (324, 325))


def _positions(value: object, end: int) -> np.ndarray:
    """A TIFF tag's offsets or byte counts, within 0..``end`` (none when they are not numbers)."""
    try:
        values = np.nan_to_num(np.asarray(value, dtype=np.float64).reshape(-1))
    except (TypeError, ValueError):
        return np.zeros(0, np.int64)
    return np.clip(values, 0, end).astype(np.int64)


def _tiff_jpeg_pieces(img: TiffImagePlugin.TiffImageFile, end: int) -> np.ndarray:
    """(start, end) in the file of every strip and tile of a TIFF: both kinds when both are given
    (libtiff chooses by other tags); a piece without a byte count runs to ``end`` (libtiff
    estimates one)."""
    pieces = [np.zeros((0, 2), np.int64)]
    for offsets_tag, counts_tag in _TIFF_PIECES:
        starts = _positions(img.tag_v2.get(offsets_tag, ()), end)
        counts = _positions(img.tag_v2.get(counts_tag, ()), end)[: len(starts)]
        counts = np.pad(counts, (0, len(starts) - len(counts)))
        pieces.append(np.stack([starts, np.where(counts > 0, np.minimum(starts + counts, end), end)], axis=1))
    return np.concatenate(pieces)


def _most_markers(data: bytes, pieces: np.ndarray) -> int:
    """The most start-of-scan markers in one of these byte ranges (they may overlap), counted in
    their bytes at C speed whatever their number: more than the scans a decoder meets, never fewer."""
    buf = np.frombuffer(data, np.uint8)
    at = np.flatnonzero((buf[:-1] == 0xFF) & (buf[1:] == 0xDA))
    inside = np.searchsorted(at, pieces[:, 1] - 1) - np.searchsorted(at, pieces[:, 0])
    return int(inside.max(initial=0))


def _most_tiff_scans(opened: ImageFile.ImageFile, data: bytes, stop_after: int) -> int:
    """The most scans in one strip or tile of a JPEG-compressed TIFF, as start-of-scan markers in its
    bytes; 0 for another image, and when the whole file has at most ``stop_after`` (the usual answer)."""
    if not isinstance(opened, TiffImagePlugin.TiffImageFile) or opened.tag_v2.get(_TIFF_COMPRESSION) != _TIFF_JPEG:
        return 0
    if data.count(_SOS) <= stop_after:
        return 0
    return _most_markers(data, _tiff_jpeg_pieces(opened, len(data)))


def check_scans(opened: ImageFile.ImageFile, data: bytes, name: str) -> None:
    """Refuse JPEG data whose scans would cost more decoding than :data:`MAX_JPEG_SCAN_PIXELS`: a
    JPEG (or MPO: Pillow decodes its first picture), or any strip or tile of a JPEG-compressed TIFF
    (whose scans pass over that piece only, but are held to the whole image's limit)."""
    w, h = opened.size
    allowed = max(1, min(MAX_JPEG_SCANS, MAX_JPEG_SCAN_PIXELS // max(w * h, 1)))
    if data.startswith(b"\xff\xd8"):
        what, where, piece = "a JPEG", "", "the whole image"
        over = jpeg_scans(data, allowed) > allowed
    else:
        what, where, piece = "a JPEG-compressed TIFF", " in one strip or tile", "its strip or tile"
        over = _most_tiff_scans(opened, data, allowed) > allowed
    if over:
        raise ImageTooLarge(
            f"{name}: {what} of {w} x {h} pixels with more than {allowed} scans{where}; gerec decodes at most "
            f"{allowed} at this size (each scan is another pass over {piece}). Save it again as an ordinary JPEG"
        )
