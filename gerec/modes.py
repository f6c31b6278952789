"""The scene network's modes: one enum, used everywhere a mode is named."""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """Which scene network answers: the faithful reproduction, or the project's tuned model."""

    REFERENCE = "reference"
    TUNED = "tuned"


MODES: tuple[str, ...] = tuple(m.value for m in Mode)
DEFAULT_MODE = Mode.TUNED
