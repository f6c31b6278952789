"""Image-level bottom-up scores from face-level scores."""

from __future__ import annotations

import numpy as np

AGGREGATIONS = ("mean", "area")


def aggregate_faces(face_probs: np.ndarray, areas: np.ndarray | None = None, rule: str = "mean") -> np.ndarray | None:
    """Image-level probabilities: the mean of faces (reference) or an area-weighted mean.

    Returns ``None`` when there is no face: the bottom-up prediction is absent, not guessed.
    """
    if rule not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {rule!r}; expected one of {AGGREGATIONS}")
    if len(face_probs) == 0:
        return None
    if rule == "area" and areas is not None and np.sum(areas) > 0:
        weights = np.asarray(areas, dtype=float) / float(np.sum(areas))
        return np.asarray(weights @ face_probs)
    return np.asarray(face_probs.mean(axis=0))
