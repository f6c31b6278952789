"""The OUT.csv.json sidecar: what it records is read back checked; a damaged one is a named error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gerec.cli import main
from gerec.errors import InvalidDataset, OutputError
from gerec.provenance import (
    completeness_warning,
    in_sample_warning,
    parse_sidecar,
    progress_fields,
    read_sidecar,
    sidecar_path,
    summary,
    write_sidecar,
)
from gerec.runs.records import prediction_record

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
    warning = in_sample_warning(made)
    assert warning is not None
    assert warning.startswith("in-sample: the tuned network was tuned on val_labels_dev.json")
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
        (b'\xff\xfe{"mode": "tuned"}', "is not UTF-8 text:"),
        # a cut-short file is valid UTF-8: it was called "not UTF-8 JSON"
        (b'{"mode": "tuned"', r"is cut short \(the file ends inside its JSON\):"),
        (b'{"mode": "tuned",\n  "rows": 3,\n', r"is cut short \(the file ends inside its JSON\):"),
        (b'{"mode": "tuned", "in_sample": tr', r"is cut short \(the file ends inside its JSON\):"),
        (b'{"mode": tuned}', r"is not valid JSON \(broken at line 1, column 10\):"),
        (b" \n", "is empty:"),
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


def test_json_faults_are_told_apart():
    import doctest

    import gerec.provenance

    assert doctest.testmod(gerec.provenance).failed == 0


def test_an_unreadable_sidecar_is_a_named_error(tmp_path, monkeypatch):
    out = tmp_path / "out.csv"
    write_sidecar(out, GOOD)

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)  # tests run as root here: chmod 0 would not refuse
    with pytest.raises(InvalidDataset, match=r"out.csv.json cannot be read \(Permission denied\)"):
        read_sidecar(out)


# --------------------------------------------------------- evaluate writes it (stopped runs, notes)
LABELS = {f"{p}_{i}.jpg": ["people", "smile"] for p in ("pos", "neu", "neg") for i in range(2)}


def _read(out: Path) -> dict[str, Any]:
    """The sidecar beside OUT, which must be there."""
    made = read_sidecar(out)
    assert made is not None, f"no sidecar beside {out}"
    return made


def test_progress_fields_are_checked_and_old_sidecars_still_read(tmp_path):
    out = tmp_path / "out.csv"
    write_sidecar(
        out, {**GOOD, **progress_fields(False, 3, 9, ["gcv unavailable: x; offline answered instead (3 photos)"])}
    )
    made = _read(out)
    assert made["complete"] is False and made["rows_expected"] == 9
    assert summary(made)["finished"] == "no: stopped before the end (or still running)"
    assert summary(made)["labeler notes"].startswith("gcv unavailable: x")
    stopped = completeness_warning(made, 3)
    assert stopped is not None
    assert stopped.startswith("this run did not finish: the results hold 3 of 9 images")
    assert "finished" not in summary(GOOD) and completeness_warning(GOOD, 5) is None  # written before the fields
    finished = {**GOOD, **progress_fields(True, 6, 6, [])}
    assert completeness_warning(finished, 6) is None
    short = completeness_warning(finished, 4)
    assert short is not None
    assert "counts 6 rows but the results hold 4" in short
    for change, wrong in (
        ({"complete": "no"}, "complete should be true or false"),
        ({"rows": -1, "rows_expected": 2.5}, "rows and rows_expected should be a whole number"),
        ({"notes": "gcv down"}, "notes should be a list of text"),
    ):
        with pytest.raises(InvalidDataset, match=wrong):
            parse_sidecar(json.dumps({**GOOD, **change}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv.json"]  # written in one step: no partial file


def test_a_sidecar_that_cannot_be_written_is_an_output_error(tmp_path):
    sidecar_path(tmp_path / "out.csv").mkdir()
    with pytest.raises(OutputError, match="cannot write the provenance file"):
        write_sidecar(tmp_path / "out.csv", GOOD)


def test_a_stopped_evaluate_never_leaves_the_previous_runs_sidecar(tmp_path, monkeypatch):
    """A finished tuned run, then a reference run into the same OUT.csv stopped after 2 rows. Before,
    the tuned run's sidecar stayed beside the reference rows (and the dashboard believed it)."""
    labels, out = tmp_path / "labels.json", tmp_path / "out.csv"
    labels.write_text(json.dumps(LABELS), encoding="utf-8")
    assert main(["evaluate", "--labels", str(labels), "--mode", "tuned", "--out", str(out)]) == 0
    assert _read(out)["mode"] == "tuned"
    # the sidecar on disk as each row is made: what a kill (SIGKILL, SIGTERM, a crash) leaves
    seen: list[dict[str, Any] | None] = []

    def record_then_stop(pred, actual):
        seen.append(read_sidecar(out))
        if len(seen) == 3:
            raise KeyboardInterrupt
        return prediction_record(pred, actual)

    monkeypatch.setattr("gerec.cli.evaluate.prediction_record", record_then_stop)
    assert main(["evaluate", "--labels", str(labels), "--mode", "reference", "--out", str(out)]) == 130
    assert None not in seen  # a sidecar was on disk as each row was made
    sidecars = [s for s in seen if s is not None]
    assert [s["mode"] for s in sidecars] == ["reference"] * 3 and _read(out)["mode"] == "reference"
    assert [s["complete"] for s in sidecars] == [False] * 3
    made = _read(out)
    assert (made["mode"], made["complete"], made["rows"], made["rows_expected"]) == ("reference", False, 2, 6)
    rows = out.read_text(encoding="utf-8").splitlines()[1:]
    assert len(rows) == 2
    stopped = completeness_warning(made, len(rows))
    assert stopped is not None
    assert stopped.startswith("this run did not finish: the results hold 2 of 6")


def test_evaluate_prints_and_records_each_labeler_fallback_once(gcv_fallback_photos, tmp_path, capsys):
    """gcv unavailable for every photo: before, evaluate said nothing (classify did) and only the
    labeler column showed who answered. Real photos through the real engine; no face detector."""
    photos, _ = gcv_fallback_photos
    out = tmp_path / "out.csv"
    code = main(["evaluate", "--images", str(photos), "--labeler", "gcv,manual", "--out", str(out)])
    assert code == 0
    finished = _read(out)
    assert (finished["complete"], finished["rows"], finished["rows_expected"]) == (True, 4, 4)
    note = "gcv unavailable: no credentials configured; manual answered instead (4 photos)"
    assert capsys.readouterr().err.count(f"note: {note}") == 1
    assert _read(out)["notes"] == [note]
