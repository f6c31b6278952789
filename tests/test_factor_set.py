"""Identical evidence factors count once (the reference's pgmpy < 0.1.11), against pgmpy itself."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from gerec.bn import load_scene_network
from gerec.bn.fit import fit_reference, row_normalise
from gerec.bn.histogram import LabelHistogram
from gerec.bn.network import SceneNetwork
from gerec.bn.network_file import load_network
from gerec.bn.pgmpy_model import build_pgmpy_network, legacy_pgmpy_posterior, pgmpy_posterior


def twin_network(collapse: bool = True) -> SceneNetwork:
    # "smile" and "laugh" have the same row; "protest" another.
    return SceneNetwork(
        labels=("smile", "laugh", "protest"),
        p_present=np.array([[0.5, 0.25, 0.125], [0.5, 0.25, 0.125], [0.125, 0.25, 0.5]]),
        prior=np.array([0.5, 0.25, 0.25]),
        cnn_table=np.array([[0.5, 0.25, 0.25], [0.25, 0.5, 0.25], [0.25, 0.25, 0.5]]),
        absent_mask=np.array([True, True, True]),
        collapse_identical_factors=collapse,
    )


def test_identical_factors_count_once_by_hand():
    net = twin_network()
    # smile and laugh present give one factor (0.5, 0.25, 0.125); protest absent (0.875, 0.75, 0.5).
    # Positive 0.5 * 0.5 * 0.875, Neutral 0.25 * 0.25 * 0.75, Negative 0.25 * 0.125 * 0.5.
    joint = np.array([0.21875, 0.046875, 0.015625])
    np.testing.assert_allclose(net.posterior(["smile", "laugh"]), joint / joint.sum(), atol=1e-12)
    # Both absent: their one absence factor (0.5, 0.75, 0.875) once, with protest present.
    joint = np.array([0.5 * 0.5 * 0.125, 0.25 * 0.75 * 0.25, 0.25 * 0.875 * 0.5])
    np.testing.assert_allclose(net.posterior(["protest"]), joint / joint.sum(), atol=1e-12)
    # One twin present, the other absent: two different factors, both count.
    joint = np.array([0.5 * 0.5 * 0.5 * 0.875, 0.25 * 0.25 * 0.75 * 0.75, 0.25 * 0.125 * 0.875 * 0.5])
    np.testing.assert_allclose(net.posterior(["smile"]), joint / joint.sum(), atol=1e-12)
    # Exact inference counts each label: the answers differ.
    exact = twin_network(collapse=False)
    assert abs(exact.posterior(["smile", "laugh"])[0] - net.posterior(["smile", "laugh"])[0]) > 0.01


def test_present_factor_equal_to_another_labels_absence_counts_once():
    # P(a | class) = 1 - P(b | class) exactly (dyadic values): a present and b absent are one factor.
    net = SceneNetwork(
        ("a", "b"),
        np.array([[0.25, 0.5, 0.125], [0.75, 0.5, 0.875]]),
        np.full(3, 1 / 3),
        np.full((3, 3), 1 / 3),
        np.array([True, True]),
        collapse_identical_factors=True,
    )
    joint = np.array([0.25, 0.5, 0.125])
    np.testing.assert_allclose(net.posterior(["a"]), joint / joint.sum(), atol=1e-12)
    np.testing.assert_allclose(net.posterior(["a"]), legacy_pgmpy_posterior(net, ["a"]), atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_fast_path_equals_legacy_pgmpy_set_of_factors(seed):
    rng = np.random.default_rng(seed)
    # Small counts, so many labels share a row (as the reference's rare labels do).
    counts = rng.integers(0, 3, size=(30, 3)).astype(float)
    hist = LabelHistogram(tuple(f"label {i}" for i in range(30)), counts, np.array([20.0, 18.0, 16.0]))
    base = fit_reference(hist)
    net = dataclasses.replace(
        base, prior=rng.dirichlet([3, 3, 3]), cnn_table=row_normalise(rng.integers(1, 30, size=(3, 3)))
    )
    assert net.collapse_identical_factors
    model = build_pgmpy_network(net)
    differs = 0
    for _ in range(20):
        present = [lab for lab in net.labels if rng.random() < 0.2]
        cnn = [None, "Positive", "Neutral", "Negative"][rng.integers(0, 4)]
        fast = np.array(net.posterior(present, cnn))
        legacy = np.array(legacy_pgmpy_posterior(net, present, cnn, model))
        assert np.max(np.abs(fast - legacy)) < 1e-9
        exact = np.array(pgmpy_posterior(net, present, cnn, model))
        np.testing.assert_allclose(
            dataclasses.replace(net, collapse_identical_factors=False).posterior(present, cnn), exact, atol=1e-9
        )
        differs += np.max(np.abs(exact - legacy)) > 1e-6
    assert differs > 0  # the rule matters on these networks


def test_flag_round_trips_and_only_the_reference_network_sets_it(tmp_path):
    net = twin_network()
    net.save(tmp_path / "bn.json")
    assert json.loads((tmp_path / "bn.json").read_text())["collapse_identical_factors"] is True
    again = load_network(tmp_path / "bn.json")
    assert again.collapse_identical_factors
    assert again.posterior(["smile", "laugh"]) == pytest.approx(net.posterior(["smile", "laugh"]), abs=1e-12)
    assert load_scene_network("reference").collapse_identical_factors
    assert not load_scene_network("tuned").collapse_identical_factors
    hist = LabelHistogram(("x",), np.array([[1.0, 0.0, 2.0]]), np.array([5.0, 5.0, 5.0]))
    assert not fit_reference(hist, collapse_identical_factors=False).collapse_identical_factors
