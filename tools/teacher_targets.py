"""The face ensemble's 7-class probabilities on the training faces: soft targets for distillation.

``tools/train_pretrained_face.py --teacher FILE`` trains a student on these beside the labels
(issue 19: distil the ensemble into one member). Only the training faces are scored: the
validation split (:func:`gerec.emotion.data.validation_split`) that ``fit-ensemble`` scores the
student on is left out, so nothing the student learns comes from it.

Each member's probabilities are the mean over its test-time views, tempered by its temperature
(:func:`gerec.calibration.tempered`), and mixed by the registry's weights, as the ensemble mixes
its 3-class ones; every member must give FER's 7 classes. Runs in gerec's own venv::

    .venv/bin/python tools/teacher_targets.py ../shared/data/fer2013/train.npz --out /tmp/teacher.npz

The file holds ``indices`` (into ``train.npz``), ``probs`` (n, 7), ``classes`` and, for the
record, ``registry_sha256`` and ``members`` (name:weight:temperature).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gerec.calibration import tempered  # noqa: E402
from gerec.config import models_dir  # noqa: E402
from gerec.emotion.data import FER_CLASSES, load_face_set, validation_split  # noqa: E402
from gerec.emotion.ensemble import FaceEnsemble  # noqa: E402
from gerec.emotion.registry import REGISTRY_FILE  # noqa: E402
from gerec.fileio import replaced_atomically  # noqa: E402


def member_probabilities(ensemble: FaceEnsemble, crops: np.ndarray) -> np.ndarray:
    """(members, n, 7): each member's tempered FER-class probabilities (views averaged)."""
    for member in ensemble.members:
        if tuple(member.spec.classes) != FER_CLASSES:
            raise SystemExit(f"{member.spec.name}: a teacher member must give FER's 7 classes")
    return np.stack([tempered(m.predict_raw(crops), m.spec.temperature) for m in ensemble.members])


def teacher_probabilities(ensemble: FaceEnsemble, crops: np.ndarray) -> np.ndarray:
    """(n, 7) weighted mean of the members' tempered FER-class probabilities (views averaged)."""
    return np.tensordot(ensemble.weights, member_probabilities(ensemble, crops), axes=1)


def main(argv: list[str] | None = None) -> int:
    """Score the training faces and write the targets."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path, help="FER-2013 train.npz")
    p.add_argument("--out", type=Path, required=True, help="the .npz to write")
    p.add_argument("--registry", type=Path, default=None, help="default: models/ensemble.json ($GEREC_MODELS)")
    args = p.parse_args(argv)
    registry = args.registry or models_dir() / REGISTRY_FILE
    ensemble = FaceEnsemble.load(registry)
    faces = load_face_set(args.data)
    train_idx, _ = validation_split(faces.labels)
    probs = np.concatenate(
        [teacher_probabilities(ensemble, faces.images[train_idx[i : i + 2048]]) for i in range(0, len(train_idx), 2048)]
    )
    members = [f"{m.spec.name}:{w:.4f}:{m.spec.temperature:.4f}" for m, w in zip(ensemble.members, ensemble.weights)]
    with replaced_atomically(args.out) as tmp, tmp.open("wb") as fh:
        np.savez(
            fh,
            indices=train_idx,
            probs=probs.astype(np.float32),
            classes=np.array(FER_CLASSES),
            registry_sha256=hashlib.sha256(Path(registry).read_bytes()).hexdigest(),
            members=np.array(members),
        )
    agree = float((probs.argmax(1) == faces.labels[train_idx]).mean())
    print(
        f"{len(train_idx)} training faces scored by {', '.join(members)}; argmax agrees with the label on {agree:.4f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
