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
