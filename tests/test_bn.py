"""The scene network: hand-computed posteriors, equality with pgmpy, file format, contributions."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from gerec.bn.fit import REFERENCE_CNN_CONFUSION, fit_reference, row_normalise
from gerec.bn.histogram import LabelHistogram, read_histogram
from gerec.bn.network import SceneNetwork
from gerec.bn.network_file import load_network, network_from_json
from gerec.bn.pgmpy_model import build_pgmpy_network, legacy_pgmpy_posterior, pgmpy_posterior
from gerec.errors import InvalidDataset, InvalidModelFile, ModelFileMissing


def tiny_network(**kw) -> SceneNetwork:
    return SceneNetwork(
        labels=("smile", "protest"),
        p_present=np.array([[0.8, 0.3, 0.1], [0.1, 0.2, 0.6]]),
        prior=np.array([0.5, 0.3, 0.2]),
        cnn_table=np.array([[0.7, 0.2, 0.1], [0.2, 0.6, 0.2], [0.1, 0.3, 0.6]]),
        absent_mask=np.array([True, True]),
        **kw,
    )


def test_tiny_network_by_hand():
    net = tiny_network()
    # smile present, protest absent, CNN says Negative:
    # Positive: 0.5 * 0.8 * 0.9 * 0.1 = 0.036; Neutral: 0.3 * 0.3 * 0.8 * 0.2 = 0.0144;
    # Negative: 0.2 * 0.1 * 0.4 * 0.6 = 0.0048; total 0.0552.
    expected = np.array([0.036, 0.0144, 0.0048]) / 0.0552
    np.testing.assert_allclose(net.posterior(["smile"], "Negative"), expected, atol=1e-12)
    np.testing.assert_allclose(pgmpy_posterior(net, ["smile"]), pgmpy_posterior(net, ["smile"], None))
    # No CNN evidence: Positive 0.36, Neutral 0.072, Negative 0.008.
    expected = np.array([0.36, 0.072, 0.008]) / 0.44
    np.testing.assert_allclose(net.posterior(["smile"]), expected, atol=1e-12)
    np.testing.assert_allclose(pgmpy_posterior(net, ["smile"]), expected, atol=1e-12)


def test_unknown_labels_are_ignored_and_reported():
    net = tiny_network()
    known, unknown = net.split_labels(["Smile ", "unicorn", "smile"])
    assert known == ("smile",)
    assert unknown == ("unicorn",)
    assert net.posterior(["smile", "unicorn"]) == net.posterior(["smile"])


def test_labelers_and_the_network_normalise_a_label_alike():
    from gerec.scene.base import LabelerInput
    from gerec.scene.simple import ManualLabeler

    raw = [" SMILE", "Group\t  Photo ", "smile "]
    typed = ManualLabeler(raw).label(LabelerInput("x.jpg")).labels
    assert typed == ("smile", "group photo")
    assert tiny_network().split_labels(raw) == (("smile",), ("group photo",))


def random_network(rng: np.random.Generator, n: int, **kw) -> SceneNetwork:
    counts = rng.integers(0, 40, size=(n, 3)).astype(float)
    hist = LabelHistogram(tuple(f"label {i}" for i in range(n)), counts, np.array([50.0, 45.0, 40.0]))
    net = fit_reference(hist)
    return SceneNetwork(
        net.labels,
        net.p_present,
        rng.dirichlet([3, 3, 3]),
        row_normalise(rng.integers(1, 30, size=(3, 3))),
        net.absent_mask,
        **kw,
    )


@pytest.mark.parametrize("seed", range(4))
def test_fast_path_equals_pgmpy_on_random_evidence(seed):
    rng = np.random.default_rng(seed)
    net = random_network(rng, 25)
    model = build_pgmpy_network(net)
    for _ in range(25):
        present = [lab for lab in net.labels if rng.random() < 0.2]
        cnn = [None, "Positive", "Neutral", "Negative"][rng.integers(0, 4)]
        fast = np.array(net.posterior(present, cnn))
        ref = np.array(pgmpy_posterior(net, present, cnn, model))
        assert np.max(np.abs(fast - ref)) < 1e-9


def test_fast_path_equals_pgmpy_tempered_soft_and_partial_absence():
    rng = np.random.default_rng(7)
    base = random_network(rng, 20)
    mask = rng.random(20) < 0.5
    net = SceneNetwork(
        base.labels, base.p_present, base.prior, base.cnn_table, mask, label_weight=0.4, cnn_weight=2.5, soft_cnn=True
    )
    model = build_pgmpy_network(net)
    for _ in range(15):
        present = [lab for lab in net.labels if rng.random() < 0.25]
        q = rng.dirichlet([1, 1, 1])
        for cnn in (None, q, "Neutral"):
            fast = np.array(net.posterior(present, cnn))
            ref = np.array(pgmpy_posterior(net, present, cnn, model))
            assert np.max(np.abs(fast - ref)) < 1e-9


def test_contributions_rebuild_the_posterior():
    rng = np.random.default_rng(3)
    net = random_network(rng, 30)
    present = list(net.labels[:4])
    logits = sum(np.array(c.log_ratio) for c in net.contributions(present))  # the prior is a row
    assert isinstance(logits, np.ndarray)  # not sum's start (0): there was a row
    expected = np.exp(logits - logits.max())
    np.testing.assert_allclose(expected / expected.sum(), net.posterior(present), atol=1e-12)
    top = net.contributions(present, top_absent=3)
    assert [c.kind for c in top] == ["prior"] + ["label"] * 4 + ["absent"] * 3 + ["absent-rest"]


def test_reference_network_file_matches_the_histogram(gaf_dir):
    from gerec.bn import network_path

    net = load_network(network_path("reference"))
    hist = read_histogram(gaf_dir / "train_label_histogram.csv")
    assert len(net.labels) == 809 and net.labels == hist.labels
    i = net.labels.index("bull")  # counts 0, 0, 25 of 1273 / 1200 / 1160
    np.testing.assert_allclose(net.p_present[i], [1e-4, 1e-4, 25 / 1160])
    np.testing.assert_allclose(net.prior, [1 / 3] * 3)
    np.testing.assert_allclose(net.cnn_table, row_normalise(REFERENCE_CNN_CONFUSION))
    assert net.cnn_table[0, 0] == pytest.approx(2735 / (2735 + 210 + 430))
    model = build_pgmpy_network(net)
    assert len(model.nodes()) == 811  # Emotion + 809 labels + CNN
    exact = dataclasses.replace(net, collapse_identical_factors=False)
    for present, cnn in [(["smile", "fun", "event"], "Positive"), (["protest", "crowd"], None)]:
        fast = np.array(exact.posterior(present, cnn))
        assert np.max(np.abs(fast - np.array(pgmpy_posterior(net, present, cnn, model)))) < 1e-9
        legacy = np.array(legacy_pgmpy_posterior(net, present, cnn, model))  # the reference's rule
        assert np.max(np.abs(np.array(net.posterior(present, cnn)) - legacy)) < 1e-9


def test_file_round_trip_and_errors(tmp_path):
    net = tiny_network(label_weight=0.5)
    path = tmp_path / "bn.json"
    net.save(path)
    again = load_network(path)
    assert again.posterior(["smile"], "Neutral") == pytest.approx(net.posterior(["smile"], "Neutral"), abs=1e-12)
    with pytest.raises(ModelFileMissing):
        load_network(tmp_path / "missing.json")
    bad = json.loads(path.read_text())
    bad["p_present"][0][0] = 0.0
    with pytest.raises(InvalidModelFile):
        network_from_json(bad)
    path.write_text("{not json")
    with pytest.raises(InvalidModelFile):
        load_network(path)


def test_histogram_errors(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("label,positive,neutral,negative\nsmile,1,2,3\n")
    with pytest.raises(InvalidDataset, match="total"):
        read_histogram(path)
    path.write_text("label,positive,neutral\nsmile,1,2\ntotal,5,5\n")
    with pytest.raises(InvalidDataset, match="columns"):
        read_histogram(path)
    path.write_text("label,positive,neutral,negative\nsmile,9,2,3\ntotal,5,5,5\n")
    with pytest.raises(InvalidDataset, match="between"):
        read_histogram(path)
