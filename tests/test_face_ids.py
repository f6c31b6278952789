"""Face-set ``ids`` of any kind: long strings, bytes, object arrays, numbers, or none at all."""

from __future__ import annotations

import os

import numpy as np
import pytest

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
