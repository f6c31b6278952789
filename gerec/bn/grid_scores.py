"""Every tuning grid point scored at once on held-out images: correct predictions and summed NLL,
top-down and fused, per evaluation group (:func:`fold_scores`). A closed-form, vectorised copy of
:meth:`gerec.bn.network.SceneNetwork.posterior`, the label tables fitted per fold as
:mod:`gerec.bn.devfit` fits them; :mod:`gerec.bn.tuning` sums these scores over folds and chooses."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from gerec.bn import devfit
from gerec.bn.devdata import DevData, cnn_loglik, cnn_table_for, label_loglik, prior_for
from gerec.bn.grid import RULE_SETS, Grid, mapping_rules
from gerec.bn.histogram import LabelHistogram


def vocabulary_for(
    hist: LabelHistogram,
    raw_fit: devfit.RawLabels,
    rules: str,
    new_min: int | None,
    dev_weight: float,
    unmapped: Counter[str] | None = None,
) -> tuple[str, ...]:
    """Histogram labels plus the new labels grown from the fitting images (none at weight 0).

    ``unmapped`` may pass :func:`devfit.unmapped_counts` of ``raw_fit`` already computed."""
    if new_min is None or dev_weight <= 0:
        return hist.labels
    if unmapped is None:
        unmapped = devfit.unmapped_counts(hist, raw_fit, RULE_SETS[rules])
    return hist.labels + devfit.new_labels(unmapped, new_min)


def _tables(
    hist: LabelHistogram,
    data: DevData,
    fit: np.ndarray,
    rows: np.ndarray,
    grid: Grid,
) -> Iterator[tuple[tuple[int, ...], np.ndarray]]:
    """Per (rules, embed_min, new_min, dev_weight, alpha, shrink, absent) grid index: untempered label
    log-likelihood of the images ``rows``, everything fitted on the images ``fit`` (boolean masks)."""
    raw_fit = [data.labels[i] for i in np.flatnonzero(fit)]
    raw_rows = [data.labels[i] for i in np.flatnonzero(rows)]
    y_fit = data.y[fit]
    for ir, rules in enumerate(grid.rules):
        unmapped = devfit.unmapped_counts(hist, raw_fit, RULE_SETS[rules])
        for ie, embed_min in enumerate(grid.embed_min):
            presence: dict[tuple[str, ...], tuple[Any, Any]] = {}  # vocabulary -> (fit, rows)
            for im, new_min in enumerate(grid.new_min):
                for iw, weight in enumerate(grid.dev_weight):
                    vocab = vocabulary_for(hist, raw_fit, rules, new_min, weight, unmapped)
                    if vocab not in presence:
                        x = devfit.presence(vocab, mapping_rules(rules, embed_min), raw_fit + raw_rows, embed_min)
                        presence[vocab] = (sparse.csr_matrix(x[: len(raw_fit)]), sparse.csr_matrix(x[len(raw_fit) :]))
                    x_fit, x_rows = presence[vocab]
                    table = devfit.label_table(hist, vocab, x_fit, y_fit, weight)
                    masks = [devfit.absent_mask(table, absent) for absent in grid.absent]
                    for ia, alpha in enumerate(grid.alpha):
                        for ih, shrink in enumerate(grid.shrink):
                            p = devfit.p_present(table, alpha, shrink)
                            for ib, mask in enumerate(masks):
                                yield (ir, ie, im, iw, ia, ih, ib), label_loglik(x_rows, p, mask)


@dataclass(frozen=True, eq=False)
class GridScores:
    """Per grid point and evaluation group: correct predictions and summed NLL, top-down and fused."""

    top: np.ndarray
    fused: np.ndarray
    top_nll: np.ndarray
    fused_nll: np.ndarray

    def group(self, g: int) -> GridScores:
        """The scores of evaluation group ``g`` alone."""
        return GridScores(self.top[..., g], self.fused[..., g], self.top_nll[..., g], self.fused_nll[..., g])

    def __add__(self, other: GridScores) -> GridScores:
        return GridScores(
            self.top + other.top,
            self.fused + other.fused,
            self.top_nll + other.top_nll,
            self.fused_nll + other.fused_nll,
        )


def _nll(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per item negative log-softmax of the true class (last axis: classes)."""
    top = logits.max(-1, keepdims=True)
    lse = np.log(np.exp(logits - top).sum(-1)) + top[..., 0]
    return lse - np.take_along_axis(logits, y.reshape((1,) * (logits.ndim - 2) + (-1, 1)), -1)[..., 0]


def fold_scores(
    hist: LabelHistogram, data: DevData, grid: Grid, fit: np.ndarray, groups: np.ndarray, nll: bool = False
) -> GridScores:
    """Correct predictions (and, with ``nll``, summed NLL; else zeros) per evaluation group for
    every grid point, fitted on ``fit``.

    ``groups[i]`` is image i's group (-1: not evaluated). Each array has the shape
    (*grid axes, n_groups). NLL costs about ten times the time of the counts.
    """
    rows = groups >= 0
    k = int(groups.max()) + 1
    onehot = np.eye(k)[groups[rows]]
    y = data.y[rows]
    lw = np.asarray(grid.label_weight)[:, None, None]
    cw = np.asarray(grid.cnn_weight)[:, None, None, None]
    shape = [len(v) for v in grid.axes().values()]
    out = GridScores(*(np.zeros(shape + [k]) for _ in range(4)))
    priors = [np.log(prior_for(hist, p, data.y[fit])) for p in grid.prior]
    cnn_parts = [cnn_loglik(data.cnn[rows], cnn_table_for(t, data.y[fit], data.cnn[fit])) for t in grid.cnn_table]
    for index, ll in _tables(hist, data, fit, rows, grid):
        labels = lw * ll[None]  # (n_lw, n, 3)
        for ip, log_prior in enumerate(priors):
            td = labels + log_prior
            correct = (td.argmax(-1) == y).astype(float)
            out.top[index + (ip,)] = (correct @ onehot)[None, :, None, :]
            if nll:
                out.top_nll[index + (ip,)] = (_nll(td, y) @ onehot)[None, :, None, :]
            for it, part in enumerate(cnn_parts):
                fz = td[None] + cw * part[None, None]
                correct = (fz.argmax(-1) == y).astype(float)
                out.fused[index + (ip, it)] = np.moveaxis(correct @ onehot, 0, 1)
                if nll:
                    out.fused_nll[index + (ip, it)] = np.moveaxis(_nll(fz, y) @ onehot, 0, 1)
    return out
