"""A fallback chain of labelers: the first that answers wins, and the chain records why."""

from __future__ import annotations

from collections.abc import Sequence

from gerec.errors import LabelerUnavailable
from gerec.scene.base import LabelerInput, LabelResult, SceneLabeler

UNAVAILABLE = " unavailable: "
"""What joins a labeler's name and its reason in the chain's note (``gcv unavailable: <why>``)."""


def fallback_note(name: str, why: object) -> str:
    """The chain's note for a labeler that did not answer."""
    return f"{name}{UNAVAILABLE}{why}"


def is_fallback_note(note: str) -> bool:
    """Whether ``note`` is the chain's note for a labeler that did not answer."""
    name, sep, _ = note.partition(UNAVAILABLE)
    return bool(sep) and bool(name) and " " not in name


class LabelerChain:
    """Ask labelers in order; a ``LabelerUnavailable`` moves on and leaves a note.

    When every labeler fails, the result is empty, labelled ``none``, with every reason.
    """

    def __init__(self, labelers: Sequence[SceneLabeler]) -> None:
        self.labelers = list(labelers)
        self.name = " -> ".join(lab.name for lab in self.labelers) or "none"

    def label(self, item: LabelerInput) -> LabelResult:
        """Labels from the first labeler that answers, with notes on those that did not."""
        notes: list[str] = []
        for labeler in self.labelers:
            try:
                result = labeler.label(item)
            except LabelerUnavailable as exc:
                notes.append(fallback_note(labeler.name, exc))
                continue
            return LabelResult(result.labels, result.labeler, result.scores, tuple(notes) + result.notes)
        return LabelResult((), "none", notes=tuple(notes) or ("no labeler configured",))
