"""The scene Bayesian network: fitting, file format, fast exact inference, pgmpy reference."""

from __future__ import annotations

from pathlib import Path

from gerec.bn.fit import REFERENCE_CNN_CONFUSION, fit_reference
from gerec.bn.network import SceneNetwork
from gerec.bn.network_file import load_network
from gerec.config import models_dir
from gerec.errors import ModelFileMissing
from gerec.modes import DEFAULT_MODE, MODES, Mode

REFERENCE_FILE = "scene_bn.json"
TUNED_FILE = "scene_bn_tuned.json"


def network_path(mode: str, directory: Path | None = None) -> Path:
    """The file of the network used in ``mode`` (never another mode's file in its place)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    return (directory or models_dir()) / (TUNED_FILE if mode == Mode.TUNED else REFERENCE_FILE)


def load_scene_network(mode: str = DEFAULT_MODE, directory: Path | None = None) -> SceneNetwork:
    """Load the committed network for ``mode`` from ``models/``.

    A missing tuned network is a :class:`ModelFileMissing`, never a silent switch to the
    reference network (which would answer differently under the name ``tuned``).
    """
    path = network_path(mode, directory)
    if mode == Mode.TUNED and not path.is_file():
        raise ModelFileMissing(
            f"the tuned scene network {path} is missing: rebuild it with `python -m gerec tune` "
            f"(the full command: docs/models.md), or choose --mode {Mode.REFERENCE}"
        )
    return load_network(path)


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
