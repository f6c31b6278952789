"""Face sets in the ``.npz`` format of FER-2013 and the validation split carved from them."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gerec.classes import CLASSES
from gerec.errors import InvalidDataset

FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER_TO_GROUP: dict[str, str | None] = {
    "angry": "Negative",
    "disgust": "Negative",
    "fear": "Negative",
    "happy": "Positive",
    "sad": "Negative",
    "surprise": None,  # ambiguous: left out of 3-class evaluation, dropped by members' mapping
    "neutral": "Neutral",
}


@dataclass(frozen=True, eq=False)
class FaceSet:
    """Face crops with labels in their own class list."""

    images: np.ndarray  # (n, H, W) or (n, H, W, 3) uint8
    labels: np.ndarray  # (n,) int index into classes
    ids: np.ndarray
    classes: tuple[str, ...]

    def group_labels(self) -> np.ndarray:
        """Labels as indices into CLASSES; -1 where the class has no group class (surprise)."""
        lookup = []
        for cls in self.classes:
            target = FER_TO_GROUP.get(cls.lower(), cls if cls in CLASSES else None)
            lookup.append(CLASSES.index(target) if target in CLASSES else -1)
        return np.asarray(lookup)[self.labels]

    def subset(self, index: np.ndarray) -> FaceSet:
        """The faces at ``index``."""
        return FaceSet(self.images[index], self.labels[index], self.ids[index], self.classes)


def load_face_set(path: str | Path) -> FaceSet:
    """Read an ``.npz`` with ``images``, ``labels``, ``classes`` (and optional ``ids``)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            images = data["images"]
            labels = data["labels"].astype(int)
            classes = tuple(str(c) for c in data["classes"])
            ids = data["ids"] if "ids" in data else np.arange(len(labels)).astype(str)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise InvalidDataset(f"{path}: not a face set (.npz with images, labels, classes): {exc}") from exc
    if len(images) == 0 or len(images) != len(labels):
        raise InvalidDataset(f"{path}: empty face set or images/labels of different lengths")
    if labels.min() < 0 or labels.max() >= len(classes):
        raise InvalidDataset(f"{path}: labels out of range of its {len(classes)} classes")
    return FaceSet(images.astype(np.uint8), labels, ids, classes)


def validation_split(labels: np.ndarray, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train_index, validation_index) carved out of one training set."""
    rng = np.random.default_rng(seed)
    train_parts, val_parts = [], []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        n_val = int(round(len(idx) * fraction))
        val_parts.append(idx[:n_val])
        train_parts.append(idx[n_val:])
    return np.sort(np.concatenate(train_parts)), np.sort(np.concatenate(val_parts))
