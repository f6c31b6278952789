"""gerec.folds: the stratified k-fold split that scene-network tuning and ensemble fitting share."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import gerec.folds
from gerec.folds import stratified_folds

LABELS = np.repeat([-1, 0, 1, 2], [5, 11, 20, 7])


@pytest.mark.parametrize("random_start", [False, True])
@pytest.mark.parametrize("k", [2, 3, 5])
def test_folds_are_stratified_disjoint_and_cover_every_labelled_item(k, random_start):
    truth = LABELS
    folds = stratified_folds(truth, k, 0, random_start=random_start)
    assert (folds[truth == -1] == -1).all()
    labelled = truth >= 0
    assert set(folds[labelled].tolist()) == set(range(k))  # one fold each, and every fold used
    held_out = [np.flatnonzero(folds == f) for f in range(k)]
    assert sum(len(h) for h in held_out) == labelled.sum()
    assert np.array_equal(np.sort(np.concatenate(held_out)), np.flatnonzero(labelled))
    for c in range(3):
        per_fold = np.bincount(folds[truth == c], minlength=k)
        assert per_fold.max() - per_fold.min() <= 1


@pytest.mark.parametrize("random_start", [False, True])
def test_a_seed_gives_the_same_folds_and_another_seed_others(random_start):
    first = stratified_folds(LABELS, 3, 7, random_start=random_start)
    assert np.array_equal(first, stratified_folds(LABELS, 3, 7, random_start=random_start))
    assert np.array_equal(first, stratified_folds(LABELS, 3, np.random.default_rng(7), random_start=random_start))
    assert not np.array_equal(first, stratified_folds(LABELS, 3, 8, random_start=random_start))
    rng = np.random.default_rng(7)
    assert not np.array_equal(stratified_folds(LABELS, 3, rng), stratified_folds(LABELS, 3, rng))  # repeats differ


def test_the_folds_are_those_tuning_and_fitting_used_before_they_shared_this_helper():
    """Pinned from gerec.bn.devdata.stratified_folds and gerec.emotion.fitting.stratified_folds as they
    were: tuned configurations and fitted ensemble weights stay bit-identical."""
    y = np.array([0, 2, 1, 0, 0, 2, 1, 0, 2, 1, 1, 0])
    assert stratified_folds(y, 3, 0).tolist() == [0, 2, 0, 1, 0, 0, 0, 2, 1, 2, 1, 1]
    unlabelled = np.array([0, 2, -1, 0, 0, 2, 1, -1, 2, 1, 1, 0])
    rng = np.random.default_rng(0)
    assert stratified_folds(unlabelled, 3, rng, random_start=True).tolist() == [1, 1, -1, 2, 0, 2, 0, -1, 0, 2, 1, 0]
    assert stratified_folds(unlabelled, 3, rng, random_start=True).tolist() == [2, 1, -1, 1, 0, 2, 0, -1, 0, 2, 1, 2]


def test_docstring_example():
    assert doctest.testmod(gerec.folds).attempted == 1 and doctest.testmod(gerec.folds).failed == 0
