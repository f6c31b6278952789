"""Read a label histogram (``label,positive,neutral,negative`` + a ``total`` row)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gerec.classes import CLASSES
from gerec.errors import InvalidDataset
from gerec.fileio import read_csv_rows


@dataclass(frozen=True, eq=False)
class LabelHistogram:
    """Per-label image counts by class, and the number of images per class."""

    labels: tuple[str, ...]
    counts: np.ndarray  # (n_labels, 3) in CLASSES order
    totals: np.ndarray  # (3,)


def read_histogram(path: str | Path) -> LabelHistogram:
    """Parse a histogram CSV. Columns may come in any order; names are case-insensitive."""
    path = Path(path)
    rows = read_csv_rows(path, "histogram")
    wanted = ["label"] + [c.lower() for c in CLASSES]
    if not rows or any(col not in {k.strip().lower() for k in rows[0]} for col in wanted):
        raise InvalidDataset(f"{path}: expected columns {','.join(wanted)} and a 'total' row")
    labels: list[str] = []
    counts: list[list[float]] = []
    totals: list[float] | None = None
    for row in rows:
        norm = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        try:
            values = [float(norm[c.lower()]) for c in CLASSES]
        except ValueError as exc:
            raise InvalidDataset(f"{path}: non-numeric count in row {norm}") from exc
        name = norm["label"].lower()
        if name == "total":
            totals = values
        elif name:
            labels.append(name)
            counts.append(values)
    if totals is None:
        raise InvalidDataset(f"{path}: no 'total' row with the number of images per class")
    if len(set(labels)) != len(labels):
        raise InvalidDataset(f"{path}: duplicate labels")
    count_arr = np.asarray(counts, dtype=float).reshape(-1, len(CLASSES))
    total_arr = np.asarray(totals, dtype=float)
    if (total_arr <= 0).any() or (count_arr < 0).any() or (count_arr > total_arr).any():
        raise InvalidDataset(f"{path}: counts must lie between 0 and the class totals")
    return LabelHistogram(tuple(labels), count_arr, total_arr)
