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


FACE_PSEUDO_COUNT = 1.0
"""How many uniform pseudo-faces temper the bottom-up evidence (see :func:`bottom_up_evidence`)."""


def bottom_up_evidence(
    image_probs: np.ndarray | None, n_faces: int, pseudo_count: float = FACE_PSEUDO_COUNT
) -> np.ndarray | None:
    """The image's bottom-up evidence for the scene network: the faces' mean, tempered by count.

    ``(n * mean + k * uniform) / (n + k)`` with ``k = pseudo_count``: the mean of the faces'
    probabilities is how confident and how unanimous the faces are (weak or split faces give a
    flat vector); the uniform pseudo-faces make a photo with few faces weaker evidence about the
    group than one with many (one face: half its strength; ten faces: 91 %). The network enters
    the result as soft evidence through its group-level CNN table, so even a unanimous, certain
    set of faces is at most as strong as a hard CNN prediction on the dev images was.
    ``k`` is set by hand, not fitted: there are no group photos with labels to fit it on.
    """
    if image_probs is None or n_faces <= 0:
        return None
    uniform = np.full(len(image_probs), 1.0 / len(image_probs))
    return (n_faces * np.asarray(image_probs, dtype=float) + pseudo_count * uniform) / (n_faces + pseudo_count)
