"""Reference mode reproduces the published figures on the dev half of GAF 3.0 validation."""

from __future__ import annotations

import csv
import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from gerec.agreement import agreement, read_reference_predictions
from gerec.bn import load_scene_network
from gerec.bn.evidence import scene_evidence
from gerec.classes import CLASSES, true_class_of
from gerec.evaluation import accuracy, read_cnn_predictions, to_indices
from gerec.pipeline import Pipeline, PipelineConfig
from gerec.scene.simple import read_label_file

REFERENCE_TOP_DOWN = 61.28
REFERENCE_FUSED = 65.38
AGREEMENT_GOAL = 0.995  # share of the reference's own per-image decisions gerec must match


@pytest.fixture(scope="module")
def dev(gaf_dir):
    labels = read_label_file(gaf_dir / "val_labels_dev.json")
    cnn = read_cnn_predictions(gaf_dir / "reference_cnn_val_dev.csv")
    return labels, cnn


def test_reference_figures_within_half_a_point(dev):
    labels, cnn = dev
    pipeline = Pipeline(PipelineConfig(mode="reference"))
    names = sorted(labels)
    preds = [pipeline.from_labels(n, labels[n], cnn.get(n)) for n in names]
    actual = to_indices([true_class_of(n) for n in names])
    top_down = 100 * accuracy(actual, to_indices([p.top_down_class for p in preds]))
    fused = 100 * accuracy(actual, to_indices([p.fused_class for p in preds]))
    assert len(names) == 2172
    assert abs(top_down - REFERENCE_TOP_DOWN) <= 0.5, top_down
    assert abs(fused - REFERENCE_FUSED) <= 0.5, fused
    # no face -> fused is the top-down answer
    no_face = [p for n, p in zip(names, preds) if cnn.get(n) is None]
    assert no_face and all(p.fused == p.top_down for p in no_face)


def test_evaluate_label_only_cli_contract(gaf_dir, tmp_path):
    out = tmp_path / "out.csv"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gerec",
            "evaluate",
            "--labels",
            str(gaf_dir / "val_labels_dev.json"),
            "--cnn-predictions",
            str(gaf_dir / "reference_cnn_val_dev.csv"),
            "--mode",
            "reference",
            "--reference-predictions",
            str(gaf_dir / "reference_predictions_val_dev.csv"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0].keys())
    assert header[:5] == ["image", "actual", "bottom_up", "top_down", "fused"]
    assert header[5:14] == [f"p_{m}_{c}" for m in ("bottom_up", "top_down", "fused") for c in CLASSES]
    assert len(rows) == 2172
    no_face = [r for r in rows if r["bottom_up"] == ""]
    assert no_face and all(r["fused"] == r["top_down"] for r in no_face)
    probs = np.array([[float(r[f"p_fused_{c}"]) for c in CLASSES] for r in rows])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    for module in ("top_down", "fused"):
        assert f"{module:<10} accuracy" in proc.stdout
    assert "confusion (rows actual, columns predicted)" in proc.stdout
    assert "agreement with the reference's decisions:" in proc.stdout
    agreement_lines = proc.stdout.split("agreement with the reference's decisions:")[1].splitlines()
    for module in ("top_down", "fused"):
        line = next(x for x in agreement_lines if x.strip().startswith(module))
        assert float(line.split()[1]) >= 100 * AGREEMENT_GOAL, line


def _rows(net, labels, cnn):
    """Top-down and fused decisions of ``net`` for every image (the pipeline's rule, without it)."""
    rows = []
    for name in sorted(labels):
        used = scene_evidence(net, labels[name], "cached").labels_used
        decide = [CLASSES[int(np.argmax(net.posterior(used, c)))] for c in (None, cnn.get(name))]
        rows.append({"image": name, "top_down": decide[0], "fused": decide[1]})
    return rows


def test_reference_mode_agrees_with_the_references_own_decisions(dev, gaf_dir):
    labels, cnn = dev
    reference = read_reference_predictions(gaf_dir / "reference_predictions_val_dev.csv")
    assert set(reference) == set(labels)
    net = load_scene_network("reference")
    results = agreement(_rows(net, labels, cnn), reference)
    for result in results:
        assert result.compared == 2172 and result.rate >= AGREEMENT_GOAL, (result.module, result.differing)
    # The cause found: exact inference in the same network (every identical factor counted)
    # misses the goal; the reference's pgmpy counted identical factors once.
    exact = dataclasses.replace(net, collapse_identical_factors=False)
    exact_results = agreement(_rows(exact, labels, cnn), reference)
    assert all(r.rate < AGREEMENT_GOAL for r in exact_results), exact_results
