"""The scene-labeler interface shared by every labeler (cached, manual, cloud, offline)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from gerec.types import normalise_label as normalise_label  # where labelers import it from


@dataclass(frozen=True)
class LabelerInput:
    """What a labeler may look at: the photo's name, its pixels (RGB uint8) and its faces.

    Cached labelers use ``name``; image labelers use ``pixels``; ``encoded`` holds the original
    file bytes when available (cloud labelers send those); ``face_count`` lets a labeler derive
    people-related labels.
    """

    name: str
    pixels: np.ndarray | None = None
    encoded: bytes | None = None
    face_count: int | None = None


@dataclass(frozen=True)
class LabelResult:
    """Labels a labeler returned, with optional scores (0..1) and who answered."""

    labels: tuple[str, ...]
    labeler: str
    scores: tuple[float, ...] | None = None
    notes: tuple[str, ...] = ()


@runtime_checkable
class SceneLabeler(Protocol):
    """Something that names what is in a photo. Raises ``LabelerUnavailable`` when it cannot."""

    name: str

    def label(self, item: LabelerInput) -> LabelResult:
        """Scene labels for one photo (lower case)."""
        ...
