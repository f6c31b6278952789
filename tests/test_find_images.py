"""Folder scans find every photo suffix Pillow registers for gerec's formats and say what they left out."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from gerec.cli.common import find_images
from gerec.errors import InvalidDataset
from gerec.imaging import FORMATS, IMAGE_SUFFIXES


def test_the_suffixes_are_every_one_pillow_registers_for_the_formats():
    registered = {suffix for suffix, fmt in Image.registered_extensions().items() if fmt in FORMATS}
    assert registered == IMAGE_SUFFIXES
    assert {".jfif", ".jpe"} <= IMAGE_SUFFIXES and ".heic" not in IMAGE_SUFFIXES


def test_other_files_are_left_out_and_counted(tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    for name in ("a.jpg", "b.jfif", "sub/c.JPE", "IMG_0001", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in find_images([tmp_path])] == ["a.jpg", "b.jfif", "c.JPE"]
    err = capsys.readouterr().err
    assert "2 other file(s), e.g. IMG_0001 left out, not named as photos" in err
    assert find_images([tmp_path / "IMG_0001"]) == [tmp_path / "IMG_0001"]  # a file named as such is tried
    assert capsys.readouterr().err == ""


def test_the_folders_labels_file_is_expected_not_reported(tmp_path, capsys):
    """labels.json beside the photos is the documented layout (classify reads it): no note about it."""
    for name in ("a.jpg", "labels.json"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in find_images([tmp_path])] == ["a.jpg"]
    assert capsys.readouterr().err == ""


def test_a_fifo_named_like_a_photo_is_counted_not_opened(tmp_path, capsys):
    (tmp_path / "a.jpg").write_bytes(b"x")
    os.mkfifo(tmp_path / "live.jpg")  # opening it would wait for a writer forever
    (tmp_path / "gone.png").symlink_to(tmp_path / "nowhere.png")
    assert [p.name for p in find_images([tmp_path])] == ["a.jpg"]
    err = capsys.readouterr().err
    assert "2 special file(s), e.g. gone.png left out, not regular files (FIFO, socket, device" in err
    assert "not named as photos" not in err
    (tmp_path / "a.jpg").unlink()
    with pytest.raises(InvalidDataset, match=r"no photos in this folder .*; 2 special file\(s\), e.g. gone.png"):
        find_images([tmp_path])


def test_a_folder_without_photos_names_what_it_holds(tmp_path):
    (tmp_path / "IMG_0001").write_bytes(b"x")
    with pytest.raises(InvalidDataset, match=r"no photos in this folder .*; 1 other file\(s\), e.g. IMG_0001"):
        find_images([tmp_path])
