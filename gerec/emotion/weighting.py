"""The face ensemble's weight search: the simplex grid, the criteria, and their cross-validation.

:func:`fit_weights` scores every point of a ``step`` grid on the weight simplex (at most
``max_members`` non-zero weights) in vectorised chunks and keeps the best by a criterion of
:data:`CRITERIA`. :func:`choose_criterion` picks the criterion itself by cross-validation inside
the faces it is given (the validation split: :mod:`gerec.emotion.fitting`), by :data:`AUTO_SCORE`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gerec.calibration import ece
from gerec.errors import InvalidDataset
from gerec.folds import stratified_folds
from gerec.formatting import percent_spread


def simplex(n: int, step: float) -> np.ndarray:
    """Every weight vector on the n-simplex with coordinates on a ``step`` grid, as rows (stars and bars)."""
    k = int(round(1 / step))
    combos = list(itertools.combinations(range(k + n - 1), n - 1))
    bars = np.array(combos, dtype=int).reshape(len(combos), n - 1)  # one member: one empty row, weight 1
    edges = np.hstack([np.full((len(bars), 1), -1), bars, np.full((len(bars), 1), k + n - 1)])
    return (np.diff(edges, axis=1) - 1).astype(float) / k


def weight_grid(n: int, step: float, max_members: int) -> np.ndarray:
    """The ``step`` simplex grid of n members restricted to points with at most ``max_members`` non-zero weights."""
    m = min(n, max_members)
    if m == n:
        return simplex(n, step)
    sub = simplex(m, step)
    blocks = []
    for chosen in itertools.combinations(range(n), m):
        block = np.zeros((len(sub), n))
        block[:, list(chosen)] = sub
        blocks.append(block)
    return np.unique(np.vstack(blocks), axis=0)


def grid_size(n: int, k: int, max_members: int) -> int:
    """Upper bound on the rows of :func:`weight_grid` at step 1/k."""
    m = min(n, max_members)
    return math.comb(n, m) * math.comb(k + m - 1, m - 1)


def grid_step(n: int, step: float, max_points: int, max_members: int | None = None) -> float:
    """``step``, or the finest of a few wider steps whose n-member grid has at most ``max_points`` points."""
    for k in sorted({int(round(1 / step)), 16, 12, 10, 8, 5, 4, 2}, reverse=True):
        if k <= round(1 / step) and grid_size(n, k, max_members or n) <= max_points:
            return 1.0 / k
    return 0.5


CRITERIA = ("accuracy", "log-loss", "accuracy3+7")
"""What the weight search maximises: 3-class accuracy, 3-class log-likelihood, or the mean of 3-class
and 7-class accuracy (only when every weighted member has FER's 7 classes)."""
THREE_CLASS_CRITERIA = CRITERIA[:2]
CV_FOLDS, CV_REPEATS = 2, 5  # how the validation split is re-cut to compare the criteria
CV_DESIGN = (
    f"{CV_FOLDS}-fold x {CV_REPEATS} repeats inside the validation split, stratified by FER's 7 classes "
    "(by the 3 group classes when a member lacks them)"
)
AUTO_SCORE = "mean of held-out 3-class and 7-class accuracy (3-class alone if a member lacks the 7 classes)"


@dataclass(frozen=True)
class SevenClass:
    """The members' own 7-class probabilities and the 7-class truth (-1: not scored) of the same faces."""

    probs: tuple[np.ndarray, ...]
    truth: np.ndarray

    def masked(self, keep: np.ndarray) -> SevenClass:
        """The same faces with only ``keep`` scored."""
        return SevenClass(self.probs, np.where(keep, self.truth, -1))

    def subset(self, members: list[int]) -> SevenClass:
        return SevenClass(tuple(self.probs[i] for i in members), self.truth)


def _flat(probs: list[np.ndarray] | tuple[np.ndarray, ...], keep: np.ndarray) -> np.ndarray:
    """The members' probabilities of the kept faces as one ``(members, faces * classes)`` matrix."""
    return np.stack([p[keep] for p in probs]).reshape(len(probs), -1)


def _mix(w: np.ndarray, flat: np.ndarray, n_faces: int) -> np.ndarray:
    """The ``(points, faces, classes)`` weighted mixes for every row of ``w`` (``flat``: :func:`_flat`)."""
    return (w @ flat).reshape(len(w), n_faces, -1)


def fit_weights(
    probs: list[np.ndarray],
    truth3: np.ndarray,
    step: float,
    chunk: int = 1024,
    max_members: int | None = None,
    criterion: str = "accuracy",
    seven: SevenClass | None = None,
) -> tuple[np.ndarray, float]:
    """Simplex weights with the best 3-class accuracy, the lowest log-loss, or the best mean of
    3-class and 7-class accuracy (``seven`` needed), and their 3-class accuracy.

    ``criterion="accuracy"`` and ``"accuracy3+7"`` break ties by lower log-loss, ``"log-loss"`` by
    higher accuracy; then closeness to uniform. All grid points are scored in vectorised chunks
    (8 members at step 0.05 are 888,030 points).
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    if criterion == "accuracy3+7" and seven is None:
        raise ValueError("criterion accuracy3+7 needs every member's 7-class probabilities")
    keep = truth3 >= 0
    y = truth3[keep]
    flat = _flat(probs, keep)
    if criterion == "accuracy3+7":  # the 3-class criteria never read the 7-class probabilities
        assert seven is not None
        scored7 = seven.truth >= 0
        flat7, y7 = _flat(seven.probs, scored7), seven.truth[scored7]
    grid = weight_grid(len(probs), step, max_members or len(probs))
    best_key: tuple[float, float, float] | None = None
    best_w = np.full(len(probs), 1.0 / len(probs))
    best_acc = 0.0
    rows = np.arange(len(y))
    for start in range(0, len(grid), chunk):
        w = grid[start : start + chunk]
        mix = _mix(w, flat, len(y))
        acc = (mix.argmax(2) == y).mean(1)
        nll = np.round(-np.log(np.clip(mix[:, rows, y], 1e-9, None)).mean(1), 4)
        spread = np.abs(w - 1.0 / len(probs)).sum(1)
        if criterion == "log-loss":
            first, second = -nll, acc
        elif criterion == "accuracy":
            first, second = acc, -nll
        else:
            acc7 = (_mix(w, flat7, len(y7)).argmax(2) == y7).mean(1)
            first, second = (acc + acc7) / 2, -nll
        order = np.lexsort((-spread, second, first))  # last key is the primary one
        i = int(order[-1])
        key = (float(first[i]), float(second[i]), -float(spread[i]))
        if best_key is None or key > best_key:
            best_key, best_w, best_acc = key, w[i], float(acc[i])
    assert best_key is not None
    return best_w, best_acc


@dataclass(frozen=True)
class HeldOut:
    """One criterion's held-out figures on every fold of every repeat: 3-class accuracy, 7-class
    accuracy (None without ``seven``) and 3-class ECE of the mix (None when not measured)."""

    accuracy3: tuple[float, ...]
    accuracy7: tuple[float, ...] | None = None
    ece3: tuple[float, ...] | None = None

    def score(self) -> float:
        """What ``--criterion auto`` compares: see :data:`AUTO_SCORE`."""
        if self.accuracy7 is None:
            return float(np.mean(self.accuracy3))
        return float(np.mean(self.accuracy3) + np.mean(self.accuracy7)) / 2


Refit = Callable[[np.ndarray], tuple[list[np.ndarray], SevenClass | None]]
"""The members' 3-class (and 7-class) probabilities of every face, with each member's own choices
(views, temperature) made on the faces of a boolean mask only: what nested cross-validation refits."""


def held_out_runs(
    probs: list[np.ndarray],
    truth3: np.ndarray,
    step: float,
    max_members: int | None = None,
    folds: int = CV_FOLDS,
    repeats: int = CV_REPEATS,
    seed: int = 0,
    copies: int = 1,
    seven: SevenClass | None = None,
    refit: Refit | None = None,
) -> dict[str, HeldOut]:
    """Each criterion's held-out 3-class accuracy and ECE (and, with ``seven``, 7-class accuracy) on
    every fold of every repeat, when its weights are fitted on the other folds: ``folds * repeats``
    figures each.

    Only the faces given (the validation split) are used: they are split again into ``folds``
    stratified folds, ``repeats`` times, so the weighting criterion itself is chosen without any
    test data. The folds are stratified by the 7-class truth when ``seven`` is given, so every face
    is held out once per repeat, surprise faces (no 3-class truth) too: the 7-class figures count
    all 7 classes. Without ``seven`` they are stratified by the 3-class truth and only the 3-class
    criteria run.
    ``copies``: the faces are that many copies of one set, one after the other (clean, then
    corrupted); a face's copies share a fold. ``refit``: the members' probabilities are re-made
    for each fold from choices on its fitting faces only (:data:`Refit`); without it ``probs`` and
    ``seven`` are used as given.
    """
    if len(truth3) % copies:
        raise ValueError(f"{len(truth3)} faces are not {copies} copies of one set")
    rng = np.random.default_rng(seed)
    criteria = CRITERIA if seven is not None else THREE_CLASS_CRITERIA
    acc3: dict[str, list[float]] = {c: [] for c in criteria}
    acc7: dict[str, list[float]] = {c: [] for c in criteria}
    ece3: dict[str, list[float]] = {c: [] for c in criteria}
    one = len(truth3) // copies
    strata = truth3[:one] if seven is None else seven.truth[:one]
    for _ in range(repeats):
        fold = np.tile(stratified_folds(strata, folds, rng, random_start=True), copies)
        for f in range(folds):
            fold_probs, fold_seven = (probs, seven) if refit is None else refit(fold != f)
            fit_on = np.where(fold == f, -1, truth3)
            keep = (fold == f) & (truth3 >= 0)
            fit_seven = None if fold_seven is None else fold_seven.masked(fold != f)
            for criterion in criteria:
                w, _ = fit_weights(
                    fold_probs, fit_on, step, max_members=max_members, criterion=criterion, seven=fit_seven
                )
                mix = sum(wi * p for wi, p in zip(w, fold_probs))
                acc3[criterion].append(float(np.mean(mix[keep].argmax(1) == truth3[keep])))
                ece3[criterion].append(ece(mix[keep], truth3[keep]))
                if seven is not None:
                    assert fold_seven is not None, "a refit lost the 7-class probabilities"
                    mix7 = sum(wi * p for wi, p in zip(w, fold_seven.probs))
                    scored = (fold == f) & (fold_seven.truth >= 0)
                    acc7[criterion].append(float(np.mean(mix7[scored].argmax(1) == fold_seven.truth[scored])))
    return {c: HeldOut(tuple(acc3[c]), tuple(acc7[c]) if seven is not None else None, tuple(ece3[c])) for c in criteria}


def fit_weights_excluding(
    probs: list[np.ndarray],
    truth3: np.ndarray,
    step: float,
    excluded: list[bool],
    max_members: int | None = None,
    criterion: str = "accuracy",
    seven: SevenClass | None = None,
) -> tuple[np.ndarray, float]:
    """:func:`fit_weights` over the members not ``excluded``; excluded members get weight 0.
    ``seven`` holds every member's 7-class probabilities, excluded ones too."""
    free = [i for i, out in enumerate(excluded) if not out]
    if not free:
        raise InvalidDataset("every member is marked val_in_training: nothing can be weighted on this split")
    weights = np.zeros(len(probs))
    free_weights, acc = fit_weights(
        [probs[i] for i in free],
        truth3,
        step,
        max_members=max_members,
        criterion=criterion,
        seven=None if seven is None else seven.subset(free),
    )
    weights[free] = free_weights
    return weights, acc


def choose_criterion(
    probs: list[np.ndarray],
    truth3: np.ndarray,
    step: float,
    max_members: int,
    copies: int = 1,
    seven: SevenClass | None = None,
    refit: Refit | None = None,
) -> tuple[str, dict[str, HeldOut]]:
    """The criterion with the best held-out :data:`AUTO_SCORE` inside the validation split (ties:
    accuracy), and every criterion's held-out figures (``refit``: see :func:`held_out_runs`)."""
    runs = held_out_runs(probs, truth3, step, max_members, copies=copies, seven=seven, refit=refit)
    for name, run in runs.items():
        line = f"  criterion {name:<11} held-out 3-class {_mean_sd(run.accuracy3)}"
        if run.accuracy7 is not None:
            line += f", 7-class {_mean_sd(run.accuracy7)}"
        if run.ece3 is not None:
            line += f", 3-class ECE {np.mean(run.ece3):.3f} ± {np.std(run.ece3, ddof=1):.3f}"
        print(f"{line} (mean ± sd, {CV_DESIGN})")
    return max(runs, key=lambda c: (runs[c].score(), c == "accuracy")), runs


def _mean_sd(values: tuple[float, ...]) -> str:
    return percent_spread(np.mean(values), np.std(values, ddof=1))
