"""Face sets in the ``.npz`` format of FER-2013 and the validation split carved from them."""

from __future__ import annotations

import pickle
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

    def validation(self) -> FaceSet:
        """The validation split carved from these faces (:func:`validation_split`: 10 %, stratified,
        seed 0): on FER-2013 ``train.npz``, the faces every member, view and weight is chosen on."""
        return self.subset(validation_split(self.labels)[1])


# what an object array of strings or bytes pickles to (np.save); anything else is refused unread
_ID_PICKLE_GLOBALS = {
    (module, name)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {("numpy", "ndarray"), ("numpy", "dtype"), ("codecs", "encode")}


class _IdUnpickler(pickle.Unpickler):
    """Unpickles an object array of ids and nothing else (no arbitrary code from a data file)."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ID_PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"ids hold {module}.{name}, not strings")
        return super().find_class(module, name)


def _object_ids(path: Path) -> np.ndarray:
    """The ``ids`` of an ``.npz`` saved as an object array (strings or bytes), read without running code."""
    with zipfile.ZipFile(path) as archive, archive.open("ids.npy") as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(handle)
        else:
            np.lib.format.read_array_header_2_0(handle)
        try:
            return np.asarray(_IdUnpickler(handle).load())
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError) as exc:
            raise InvalidDataset(f"{path}: its ids are not strings: {exc}") from exc


def face_ids(raw: np.ndarray, n: int, path: Path | str = "") -> np.ndarray:
    """Ids as a 1-D unicode array of any length: bytes decoded as UTF-8 (bad bytes as ``\\xNN``), numbers as text."""
    raw = np.asarray(raw)
    if raw.ndim != 1 or len(raw) != n:
        raise InvalidDataset(f"{path}: ids must be one per face ({n}), got an array of shape {raw.shape}")
    text = [v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else str(v) for v in raw.tolist()]
    return np.asarray(text, dtype=str) if text else np.zeros(0, dtype=str)


def load_face_set(path: str | Path) -> FaceSet:
    """Read an ``.npz`` with ``images``, ``labels``, ``classes`` (and optional ``ids``: strings of any
    length, bytes or numbers, also as an object array; without them the ids are 0, 1, 2...)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            images = data["images"]
            labels = data["labels"].astype(int)
            classes = tuple(str(c) for c in data["classes"])
            has_ids = "ids" in data
            try:
                ids = data["ids"] if has_ids else np.arange(len(labels))
            except ValueError:  # an object array: np.load refuses it without pickle
                ids = _object_ids(path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise InvalidDataset(f"{path}: not a face set (.npz with images, labels, classes): {exc}") from exc
    if len(images) == 0 or len(images) != len(labels):
        raise InvalidDataset(f"{path}: empty face set or images/labels of different lengths")
    ids = face_ids(ids, len(labels), path)
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
