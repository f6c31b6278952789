"""Face sets (``.npz``): ``ids`` of any kind (long strings, bytes, object arrays, numbers, or none at
all), and the arrays checked field by field before anything is scored."""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest

from gerec.config import FER_TEST_FILE, FER_TRAIN_FILE
from gerec.emotion.data import load_face_set
from gerec.errors import InvalidDataset

LONG = "face/" + "x" * 200
CASES = {
    "short and long strings": (np.array(["a", LONG, "é-ß-日本"]), ["a", LONG, "é-ß-日本"]),
    "bytes": (np.array([b"a", b"bb" * 100, "é".encode()]), ["a", "bb" * 100, "é"]),
    "object strings": (np.array(["a", LONG, "日本"], dtype=object), ["a", LONG, "日本"]),
    "object mixed": (np.array([b"q", "r", 7], dtype=object), ["q", "r", "7"]),
    "numbers": (np.array([10, 11, 12]), ["10", "11", "12"]),
}


def write_set(path, **extra):
    np.savez(
        path,
        images=np.zeros((3, 48, 48), np.uint8),
        labels=np.array([0, 3, 6]),
        classes=np.array(["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]),
        **extra,
    )
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_ids_read_as_text(tmp_path, case):
    raw, expected = CASES[case]
    faces = load_face_set(write_set(tmp_path / "faces.npz", ids=raw))
    assert faces.ids.dtype.kind == "U" and faces.ids.tolist() == expected


def test_no_ids_numbers_the_faces(tmp_path):
    assert load_face_set(write_set(tmp_path / "faces.npz")).ids.tolist() == ["0", "1", "2"]


def test_undecodable_bytes_are_escaped(tmp_path):
    faces = load_face_set(write_set(tmp_path / "faces.npz", ids=np.array([b"\xff", b"ok", b""])))
    assert faces.ids.tolist() == ["\\xff", "ok", ""]


class RunsCode:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def test_object_ids_that_are_not_text_are_refused_unrun(tmp_path):
    path = write_set(tmp_path / "faces.npz", ids=np.array([RunsCode(), "b", "c"], dtype=object))
    with pytest.raises(InvalidDataset, match="not strings"):
        load_face_set(path)


def test_ids_of_the_wrong_length_are_refused(tmp_path):
    with pytest.raises(InvalidDataset, match="one per face"):
        load_face_set(write_set(tmp_path / "faces.npz", ids=np.array(["a", "b"])))


# ------------------------------------------------------------------ the arrays, field by field
FER7 = np.array(["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])
FACES = np.random.default_rng(0).integers(0, 256, (3, 48, 48)).astype(np.uint8)
LABELS = np.array([0, 3, 6])


def write_arrays(path, images=FACES, labels=LABELS, classes=FER7):
    np.savez(path, images=images, labels=labels, classes=classes)
    return path


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"images": FACES.astype(np.float32) / 255}, "'images' are float32; store them as uint8 grey levels 0-255"),
        ({"images": FACES.astype(np.int16) * 4}, "'images' are int16 with values from 0 to 1020"),
        ({"images": FACES.astype(np.int64) - 1}, "'images' are int64 with values from -1 to 254"),
        ({"images": FACES.astype(bool)}, "'images' are bool; store them as uint8"),
        ({"images": FACES.reshape(3, -1)}, r"'images' must be \(n, height, width\) grey .* got shape \(3, 2304\)"),
        ({"images": np.repeat(FACES[..., None], 5, -1)}, r"got shape \(3, 48, 48, 5\)"),
        ({"images": FACES[:, :2, :2]}, "'images' are 2x2 pixels; faces must be at least 16x16"),
        ({"labels": np.array([[0], [3], [6]])}, r"'labels' must be one whole number per face .* shape \(3, 1\)"),
        ({"labels": np.array([0.7, 3.7, 6.7])}, "'labels' must be one whole number per face .* got float64"),
        ({"labels": np.array([0, 3, 7])}, "'labels' out of range of its 7 classes"),
        ({"labels": np.array([0, 3])}, "images/labels of different lengths .3 images, 2 labels."),
        ({"classes": np.array("angry")}, r"'classes' must be a list of class names .* shape \(\)"),
        ({"classes": np.arange(7)}, "'classes' must be a list of class names .* got int64"),
        ({"classes": np.array(["happy", "happy", *FER7[2:]])}, "'classes' names a class twice"),
        ({"classes": np.array([f"c{i}" for i in range(7)])}, "none of its classes"),
        ({"classes": np.array([b"\xff", *[c.encode() for c in FER7[1:]]])}, "'classes' are bytes that are not UTF-8"),
    ],
)
def test_malformed_arrays_are_named_errors(tmp_path, arrays, message):
    with pytest.raises(InvalidDataset, match=message):
        load_face_set(write_arrays(tmp_path / "faces.npz", **arrays))


def test_unambiguous_variants_load_as_the_same_faces(tmp_path):
    plain = load_face_set(write_arrays(tmp_path / "plain.npz"))
    assert plain.images.dtype == np.uint8 and plain.classes == tuple(FER7)
    for name, arrays in {
        "bytes classes": {"classes": np.array([c.encode() for c in FER7])},
        "int64 pixels 0-255": {"images": FACES.astype(np.int64)},
        "a grey channel axis": {"images": FACES[..., None]},
        "uint8 labels": {"labels": np.array([0, 3, 6], np.uint8)},
    }.items():
        faces = load_face_set(write_arrays(tmp_path / "variant.npz", **arrays))
        assert faces.classes == plain.classes, name
        assert faces.images.dtype == np.uint8 and np.array_equal(faces.images, plain.images), name
        assert faces.labels.tolist() == [0, 3, 6] and faces.group_labels().tolist() == [2, 0, 1], name
    rgb = load_face_set(write_arrays(tmp_path / "rgb.npz", images=np.repeat(FACES[..., None], 3, -1)))
    assert rgb.images.shape == (3, 48, 48, 3)


def header_only(path, shape, payload=b"\0" * 100):
    """An .npz whose images header declares ``shape`` but whose entry holds only ``payload``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("images.npy", buf.getvalue() + payload)
        for key, value in (("labels", LABELS), ("classes", FER7)):
            out = io.BytesIO()
            np.save(out, value)
            archive.writestr(f"{key}.npy", out.getvalue())
    return path


def test_sizes_are_checked_from_the_headers_before_loading(tmp_path):
    with pytest.raises(InvalidDataset, match=r"'images' declares an array of shape \(10000000, 48, 4800\) .2145.8 GiB"):
        load_face_set(header_only(tmp_path / "huge.npz", (10**7, 48, 4800)))
    with pytest.raises(InvalidDataset, match="'images' declares 6912 bytes .* but holds .*: the file is damaged"):
        load_face_set(header_only(tmp_path / "short.npz", (3, 48, 48)))
    with pytest.raises(InvalidDataset, match="not a face set: no images"):
        np.savez(tmp_path / "none.npz", labels=np.array([0]), classes=FER7)
        load_face_set(tmp_path / "none.npz")


def test_the_fer_2013_files_load_unchanged(fer_dir):
    for name in (FER_TEST_FILE, FER_TRAIN_FILE):
        faces = load_face_set(fer_dir / name)
        with np.load(fer_dir / name) as raw:
            assert np.array_equal(faces.images, raw["images"]) and faces.images.dtype == np.uint8
            assert np.array_equal(faces.labels, raw["labels"]) and faces.ids.tolist() == raw["ids"].tolist()
            assert faces.classes == tuple(raw["classes"].tolist()) == tuple(FER7)
