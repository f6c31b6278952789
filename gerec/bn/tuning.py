"""Tune and fit the scene network by nested, stratified k-fold cross-validation on dev labels.

The label tables come from the training histogram plus, weighted by ``dev_weight``, the dev
images of the folds being fitted; dev labels the vocabulary rules cannot map become new label
nodes when seen ``new_min`` times (see :mod:`gerec.bn.devfit`). The other hyperparameters are
the vocabulary rules, additive smoothing, which absent labels count, the class prior, the CNN
table and the label/CNN tempering weights.

Nested CV, with folds 0..k-1: every grid point is scored on fold g with everything (label
tables, prior, CNN table) fitted on the folds other than g and the outer fold f. For outer fold
f the grid point with the best summed score over the inner folds g != f is chosen, refitted on
all folds but f, and its accuracy on f is reported; f is never fitted on nor selected on. The
final network is the grid point with the best plain k-fold score, fitted on all dev images.
Scores are a closed-form, vectorised copy of :meth:`SceneNetwork.posterior`;
:func:`build_network` makes the real network. The grid and its points are :mod:`gerec.bn.grid`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from gerec.bn import devfit
from gerec.bn.devdata import (
    NO_CNN,
    DevData,
    cnn_base_rate_for,
    cnn_table_for,
    load_dev_data,
    prior_for,
    recall,
)
from gerec.bn.grid import (
    REFERENCE_CONFIG,
    RULE_SETS,
    Config,
    Grid,
    config_index,
    grid_size,
    index_to_config,
    mapping_rules,
)
from gerec.bn.grid_scores import GridScores, fold_scores, vocabulary_for
from gerec.bn.histogram import LabelHistogram
from gerec.bn.network import SceneNetwork
from gerec.bn.vocabulary import config_of
from gerec.folds import stratified_folds


@dataclass
class CVResult:
    """Nested-CV outcome: per outer fold, the chosen config and held-out accuracies."""

    folds: np.ndarray
    chosen: list[Config]
    topdown: list[float]
    fused: list[float]
    predictions_topdown: np.ndarray
    predictions_fused: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


def predict(hist: LabelHistogram, data: DevData, config: Config, fit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(top-down, fused) predicted class indices for all images, everything fitted on ``fit``."""
    from gerec.bn.calibrate import config_parts  # calibrate builds on this module

    parts = config_parts(hist, data, config, fit)
    fz = parts.topdown + config.cnn_weight * parts.cnn
    return parts.topdown.argmax(1), fz.argmax(1)


# ---------------------------------------------------------------------------------- search
CRITERIA = ("accuracy", "nll")


def criterion_score(scores: GridScores, n: int, criterion: str) -> np.ndarray:
    """Higher is better: (top-down + fused) / 2 accuracy, or minus their mean NLL, over ``n`` items."""
    if criterion == "accuracy":
        return (scores.top + scores.fused) / (2.0 * n)
    if criterion == "nll":
        return -(scores.top_nll + scores.fused_nll) / (2.0 * n)
    raise ValueError(f"unknown criterion {criterion!r}; expected one of {', '.join(CRITERIA)}")


def select(
    scores: GridScores, n: int, restrict: dict[str, Any] | None, grid: Grid, criterion: str = "accuracy"
) -> tuple[int, ...]:
    """The grid position with the best ``criterion`` over ``n`` items (see :func:`criterion_score`).

    ``restrict`` fixes some axes to one value (ablations). Ties go to the first position in
    grid order, so the choice is deterministic.
    """
    score = criterion_score(scores, n, criterion)
    allowed = np.ones(score.shape, dtype=bool)
    for axis, (name, values) in enumerate(grid.axes().items()):
        if restrict and name in restrict:
            sel = np.zeros(len(values), dtype=bool)
            sel[values.index(restrict[name])] = True
            allowed &= sel.reshape([-1 if a == axis else 1 for a in range(score.ndim)])
    score = np.where(allowed, score, -np.inf)
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(score)), score.shape))


@dataclass
class FoldScores:
    """Grid scores: ``outer[f]`` fitted on all folds but f, scored on f; ``inner[f][g]``
    fitted on all folds but f and g, scored on g."""

    folds: np.ndarray
    outer: list[GridScores]
    inner: dict[int, dict[int, GridScores]]

    def inner_sum(self, fold: int) -> GridScores:
        """The inner scores of outer fold ``fold``, summed over its inner folds."""
        parts = list(self.inner[fold].values())
        return sum(parts[1:], parts[0])

    def outer_sum(self) -> GridScores:
        """The outer scores summed over all folds (plain k-fold CV)."""
        return sum(self.outer[1:], self.outer[0])


def all_fold_scores(
    hist: LabelHistogram, data: DevData, k: int, seed: int, grid: Grid, nll: bool = False
) -> FoldScores:
    """Every grid score nested CV needs: k outer fits and k (k - 1) / 2 inner fits (NLL too
    with ``nll``, which selecting by the ``nll`` criterion needs)."""
    folds = stratified_folds(data.y, k, seed)
    outer = [fold_scores(hist, data, grid, folds != f, np.where(folds == f, 0, -1), nll).group(0) for f in range(k)]
    inner: dict[int, dict[int, GridScores]] = {f: {} for f in range(k)}
    for f, g in combinations(range(k), 2):
        groups = np.select([folds == f, folds == g], [0, 1], -1)
        both = fold_scores(hist, data, grid, (folds != f) & (folds != g), groups, nll)
        inner[f][g] = both.group(1)
        inner[g][f] = both.group(0)
    return FoldScores(folds, outer, inner)


def nested_cv(
    hist: LabelHistogram,
    data: DevData,
    k: int = 5,
    seed: int = 0,
    grid: Grid | None = None,
    restricts: dict[str, dict[str, Any]] | None = None,
    scores: FoldScores | None = None,
    predictions: Sequence[str] | None = None,
    criterion: str = "accuracy",
) -> dict[str, CVResult]:
    """Nested CV: per outer fold, select on inner folds, score on the held-out fold.

    Returns a result for the full search (key ``"tuned"``) and for each named restriction in
    ``restricts`` (the same search with some axes fixed; ``{"reference": reference values}``
    gives the untuned reference, scored on the same folds). Held-out predictions are filled in
    for the names in ``predictions`` only (default: all).
    """
    grid = grid or Grid()
    scores = scores or all_fold_scores(hist, data, k, seed, grid, criterion == "nll")
    folds = scores.folds
    settings = {"tuned": {}, **(restricts or {})}
    results = {name: CVResult(folds, [], [], [], np.zeros_like(data.y), np.zeros_like(data.y)) for name in settings}
    for fold in range(k):
        train = folds != fold
        inner = scores.inner_sum(fold)
        outer = scores.outer[fold]
        n_test = int((~train).sum())
        for name, restrict in settings.items():
            index = select(inner, int(train.sum()), restrict, grid, criterion)
            res = results[name]
            res.chosen.append(index_to_config(grid, index))
            res.topdown.append(float(outer.top[index] / n_test))
            res.fused.append(float(outer.fused[index] / n_test))
            if predictions is not None and name not in predictions:
                continue
            td, fz = predict(hist, data, res.chosen[-1], train)
            res.predictions_topdown[~train] = td[~train]
            res.predictions_fused[~train] = fz[~train]
    return results


def select_on_all(
    hist: LabelHistogram,
    data: DevData,
    grid: Grid | None = None,
    k: int = 5,
    seed: int = 0,
    scores: FoldScores | None = None,
    criterion: str = "accuracy",
) -> Config:
    """The configuration with the best plain k-fold score on all dev images (for the final fit)."""
    grid = grid or Grid()
    scores = scores or all_fold_scores(hist, data, k, seed, grid, criterion == "nll")
    return index_to_config(grid, select(scores.outer_sum(), len(data.y), None, grid, criterion))


def build_network(
    hist: LabelHistogram,
    config: Config,
    data: DevData | None = None,
    metadata: dict[str, Any] | None = None,
    fit: np.ndarray | None = None,
) -> SceneNetwork:
    """The :class:`SceneNetwork` of ``config``, fitted on the dev images ``fit`` (default all)."""
    needs_data = config.prior == "dev" or config.cnn_table == "dev" or config.dev_weight > 0
    if needs_data and data is None:
        raise ValueError("dev-fitted tables or prior need the dev data")
    if data is None:
        data = DevData((), (), np.zeros(0, dtype=int), np.zeros(0, dtype=int))
    fit = np.ones(len(data.y), dtype=bool) if fit is None else fit
    raw_fit = [data.labels[i] for i in np.flatnonzero(fit)]
    vocab = vocabulary_for(hist, raw_fit, config.rules, config.new_min, config.dev_weight)
    x_fit = devfit.presence(vocab, mapping_rules(config.rules, config.embed_min), raw_fit, config.embed_min)
    table = devfit.label_table(hist, vocab, x_fit, data.y[fit], config.dev_weight)
    meta = dict(metadata or {})
    meta["vocabulary"] = config_of(mapping_rules(config.rules, config.embed_min), config.embed_min)
    return SceneNetwork(
        labels=table.labels,
        p_present=devfit.p_present(table, config.alpha, config.shrink),
        prior=prior_for(hist, config.prior, data.y[fit]),
        cnn_table=cnn_table_for(config.cnn_table, data.y[fit], data.cnn[fit]),
        cnn_base_rate=cnn_base_rate_for(config.cnn_table, data.y[fit], data.cnn[fit]),
        absent_mask=devfit.absent_mask(table, config.absent),
        label_weight=config.label_weight,
        cnn_weight=config.cnn_weight,
        metadata=meta,
    )


__all__ = [
    "NO_CNN",
    "REFERENCE_CONFIG",
    "RULE_SETS",
    "Config",
    "DevData",
    "Grid",
    "build_network",
    "config_index",
    "grid_size",
    "load_dev_data",
    "mapping_rules",
    "nested_cv",
    "recall",
    "select_on_all",
    "stratified_folds",
]
