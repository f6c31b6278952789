"""Stratified k-fold assignment: the one split used by scene-network tuning and ensemble fitting."""

from __future__ import annotations

import numpy as np


def stratified_folds(
    y: np.ndarray, k: int, seed: int | np.random.Generator, *, random_start: bool = False
) -> np.ndarray:
    """A fold number (0..k-1) per item: each class, shuffled, is dealt round-robin over the folds.

    Items whose class is negative (unlabelled) get -1. ``seed`` is a seed or a generator; one
    generator called again gives another split (repeated cross-validation). With ``random_start``
    each class's deal begins at a random fold, so the classes' leftover items do not all land in
    the first folds. Classes are dealt in ascending order, so a seed always gives the same folds.

    >>> stratified_folds(np.array([0, 0, 1, 1, -1]), 2, seed=0)
    array([ 0,  1,  0,  1, -1])
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    y = np.asarray(y)
    folds = np.full(len(y), -1)
    for c in np.unique(y[y >= 0]):
        members = rng.permutation(np.flatnonzero(y == c))
        start = int(rng.integers(k)) if random_start else 0
        folds[members] = (np.arange(members.size) + start) % k
    return folds
