"""Fit the scene network from a label histogram (the reference rule, and smoothed variants)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gerec.bn.histogram import LabelHistogram, read_histogram
from gerec.bn.network import ZERO_COUNT_FLOOR, SceneNetwork
from gerec.classes import N_CLASSES
from gerec.versions import file_sha256

REFERENCE_ZERO_FLOOR = ZERO_COUNT_FLOOR
REFERENCE_INFERENCE = "as the reference's pgmpy < 0.1.11 variable elimination: identical evidence factors count once"

# The reference face-CNN ensemble's confusion on its held-out training faces, as published in
# the order Positive, Negative, Neutral (rows true, columns predicted) ...
_REFERENCE_CONFUSION_PNN = np.array([[2735, 210, 430], [330, 791, 552], [374, 387, 1097]], dtype=float)
_TO_PROJECT_ORDER = [0, 2, 1]
# ... and in the project's order Positive, Neutral, Negative.
REFERENCE_CNN_CONFUSION = _REFERENCE_CONFUSION_PNN[np.ix_(_TO_PROJECT_ORDER, _TO_PROJECT_ORDER)]


def row_normalise(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to one (a confusion matrix as P(predicted | true))."""
    matrix = np.asarray(matrix, dtype=float)
    return matrix / matrix.sum(axis=1, keepdims=True)


def reference_p_present(hist: LabelHistogram, zero_floor: float = REFERENCE_ZERO_FLOOR) -> np.ndarray:
    """P(label | class) = count / images in class, with a count of 0 replaced by ``zero_floor``."""
    p = hist.counts / hist.totals[None, :]
    p = np.where(hist.counts == 0, zero_floor, p)
    return np.clip(p, zero_floor, 1.0 - zero_floor)


def smoothed_p_present(hist: LabelHistogram, alpha: float) -> np.ndarray:
    """Additive (Beta(alpha, alpha)) smoothing: (count + alpha) / (total + 2 alpha)."""
    return (hist.counts + alpha) / (hist.totals[None, :] + 2.0 * alpha)


def fit_reference(
    histogram: str | Path | LabelHistogram,
    cnn_confusion: np.ndarray = REFERENCE_CNN_CONFUSION,
    zero_floor: float = REFERENCE_ZERO_FLOOR,
    collapse_identical_factors: bool = True,
) -> SceneNetwork:
    """The reference network: uniform prior, count/total with 0 -> floor, every label counted.

    ``collapse_identical_factors`` (default) reproduces the reference's inference, where
    identical evidence factors count once (pgmpy before 0.1.11, see :mod:`gerec.bn.factor_set`);
    ``False`` gives exact inference in the same network.
    """
    if isinstance(histogram, LabelHistogram):
        hist, source = histogram, {"source": "<in memory>"}
    else:
        hist = read_histogram(histogram)
        source = {"source": Path(histogram).name, "sha256": file_sha256(histogram)}
    metadata = {
        "mode": "reference",
        "fitted_from": source,
        "rule": f"P(label|class) = count / images in class; count 0 -> {zero_floor}",
        "prior": "uniform",
        "absent_labels": "all entered as evidence",
        "cnn_table": "row-normalised reference face-CNN confusion matrix (held-out training faces)",
        "inference": REFERENCE_INFERENCE if collapse_identical_factors else "exact",
        "class_totals": hist.totals.tolist(),
        "counts": hist.counts.tolist(),
    }
    n = len(hist.labels)
    return SceneNetwork(
        labels=hist.labels,
        p_present=reference_p_present(hist, zero_floor),
        prior=np.full(N_CLASSES, 1.0 / N_CLASSES),
        cnn_table=row_normalise(cnn_confusion),
        cnn_base_rate=np.asarray(cnn_confusion, dtype=float).sum(axis=1) / float(np.sum(cnn_confusion)),
        absent_mask=np.ones(n, dtype=bool),
        metadata=metadata,
        collapse_identical_factors=collapse_identical_factors,
    )
