"""``cut-faces``: aligned crops of labelled group photos land in OUT_DIR/<class>/."""

from __future__ import annotations

import shutil

import cv2
import pytest

from gerec.errors import InvalidDataset


def test_cut_faces_writes_aligned_crops_by_class(photos_dir, tmp_path, capsys):
    from gerec.cli import main

    src = tmp_path / "photos"
    (src / "Negative").mkdir(parents=True)
    shutil.copy(photos_dir / "pos_1000.jpg", src / "pos_1000.jpg")  # GAF prefix -> Positive
    shutil.copy(photos_dir / "image_negative_1.jpg", src / "Negative" / "a.jpg")  # class folder
    shutil.copy(photos_dir / "image_neutral.jpg", src / "unlabelled.jpg")  # no class: left out
    out = tmp_path / "crops"
    assert main(["cut-faces", str(src), str(out), "--size", "96"]) == 0
    printed = capsys.readouterr()
    assert "1 photo(s) without a class" in printed.err
    positive = sorted((out / "Positive").glob("*.png"))
    negative = sorted((out / "Negative").glob("*.png"))
    assert positive and negative and not list((out / "Neutral").glob("*"))
    assert all(p.name.startswith("pos_1000_f") for p in positive)
    crop = cv2.imread(str(positive[0]))
    assert crop is not None and crop.shape == (96, 96, 3)
    assert f"Positive: {len(positive)}" in printed.out


def test_cut_faces_needs_labelled_photos(tmp_path):
    from gerec.cli.cut_faces import cut_faces

    (tmp_path / "x.jpg").write_bytes(b"")
    with pytest.raises(InvalidDataset, match="no photo with a class"):
        cut_faces(tmp_path, tmp_path / "out")
    with pytest.raises(InvalidDataset, match="not a folder"):
        cut_faces(tmp_path / "missing", tmp_path / "out")
