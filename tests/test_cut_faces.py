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


class OneFace:
    """A detector that finds one face in every photo (the crop logic without MTCNN)."""

    def __init__(self, min_confidence: float = 0.9) -> None:
        pass

    def detect(self, pixels):
        from gerec.types import Face

        h, w = pixels.shape[:2]
        return (
            Face(
                0,
                (w // 4, h // 4, w // 2, h // 2),
                0.99,
                {"left_eye": (w * 0.4, h * 0.4), "right_eye": (w * 0.6, h * 0.4)},
            ),
        )


def photo_tree(root):
    from PIL import Image

    for folder in ("a", "b"):
        (root / folder).mkdir(parents=True)
        Image.new("RGB", (80, 60), (90, 40, 40)).save(root / folder / "pos_1.png")
    return root


def test_same_names_never_overwrite_and_are_reported(tmp_path, monkeypatch, capsys):
    import gerec.faces
    from gerec.cli import main

    monkeypatch.setattr(gerec.faces, "FaceDetector", OneFace)
    src, out = photo_tree(tmp_path / "photos"), tmp_path / "crops"
    assert main(["cut-faces", str(src), str(out), "--size", "32"]) == 0
    assert sorted(p.name for p in (out / "Positive").iterdir()) == ["pos_1_f0-2.png", "pos_1_f0.png"]
    first = (out / "Positive" / "pos_1_f0.png").read_bytes()
    assert main(["cut-faces", str(src), str(out), "--size", "32"]) == 0  # a rerun adds, never replaces
    assert len(list((out / "Positive").iterdir())) == 4
    assert (out / "Positive" / "pos_1_f0.png").read_bytes() == first
    assert "got a -N suffix" in capsys.readouterr().err


def test_refused_writes_are_errors_not_counts(tmp_path, monkeypatch, capsys):
    import gerec.faces
    from gerec.cli import main

    monkeypatch.setattr(gerec.faces, "FaceDetector", OneFace)
    src, out = photo_tree(tmp_path / "photos"), tmp_path / "crops"
    out.mkdir()
    (out / "Positive").write_text("a file where the class folder should be")
    assert main(["cut-faces", str(src), str(out)]) == 2
    assert "OutputError" in capsys.readouterr().err
    (out / "Positive").unlink()
    monkeypatch.setattr(cv2, "imencode", lambda *a, **k: (False, None))
    assert main(["cut-faces", str(src), str(out)]) == 2
    err = capsys.readouterr()
    assert "could not encode" in err.err and "Positive: " not in err.out


def test_unreadable_photos_give_exit_1(tmp_path, monkeypatch, capsys):
    import gerec.faces
    from gerec.cli import main

    monkeypatch.setattr(gerec.faces, "FaceDetector", OneFace)
    src = photo_tree(tmp_path / "photos")
    (src / "a" / "pos_2.png").write_bytes(b"\x89PNG broken")
    assert main(["cut-faces", str(src), str(tmp_path / "crops")]) == 1
    printed = capsys.readouterr()
    assert "1 photo(s) could not be read" in printed.err and "Positive: 2" in printed.out


def test_any_photo_failure_is_counted_and_the_batch_goes_on(tmp_path, monkeypatch, capsys):
    import gerec.faces
    import gerec.imaging
    from gerec.cli import main

    monkeypatch.setattr(gerec.faces, "FaceDetector", OneFace)
    src = photo_tree(tmp_path / "photos")
    big = src / "a" / "pos_0_big.png"
    big.write_bytes((src / "a" / "pos_1.png").read_bytes())
    with big.open("r+b") as handle:
        handle.truncate(gerec.imaging.MAX_FILE_BYTES + 1)  # sparse
    load = gerec.imaging.load_image

    def out_of_memory_on_a1(path, *args, **kwargs):
        if path == src / "a" / "pos_1.png":
            raise MemoryError
        return load(path, *args, **kwargs)

    monkeypatch.setattr(gerec.imaging, "load_image", out_of_memory_on_a1)
    assert main(["cut-faces", str(src), str(tmp_path / "crops")]) == 1
    printed = capsys.readouterr()
    assert "pos_0_big.png: ImageTooLarge: " in printed.err and "at most 50 MB" in printed.err
    assert "pos_1.png: unexpected MemoryError" in printed.err
    assert "2 photo(s) could not be read or analysed" in printed.err
    assert "Positive: 1" in printed.out  # b/pos_1.png, after both failures, is still cut
