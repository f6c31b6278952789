"""Evaluation as pure functions over arrays of class indices (CLASSES order; -1 = absent)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gerec.classes import CLASSES, N_CLASSES
from gerec.errors import InvalidDataset
from gerec.fileio import read_csv_rows
from gerec.formatting import percent


def to_indices(names: Sequence[str | None]) -> np.ndarray:
    """Class names to indices; ``None`` or '' -> -1 (absent)."""
    lookup = {c: i for i, c in enumerate(CLASSES)}
    return np.array([lookup.get(n or "", -1) for n in names], dtype=int)


def confusion_matrix(actual: np.ndarray, predicted: np.ndarray, n: int = N_CLASSES) -> np.ndarray:
    """Counts with rows = actual, columns = predicted; pairs with an absent side are skipped."""
    matrix = np.zeros((n, n), dtype=int)
    ok = (actual >= 0) & (predicted >= 0)
    np.add.at(matrix, (actual[ok], predicted[ok]), 1)
    return matrix


def accuracy(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Share of present predictions that are right (NaN when none are present)."""
    ok = (actual >= 0) & (predicted >= 0)
    return float(np.mean(actual[ok] == predicted[ok])) if ok.any() else float("nan")


def per_class_recall(matrix: np.ndarray) -> np.ndarray:
    """Recall per true class from a confusion matrix."""
    rows = matrix.sum(axis=1)
    return np.divide(np.diag(matrix), rows, out=np.full(len(rows), np.nan), where=rows > 0)


@dataclass(frozen=True, eq=False)
class ModuleScore:
    """Accuracy, coverage and confusion of one module's predictions."""

    module: str
    accuracy: float
    covered: int
    total: int
    confusion: np.ndarray

    @property
    def recall(self) -> np.ndarray:
        """Per-class recall."""
        return per_class_recall(self.confusion)


def score_module(module: str, actual: np.ndarray, predicted: np.ndarray) -> ModuleScore:
    """Score one module's predictions against the truth."""
    valid = actual >= 0
    covered = int(((predicted >= 0) & valid).sum())
    return ModuleScore(
        module, accuracy(actual, predicted), covered, int(valid.sum()), confusion_matrix(actual, predicted)
    )


def format_score(score: ModuleScore) -> str:
    """A short text report: accuracy, coverage, recall and the confusion matrix."""
    head = f"{score.module:<10} accuracy {percent(score.accuracy):>8}  on {score.covered}/{score.total} images"
    recall = "  ".join(f"{c} {percent(r)}" for c, r in zip(CLASSES, score.recall))
    width = max(len(c) for c in CLASSES)
    lines = [
        head,
        f"  recall: {recall}",
        "  confusion (rows actual, columns predicted):",
        "    " + " " * width + " " + " ".join(f"{c[:8]:>8}" for c in CLASSES),
    ]
    for cls, row in zip(CLASSES, score.confusion):
        lines.append(f"    {cls:<{width}} " + " ".join(f"{v:>8d}" for v in row))
    return "\n".join(lines)


def read_cnn_predictions(path: str | Path) -> dict[str, str | None]:
    """``image,faces_detected,cnn`` -> {image: class or None (no face)}."""
    path = Path(path)
    rows = read_csv_rows(path, "CNN predictions")
    if not rows or "image" not in rows[0] or "cnn" not in rows[0]:
        raise InvalidDataset(f"{path}: expected columns image,faces_detected,cnn")
    out: dict[str, str | None] = {}
    for row in rows:
        value = (row.get("cnn") or "").strip()
        if value and value not in CLASSES:
            raise InvalidDataset(f"{path}: unknown class {value!r} for {row['image']}")
        out[row["image"].strip()] = value or None
    return out


def row_probs(rows: Sequence[Mapping[str, object]], module: str) -> np.ndarray:
    """The ``p_<module>_<class>`` columns of OUT.csv rows as an (n, 3) array (NaN where empty)."""
    out = np.full((len(rows), N_CLASSES), np.nan)
    for i, row in enumerate(rows):
        values = [row.get(f"p_{module}_{c}") for c in CLASSES]
        if all(v not in (None, "") for v in values):
            out[i] = [float(v) for v in values]  # type: ignore[arg-type]
    return out


def format_calibration(probs: np.ndarray, actual: np.ndarray) -> str:
    """One line of calibration figures (see :mod:`gerec.calibration`) for a module's probabilities."""
    from gerec.calibration import ECE_BINS, score_probs

    s = score_probs(probs, actual)
    if not s.n:
        return "  calibration: no probabilities"
    return (
        f"  calibration on {s.n} images: ECE {s.ece:.3f} ({ECE_BINS} bins)  NLL {s.nll:.3f}  "
        f"Brier {s.brier:.3f}  mean top probability {s.mean_confidence:.3f}"
    )
