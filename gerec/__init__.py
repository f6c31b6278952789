"""gerec: group emotion recognition (Positive / Neutral / Negative) with explanations.

Public API::

    from gerec import Pipeline, analyze, load_image, CLASSES
    pred = analyze("photo.jpg")          # GroupPrediction
    pred.bottom_up, pred.top_down, pred.fused
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gerec.classes import CLASSES
from gerec.errors import (
    GerecError,
    ImageTooLarge,
    InvalidDataset,
    InvalidImage,
    InvalidModelFile,
    LabelerUnavailable,
    ModelFileMissing,
    NoFaceDetected,
)
from gerec.tf_quiet import quiet_logs
from gerec.types import Face, FaceScores, GroupPrediction, SceneEvidence

quiet_logs()  # before anything imports TensorFlow

if TYPE_CHECKING:
    from gerec.pipeline import Pipeline

__version__ = "0.1.0"
_default: Pipeline | None = None


def __getattr__(name: str) -> Any:
    """Lazy access to heavy modules (``Pipeline``, ``load_image``) without importing TF early."""
    if name in ("Pipeline", "PipelineConfig"):
        from gerec import pipeline

        return getattr(pipeline, name)
    if name == "load_image":
        from gerec.imaging import load_image

        return load_image
    raise AttributeError(name)


def analyze(photo: Any, labels: list[str] | None = None) -> GroupPrediction:
    """Analyse one photo with the default pipeline (models loaded once per process)."""
    global _default
    if _default is None:
        from gerec.pipeline import Pipeline

        _default = Pipeline()
    return _default.analyze(photo, labels=labels)


__all__ = [
    "CLASSES",
    "Face",
    "FaceScores",
    "GerecError",
    "GroupPrediction",
    "ImageTooLarge",
    "InvalidDataset",
    "InvalidImage",
    "InvalidModelFile",
    "LabelerUnavailable",
    "ModelFileMissing",
    "NoFaceDetected",
    "SceneEvidence",
    "analyze",
]
