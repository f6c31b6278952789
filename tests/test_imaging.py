"""Every bad or unusual photo gets a clear, named outcome."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from tool_module import load_tool

from gerec.errors import ImageTooLarge, InvalidImage
from gerec.imaging import MAX_SIDE, load_image

fuzz = load_tool("fuzz_images")


@pytest.fixture(scope="module")
def photo_bytes(photos_dir) -> bytes:
    return (photos_dir / "image_happy_1.jpg").read_bytes()


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def test_real_photo(photo_bytes):
    photo = load_image(photo_bytes, name="x.jpg")
    assert photo.pixels.dtype == np.uint8 and photo.pixels.shape[2] == 3
    assert photo.size == photo.original_size and photo.scale == 1.0


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"this is a text file, not a photo\n" * 5, "not an image"),
        (b"\xff\xd8\xff\xe0" + bytes(range(256)) * 20, "corrupt"),
    ],
)
def test_unreadable_inputs(data, reason):
    with pytest.raises(InvalidImage, match=reason):
        load_image(data, name="bad.jpg")


def test_truncated_jpeg(photo_bytes):
    with pytest.raises(InvalidImage, match="truncated"):
        load_image(photo_bytes[: len(photo_bytes) // 2], name="half.jpg")


def test_missing_file(tmp_path):
    with pytest.raises(InvalidImage, match="no such file"):
        load_image(tmp_path / "nope.jpg")


def test_cmyk_is_converted(photo_bytes):
    rgb = Image.open(io.BytesIO(photo_bytes)).convert("RGB")
    photo = load_image(encode(rgb.convert("CMYK"), "JPEG", quality=95))
    assert photo.pixels.shape == (rgb.height, rgb.width, 3)
    diff = np.abs(photo.pixels.astype(int) - np.asarray(rgb).astype(int)).mean()
    assert diff < 20  # same picture, not inverted or garbled


def test_alpha_is_composited_on_white():
    rgba = np.zeros((40, 60, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[:, :30, 3] = 255  # left half opaque red, right half transparent
    photo = load_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert tuple(photo.pixels[10, 5]) == (200, 0, 0)
    assert tuple(photo.pixels[10, 50]) == (255, 255, 255)


def test_16_bit_png_is_scaled_to_8_bit():
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (16, 1))
    photo = load_image(encode(Image.fromarray(ramp), "PNG"))
    assert photo.pixels.dtype == np.uint8
    assert photo.pixels[0, 0, 0] == 0 and photo.pixels[0, -1, 0] == 255


def test_exif_rotation_is_applied():
    img = np.zeros((100, 200, 3), dtype=np.uint8)
    img[:, :20] = 255  # white band on the left of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    photo = load_image(encode(Image.fromarray(img), "JPEG", exif=exif.tobytes(), quality=95))
    assert photo.pixels.shape[:2] == (200, 100)  # portrait once rotated
    assert photo.pixels[5, 50].mean() > 200  # the band is now at the top
    assert photo.pixels[-5, 50].mean() < 50
    assert photo.original_size == (100, 200)


def test_huge_photo_is_downscaled():
    big = Image.new("RGB", (6000, 3000), (10, 120, 30))
    photo = load_image(encode(big, "JPEG", quality=80))
    assert max(photo.pixels.shape[:2]) <= MAX_SIDE
    assert photo.original_size == (6000, 3000)
    assert photo.scale == pytest.approx(MAX_SIDE / 6000, rel=0.01)


def test_decompression_bomb_guard_stays_on(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    with pytest.raises(ImageTooLarge):
        load_image(encode(Image.new("L", (3000, 3000)), "PNG"))


def test_cli_reports_bad_files_without_traceback(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.png").write_text("hello")
    proc = subprocess.run(
        [sys.executable, "-m", "gerec", "classify", str(tmp_path / "empty.jpg"), str(tmp_path / "notes.png")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "empty.jpg  error: InvalidImage" in proc.stdout
    assert "notes.png  error: InvalidImage" in proc.stdout
    assert proc.returncode == 1


def test_a_file_over_the_size_limit_is_refused_before_reading(photo_bytes, tmp_path, monkeypatch):
    from gerec import imaging

    at_limit, over = tmp_path / "at_limit.jpg", tmp_path / "over.jpg"
    for path, size in ((at_limit, imaging.MAX_FILE_BYTES), (over, imaging.MAX_FILE_BYTES + 1)):
        path.write_bytes(photo_bytes)
        with path.open("r+b") as handle:
            handle.truncate(size)  # sparse: zeros after the JPEG's end, no disk used
    assert load_image(at_limit).size == load_image(photo_bytes).size
    with pytest.raises(ImageTooLarge, match=r"over\.jpg: the file is 50\.0 MB; gerec reads photos of at most 50 MB"):
        load_image(over)
    monkeypatch.setattr(imaging, "MAX_FILE_BYTES", len(photo_bytes) - 1)  # bytes and streams: the same limit
    with pytest.raises(ImageTooLarge, match="at most"):
        load_image(photo_bytes, name="x.jpg")
    with pytest.raises(ImageTooLarge, match=r"<stream>: the file is over"):
        load_image(io.BytesIO(photo_bytes))


def test_a_jpeg_with_too_many_scans_is_refused_before_decoding(monkeypatch):
    from gerec import jpeg_scans

    small = Image.new("L", (64, 64), 128)
    assert load_image(fuzz.repeated_last_scan(small, jpeg_scans.MAX_JPEG_SCANS - 10)).size == (64, 64)
    with pytest.raises(ImageTooLarge, match=r"64 x 64 pixels with more than 256 scans"):
        load_image(fuzz.repeated_last_scan(small, jpeg_scans.MAX_JPEG_SCANS), name="bomb.jpg")
    # the larger the picture, the fewer scans: pixels x scans is bounded
    monkeypatch.setattr(jpeg_scans, "MAX_JPEG_SCAN_PIXELS", 64 * 64 * 20)
    assert load_image(fuzz.repeated_last_scan(small, 10)).size == (64, 64)
    with pytest.raises(ImageTooLarge, match="more than 20 scans; gerec decodes at most 20 at this size"):
        load_image(fuzz.repeated_last_scan(small, 20))


def test_a_jpeg_compressed_tiff_with_too_many_scans_in_a_strip_is_refused(monkeypatch):
    from gerec import jpeg_scans

    def piece(copies: int, size: tuple[int, int] = (64, 16)) -> bytes:  # libjpeg's 6 grey scans + copies
        return fuzz.repeated_last_scan(Image.new("L", size, 128), copies)

    monkeypatch.setattr(jpeg_scans, "MAX_JPEG_SCAN_PIXELS", 64 * 64 * 20)  # 20 scans at 64 x 64
    ordinary = [
        fuzz.jpeg_tiff([piece(0)] * 4, (64, 64)),  # 24 scans in the file, 6 in each strip
        fuzz.jpeg_tiff([piece(14)] * 4, (64, 64)),  # 20 in each strip: as many as allowed
        encode(Image.new("RGB", (64, 64), (200, 30, 30)), "TIFF", compression="jpeg"),
    ]
    for data in ordinary:
        assert load_image(data).size == (64, 64)
    bombs = [  # libtiff alone decodes these: it stops at 100 scans a strip, whatever the size
        fuzz.jpeg_tiff([piece(0)] * 3 + [piece(15)], (64, 64)),  # the last strip has 21
        fuzz.jpeg_tiff([piece(0, (16, 16))] * 15 + [piece(15, (16, 16))], (64, 64), tile=16),
    ]
    for data in bombs:
        with pytest.raises(
            ImageTooLarge, match="JPEG-compressed TIFF of 64 x 64 pixels with more than 20 scans in one"
        ):
            load_image(data, name="bomb.tif")


def test_scan_markers_outside_the_picture_are_not_counted():
    from gerec.jpeg_scans import jpeg_scans

    img = Image.new("RGB", (64, 48), (200, 30, 30))
    plain = encode(img, "JPEG", progressive=True)
    scans = b"\xff\xda" * 400
    data = encode(img, "JPEG", progressive=True, comment=scans) + scans  # in a comment, and after the end
    assert data.count(b"\xff\xda") > 800
    assert jpeg_scans(data, stop_after=10) == jpeg_scans(plain, stop_after=10) == 10  # libjpeg's colour script
    assert load_image(data).size == (64, 48)


@pytest.mark.parametrize("max_side", [MAX_SIDE, 20])  # as decoded, and reduced by a whole factor first
def test_colour_key_transparency_is_composited_on_white(max_side):
    grey = np.full((40, 60), 90, dtype=np.uint8)
    grey[:, 30:] = 0  # right half: the key
    rgb = np.stack([grey] * 3, axis=-1)
    rgb[:, :30, 0] = 200
    wide = np.full((40, 60), 3000, dtype=np.uint16)
    wide[:, 30:] = 7
    cases = [
        (encode(Image.fromarray(grey), "PNG", transparency=0), (90, 90, 90)),
        (encode(Image.fromarray(rgb), "PNG", transparency=(0, 0, 0)), (200, 90, 90)),
        (encode(Image.fromarray(wide), "PNG", transparency=7), (12, 12, 12)),
    ]
    for data, opaque in cases:
        pixels = load_image(data, max_side=max_side).pixels
        w = pixels.shape[1]
        assert tuple(pixels[5, 2]) == opaque and tuple(pixels[5, w - 3]) == (255, 255, 255)


@pytest.mark.parametrize("max_side", [MAX_SIDE, 20])  # as decoded, and reduced by a whole factor first
@pytest.mark.parametrize("depth", [2, 4])
def test_low_bit_grey_colour_key_decodes_like_8_bit(depth, max_side):
    top = 2**depth - 1
    levels = (np.arange(60)[None, :] + np.arange(40)[:, None]) % (top + 1)  # every level, 40 x 60
    eight = Image.fromarray((levels * 255 // top).astype(np.uint8))  # as Pillow unpacks 2 and 4 bits

    def pixels(data: bytes) -> np.ndarray:
        return load_image(data, max_side=max_side).pixels

    for key in (0, 1, top):  # the key is in the file's bit depth
        keyed = pixels(fuzz.grey_png(levels, depth, key))
        assert np.array_equal(keyed, pixels(encode(eight, "PNG", transparency=key * 255 // top))), f"key {key}"
        if max_side == MAX_SIDE:  # and that is the key's pixels on white, the others as they are
            assert np.array_equal(keyed[..., 0], np.where(levels == key, 255, np.asarray(eight)))
    # a key no pixel of this depth holds (85 or 17: the 8-bit value of 1) makes nothing transparent
    assert np.array_equal(pixels(fuzz.grey_png(levels, depth, 255 // top)), pixels(fuzz.grey_png(levels, depth)))


def test_arrays_follow_the_rules_of_files():
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (30, 40, 4), dtype=np.uint8)
    assert np.array_equal(load_image(rgba).pixels, load_image(encode(Image.fromarray(rgba), "PNG")).pixels)
    assert tuple(load_image(np.zeros((20, 20, 4), np.uint8)).pixels[0, 0]) == (255, 255, 255)  # transparent
    deep = rng.integers(0, 65536, (30, 40), dtype=np.uint16)
    deep[0, 0] = 32768
    as_png = load_image(encode(Image.fromarray(deep), "PNG")).pixels
    assert np.array_equal(load_image(deep).pixels, as_png) and as_png[0, 0, 0] == 128
    assert load_image(np.eye(8, dtype=bool)).pixels[:2, :2, 0].tolist() == [[255, 0], [0, 255]]
    assert load_image(np.full((8, 8, 3), 0.5)).pixels[0, 0, 0] == 128
    assert load_image(np.full((8, 8), 200, dtype=np.int64)).pixels[0, 0, 0] == 200
    refused = {
        "must hold 0.0 to 1.0": np.full((8, 8), 200.0),
        "NaN or infinite": np.full((8, 8), np.nan, dtype=np.float32),
        "must hold 0 to 255": np.full((8, 8), 300, dtype=np.int32),
        "is not pixels": np.zeros((8, 8), dtype=complex),
        "expected an HxW": np.zeros((8, 8, 2), dtype=np.uint8),
    }
    for reason, arr in refused.items():
        with pytest.raises(InvalidImage, match=reason):
            load_image(arr)
