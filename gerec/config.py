"""Where gerec finds data and its own model files."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "GEREC_DATA"
MODELS_ENV = "GEREC_MODELS"
SAMPLES_ENV = "GEREC_SAMPLES"

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Shared data folder: ``$GEREC_DATA``, else ``../shared/data`` beside the project."""
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else (PROJECT_ROOT.parent / "shared" / "data")


def models_dir() -> Path:
    """The project's model files: ``$GEREC_MODELS``, else ``models/`` in the project."""
    env = os.environ.get(MODELS_ENV)
    return Path(env) if env else PROJECT_ROOT / "models"


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
