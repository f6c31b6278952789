"""Calibration: metrics against hand-computed examples, temperature fitting, calibrated networks
against pgmpy, confusion-derived bottom-up probabilities, and conservative photo evidence."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest

from gerec.bn import calibrate, load_scene_network, tuning
from gerec.bn.pgmpy_model import pgmpy_posterior
from gerec.calibration import (
    ReliabilityBin,
    brier,
    ece,
    fit_scale,
    fold_summary,
    nll,
    reliability,
    score_probs,
    softmax,
    worth_sentence,
)
from gerec.classes import CLASSES, true_class_of
from gerec.emotion.aggregate import bottom_up_evidence
from tests.test_tuning import DEV_FITTED, _dev, _histogram

# Four items: top probabilities 0.9 (right), 0.9 (wrong), 0.6 (right), 0.5 (right).
PROBS = np.array([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.2, 0.6, 0.2], [0.25, 0.25, 0.5]])
Y = np.array([0, 1, 1, 2])


def test_metrics_by_hand() -> None:
    # NLL: -(ln 0.9 + ln 0.05 + ln 0.6 + ln 0.5) / 4
    assert nll(PROBS, Y) == pytest.approx(-(np.log(0.9) + np.log(0.05) + np.log(0.6) + np.log(0.5)) / 4)
    # Brier: squared distances to one-hot, summed over classes
    by_hand = [0.1**2 + 0.05**2 * 2, 0.9**2 + 0.95**2 + 0.05**2, 0.2**2 + 0.4**2 + 0.2**2, 0.25**2 * 2 + 0.5**2]
    assert brier(PROBS, Y) == pytest.approx(np.mean(by_hand))
    # ECE, 15 bins: {0.9, 0.9} in one bin (acc 0.5), 0.6 alone (acc 1), 0.5 alone (acc 1)
    assert ece(PROBS, Y) == pytest.approx(0.5 * abs(0.5 - 0.9) + 0.25 * abs(1 - 0.6) + 0.25 * abs(1 - 0.5))
    # one bin over everything: |mean acc - mean conf|
    assert ece(PROBS, Y, bins=1) == pytest.approx(abs(0.75 - np.mean([0.9, 0.9, 0.6, 0.5])))


def test_reliability_bins_and_unknown_truth() -> None:
    bins = reliability(PROBS, Y, bins=10)  # right-closed tenths: 0.5 -> (0.4, 0.5], 0.9 -> (0.8, 0.9]
    assert [b.count for b in bins] == [0, 0, 0, 0, 1, 1, 0, 0, 2, 0]
    assert bins[8].accuracy == 0.5 and bins[8].confidence == pytest.approx(0.9)
    assert np.isnan(bins[0].accuracy)
    with_unknown = np.vstack([PROBS, [[0.4, 0.3, 0.3]]])
    assert score_probs(with_unknown, np.append(Y, -1)) == score_probs(PROBS, Y)
    assert np.isnan(ece(np.zeros((0, 3)), np.zeros(0, dtype=int)))


def test_bin_edges_put_each_value_in_one_bin() -> None:
    probs = np.array([[0.8, 0.1, 0.1], [0.9, 0.05, 0.05], [1.0, 0.0, 0.0]])
    bins = reliability(probs, np.array([0, 0, 0]), bins=10)
    assert [bins[i].count for i in (7, 8, 9)] == [1, 1, 1]  # right-closed: (0.7, 0.8], (0.8, 0.9], (0.9, 1]


def test_fit_scale_recovers_a_temperature_and_is_deterministic() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (4000, 3))
    true_scale = 0.4
    y = np.array([rng.choice(3, p=p) for p in softmax(true_scale * logits)])
    fitted = fit_scale(np.zeros_like(logits), logits, y)
    assert fitted == pytest.approx(true_scale, abs=0.05)
    assert fit_scale(np.zeros_like(logits), logits, y) == fitted
    assert nll(softmax(fitted * logits), y) < nll(softmax(logits), y)


def test_a_member_temperature_is_recovered_through_the_grouping() -> None:
    from gerec.calibration import fit_temperature, tempered
    from gerec.emotion.ensemble import group_probabilities

    rng = np.random.default_rng(1)
    mapping = np.zeros((7, 3))
    mapping[[3, 6, 0, 1, 2, 4], [0, 1, 2, 2, 2, 2]] = 1  # FER's classes; surprise (5) mapped nowhere
    truth7 = softmax(rng.normal(0, 2, (6000, 7)))
    truth3 = group_probabilities(truth7, mapping)
    y = np.array([rng.choice(3, p=p) for p in truth3])
    shown = tempered(truth7, 0.6)  # an over-confident member: its probabilities sharpened by T = 0.6
    assert (shown.argmax(1) == truth7.argmax(1)).all() and np.allclose(shown.sum(1), 1)
    np.testing.assert_array_equal(tempered(truth7, 1.0), truth7)
    fitted = fit_temperature(shown, lambda p: group_probabilities(p, mapping), y)
    assert fitted == pytest.approx(1 / 0.6, rel=0.1)  # undoes it
    assert fit_temperature(shown, lambda p: group_probabilities(p, mapping), y) == fitted  # deterministic
    fixed = group_probabilities(shown, mapping, fitted)
    assert ece(fixed, y) < ece(group_probabilities(shown, mapping), y)
    assert fit_temperature(shown, lambda p: group_probabilities(p, mapping), -np.ones(len(y), int)) == 1.0


def test_worth_sentence_reads_the_bin() -> None:
    bins = (ReliabilityBin(0.7, 0.8, 10, 0.75, 0.7), ReliabilityBin(0.8, 0.9, 40, 0.85, 0.825))
    assert worth_sentence("the fused module", 0.84, bins) == (
        "When the fused module says 80-90 %, it was right 82 % of the time on held-out folds (40 images)."
    )
    assert "70-80 %" in worth_sentence("x", 0.72, bins)
    assert "70-80 %" in worth_sentence("x", 0.8, bins)  # the same right-closed bins as the table


def test_fold_summary_is_json_ready() -> None:
    folds = np.array([0, 0, 1, 1])
    summary = fold_summary(PROBS, Y, folds)
    assert summary["n"] == 4
    assert summary["accuracy_mean"] == pytest.approx(0.75)
    assert len(summary["reliability"]) == 10  # type: ignore[arg-type]


# ------------------------------------------------------------------ calibrated networks
def test_temperatures_keep_top_down_decisions_and_equal_pgmpy() -> None:
    hist = _histogram()
    data = _dev(hist)
    net = tuning.build_network(hist, DEV_FITTED, data)
    temps = calibrate.Temperatures(topdown=0.55, cnn_weight=0.8)
    hot = calibrate.apply_temperatures(net, temps)
    assert hot.label_weight == pytest.approx(net.label_weight * 0.55)
    for labels, cnn in zip(data.labels[:12], data.cnn[:12]):
        cls = None if cnn < 0 else CLASSES[cnn]
        before, after = net.posterior(labels), hot.posterior(labels)
        assert int(np.argmax(before)) == int(np.argmax(after))
        assert max(after) <= max(before) + 1e-12  # t < 1 softens
        assert np.allclose(hot.posterior(labels, cls), pgmpy_posterior(hot, labels, cls), atol=1e-9)


def test_fitted_temperatures_match_the_logit_parts() -> None:
    hist = _histogram()
    data = _dev(hist)
    folds = tuning.stratified_folds(data.y, 3, 0)
    parts, y = calibrate.held_out_parts(hist, data, DEV_FITTED, folds)
    temps = calibrate.fit_temperatures(parts, y)
    assert temps == calibrate.fit_temperatures(parts, y)
    net = calibrate.apply_temperatures(tuning.build_network(hist, DEV_FITTED, data, fit=folds != 0), temps)
    rules = tuning.mapping_rules(DEV_FITTED.rules, DEV_FITTED.embed_min)
    td, fz = calibrate.logit_parts(
        tuning.build_network(hist, DEV_FITTED, data, fit=folds != 0), rules, DEV_FITTED.embed_min, data
    ).probs(temps)
    for i in np.flatnonzero(folds == 0)[:10]:
        cls = None if data.cnn[i] < 0 else CLASSES[data.cnn[i]]
        mapped = tuning.devfit.presence(net.labels, rules, [data.labels[i]], DEV_FITTED.embed_min)[0]
        present = [net.labels[j] for j in np.flatnonzero(mapped)]
        assert np.allclose(net.posterior(present), td[i], atol=1e-9)
        assert np.allclose(net.posterior(present, cls), fz[i], atol=1e-9)


def test_nested_held_out_never_uses_the_outer_fold() -> None:
    hist = _histogram()
    data = _dev(hist)
    folds = tuning.stratified_folds(data.y, 3, 0)
    held = calibrate.nested_held_out(hist, data, [DEV_FITTED] * 3, folds)
    # change the true classes of fold 0: neither its temperatures (fitted on inner folds 1, 2
    # predicted by tables fitted without fold 0) nor its probabilities may move
    y2 = data.y.copy()
    y2[folds == 0] = (y2[folds == 0] + 1) % 3
    shuffled = dataclasses.replace(data, y=y2)
    held2 = calibrate.nested_held_out(hist, shuffled, [DEV_FITTED] * 3, folds)
    assert held2.temperatures[0] == held.temperatures[0]
    assert np.allclose(held2.probs["top_down"][folds == 0], held.probs["top_down"][folds == 0])


# ------------------------------------------------------------------ bottom-up
def test_label_only_bottom_up_is_the_confusion_derived_probability(gaf_dir) -> None:
    from gerec.pipeline import Pipeline, PipelineConfig
    from gerec.scene.chain import LabelerChain

    gaf = gaf_dir
    with (gaf / "reference_cnn_val_dev.csv").open(encoding="utf-8") as handle:
        cnn = {r["image"]: r["cnn"] for r in csv.DictReader(handle)}
    counts = np.ones((3, 3))  # the tuned CNN table's +1 per cell
    for image, pred in cnn.items():
        if pred:
            counts[CLASSES.index(true_class_of(image) or ""), CLASSES.index(pred)] += 1
    pipeline = Pipeline(PipelineConfig(mode="tuned"), labeler=LabelerChain([]))
    for j, cls in enumerate(CLASSES):
        pred = pipeline.from_labels("x.jpg", ["people"], cls)
        expected = counts[:, j] / counts[:, j].sum()
        assert pred.bottom_up is not None
        assert np.allclose(pred.bottom_up, expected, atol=1e-9)
        assert max(pred.bottom_up) < 0.95
    assert pipeline.from_labels("x.jpg", ["people"], None).bottom_up is None


def test_bottom_up_evidence_is_tempered_by_the_number_of_faces() -> None:
    one = bottom_up_evidence(np.array([1.0, 0.0, 0.0]), 1)
    ten = bottom_up_evidence(np.array([1.0, 0.0, 0.0]), 10)
    assert one is not None and ten is not None
    assert one[0] == pytest.approx(2 / 3) and ten[0] == pytest.approx(1 - 2 / 33)
    assert bottom_up_evidence(None, 0) is None


def test_weak_split_faces_cannot_overturn_a_confident_scene() -> None:
    net = load_scene_network("tuned")
    labels = ("hair", "facial expression", "fun", "friendship", "hairstyle", "smile", "yellow", "event")
    top_down = net.posterior(labels)
    assert top_down[0] > 0.7, top_down  # a confident Positive scene (calibrated: 0.74)
    faces = np.array([[0.30, 0.45, 0.25], [0.35, 0.40, 0.25], [0.30, 0.42, 0.28]])  # weak, split, leaning Neutral
    q = bottom_up_evidence(faces.mean(axis=0), len(faces))
    fused = net.posterior(labels, q)
    assert fused[1] < 0.3 and max(fused) < 0.9
    assert abs(fused[0] - top_down[0]) < 0.1
    # a unanimous, confident set of faces still moves it, but never past a hard CNN prediction
    strong = bottom_up_evidence(np.array([0.02, 0.96, 0.02]), 12)
    assert net.posterior(labels, strong)[1] <= net.posterior(labels, "Neutral")[1] + 1e-12
    assert np.allclose(net.posterior(labels, q), pgmpy_posterior(net, labels, q), atol=1e-9)


def test_docs_show_the_report_figures() -> None:
    import json
    from pathlib import Path

    from gerec.config import models_dir

    root = Path(__file__).resolve().parents[1]
    report = json.loads((models_dir() / "scene_bn_tuned.report.json").read_text(encoding="utf-8"))
    assert calibrate.markdown_table(report) in (root / "docs" / "calibration.md").read_text(encoding="utf-8")
    temps = report["temperatures"]
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert f"t = {temps['topdown']}" in readme and f"c = {temps['cnn_weight']}" in readme
