"""Seeded fuzzing and the decode budget: any bytes end as a photo or a named error, in bounded memory."""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from contextlib import contextmanager

import numpy as np
import pytest
from PIL import Image
from tool_module import load_tool

from gerec import imaging
from gerec.errors import ImageTooLarge, InvalidImage
from gerec.imaging import MAX_SIDE, load_image

fuzz = load_tool("fuzz_images")


def test_seeded_fuzz_has_no_unexpected_exception():
    outcomes: Counter[str] = Counter()
    scan_bombs: Counter[str] = Counter()
    for _, kind, name, data in fuzz.cases(seed=16, n=2500, heavy=False):
        outcome = fuzz.run_case(data, name)
        assert not outcome.startswith("unexpected"), f"{kind} {name}: {outcome}"
        outcomes[outcome] += 1
        if kind.startswith("bomb scans"):  # too many scans: refused before decoding, JPEG or TIFF
            assert outcome == "ImageTooLarge", f"{kind} {name}: {outcome}"
            scan_bombs[kind.split()[2]] += 1
    # the generator reaches every outcome, so the assertions above are not vacuous
    assert outcomes["ok"] > 500 and outcomes["InvalidImage"] > 500 and outcomes["ImageTooLarge"] > 10
    assert scan_bombs["jpeg"] > 20 and scan_bombs["tiff"] > 10


def test_other_formats_are_refused_by_content_whatever_the_name():
    ppm = fuzz.encode(Image.new("RGB", (8, 8)), "PPM")
    with pytest.raises(InvalidImage, match="not an image file gerec can read"):
        load_image(ppm, name="holiday.jpg")
    with pytest.raises(InvalidImage, match="not an image file gerec can read"):
        load_image(b"\x00\x00\x00\x1cftypavif" + bytes(300), name="x.png")  # AVIF/HEIF box
    png = fuzz.encode(Image.new("RGB", (8, 8)), "PNG")
    assert load_image(png, name="named-wrongly.gif").size == (8, 8)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (fuzz.gif_bomb(9400), "96 bytes.gif"),
        (fuzz.patched_size(fuzz.encode(Image.new("F", (16, 16)), "TIFF"), "TIFF", 9400), "float.png"),
        (fuzz.patched_size(fuzz.encode(Image.new("RGB", (16, 16)), "BMP"), "BMP", 30000), "x.bmp"),
    ],
)
def test_small_files_declaring_huge_sizes_end_quickly(data, name):
    with pytest.raises(InvalidImage):  # ImageTooLarge or corrupt; never minutes or gigabytes
        load_image(data, name=name)


def test_budget_counts_bit_depth_and_channels():
    assert imaging.decoded_bytes("L", (100, 10)) == 1000
    assert imaging.decoded_bytes("I;16", (100, 10)) == 2000
    assert imaging.decoded_bytes("RGB", (100, 10)) == 4000  # Pillow stores RGB in 4 bytes
    assert imaging.decoded_bytes("F", (100, 10)) == 4000


def test_over_budget_is_refused_before_decoding(monkeypatch):
    monkeypatch.setattr(imaging, "MAX_DECODE_BYTES", 2 * 400 * 400)
    grey8 = fuzz.encode(Image.new("L", (400, 400)), "PNG")
    grey16 = fuzz.encode(Image.fromarray(np.zeros((400, 400), np.uint16)), "PNG")
    assert load_image(grey8).size == (400, 400)
    assert load_image(grey16).size == (400, 400)
    with pytest.raises(ImageTooLarge, match="400 x 400 pixels .RGB. need"):
        load_image(fuzz.encode(Image.new("RGB", (400, 400)), "PNG"))


def test_16_bit_bomb_is_reduced_within_memory():
    photo = load_image(fuzz.png_bomb(9400, 16), name="bomb.png")
    assert photo.original_size == (9400, 9400) and max(photo.size) <= MAX_SIDE


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # gerec's own budget decides
def test_108_megapixel_jpeg_is_drafted_not_refused():
    big = Image.new("L", (12000, 9000), 90)
    photo = load_image(fuzz.encode(big, "JPEG", quality=70), name="phone.jpg")
    assert photo.original_size == (12000, 9000)
    assert max(photo.size) == MAX_SIDE and photo.scale == pytest.approx(MAX_SIDE / 12000, rel=0.01)
    assert int(photo.pixels.mean()) in range(85, 96)


def test_budget_is_shared_between_threads(monkeypatch):
    one = imaging.decoded_bytes("RGB", (300, 300))
    budget = imaging.DecodeBudget(total=3 * one)
    monkeypatch.setattr(imaging, "BUDGET", budget)
    held: list[int] = []
    original = budget.reserve

    @contextmanager
    def watching(nbytes):
        with original(nbytes):
            held.append(budget.in_use)
            time.sleep(0.002)  # hold it a moment so that threads overlap
            yield

    monkeypatch.setattr(budget, "reserve", watching)
    data = fuzz.encode(Image.new("RGB", (300, 300), (1, 2, 3)), "PNG")
    bomb = fuzz.encode(Image.new("RGB", (300, 300)), "PNG")
    errors: list[BaseException] = []

    def work():
        try:
            for _ in range(20):
                assert load_image(data).size == (300, 300)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    monkeypatch.setattr(imaging, "MAX_DECODE_BYTES", one)
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and budget.in_use == 0 and len(held) == 160
    assert max(held) <= budget.total and max(held) > one  # decodes overlapped, never beyond the budget
    monkeypatch.setattr(imaging, "MAX_DECODE_BYTES", one - 1)  # the same verdict in every thread
    verdicts = []
    pool = [threading.Thread(target=lambda: verdicts.append(_outcome(bomb))) for _ in range(16)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=60)
    assert verdicts == ["ImageTooLarge"] * 16


def test_a_photo_larger_than_the_whole_budget_does_not_wait_forever(monkeypatch):
    monkeypatch.setattr(imaging, "BUDGET", imaging.DecodeBudget(total=100))
    assert load_image(fuzz.encode(Image.new("RGB", (40, 40)), "PNG")).size == (40, 40)


def _outcome(data: bytes) -> str:
    try:
        load_image(data)
        return "ok"
    except InvalidImage as exc:
        return type(exc).__name__


def test_junk_exif_in_jpeg_is_dropped_by_pillow_itself():
    buf = io.BytesIO()
    Image.new("RGB", (40, 30)).save(buf, "JPEG", exif=b"Exif\x00\x00" + b"not a tiff header at all")
    assert load_image(buf.getvalue()).size == (40, 30)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_junk_exif_is_ignored_with_a_note(fmt):
    img = Image.new("RGB", (40, 30), (200, 10, 10))
    buf = io.BytesIO()
    img.save(buf, fmt, exif=b"Exif\x00\x00" + b"not a tiff header at all")
    photo = load_image(buf.getvalue(), name=f"x.{fmt.lower()}")
    assert photo.size == (40, 30)
    assert any("EXIF ignored" in note for note in photo.notes)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation(orientation):
    img = np.zeros((20, 40, 3), np.uint8)
    img[:2, :2] = 255  # a white corner at the stored top-left
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG", exif=fuzz.exif_block(orientation))
    photo = load_image(buf.getvalue())
    expected = (40, 20) if orientation < 5 else (20, 40)
    assert photo.size == expected and photo.notes == ()
    assert photo.pixels.max() == 255
