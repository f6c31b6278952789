"""Nested cross-validation in fit-ensemble (gerec.emotion.member_choice, its nested_refit): a
member's views and temperature, like the weights, are chosen only on the faces of the fitting half
(held_out_runs with a refit, and its held-out ECE: tests/test_fit_ensemble.py)."""

from __future__ import annotations

import numpy as np

from gerec.calibration import fit_temperature
from gerec.classes import CLASSES
from gerec.emotion.data import FaceSet
from gerec.emotion.ensemble import group_probabilities
from gerec.emotion.member_choice import ScoredMember, nested_refit
from gerec.emotion.views import FIT_TTA_MODES, TTA_MODES

N = 200
FIRST, SECOND = np.arange(N) < N // 2, np.arange(N) >= N // 2


def leaning(rng: np.random.Generator, truth: np.ndarray, rows: np.ndarray, strength: float) -> np.ndarray:
    """3-class probabilities, random, that lean toward the truth by ``strength`` on ``rows`` only."""
    p = rng.dirichlet(np.ones(3), len(truth)) + strength * np.eye(3)[truth] * rows[:, None]
    return p / p.sum(1, keepdims=True)


def half_member(
    rng: np.random.Generator, truth: np.ndarray, name: str = "m", in_training: bool = False
) -> ScoredMember:
    """A 3-class member whose plain views read the first half of the faces and whose zoomed views the second."""
    plain, zoomed = leaning(rng, truth, FIRST, 1.5), leaning(rng, truth, SECOND, 1.5)
    views = {v: (zoomed if v.startswith("zoom") else plain) for v in TTA_MODES["flip+zoom"]}
    return ScoredMember(name, views, np.eye(3), in_training, seven=False)


def test_a_member_chooses_only_among_the_modes_on_offer():
    """The corner crops read the second half of the faces here: offered, they win it; not offered
    (the default, FIT_TTA_MODES), the member never scores them."""
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 3, N)
    plain, cropped = leaning(rng, truth, FIRST, 1.5), leaning(rng, truth, SECOND, 1.5)
    views = {v: (cropped if v.startswith("crop") else plain) for v in TTA_MODES["all"]}
    every = np.ones(N, dtype=bool)
    default = ScoredMember("m", views, np.eye(3), False, seven=False)
    assert default.modes == FIT_TTA_MODES
    assert set(default.choose(truth, SECOND, every).accuracy3) == set(FIT_TTA_MODES)
    offered = ScoredMember("m", views, np.eye(3), False, seven=False, modes=(*FIT_TTA_MODES, "crops"))
    chosen = offered.choose(truth, SECOND, every)
    assert chosen.tta == "crops" and chosen.accuracy3["crops"] > max(chosen.accuracy3[m] for m in FIT_TTA_MODES)


def test_a_members_views_and_temperature_come_from_the_faces_it_is_given():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, N)
    member = half_member(rng, truth)
    every = np.ones(N, dtype=bool)
    first = member.choose(truth, FIRST, every)
    second = member.choose(truth, SECOND, every)
    assert first.tta == "none"  # "flip" scores the same (its mirror view is the same here): the cheaper wins
    assert first.accuracy3["none"] == first.accuracy3["flip"] > first.accuracy3["zoom"]
    assert second.tta == "zoom"
    expected = fit_temperature(member.raw("zoom")[SECOND], lambda p: group_probabilities(p, np.eye(3)), truth[SECOND])
    assert second.temperature == round(expected, 4)
    # the temperature reads only the clean faces of those it is given
    clean_half = SECOND & (np.arange(N) < 150)
    partial = member.choose(truth, SECOND, np.arange(N) < 150)
    assert partial.tta == "zoom"
    assert partial.temperature == round(
        fit_temperature(member.raw("zoom")[clean_half], lambda p: group_probabilities(p, np.eye(3)), truth[clean_half]),
        4,
    )
    # a member trained on these faces keeps T = 1
    assert half_member(rng, truth, in_training=True).choose(truth, FIRST, every).temperature == 1.0
    np.testing.assert_allclose(
        member.group(second), group_probabilities(member.raw("zoom"), np.eye(3), second.temperature)
    )


def test_the_refit_chooses_nothing_on_the_faces_outside_its_mask():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, N)
    members = [half_member(rng, truth, "a"), half_member(rng, truth, "b")]
    faces = FaceSet(np.zeros((N, 4, 4), np.uint8), truth, np.asarray([str(i) for i in range(N)]), CLASSES)
    refit = nested_refit(members, faces, N)
    probs, seven = refit(FIRST)
    assert seven is None  # 3-class members: no 7-class figures
    for member, p in zip(members, probs):
        choice = member.choose(truth, FIRST, np.ones(N, dtype=bool))
        np.testing.assert_allclose(p, member.group(choice))
    # scramble every view of the second half: the first half's choices, hence their probabilities there, stay
    scrambled = [
        ScoredMember(
            m.name, {v: np.where(SECOND[:, None], p[::-1], p) for v, p in m.views.items()}, m.mapping, False, False
        )
        for m in members
    ]
    again, _ = nested_refit(scrambled, faces, N)(FIRST)
    for p, q in zip(probs, again):
        np.testing.assert_allclose(p[FIRST], q[FIRST])
