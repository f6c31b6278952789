"""The faces ``train-faces`` learns from: a face set or a folder of crops, the member's labels and class weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gerec.classes import CLASSES
from gerec.emotion.data import FER_CLASSES, FER_TO_GROUP, FaceSet, load_face_set
from gerec.emotion.ensemble import to_member_input
from gerec.errors import InvalidDataset, InvalidImage
from gerec.imaging import IMAGE_SUFFIXES


def load_face_folder(path: Path, size: int) -> FaceSet:
    """Crops in ``path/<class>/``, classes being the 3 group classes or FER's 7, as RGB uint8; a crop
    is any file named as a photo is (:data:`gerec.imaging.IMAGE_SUFFIXES`)."""
    from gerec.imaging import load_image

    if not path.is_dir():
        raise InvalidDataset(f"{path}: not a folder")
    known = {c.lower() for c in (*CLASSES, *FER_CLASSES)}
    sub = sorted(d for d in path.iterdir() if d.is_dir() and d.name.lower() in known)
    found = {d.name.lower() for d in sub}
    if found <= {c.lower() for c in CLASSES}:  # "neutral" alone counts as the group class
        classes: tuple[str, ...] = CLASSES
    elif found <= set(FER_CLASSES):
        classes = FER_CLASSES
    else:
        raise InvalidDataset(f"{path}: class folders mix group classes and FER classes: {sorted(found)}")
    names = {c.lower(): c for c in classes}
    images, labels, ids = [], [], []
    for folder in sub:
        for file in sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES):
            try:
                pixels = load_image(file, max_side=4 * size).pixels
            except InvalidImage as exc:
                raise InvalidDataset(f"{file}: corrupt face crop: {exc}") from exc
            images.append(to_member_input(pixels[None], size, "rgb", "raw255")[0].astype(np.uint8))
            labels.append(classes.index(names[folder.name.lower()]))
            ids.append(f"{folder.name}/{file.name}")
    if not images:
        raise InvalidDataset(f"{path}: no face images in class subfolders ({', '.join(CLASSES)} or FER's 7)")
    return FaceSet(np.stack(images), np.asarray(labels), np.asarray(ids), classes)


def load_training_faces(path: Path, size: int) -> FaceSet:
    """A FER-format ``.npz`` or a folder of class subfolders."""
    return load_face_folder(path, size) if path.is_dir() else load_face_set(path)


def target_labels(faces: FaceSet, n_classes: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels in the member's own classes (-1 = not used, e.g. surprise for a 3-class member)."""
    if n_classes == len(faces.classes):
        return faces.labels, faces.classes
    if n_classes == 3:
        return faces.group_labels(), CLASSES
    raise InvalidDataset(f"cannot train {n_classes} classes from a set with classes {faces.classes}")


def class_weights(labels: np.ndarray, n_classes: int, mode: str) -> np.ndarray:
    """Per-class loss weights (mean weight over samples = 1): none, sqrt-inverse or inverse frequency."""
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    if mode == "none":
        w = np.ones(n_classes)
    else:
        w = 1.0 / np.maximum(counts, 1.0)
        w = np.sqrt(w) if mode == "sqrt" else w
    return w / (w[labels].mean())


def member_mapping(classes: tuple[str, ...]) -> dict[str, str | None]:
    """The registry mapping of a member's classes to the group classes."""
    return {c: (c if c in CLASSES else FER_TO_GROUP.get(c)) for c in classes}
