"""Scene labelers: the interface, cached and manual labelers, and the fallback chain."""

from gerec.scene.base import LabelerInput, LabelResult, SceneLabeler, normalise_label
from gerec.scene.chain import LabelerChain
from gerec.scene.simple import CachedLabeler, ManualLabeler, read_label_file

__all__ = [
    "CachedLabeler",
    "LabelResult",
    "LabelerChain",
    "LabelerInput",
    "ManualLabeler",
    "SceneLabeler",
    "normalise_label",
    "read_label_file",
]
