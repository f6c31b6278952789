"""The CLI as a demo shows it: provenance and in-sample warnings, summaries first, progress, usage."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gerec.provenance import read_sidecar

pytestmark = pytest.mark.slow


def gerec(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gerec", *args], capture_output=True, text=True, timeout=timeout)


def test_evaluate_records_what_made_it_and_warns_in_sample(gaf_dir, tmp_path):
    db, labels = tmp_path / "runs.sqlite", str(gaf_dir / "val_labels_dev.json")
    runs = {}
    for mode in ("reference", "tuned"):
        out = tmp_path / f"{mode}.csv"
        proc = gerec(
            "evaluate",
            "--labels",
            labels,
            "--cnn-predictions",
            str(gaf_dir / "reference_cnn_val_dev.csv"),
            "--mode",
            mode,
            "--out",
            str(out),
            "--store",
            str(db),
        )
        assert proc.returncode == 0, proc.stderr
        made = read_sidecar(out)
        assert made is not None and made["mode"] == mode and made["kind"] == "label-only"
        assert made["network"]["path"].endswith("scene_bn.json" if mode == "reference" else "scene_bn_tuned.json")
        assert len(made["labels_file"]["sha256"]) == 64 and made["cnn_predictions"]["sha256"]
        assert made["in_sample"] is (mode == "tuned")
        assert ("in-sample" in proc.stdout) is (mode == "tuned") and ("in-sample" in proc.stderr) is (mode == "tuned")
        header, first = out.read_text().splitlines()[:2]
        faces = header.split(",").index("faces")
        assert first.split(",")[faces] == ""  # label-only rows do not claim 0 faces
        runs[mode] = proc.stderr.split("run ")[1].split()[0]
    shown = gerec("runs", "--store", str(db), "show", runs["tuned"])
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"run {runs['tuned']}: 2172 images") and lines[1].startswith("accuracy:")
    assert lines[2].startswith("warning: in-sample")
    assert "in-sample" not in gerec("runs", "--store", str(db), "show", runs["reference"]).stdout
    as_json = json.loads(gerec("runs", "--store", str(db), "show", runs["tuned"], "--json").stdout)
    assert as_json["in_sample"] is True and as_json["mode"] == "tuned"
    compared = gerec("runs", "--store", str(db), "compare", runs["reference"], runs["tuned"], "--limit", "5")
    lines = compared.stdout.splitlines()
    assert "images in both runs" in lines[2] and "more (--limit 0 shows all" in lines[-1]
    assert sum(1 for ln in lines if ln.startswith("  ") and "->" in ln) == 5
    full = json.loads(gerec("runs", "--store", str(db), "compare", runs["reference"], runs["tuned"], "--json").stdout)
    assert len(full["changed"]) > 5


def test_wrong_flag_shows_the_commands_usage():
    proc = gerec("classify", "x.jpg", "--bogus")
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: python -m gerec classify")
    assert "unrecognized arguments: --bogus" in proc.stderr
    proc = gerec("runs", "show", "r1", "--bogus")
    assert proc.stderr.startswith("usage: python -m gerec runs show")


def test_classify_uses_the_folders_labels_and_shows_progress(photos_dir):
    names = ["image_happy_1.jpg", "image_happy_2.jpg", "image_neutral.jpg", "image_sad_1.jpg", "pos_1000.jpg"]
    proc = gerec("classify", *(str(photos_dir / n) for n in names), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["image"] for r in rows] == names
    assert rows[0]["evidence"]["labeler"] == "cached"  # labels.json beside the photos, as in the dashboard
    assert "labels.json first" in proc.stderr and "classify" in proc.stderr and "5/5" in proc.stderr
