"""Where gerec finds data and its own model files."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "GEREC_DATA"
MODELS_ENV = "GEREC_MODELS"
SAMPLES_ENV = "GEREC_SAMPLES"
RUNTIME_ENV = "GEREC_RUNTIME"
RUNTIMES = ("onnx", "keras")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Shared data folder: ``$GEREC_DATA``, else ``../shared/data`` beside the project."""
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else (PROJECT_ROOT.parent / "shared" / "data")


FER_FOLDER = "fer2013"
"""FER-2013 in the shared data folder, as two face sets (:func:`gerec.emotion.data.load_face_set`)."""
FER_TRAIN_FILE = "train.npz"
"""FER-2013's training faces: the validation split every member, view and weight is chosen on is carved from them."""
FER_TEST_FILE = "test.npz"
"""FER-2013's test faces: measured once, by hand, when an ensemble is final."""


def fer_train_file() -> Path:
    """FER-2013's training faces: ``data_dir()/fer2013/train.npz``."""
    return data_dir() / FER_FOLDER / FER_TRAIN_FILE


def fer_test_file() -> Path:
    """FER-2013's test faces: ``data_dir()/fer2013/test.npz``."""
    return data_dir() / FER_FOLDER / FER_TEST_FILE


def models_dir() -> Path:
    """The project's model files: ``$GEREC_MODELS``, else ``models/`` in the project."""
    env = os.environ.get(MODELS_ENV)
    return Path(env) if env else PROJECT_ROOT / "models"


def runtime_override() -> str | None:
    """``$GEREC_RUNTIME``: ``keras`` runs every face network (MTCNN and the members) with
    TensorFlow, ``onnx`` from its ONNX export; unset or anything else: each network's default
    (ONNX for MTCNN, the registry's ``backend`` for each member)."""
    value = os.environ.get(RUNTIME_ENV, "").strip().lower()
    return value if value in RUNTIMES else None


def samples_dir() -> Path | None:
    """Sample photos for the dashboard: ``$GEREC_SAMPLES``, else the shared group photos."""
    env = os.environ.get(SAMPLES_ENV)
    path = Path(env) if env else data_dir() / "group_photos"
    return path if path.is_dir() else None


LABELS_FILE_NAME = "labels.json"
"""Recorded scene labels kept beside photos: the default cached labels of the CLI and the dashboard."""


def folder_labels_file(folder: Path | None) -> Path | None:
    """``folder/labels.json`` when it exists: the cached labels used by default for that folder's photos."""
    path = folder / LABELS_FILE_NAME if folder else None
    return path if path and path.is_file() else None
