"""The faces ``fit-ensemble`` scores its choices on (:data:`FIT_FACES`): the validation split as it is,
or with a seeded copy of it through the group-photo corruptions robust training uses
(:func:`gerec.emotion.corruptions.robust_augment`); a face's two copies share its label."""

from __future__ import annotations

import numpy as np

from gerec.emotion.corruptions import robust_augment
from gerec.emotion.data import FaceSet
from gerec.errors import InvalidDataset

FIT_FACES = ("clean+corrupted", "clean")
"""What ``fit-ensemble --faces`` scores choices on: the validation faces and a corrupted copy, or the faces alone."""
CORRUPTION_SEED = 0


def corrupted_copy(faces: FaceSet, seed: int = CORRUPTION_SEED) -> FaceSet:
    """Each grey face once through :func:`robust_augment` (one seeded generator, in order), same labels."""
    if faces.images.ndim != 3:
        raise InvalidDataset("corrupted copies need grey faces (n, H, W); fit on --faces clean instead")
    rng = np.random.default_rng(seed)
    images = np.stack([robust_augment(img, rng) for img in faces.images])
    return FaceSet(images, faces.labels, np.asarray([f"{i}#corrupted" for i in faces.ids]), faces.classes)


def fitting_faces(val: FaceSet, mode: str) -> tuple[FaceSet, int]:
    """The faces choices are scored on (``mode`` of :data:`FIT_FACES`) and how many copies of ``val`` they hold."""
    if mode not in FIT_FACES:
        raise ValueError(f"faces must be one of {FIT_FACES}, got {mode!r}")
    if mode == "clean":
        return val, 1
    bad = corrupted_copy(val)
    both = FaceSet(
        np.concatenate([val.images, bad.images]),
        np.concatenate([val.labels, bad.labels]),
        np.concatenate([val.ids, bad.ids]),
        val.classes,
    )
    return both, 2
