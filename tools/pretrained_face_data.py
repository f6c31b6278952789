"""The training faces of ``tools/train_pretrained_face.py``: FER-2013's faces split as gerec splits
them, and their batches: augmented crops, CutMix and the teacher's soft targets (distillation, emphasis).

The augmentation is ``train-faces --augment robust``'s (flip, rotation, zoom, shift, brightness and
contrast, then the group-photo corruptions of :mod:`gerec.emotion.corruptions`) on uint8 grey crops,
and the input is gerec's own :func:`~gerec.emotion.ensemble.to_member_input`, so the member trains
on what scoring feeds it. Imported by the tool, which puts the repository root on ``sys.path``
first (the tools venv has no gerec installed); only :func:`soft_cross_entropy` needs torch.
"""

from __future__ import annotations

import argparse
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gerec.emotion.corruptions import robust_augment
from gerec.emotion.data import FER_CLASSES, FaceSet, load_face_set, validation_split
from gerec.emotion.ensemble import to_member_input


@dataclass(frozen=True)
class TrainingFaces:
    """A run's faces: FER-2013's crops, the two splits, the validation input and the teacher's targets."""

    faces: FaceSet
    train_idx: np.ndarray  # the training faces used (the first --limit of them)
    val_idx: np.ndarray
    x_val: np.ndarray  # the validation faces as the member's input
    y_val: np.ndarray
    teacher: np.ndarray | None  # the teacher's (n_faces, 7) probabilities (--teacher)
    teacher_sha: str  # its file's SHA-256 ("" without a teacher)


def prepare_faces(args: argparse.Namespace) -> TrainingFaces:
    """FER-2013's faces, the project's validation split of them and the teacher's targets (--teacher)."""
    faces = load_face_set(args.data)
    if tuple(faces.classes) != FER_CLASSES:
        raise SystemExit(f"{args.data}: expected FER's 7 classes, got {faces.classes}")
    every_train_idx, val_idx = validation_split(faces.labels)
    train_idx = every_train_idx[: args.limit] if args.limit else every_train_idx
    teacher, teacher_sha = (None, "")
    if args.teacher is not None:  # the file scores every training face, whatever --limit keeps
        teacher, teacher_sha = load_teacher(args.teacher, len(faces.labels), every_train_idx)
    x_val = to_input(faces.images[val_idx], args.size)
    y_val = faces.labels[val_idx]
    return TrainingFaces(faces, train_idx, val_idx, x_val, y_val, teacher, teacher_sha)


def geometric(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flip, rotation up to 20 degrees, zoom 0.9-1.1, shift up to 10 %, brightness and contrast:
    the geometric and tonal part of ``train-faces --augment robust``, on one uint8 grey crop."""
    import cv2

    h, w = img.shape
    if rng.random() < 0.5:
        img = img[:, ::-1]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(-20, 20)), float(rng.uniform(0.9, 1.1)))
    m[:, 2] = m[:, 2] + rng.uniform(-0.1, 0.1, size=2) * np.array([w, h], dtype=np.float64)
    out = cv2.warpAffine(np.ascontiguousarray(img), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    x = out.astype(np.float32)
    x = (x - x.mean()) * float(rng.uniform(0.8, 1.2)) + x.mean() + float(rng.uniform(-0.15, 0.15)) * 255.0
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def to_input(crops: np.ndarray, size: int) -> np.ndarray:
    """uint8 grey crops (n, 48, 48) to the member's input (n, size, size, 1) float32 in [0, 1]:
    gerec's own :func:`~gerec.emotion.ensemble.to_member_input`, so training sees what scoring feeds."""
    return to_member_input(crops, size, "gray", "unit")


def train_batch(crops: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """Augmented input for one training batch."""
    return to_input(np.stack([robust_augment(geometric(c, rng), rng) for c in crops]), size)


def cutmix(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """CutMix (Yun et al. 2019) on one input batch (n, H, W, C): a box of each face's partner (a
    random permutation) pasted in. Returns the mixed batch, the partner order and the share of each
    face's own label in its loss (1 - the pasted box's area, as pasted after clipping)."""
    n, h, w, _ = x.shape
    partner = rng.permutation(n)
    lam = float(rng.beta(1.0, 1.0))
    bh, bw = int(round(h * math.sqrt(1.0 - lam))), int(round(w * math.sqrt(1.0 - lam)))
    cy, cx = int(rng.integers(h)), int(rng.integers(w))
    y0, y1 = max(cy - bh // 2, 0), min(cy + (bh - bh // 2), h)
    x0, x1 = max(cx - bw // 2, 0), min(cx + (bw - bw // 2), w)
    out = x.copy()
    out[:, y0:y1, x0:x1] = x[partner, y0:y1, x0:x1]
    return out, partner, 1.0 - (y1 - y0) * (x1 - x0) / (h * w)


def load_teacher(path: Path, n_faces: int, train_idx: np.ndarray) -> tuple[np.ndarray, str]:
    """The teacher's (n_faces, 7) probabilities, rows filled for the training faces, and the file's
    SHA-256; refuses a file without every training face, or one that holds a validation face."""
    with np.load(path, allow_pickle=False) as data:
        indices, probs = data["indices"], data["probs"].astype(np.float32)
        classes = tuple(str(c) for c in data["classes"])
    if classes != FER_CLASSES or probs.shape != (len(indices), len(FER_CLASSES)):
        raise SystemExit(f"{path}: expected probabilities over FER's 7 classes")
    if set(indices.tolist()) != set(train_idx.tolist()):
        raise SystemExit(f"{path}: the teacher must score exactly the training faces (none of the validation split)")
    table = np.full((n_faces, len(FER_CLASSES)), np.nan, dtype=np.float32)
    table[indices] = probs / probs.sum(axis=1, keepdims=True)
    return table, hashlib.sha256(path.read_bytes()).hexdigest()


def soft_cross_entropy(logits, targets):  # type: ignore[no-untyped-def]
    """Each face's cross-entropy of the network's distribution against soft targets (n, classes)."""
    import torch

    return -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1)


def emphasis_weights(teacher_rows: np.ndarray, labels: np.ndarray, strength: float) -> np.ndarray:
    """Per-face loss weights ``1 + strength x (1 - p_teacher(label))``, scaled to mean 1 over the batch:
    the faces the ensemble gets wrong count more (a member meant to err elsewhere)."""
    w = 1.0 + strength * (1.0 - teacher_rows[np.arange(len(labels)), labels])
    return (w / w.mean()).astype(np.float32)
