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


MIN_FACE_SIDE = 16
"""The smallest face side (pixels) a face set may hold; FER-2013's faces are 48x48."""
MAX_ARRAY_BYTES = 4 * 2**30
"""The largest array a face set may declare (FER-2013 ``train.npz``'s images take 66 MB)."""
REQUIRED = ("images", "labels", "classes")


def _declared_arrays(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Each array's shape and dtype as its ``.npy`` header in the archive declares them, read
    before any array is loaded: an array over :data:`MAX_ARRAY_BYTES`, or bigger than its entry in
    the archive, is refused unread."""
    declared: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            key = info.filename.removesuffix(".npy")
            if key not in (*REQUIRED, "ids"):
                continue
            with archive.open(info) as handle:
                version = np.lib.format.read_magic(handle)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(handle)
            size = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if size > MAX_ARRAY_BYTES:
                raise InvalidDataset(
                    f"{path}: '{key}' declares an array of shape {shape} ({size / 2**30:.1f} GiB); "
                    f"a face set's arrays are read up to {MAX_ARRAY_BYTES / 2**30:.0f} GiB"
                )
            if not dtype.hasobject and size > info.file_size:
                raise InvalidDataset(
                    f"{path}: '{key}' declares {size} bytes (shape {shape}) but holds {info.file_size}: "
                    "the file is damaged"
                )
            declared[key] = (shape, dtype)
    if missing := [key for key in REQUIRED if key not in declared]:
        raise InvalidDataset(f"{path}: not a face set: no {', '.join(missing)} (an .npz needs images, labels, classes)")
    return declared


def _face_images(images: np.ndarray, path: Path) -> np.ndarray:
    """``images`` as (n, H, W) grey or (n, H, W, 3) RGB uint8; anything ambiguous is refused."""
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)):
        raise InvalidDataset(
            f"{path}: 'images' must be (n, height, width) grey or (n, height, width, 3) RGB, got shape {images.shape}"
        )
    height, width = images.shape[1:3]
    if min(height, width) < MIN_FACE_SIDE:
        raise InvalidDataset(
            f"{path}: 'images' are {height}x{width} pixels; faces must be at least {MIN_FACE_SIDE}x{MIN_FACE_SIDE}"
        )
    if images.dtype == np.uint8:
        return images
    if images.dtype.kind in "iu":
        low, high = (int(images.min()), int(images.max())) if images.size else (0, 0)
        if low >= 0 and high <= 255:  # whole grey levels in another integer type: the same pixels
            return images.astype(np.uint8)
        raise InvalidDataset(
            f"{path}: 'images' are {images.dtype} with values from {low} to {high}; "
            "pixels must be grey levels 0-255 (store them as uint8)"
        )
    raise InvalidDataset(
        f"{path}: 'images' are {images.dtype}; store them as uint8 grey levels 0-255 "
        "(float pixels are ambiguous, 0-1 or 0-255: for 0-1, (images * 255).round().astype(np.uint8))"
    )


def _class_names(raw: np.ndarray, path: Path) -> tuple[str, ...]:
    """``classes`` as names: a 1-D array of text, or of bytes (read as UTF-8), distinct."""
    if raw.ndim != 1 or raw.dtype.kind not in "US" or not raw.size:
        raise InvalidDataset(
            f"{path}: 'classes' must be a list of class names (a 1-D array of str or bytes), "
            f"got {raw.dtype} of shape {raw.shape}"
        )
    try:
        names = tuple(c.decode("utf-8") if isinstance(c, bytes) else str(c) for c in raw.tolist())
    except UnicodeDecodeError as exc:
        raise InvalidDataset(f"{path}: 'classes' are bytes that are not UTF-8 text: {exc}") from exc
    if len(set(names)) != len(names):
        raise InvalidDataset(f"{path}: 'classes' names a class twice: {list(names)}")
    if not any(c.lower() in FER_TO_GROUP or c in CLASSES for c in names):
        raise InvalidDataset(
            f"{path}: none of its classes {list(names)} is one of FER-2013's {FER_CLASSES} or {CLASSES}"
        )
    return names


def load_face_set(path: str | Path) -> FaceSet:
    """Read an ``.npz`` with ``images``, ``labels``, ``classes`` (and optional ``ids``: strings of any
    length, bytes or numbers, also as an object array; without them the ids are 0, 1, 2...).

    ``images``: (n, H, W) grey or (n, H, W, 3) RGB (a last axis of 1 counts as grey), at least
    :data:`MIN_FACE_SIDE` pixels a side, uint8 (another integer type only with values 0-255; float
    pixels are refused as ambiguous). ``labels``: n whole numbers indexing ``classes``. ``classes``:
    distinct names, str or UTF-8 bytes. Array sizes are checked from the file's headers before any
    array is loaded. Anything else is an :class:`InvalidDataset` naming the field.
    """
    path = Path(path)
    try:
        declared = _declared_arrays(path)
        with np.load(path, allow_pickle=False) as data:
            images = data["images"]
            raw_labels = data["labels"]
            raw_classes = data["classes"]
            try:
                ids = data["ids"] if "ids" in declared else np.arange(len(raw_labels))
            except ValueError:  # an object array: np.load refuses it without pickle
                ids = _object_ids(path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise InvalidDataset(f"{path}: not a face set (.npz with images, labels, classes): {exc}") from exc
    classes = _class_names(raw_classes, path)
    images = _face_images(images, path)
    if raw_labels.ndim != 1 or raw_labels.dtype.kind not in "iu":
        raise InvalidDataset(
            f"{path}: 'labels' must be one whole number per face (a 1-D integer array), "
            f"got {raw_labels.dtype} of shape {raw_labels.shape}"
        )
    labels = raw_labels.astype(int)
    if len(images) == 0 or len(images) != len(labels):
        raise InvalidDataset(
            f"{path}: empty face set or images/labels of different lengths ({len(images)} images, {len(labels)} labels)"
        )
    ids = face_ids(ids, len(labels), path)
    if labels.min() < 0 or labels.max() >= len(classes):
        raise InvalidDataset(f"{path}: 'labels' out of range of its {len(classes)} classes (0 to {len(classes) - 1})")
    return FaceSet(images, labels, ids, classes)


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
