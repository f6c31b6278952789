"""A real SIGTERM sent to a command while it writes its output: the file it replaces is left as it was
(never half-written, never a new file beside an old report), no temporary file is left behind, and
the command exits with 128 + the signal and one plain line. (evaluate's own stop is tested in
tests/test_runs.py; what each command leaves when stopped is in docs/cli.md.)"""

from __future__ import annotations

import csv
import doctest
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gerec.bn.network_file import load_network
from gerec.classes import CLASSES, true_class_of
from gerec.cli import main
from gerec.config import FER_TRAIN_FILE, models_dir
from gerec.emotion.registry import REGISTRY_FILE
from gerec.runs.records import failed_record
from gerec.runs.store import RunStore

STOPPED = 128 + signal.SIGTERM

WAIT_INSIDE_A_WRITE = """
import pathlib, signal, sys, time
import numpy.lib._npyio_impl as npyio

def wait_for_the_signal():  # until the test's SIGTERM ends the process or raises in it
    print("waiting", flush=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.02)

hook, target = sys.argv[1], sys.argv[2]
if hook == "text":  # half of a text file named like TARGET written, then the signal
    real_write_text = pathlib.Path.write_text
    def write_text(self, data, *args, **kwargs):
        if target in self.name:
            with self.open("w", encoding="utf-8") as handle:
                handle.write(data[: len(data) // 2])
                handle.flush()
                wait_for_the_signal()
                handle.write(data[len(data) // 2 :])
            return len(data)
        return real_write_text(self, data, *args, **kwargs)
    pathlib.Path.write_text = write_text
elif hook == "epoch":  # train-faces: each epoch better than the one before; the signal while epoch 2's
    # last.keras is saved (after its best.keras); epoch 1's best.keras copied to TARGET
    import shutil
    from gerec.tf_quiet import quiet_tensorflow
    quiet_tensorflow()
    import keras
    from gerec.emotion.validation_monitor import ValidationMonitor
    real_evaluate, real_epoch_end = ValidationMonitor.evaluate, ValidationMonitor.epoch_end
    real_save, evaluated = keras.Model.save, []
    def evaluate(self, model):
        evaluated.append(1)
        return {**real_evaluate(self, model), "val_accuracy": 0.1 * len(evaluated)}
    def epoch_end(self, model, epoch, logs):
        real_epoch_end(self, model, epoch, logs)
        if epoch == 0:
            shutil.copy(self.ckpt / "best.keras", target)
    def save(self, path, *args, **kwargs):
        if "last" in str(path) and len(evaluated) == 2:
            wait_for_the_signal()
        return real_save(self, path, *args, **kwargs)
    ValidationMonitor.evaluate, ValidationMonitor.epoch_end = evaluate, epoch_end
    keras.Model.save = save
elif hook == "rows":  # the first row of a CSV written, then the signal
    from gerec.fileio import SafeDictWriter
    real_writerow, rows = SafeDictWriter.writerow, []
    def writerow(self, row):
        if rows:
            wait_for_the_signal()
        rows.append(1)
        return real_writerow(self, row)
    SafeDictWriter.writerow = writerow
elif hook == "json":  # half of a JSON document written with json.dump, then the signal
    import json
    def dump(obj, handle, **kwargs):
        text = json.dumps(obj, **kwargs)
        handle.write(text[: len(text) // 2])
        handle.flush()
        wait_for_the_signal()
        handle.write(text[len(text) // 2 :])
    json.dump = dump
elif hook == "score":  # evaluate-faces: the signal while the faces are scored
    import gerec.emotion.scoring as scoring
    real_score = scoring.score_face_set
    def score_face_set(*args, **kwargs):
        wait_for_the_signal()
        return real_score(*args, **kwargs)
    scoring.score_face_set = score_face_set
elif hook == "explain":  # explain-faces: TARGET faces explained, then the signal while the next one is
    from gerec.explain import SaliencyExplainer
    real_explain, explained = SaliencyExplainer.explain, []
    def explain(self, *args, **kwargs):
        if len(explained) == int(target):
            wait_for_the_signal()
        explained.append(1)
        return real_explain(self, *args, **kwargs)
    SaliencyExplainer.explain = explain
else:  # "npz": the first array of an .npz written, then the signal
    real_write_array = npyio.format.write_array
    written = []
    def write_array(*args, **kwargs):
        if written:
            wait_for_the_signal()
        written.append(1)
        return real_write_array(*args, **kwargs)
    npyio.format.write_array = write_array
from gerec.cli import main
sys.exit(main(sys.argv[3:]))
"""
"""Runs a gerec command (the arguments after the first two) that prints ``waiting`` part-way
through writing its output (``text`` TARGET: a text file whose name holds TARGET; ``npz``: an .npz;
``rows``: a CSV, after its first row; ``json``: a JSON document written by ``json.dump``, after
half of it; ``epoch``: train-faces' second checkpoint; ``explain``: explain-faces, after TARGET faces;
``score``: evaluate-faces, before scoring) and then waits for the test's signal."""


def _stopped_mid_write(hook: str, target: str, *command: str) -> str:
    """Run the command, send it SIGTERM inside its write; its stderr. It must exit with 143."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WAIT_INSIDE_A_WRITE, hook, target, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None  # piped
        lines = iter(proc.stdout.readline, "")  # Keras prints its epochs to stdout first
        assert "waiting\n" in lines, proc.communicate(timeout=60)[1][-3000:]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == STOPPED, err[-3000:]
    assert err.strip().splitlines()[-1] == "interrupted by SIGTERM" and "Traceback" not in err
    return err


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_fit_bn_stopped_while_writing_keeps_the_previous_network(gaf_dir, tmp_path):
    """Before, the network was written in place: SIGTERM mid-write left half a scene_bn.json."""
    out = tmp_path / "scene_bn.json"
    shutil.copy(models_dir() / "scene_bn.json", out)
    before = out.read_bytes()
    _stopped_mid_write("text", "scene_bn", "fit-bn", str(gaf_dir / "train_label_histogram.csv"), "-o", str(out))
    assert out.read_bytes() == before
    assert _files(tmp_path) == {"scene_bn.json"}  # no temporary file left


def _small_face_set(fer_dir: Path, path: Path, n: int) -> Path:
    with np.load(fer_dir / FER_TRAIN_FILE) as data:
        picked = np.concatenate([np.flatnonzero(data["labels"] == c)[: n // 7 + 1] for c in range(7)])[:n]
        np.savez(path, images=data["images"][picked], labels=data["labels"][picked], classes=data["classes"])
    return path


def _previous_maps(tmp_path: Path) -> tuple[Path, bytes]:
    """``out/maps.npz`` holding an earlier run's maps, and its bytes."""
    out = tmp_path / "out" / "maps.npz"
    out.parent.mkdir()
    np.savez(out, ids=np.array(["previous"]), predicted=np.array(["Neutral"]), saliency=np.zeros((1, 48, 48)))
    return out, out.read_bytes()


def test_explain_faces_stopped_while_writing_keeps_the_previous_maps(fer_dir, tmp_path):
    """Before, the maps were saved in place: SIGTERM mid-write left a cut-short MAPS.npz."""
    faces = _small_face_set(fer_dir, tmp_path / "faces.npz", 1)
    out, before = _previous_maps(tmp_path)
    command = ["explain-faces", str(faces), "--out", str(out), "--registry", str(models_dir() / REGISTRY_FILE)]
    _stopped_mid_write("npz", "", *command)
    assert out.read_bytes() == before
    assert _files(out.parent) == {"maps.npz"}


@pytest.mark.parametrize("finished", [2, 0])
def test_explain_faces_stopped_between_faces_keeps_the_maps_finished(fer_dir, tmp_path, finished):
    """Before, a stop while faces were explained lost every map made (SIGTERM: no word, exit -15):
    now the faces finished are written, marked incomplete, and stderr says so; with none finished
    the previous file stays."""
    faces = _small_face_set(fer_dir, tmp_path / "faces.npz", 4)
    out, before = _previous_maps(tmp_path)
    command = ["explain-faces", str(faces), "--out", str(out), "--registry", str(models_dir() / REGISTRY_FILE)]
    err = _stopped_mid_write("explain", str(finished), *command)
    assert f"stopped by SIGTERM after {finished} of 4 faces; " in err
    assert _files(out.parent) == {"maps.npz"}  # no temporary file
    if not finished:
        assert out.read_bytes() == before and f"{out} left as it was" in err
        return
    assert f"wrote the 2 finished to {out} (complete: false)" in err
    with np.load(faces) as data, np.load(out) as maps:
        assert list(maps["ids"]) == ["0", "1"] and not maps["complete"]
        assert maps["saliency"].shape == (2, *data["images"].shape[1:3]) and maps["saliency"].any(axis=(1, 2)).all()
        assert set(maps["predicted"]) <= {"Positive", "Neutral", "Negative"} and len(maps["predicted"]) == 2


def test_stopping_examples_run():
    import gerec.stopping

    tested = doctest.testmod(gerec.stopping)
    assert tested.attempted >= 1 and tested.failed == 0


@pytest.mark.parametrize("hook", ["rows", "score"])
def test_evaluate_faces_stopped_keeps_the_previous_results(fer_dir, tmp_path, hook):
    """Before, OUT.csv was written in place: SIGTERM after its first row (``rows``) left a cut-short
    CSV that read like a result; SIGTERM while the faces were scored (``score``) ended the command
    without a word (exit -15)."""
    faces = _small_face_set(fer_dir, tmp_path / "faces.npz", 3)
    out = tmp_path / "out" / "faces.csv"
    out.parent.mkdir()
    out.write_text("id,predicted,p_positive,p_neutral,p_negative\nprevious,Neutral,0.2,0.6,0.2\n", encoding="utf-8")
    before = out.read_bytes()
    command = ["evaluate-faces", str(faces), "--out", str(out), "--registry", str(models_dir() / REGISTRY_FILE)]
    _stopped_mid_write(hook, "", *command)
    assert out.read_bytes() == before
    assert _files(out.parent) == {"faces.csv"}


@pytest.mark.parametrize(("export_format", "hook"), [("csv", "rows"), ("json", "json")])
def test_runs_export_stopped_while_writing_keeps_the_previous_export(tmp_path, export_format, hook):
    """Before, ``runs export --out`` wrote in place: SIGTERM mid-write left a cut-short export that
    could pass for a whole one (here: exit -15, the previous file emptied or cut short)."""
    db = tmp_path / "runs.sqlite"
    with RunStore(db) as store:
        run = store.create_run("set", "reference", "cached", {})
        for i in range(3):
            store.add_prediction(run, failed_record(f"photo_{i}.jpg", "Neutral", "InvalidImage: corrupt"))
    out = tmp_path / "out" / f"export.{export_format}"
    out.parent.mkdir()
    out.write_text("the previous export\n", encoding="utf-8")
    command = ["runs", "--store", str(db), "export", run, "--format", export_format, "--out", str(out)]
    _stopped_mid_write(hook, "", *command)
    assert out.read_text(encoding="utf-8") == "the previous export\n"
    assert _files(out.parent) == {out.name}


def test_explain_faces_says_the_file_numpy_writes():
    """``--out maps`` writes maps.npz (numpy adds the suffix); before, it said 'wrote maps'."""
    import gerec.cli.explain_faces

    tested = doctest.testmod(gerec.cli.explain_faces)
    assert tested.attempted >= 1 and tested.failed == 0


def small_dev_set(gaf_dir: Path, folder: Path, per_class: int = 10) -> list[str]:
    """``tune``'s arguments on the first ``per_class`` dev images of each class (a few seconds)."""
    labels = json.loads((gaf_dir / "val_labels_dev.json").read_text(encoding="utf-8"))
    picked = {
        name: labels[name] for c in CLASSES for name in [n for n in sorted(labels) if true_class_of(n) == c][:per_class]
    }
    (folder / "dev.json").write_text(json.dumps(picked), encoding="utf-8")
    with (gaf_dir / "reference_cnn_val_dev.csv").open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["image"] in picked]
    with (folder / "cnn.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    histogram = str(gaf_dir / "train_label_histogram.csv")
    return [histogram, "--labels", str(folder / "dev.json"), "--cnn-predictions", str(folder / "cnn.csv")]


@pytest.mark.parametrize("stopped_in", ["scene_bn_tuned", "report"])
def test_tune_stopped_while_writing_keeps_the_previous_network_and_report(gaf_dir, tmp_path, stopped_in):
    """Before, the network was written in place, then its report: SIGTERM inside the network's write
    left half a network; inside the report's, the new network beside half a report."""
    out = tmp_path / "out" / "scene_bn_tuned.json"
    out.parent.mkdir()
    report = out.with_suffix(".report.json")
    out.write_text("the previous network\n", encoding="utf-8")
    report.write_text("the previous report\n", encoding="utf-8")
    command = ["tune", *small_dev_set(gaf_dir, tmp_path), "--folds", "2", "--no-ablations"]
    _stopped_mid_write("text", stopped_in, *command, "-o", str(out), "--report", str(report))
    assert out.read_text(encoding="utf-8") == "the previous network\n"
    assert report.read_text(encoding="utf-8") == "the previous report\n"
    assert _files(out.parent) == {"scene_bn_tuned.json", "scene_bn_tuned.report.json"}


def test_tune_makes_the_folder_of_its_report(gaf_dir, tmp_path):
    """The network and report are now replaced together, so a report that cannot be written would
    cost the network too: its folder is made, as -o's is (before: exit 3 after the network was written)."""
    out, report = tmp_path / "net" / "tuned.json", tmp_path / "reports" / "tuned.report.json"
    command = ["tune", *small_dev_set(gaf_dir, tmp_path), "--folds", "2", "--no-ablations"]
    assert main([*command, "-o", str(out), "--report", str(report)]) == 0
    assert json.loads(report.read_text(encoding="utf-8"))["final"] == load_network(out).metadata["hyperparameters"]


@pytest.mark.slow
def test_train_faces_stopped_at_its_report_keeps_the_previous_member_and_resumes(fer_dir, tmp_path):
    """Before, the member was replaced, then evaluated, then its report written: SIGTERM in between
    left the new member beside the previous member's report (figures of another network)."""
    data = _small_face_set(fer_dir, tmp_path / "faces.npz", 140)
    out = tmp_path / "member.keras"
    out.write_bytes(b"the previous member")
    out.with_suffix(".report.json").write_text("the previous report\n", encoding="utf-8")
    command = ["train-faces", str(data), "--out", str(out), "--width", "0.25", "--epochs", "1", "--batch", "32"]
    _stopped_mid_write("text", ".report", *command)
    assert out.read_bytes() == b"the previous member"
    assert out.with_suffix(".report.json").read_text(encoding="utf-8") == "the previous report\n"
    kept = _files(tmp_path) - {"faces.npz", "member.keras", "member.report.json"}
    assert kept == {"member.ckpt/best.keras", "member.ckpt/last.keras", "member.ckpt/progress.json"}
    resumed = subprocess.run(
        [sys.executable, "-m", "gerec", *command, "--resume"], capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (
        out.read_bytes() != b"the previous member" and '"best_epoch": 1' in out.with_suffix(".report.json").read_text()
    )
    assert _files(tmp_path) == {"faces.npz", "member.keras", "member.report.json"}


@pytest.mark.slow
def test_train_faces_stopped_mid_checkpoint_resumes_from_a_whole_one(fer_dir, tmp_path):
    """Before, an epoch's checkpoint was three files replaced one by one: SIGTERM while last.keras was
    saved left epoch 2's best.keras beside epoch 1's progress.json, which --resume then trusted (its
    best_epoch naming weights it did not describe)."""
    data = _small_face_set(fer_dir, tmp_path / "faces.npz", 140)
    out, first_best = tmp_path / "member.keras", tmp_path / "best_after_epoch_1.keras"
    command = ["train-faces", str(data), "--out", str(out), "--width", "0.25", "--epochs", "3", "--batch", "32"]
    _stopped_mid_write("epoch", str(first_best), *command)
    ckpt = tmp_path / "member.ckpt"
    assert _files(ckpt) == {"best.keras", "last.keras", "progress.json"}
    progress = json.loads((ckpt / "progress.json").read_text(encoding="utf-8"))
    assert (len(progress["history"]), progress["best_epoch"]) == (1, 1)
    assert (ckpt / "best.keras").read_bytes() == first_best.read_bytes()  # the epoch progress.json names
    assert not out.exists()
