"""tools/combiner_check.py: the class prior shift it fits, and a whole run on a tiny FER set."""

from __future__ import annotations

import numpy as np
from tool_module import load_tool

from gerec.emotion.data import FER_CLASSES

tool = load_tool("combiner_check")


def test_a_prior_shift_undoes_a_known_shift_of_calibrated_probabilities():
    rng = np.random.default_rng(0)
    truth = rng.dirichlet(np.ones(7), size=4000)  # calibrated probabilities: labels drawn from them
    y = np.array([rng.choice(7, p=p) for p in truth])
    bent = np.array([0.8, -0.6, 0.0, 0.4, -0.3, 0.2, -0.5])
    offsets = tool.fit_prior_shift(tool.shifted(truth, bent), y)
    recovered = offsets - offsets.mean()  # offsets are defined up to a constant
    np.testing.assert_allclose(recovered, -(bent - bent.mean()), atol=0.15)
    np.testing.assert_allclose(tool.shifted(truth, np.zeros(7)), truth)


def test_accuracies_group_seven_classes_and_skip_surprise_in_three():
    probs = np.eye(7)[[3, 6, 0, 5]]  # happy, neutral, angry, surprise
    y7 = np.array([3, 6, 1, 5])
    y3 = np.array([0, 1, 2, -1])  # Positive, Neutral, Negative, none
    mapping = np.zeros((7, 3))
    mapping[[0, 1, 2, 4], 2], mapping[3, 0], mapping[6, 1] = 1, 1, 1
    acc3, acc7 = tool.accuracies(probs, y7, y3, mapping)
    assert acc3 == 1.0  # angry for disgust is still Negative
    assert acc7 == 0.75


def test_a_run_prints_every_combiner_held_out(tmp_path, capsys):
    labels = np.repeat(np.arange(len(FER_CLASSES)), 30)
    images = np.random.default_rng(2).integers(0, 256, (len(labels), 48, 48)).astype(np.uint8)
    np.savez(tmp_path / "train.npz", images=images, labels=labels, classes=np.array(FER_CLASSES))
    assert tool.main(["--data", str(tmp_path / "train.npz")]) == 0
    out = capsys.readouterr().out
    for name in ("linear mix", "+ class prior shift", "stacker"):
        assert f"{name} " in out and "held-out 3-class" in out
