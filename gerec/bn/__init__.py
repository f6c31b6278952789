"""The scene Bayesian network: fitting, file format, fast exact inference, pgmpy reference."""

from __future__ import annotations

from pathlib import Path

from gerec.bn.fit import REFERENCE_CNN_CONFUSION, fit_reference
from gerec.bn.network import SceneNetwork, load_network
from gerec.config import models_dir
from gerec.modes import DEFAULT_MODE, MODES, Mode

REFERENCE_FILE = "scene_bn.json"
TUNED_FILE = "scene_bn_tuned.json"


def network_path(mode: str, directory: Path | None = None) -> Path:
    """The file of the network used in ``mode``. ``tuned`` falls back to reference if absent."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    base = directory or models_dir()
    if mode == Mode.TUNED and (base / TUNED_FILE).is_file():
        return base / TUNED_FILE
    return base / REFERENCE_FILE


def load_scene_network(mode: str = DEFAULT_MODE, directory: Path | None = None) -> SceneNetwork:
    """Load the committed network for ``mode`` from ``models/``."""
    return load_network(network_path(mode, directory))


__all__ = [
    "DEFAULT_MODE",
    "MODES",
    "Mode",
    "REFERENCE_CNN_CONFUSION",
    "SceneNetwork",
    "fit_reference",
    "load_network",
    "load_scene_network",
    "network_path",
]
