"""Seeded fuzzing of ``gerec.imaging.load_image``: every input must end as a photo or a named error.

    python tools/fuzz_images.py [--cases 10000] [--seed 0] [--max-seconds 3] [--max-rss-mb 1200]

Cases: random bytes; each supported format (JPEG, PNG, WebP, GIF, TIFF, BMP) in every Pillow mode
it saves (and progressive JPEGs, 1-, 2- and 4-bit grey PNGs with or without a colour key), mutated
(bit flips, truncation, inserted, repeated or zeroed ranges, spliced headers); unsupported formats
(AVIF, ICO, PPM...) under photo names; EXIF orientations 1-8 and junk EXIF blocks; decompression
bombs (huge compressed PNGs in 8 and 16 bits, a tiny GIF and patched TIFF, BMP and JPEG headers
declaring huge sizes) and a real 12000 x 9000 JPEG; scan bombs (progressive JPEGs and a strip of a
JPEG-compressed TIFF repeating a scan 300 to 6,000 times, and a 12 MP JPEG with 176 scans). Prints the count of each
outcome (``ok``, ``InvalidImage``, ``ImageTooLarge``, ``unexpected <type>``), the slowest cases and
the peak RSS of the process during each case (Linux ``VmHWM``, reset before every case).
Exits 1 when any case raised something else, took longer or used more memory than allowed.
"""

from __future__ import annotations

import argparse
import functools
import io
import itertools
import random
import struct
import sys
import time
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

SAVE_MODES = {
    "JPEG": ("L", "RGB", "CMYK"),
    "PNG": ("1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I"),
    "WEBP": ("RGB", "RGBA"),
    "GIF": ("P", "L"),
    "TIFF": ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "YCbCr"),
    "BMP": ("1", "L", "P", "RGB", "RGBA"),
}
FOREIGN = ("AVIF", "ICO", "PPM", "TGA", "PCX", "SGI", "QOI", "JPEG2000", "DDS")
NAMES = ("photo.jpg", "photo.png", "photo.webp", "x.gif", "x.tif", "x.bmp", "noext", "x.avif", "x.heic")


def _picture(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A small photo-like RGBA picture: gradients plus noise."""
    w, h = size
    nrng = np.random.default_rng(rng.randrange(2**32))
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / max(w, 1), y * 255 / max(h, 1), (x + y) * 127 / max(w + h, 1)], axis=-1)
    noisy = np.clip(base + nrng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
    alpha = np.full((h, w, 1), 255, np.uint8)
    alpha[: h // 3] = 0
    return Image.fromarray(np.concatenate([noisy, alpha], axis=-1))


def _in_mode(img: Image.Image, mode: str) -> Image.Image:
    if mode in ("I;16", "I", "F"):
        grey = np.asarray(img.convert("L"), dtype=np.float64)
        if mode == "I;16":
            return Image.fromarray((grey * 257).astype(np.uint16))
        if mode == "I":
            return Image.fromarray((grey * 1000).astype(np.int32))
        return Image.fromarray((grey / 255.0).astype(np.float32))
    if mode == "P":
        return img.convert("RGB").quantize(64)
    return img.convert(mode)


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def exif_block(orientation: int) -> bytes:
    """An EXIF block holding only an orientation tag (1..8)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def valid_case(rng: random.Random) -> tuple[str, bytes]:
    fmt = rng.choice(list(SAVE_MODES))
    mode = rng.choice(SAVE_MODES[fmt])
    img = _in_mode(_picture(rng, (rng.randint(1, 96), rng.randint(1, 96))), mode)
    kw: dict[str, object] = {}
    if fmt in ("JPEG", "PNG", "WEBP", "TIFF") and rng.random() < 0.5:
        kw["exif"] = exif_block(rng.randint(1, 8))
    if fmt == "GIF" and rng.random() < 0.3:
        kw.update(save_all=True, append_images=[img.copy()], duration=50)
    if fmt == "JPEG" and rng.random() < 0.3:
        kw["progressive"] = True
    if fmt == "PNG" and mode == "L" and rng.random() < 0.5:  # 1, 2 or 4 bits, some with a colour key
        depth = rng.choice((1, 2, 4))
        key = rng.choice((None, rng.randrange(2**depth)))
        return f"valid PNG L;{depth}", grey_png(np.asarray(img) >> (8 - depth), depth, key)
    try:
        return f"valid {fmt} {mode}", encode(img, fmt, **kw)
    except (OSError, ValueError, KeyError):
        return f"valid {fmt} RGB", encode(_in_mode(img.convert("RGBA"), "RGB"), fmt)


def junk_exif_case(rng: random.Random) -> tuple[str, bytes]:
    fmt = rng.choice(("JPEG", "PNG", "WEBP"))
    junk = rng.choice((b"", b"Exif\x00\x00")) + rng.randbytes(rng.randint(1, 200))
    img = _picture(rng, (48, 32)).convert("RGB")
    return f"junk-exif {fmt}", encode(img, fmt, exif=junk)


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(6)
        pos = rng.randrange(len(buf)) if buf else 0
        if kind == 0:
            for _ in range(rng.randint(1, 16)):
                if buf:
                    buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del buf[pos:]
        elif kind == 2:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 64))
        elif kind == 3:
            buf[pos : pos + rng.randint(1, 64)] = bytes(rng.randint(1, 64))
        elif kind == 4:
            buf[pos:pos] = buf[pos : pos + rng.randint(1, 256)] * rng.randint(1, 8)
        else:
            buf[pos : pos + 4] = struct.pack(">I", rng.choice((0, 1, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF)))
    return bytes(buf)


def mutated_case(rng: random.Random) -> tuple[str, bytes]:
    label, data = valid_case(rng)
    return "mutated " + label.split()[1], mutate(data, rng)


def foreign_case(rng: random.Random) -> tuple[str, bytes]:
    fmt = rng.choice(FOREIGN)
    img = _picture(rng, (rng.randint(8, 64), rng.randint(8, 64))).convert("RGB")
    try:
        data = encode(img, fmt)
    except (OSError, ValueError, KeyError):
        data = b"\x00\x00\x00\x1cftypavif" + rng.randbytes(200)
    if rng.random() < 0.5:
        data = mutate(data, rng)
    return f"foreign {fmt}", data


def random_case(rng: random.Random) -> tuple[str, bytes]:
    prefix = rng.choice(
        (b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"BM", b"II*\x00", b"RIFF\x00\x00\x00\x00WEBP")
    )
    return "random", prefix + rng.randbytes(rng.randint(0, 2048))


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def grey_png(values: np.ndarray, depth: int, key: int | None = None) -> bytes:
    """A grey PNG of these values at bit depth 1, 2, 4 or 8 (Pillow writes only 1 and 8), with an
    optional colour key (``tRNS``) in the same depth."""
    bits = np.unpackbits(values.astype(np.uint8)[..., None], axis=-1)[..., 8 - depth :]
    packed = np.packbits(bits.reshape(values.shape[0], -1), axis=-1)  # rows padded to whole bytes
    rows = np.concatenate([np.zeros((len(packed), 1), np.uint8), packed], axis=1)  # filter 0 each
    ihdr = struct.pack(">IIBBBBB", values.shape[1], values.shape[0], depth, 0, 0, 0, 0)
    trns = _png_chunk(b"tRNS", struct.pack(">H", key)) if key is not None else b""
    idat = _png_chunk(b"IDAT", zlib.compress(rows.tobytes()))
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + trns + idat + _png_chunk(b"IEND", b"")


@functools.cache
def png_bomb(side: int, bit_depth: int) -> bytes:
    """A valid grey PNG of side x side zeros (compressed to a few hundred KB)."""
    row = b"\x00" * (1 + side * bit_depth // 8)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, bit_depth, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def gif_bomb(side: int) -> bytes:
    """A GIF under 100 bytes whose only frame declares side x side pixels."""
    head = b"GIF89a" + struct.pack("<HHBBB", side, side, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"," + struct.pack("<HHHHB", 0, 0, side, side, 0) + b"\x02\x02\x4c\x01\x00"
    return head + frame + b";"


def patched_size(data: bytes, fmt: str, side: int) -> bytes:
    """A small valid file whose header is patched to declare side x side pixels."""
    buf = bytearray(data)
    if fmt == "BMP":
        buf[18:26] = struct.pack("<ii", side, side)
    elif fmt == "JPEG":
        at = buf.find(b"\xff\xc0")
        if at > 0:
            buf[at + 5 : at + 9] = struct.pack(">HH", min(side, 65535), min(side, 65535))
    elif fmt == "TIFF":
        for tag in (256, 257):
            at = buf.find(struct.pack("<HH", tag, 3))
            if at < 0:
                at = buf.find(struct.pack("<HH", tag, 4))
                if at > 0:
                    buf[at + 8 : at + 12] = struct.pack("<I", side)
            else:
                buf[at + 8 : at + 10] = struct.pack("<H", min(side, 65535))
    return bytes(buf)


@functools.cache
def big_jpeg(width: int, height: int) -> bytes:
    """A real photo-sized JPEG (108 MP at 12000 x 9000)."""
    small = _picture(random.Random(width), (width // 50, height // 50)).convert("RGB")
    return encode(small.resize((width, height), Image.Resampling.BILINEAR), "JPEG", quality=80)


def repeated_last_scan(img: Image.Image, copies: int) -> bytes:
    """A progressive JPEG whose last scan is repeated: valid markers, each copy decoded again."""
    data = encode(img, "JPEG", progressive=True, quality=90)
    last = data.rfind(b"\xff\xda")
    return data[:-2] + data[last:-2] * copies + data[-2:]


def jpeg_tiff(pieces: list[bytes], size: tuple[int, int], tile: int | None = None) -> bytes:
    """A grey TIFF (JPEG compression) whose strips of equal height, or ``tile`` x ``tile`` tiles,
    are these JPEG streams (each one as large as its piece)."""
    n, (w, h), counts = len(pieces), size, [len(p) for p in pieces]
    offsets_tag, counts_tag = (324, 325) if tile else (273, 279)
    tags = {256: [w], 257: [h], 258: [8], 259: [7], 262: [1], 277: [1], counts_tag: counts}
    tags.update({322: [tile], 323: [tile]} if tile else {278: [-(-h // n)]})
    table = 8 + 2 + 12 * (len(tags) + 1) + 4  # after the header and the one directory
    tags[offsets_tag] = list(itertools.accumulate([table + 8 * n] + counts[:-1]))
    at = {offsets_tag: table, counts_tag: table + 4 * n}  # where lists of more than one value are
    entries = b"".join(
        struct.pack("<HHII", tag, 4, len(v), v[0] if len(v) == 1 else at[tag]) for tag, v in sorted(tags.items())
    )
    arrays = struct.pack(f"<{2 * n}I", *tags[offsets_tag], *counts)
    return b"II*\x00" + struct.pack("<IH", 8, len(tags)) + entries + struct.pack("<I", 0) + arrays + b"".join(pieces)


SCAN_BOMB_COPIES = (300, 2000, 6000)
"""Copies of the last scan in a scan bomb: over ``MAX_JPEG_SCANS`` (256) whatever the size."""


@functools.cache
def scan_bomb(size: tuple[int, int], copies: int, mode: str = "L") -> bytes:
    """A progressive JPEG of one colour whose last scan, a few bytes, is repeated ``copies`` times:
    6,000 copies take about 70 KB, and each would be decoded again."""
    return repeated_last_scan(Image.new(mode, size, 128), copies)


def tiff_scan_bomb(strips: int, copies: int) -> bytes:
    """A JPEG-compressed TIFF of 64 x 16 strips whose last strip is a scan bomb."""
    return jpeg_tiff([scan_bomb((64, 16), 0)] * (strips - 1) + [scan_bomb((64, 16), copies)], (64, 16 * strips))


def _scan_bomb_case(rng: random.Random) -> tuple[str, bytes]:
    """A JPEG or JPEG-compressed TIFF with more scans than gerec decodes (``bomb scans ...``)."""
    kind, copies = rng.choice(("jpeg", "jpeg 12 MP", "tiff")), rng.choice(SCAN_BOMB_COPIES)
    if kind == "tiff":
        return "bomb scans tiff", tiff_scan_bomb(rng.randint(1, 4), copies)
    if kind == "jpeg 12 MP":  # 176 scans where 166 are allowed: the limit by pixels x scans
        return "bomb scans jpeg 12 MP", scan_bomb((4000, 3000), 170)
    side = rng.choice((16, 64, 500))
    return f"bomb scans jpeg {side}", scan_bomb((side, side), copies, rng.choice(("L", "RGB")))


def bomb_case(rng: random.Random, heavy: bool) -> tuple[str, bytes]:
    choices: list[Callable[[], tuple[str, bytes]]] = [
        lambda: ("bomb gif", gif_bomb(rng.choice((9400, 20000, 65535)))),
        lambda: _scan_bomb_case(rng),
        lambda: (
            "bomb patched " + (f := rng.choice(("BMP", "JPEG", "TIFF"))),
            patched_size(
                encode(_in_mode(_picture(rng, (16, 16)), rng.choice(("RGB", "L", "F")) if f == "TIFF" else "RGB"), f),
                f,
                rng.choice((9400, 30000, 65535)),
            ),
        ),
    ]
    if heavy:
        choices += [
            lambda: ("bomb png 16-bit", png_bomb(9400, 16)),
            lambda: ("bomb png 8-bit", png_bomb(rng.choice((9400, 14000)), 8)),
            lambda: ("large jpeg 12000x9000", big_jpeg(12000, 9000)),
        ]
    return rng.choice(choices)()


def cases(seed: int, n: int, heavy: bool = True) -> Iterator[tuple[int, str, str, bytes]]:
    """``n`` seeded cases: (index, kind, file name, bytes)."""
    rng = random.Random(seed)
    makers: list[tuple[float, Callable[[random.Random], tuple[str, bytes]]]] = [
        (0.35, mutated_case),
        (0.2, valid_case),
        (0.15, random_case),
        (0.1, foreign_case),
        (0.1, junk_exif_case),
        (0.1, lambda r: bomb_case(r, heavy)),
    ]
    weights = [w for w, _ in makers]
    for i in range(n):
        maker = rng.choices([m for _, m in makers], weights)[0]
        kind, data = maker(rng)
        yield i, kind, rng.choice(NAMES), data


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_case(data: bytes, name: str) -> str:
    """The outcome of one case: ``ok``, the gerec error's name, or ``unexpected <type>``."""
    from gerec.errors import GerecError
    from gerec.imaging import load_image

    try:
        load_image(data, name=name)
        return "ok"
    except GerecError as exc:
        return type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
        return f"unexpected {type(exc).__name__}: {str(exc)[:80]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=3.0)
    parser.add_argument("--max-rss-mb", type=float, default=1200.0)
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="time checked against --max-seconds: this process's CPU time (default; not "
        "inflated by other load on the machine) or wall-clock time",
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # Pillow warns about odd tags; the outcome is what counts
    can_reset = _reset_peak_rss()
    outcomes: Counter[str] = Counter()
    by_kind: Counter[tuple[str, str]] = Counter()
    slow: list[tuple[float, float, int, str, str]] = []
    walls: list[float] = []
    cpus: list[float] = []
    started = time.perf_counter()
    for i, kind, name, data in cases(args.seed, args.cases):
        _reset_peak_rss()
        t0, c0 = time.perf_counter(), time.process_time()
        outcome = run_case(data, name)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        walls.append(wall)
        cpus.append(cpu)
        seconds = cpu if args.clock == "cpu" else wall
        rss = _peak_rss_mb()
        outcomes[outcome.split(":")[0]] += 1
        by_kind[(kind.split()[0], outcome.split(":")[0])] += 1
        slow.append((seconds, rss, i, kind, outcome))
        if outcome.startswith("unexpected"):
            print(f"case {i} ({kind}, {name}, {len(data)} bytes): {outcome}", flush=True)
    total = time.perf_counter() - started
    slow.sort(reverse=True)
    worst_rss = max(s[1] for s in slow)
    print(f"\n{args.cases} cases, seed {args.seed}, {total:.0f} s in all")
    for outcome, count in outcomes.most_common():
        print(f"  {count:6d}  {outcome}")
    print("by kind:")
    for (kind, outcome), count in sorted(by_kind.items()):
        print(f"  {kind:<10} {outcome:<16} {count:6d}")
    times = np.array([s[0] for s in slow])
    for clock, values in ((args.clock, times), ("wall", np.array(walls))):
        print(
            f"{clock} time per case: median {1000 * np.median(values):.1f} ms, "
            f"p99 {1000 * np.percentile(values, 99):.0f} ms, max {values.max():.2f} s"
        )
    print(f"peak RSS per case: max {worst_rss:.0f} MB" + ("" if can_reset else " (process peak: VmHWM not resettable)"))
    print(f"slowest cases ({args.clock} time):")
    for seconds, rss, i, kind, outcome in slow[:5]:
        print(f"  case {i}: {seconds:.2f} s, {rss:.0f} MB, {kind} -> {outcome}")
    unexpected = sum(c for o, c in outcomes.items() if o.startswith("unexpected"))
    too_slow = int((times > args.max_seconds).sum())
    too_big = sum(1 for s in slow if s[1] > args.max_rss_mb)
    other = "wall" if args.clock == "cpu" else "cpu"
    other_slow = int((np.array(walls if other == "wall" else cpus) > args.max_seconds).sum())
    print(
        f"unexpected exceptions: {unexpected}; over {args.max_seconds:g} s ({args.clock}): {too_slow} "
        f"(by {other} time, not checked: {other_slow}); over {args.max_rss_mb:g} MB: {too_big}"
    )
    return 1 if unexpected or too_slow or too_big else 0


if __name__ == "__main__":
    sys.exit(main())
