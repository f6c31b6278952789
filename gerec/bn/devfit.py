"""Label tables fitted from the training histogram plus (weighted) labelled dev images.

The histogram gives, for 809 labels, in how many training images of each class the label was
returned. Dev images (labels + true class) add evidence of the same kind:

* every raw dev label is first mapped onto the histogram's labels with the vocabulary rules;
* a raw label that maps to nothing and occurs in at least ``new_min`` fitting images becomes a
  *new* label node of its own (``new_min`` None: no new labels);
* per label and class, ``count = histogram count + dev_weight * dev count`` and
  ``total = histogram total + dev_weight * dev images of the class``. A new label's histogram
  count is unknown (the histogram lists only its own labels), so a new label's count and total
  come from the dev images alone.

``P(label | class)`` is then ``(count + alpha) / (total + 2 alpha)`` (or the reference rule,
count / total with 0 replaced by 1e-4, for ``alpha`` None). Only fitting images are ever
counted; the caller decides which (training folds inside cross-validation, all dev images for
the final network).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gerec.bn.fit import REFERENCE_ZERO_FLOOR
from gerec.bn.histogram import LabelHistogram
from gerec.bn.vocabulary import VocabularyMapper
from gerec.classes import N_CLASSES

RawLabels = Sequence[Sequence[str]]


@dataclass(frozen=True, eq=False)
class LabelTable:
    """Per-label class counts and per-label class totals; the first ``n_histogram`` labels
    are the histogram's, in its order, the rest are new labels (sorted)."""

    labels: tuple[str, ...]
    counts: np.ndarray  # (n_labels, 3)
    totals: np.ndarray  # (n_labels, 3)
    n_histogram: int


def histogram_table(hist: LabelHistogram) -> LabelTable:
    """The histogram alone as a :class:`LabelTable`."""
    totals = np.broadcast_to(hist.totals, hist.counts.shape).astype(float)
    return LabelTable(hist.labels, hist.counts.astype(float), totals, len(hist.labels))


def unmapped_counts(hist: LabelHistogram, raw: RawLabels, rules: Sequence[str]) -> Counter[str]:
    """In how many of the images ``raw`` each raw label (normalised) maps to no histogram label."""
    mapper = VocabularyMapper(hist.labels, tuple(rules))
    return Counter(label for labels in raw for label in mapper.map(labels).ignored)


def new_labels(unmapped: Counter[str], new_min: int | None) -> tuple[str, ...]:
    """The :func:`unmapped_counts` labels seen at least ``new_min`` times, sorted (None: none)."""
    if new_min is None:
        return ()
    return tuple(sorted(label for label, n in unmapped.items() if n >= new_min))


def presence(
    vocabulary: Sequence[str], rules: Sequence[str], raw: RawLabels, embedding_min: float | None = None
) -> np.ndarray:
    """(images x vocabulary) 0/1 matrix of the labels each image's raw labels map to."""
    mapper = VocabularyMapper(tuple(vocabulary), tuple(rules), 1.0 if embedding_min is None else embedding_min)
    index = {label: i for i, label in enumerate(vocabulary)}
    x = np.zeros((len(raw), len(vocabulary)))
    for row, labels in enumerate(raw):
        for label in mapper.map(labels).used:
            x[row, index[label]] = 1.0
    return x


def label_table(
    hist: LabelHistogram, vocabulary: Sequence[str], x_fit: Any, y_fit: np.ndarray, dev_weight: float
) -> LabelTable:
    """Histogram counts plus ``dev_weight`` times the fitting images' counts (see module doc).

    ``vocabulary`` must start with the histogram's labels; ``x_fit`` is the fitting images'
    :func:`presence` matrix over it (dense or scipy-sparse) and ``y_fit`` their class indices.
    """
    n_hist = len(hist.labels)
    if tuple(vocabulary[:n_hist]) != hist.labels:
        raise ValueError("the vocabulary must start with the histogram's labels")
    n = len(vocabulary)
    counts = np.zeros((n, N_CLASSES))
    totals = np.zeros((n, N_CLASSES))
    counts[:n_hist] = hist.counts
    totals[:n_hist] = hist.totals[None, :]
    if x_fit.shape[0] and dev_weight > 0:
        onehot = np.eye(N_CLASSES)[y_fit]
        counts += dev_weight * np.asarray(x_fit.T @ onehot)
        totals += dev_weight * onehot.sum(0)[None, :]
    if (totals <= 0).any():
        raise ValueError("a new label needs dev images of every class (dev_weight > 0)")
    return LabelTable(tuple(vocabulary), counts, totals, n_hist)


def p_present(table: LabelTable, alpha: float | None, shrink: float = 0.0) -> np.ndarray:
    """(count + alpha) / (total + 2 alpha), or count / total with 0 -> 1e-4 for ``alpha`` None.

    ``shrink`` > 0 first adds ``shrink`` pseudo-images at the label's class-pooled rate
    (count + shrink * pooled, total + shrink): the classes' rates of a rarely seen label are
    pulled together, so its presence is weaker evidence; a common label hardly moves.
    """
    counts, totals = table.counts, table.totals
    if shrink > 0:
        pooled = counts.sum(1, keepdims=True) / totals.sum(1, keepdims=True)
        counts, totals = counts + shrink * pooled, totals + shrink
    if alpha is None:
        p = counts / totals
        p = np.where(counts == 0, REFERENCE_ZERO_FLOOR, p)
        return np.clip(p, REFERENCE_ZERO_FLOOR, 1.0 - REFERENCE_ZERO_FLOOR)
    return (counts + alpha) / (totals + 2.0 * alpha)


def mutual_information(table: LabelTable, alpha: float = 1.0) -> np.ndarray:
    """I(label present; class) per label in nats (class prior: the label's own totals)."""
    p = p_present(table, alpha)
    prior = table.totals / table.totals.sum(1, keepdims=True)
    mi = np.zeros(len(table.labels))
    for q in (p, 1.0 - p):
        marginal = (q * prior).sum(1, keepdims=True)
        mi += (prior * q * np.log(q / marginal)).sum(1)
    return mi


def absent_mask(table: LabelTable, absent: str) -> np.ndarray:
    """Which labels' absence is evidence: ``all``, ``none``, or ``topK`` by mutual information."""
    n = len(table.labels)
    if absent == "all":
        return np.ones(n, dtype=bool)
    if absent == "none":
        return np.zeros(n, dtype=bool)
    if absent.startswith("top") and absent[3:].isdigit():
        mask = np.zeros(n, dtype=bool)
        mask[np.argsort(-mutual_information(table), kind="stable")[: int(absent[3:])]] = True
        return mask
    raise ValueError(f"unknown absent mode {absent!r}")
