"""Dev data for tuning (labels, true classes, CNN predictions) and the non-label parts
of the scene network's likelihood (class prior, CNN table) fitted on chosen dev images."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gerec.bn.fit import REFERENCE_CNN_CONFUSION, row_normalise
from gerec.bn.histogram import LabelHistogram
from gerec.classes import CLASSES, N_CLASSES, class_index, true_class_of
from gerec.errors import InvalidDataset

NO_CNN = -1
PRIORS = ("uniform", "histogram", "dev")
CNN_TABLES = ("reference", "dev")


@dataclass(frozen=True, eq=False)
class DevData:
    """Dev images: raw labels, true class index, CNN prediction index (``NO_CNN`` if none)."""

    images: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]
    y: np.ndarray
    cnn: np.ndarray


# ---------------------------------------------------------------------------------- data
def load_dev_data(labels_json: str | Path, cnn_csv: str | Path | None = None) -> DevData:
    """Read dev labels (``{image: [label, ...]}``) and, optionally, the CNN predictions CSV."""
    try:
        raw = json.loads(Path(labels_json).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidDataset(f"cannot read labels {labels_json}: {exc}") from exc
    images = tuple(sorted(raw))
    y = []
    for image in images:
        cls = true_class_of(image)
        if cls is None:
            raise InvalidDataset(f"{labels_json}: no true class for {image!r} (expected pos_/neu_/neg_)")
        y.append(class_index(cls))
    cnn = np.full(len(images), NO_CNN, dtype=int)
    if cnn_csv is not None:
        try:
            with Path(cnn_csv).open(newline="", encoding="utf-8") as handle:
                pred = {r["image"]: (r.get("cnn") or "").strip() for r in csv.DictReader(handle)}
        except (OSError, KeyError, csv.Error) as exc:
            raise InvalidDataset(f"cannot read CNN predictions {cnn_csv}: {exc}") from exc
        cnn = np.array([class_index(pred[i]) if pred.get(i) else NO_CNN for i in images], dtype=int)
    labels = tuple(tuple(str(x) for x in raw[i]) for i in images)
    return DevData(images, labels, np.asarray(y, dtype=int), cnn)


def prior_for(hist: LabelHistogram, kind: str, y: np.ndarray) -> np.ndarray:
    """Class prior: uniform, the histogram's class totals, or class frequencies of ``y`` (+1)."""
    if kind == "uniform":
        return np.full(N_CLASSES, 1.0 / N_CLASSES)
    counts = hist.totals if kind == "histogram" else np.bincount(y, minlength=N_CLASSES) + 1.0
    if kind not in PRIORS:
        raise ValueError(f"unknown prior {kind!r}")
    return np.asarray(counts, dtype=float) / float(np.sum(counts))


def cnn_table_for(kind: str, y: np.ndarray, cnn: np.ndarray) -> np.ndarray:
    """The reference confusion, or the confusion of ``cnn`` on ``y`` (+1 per cell), row-normalised."""
    if kind == "reference":
        return row_normalise(REFERENCE_CNN_CONFUSION)
    if kind != "dev":
        raise ValueError(f"unknown CNN table {kind!r}")
    confusion = np.ones((N_CLASSES, N_CLASSES))
    has = cnn != NO_CNN
    np.add.at(confusion, (y[has], cnn[has]), 1.0)
    return row_normalise(confusion)


def cnn_base_rate_for(kind: str, y: np.ndarray, cnn: np.ndarray) -> np.ndarray:
    """The class mix of the counts behind :func:`cnn_table_for` (its row totals, normalised), so
    that ``base_rate * table[:, j]`` normalised is P(true class | CNN said j) as counted."""
    if kind == "reference":
        totals = REFERENCE_CNN_CONFUSION.sum(axis=1)
    elif kind == "dev":
        has = cnn != NO_CNN
        totals = np.bincount(y[has], minlength=N_CLASSES) + float(N_CLASSES)  # the +1 per cell
    else:
        raise ValueError(f"unknown CNN table {kind!r}")
    return np.asarray(totals, dtype=float) / float(np.sum(totals))


def label_loglik(x: Any, p: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Untempered label log-likelihood per image and class (as in :class:`SceneNetwork`);
    ``x`` is an (images x labels) presence matrix, dense or scipy-sparse."""
    log_p, log_q = np.log(p), np.log1p(-p)
    counted = log_q * mask[:, None]
    return counted.sum(0)[None, :] + np.asarray(x @ (log_p - counted))


def cnn_loglik(cnn: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Untempered CNN log-likelihood per image and class (zeros without a face)."""
    out = np.zeros((len(cnn), N_CLASSES))
    has = cnn != NO_CNN
    out[has] = np.log(table[:, cnn[has]].T)
    return out


def recall(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Per-class recall, by class name."""
    return {c: float((pred[y == i] == i).mean()) for i, c in enumerate(CLASSES)}
