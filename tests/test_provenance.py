"""The OUT.csv.json sidecar: what it records is read back checked; a damaged one is a named error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gerec.errors import InvalidDataset
from gerec.provenance import in_sample_warning, parse_sidecar, read_sidecar, sidecar_path, summary, write_sidecar

GOOD = {
    "format": 1,
    "made_by": "python -m gerec evaluate",
    "created": "2026-12-07 04:00:00 UTC",
    "mode": "tuned",
    "network": {"path": "models/scene_bn_tuned.json", "sha256": "ab" * 32},
    "kind": "label-only",
    "images": None,
    "labeler": "cached",
    "labels_file": {"path": "gaf3/val_labels_dev.json", "sha256": "cd" * 32},
    "cnn_predictions": {"path": "gone.csv"},  # not found when the run was made: no hash
    "in_sample": True,
}


def test_a_written_sidecar_reads_back_and_says_what_made_the_results(tmp_path):
    out = tmp_path / "out.csv"
    assert read_sidecar(out) is None  # none beside it
    write_sidecar(out, GOOD)
    made = read_sidecar(out)
    assert made == GOOD
    assert in_sample_warning(made).startswith("in-sample: the tuned network was tuned on val_labels_dev.json")
    assert summary(made)["CNN predictions"] == "gone.csv (not found)"
    with_bom = b"\xef\xbb\xbf" + json.dumps({**GOOD, "models": {"ensemble.json": "ef" * 32}}).encode()
    assert parse_sidecar(with_bom)["models"] == {"ensemble.json": "ef" * 32}  # saved by a Windows editor


@pytest.mark.parametrize(
    ("change", "wrong"),
    [
        ({"labels_file": "dev.json"}, "labels_file should be a file entry"),
        ({"network": {"sha256": "x"}}, "network should be a file entry"),
        ({"cnn_predictions": {"path": "p.csv", "sha256": 7}}, "cnn_predictions should be a file entry"),
        ({"mode": "best"}, "mode should be one of reference, tuned"),
        ({"mode": ["tuned"]}, "mode should be one of reference, tuned"),
        ({"in_sample": "yes"}, "in_sample should be true or false"),
        ({"models": ["a.onnx"]}, "models should be an object of file name -> sha256"),
        ({"created": 20261207, "format": "1"}, "format should be a number; created should be text"),
        ({"network": "x", "labels_file": "dev.json"}, 'network and labels_file should be a file entry {"path"'),
    ],
)
def test_a_field_of_the_wrong_type_is_named(tmp_path, change, wrong):
    out = tmp_path / "out.csv"
    sidecar_path(out).write_text(json.dumps({**GOOD, **change}), encoding="utf-8")
    with pytest.raises(InvalidDataset) as caught:
        read_sidecar(out)
    assert str(caught.value).startswith(f"{sidecar_path(out)} is damaged (") and wrong in str(caught.value)
    assert str(caught.value).endswith("open the results without it, or run evaluate again to rewrite it")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'\xff\xfe{"mode": "tuned"}', "is not UTF-8 JSON"),
        (b'{"mode": "tuned"', "is not UTF-8 JSON"),
        (b"[1, 2]", "does not say which network made the results"),
        (b'{"kind": "label-only"}', "does not say which network made the results"),
    ],
)
def test_not_a_sidecar_is_a_named_error(tmp_path, data, message):
    out = tmp_path / "out.csv"
    sidecar_path(out).write_bytes(data)
    with pytest.raises(InvalidDataset, match=message) as caught:
        read_sidecar(out)
    assert str(sidecar_path(out)) in str(caught.value)
    with pytest.raises(InvalidDataset, match=rf"^uploaded.json {message}"):
        parse_sidecar(data, "uploaded.json")


def test_an_unreadable_sidecar_is_a_named_error(tmp_path, monkeypatch):
    out = tmp_path / "out.csv"
    write_sidecar(out, GOOD)

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)  # tests run as root here: chmod 0 would not refuse
    with pytest.raises(InvalidDataset, match=r"out.csv.json cannot be read \(Permission denied\)"):
        read_sidecar(out)
