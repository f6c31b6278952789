"""A fallback chain of labelers: the first that answers wins, and the chain records why."""

from __future__ import annotations

from collections.abc import Sequence

from gerec.errors import LabelerUnavailable
from gerec.scene.base import LabelerInput, LabelResult, SceneLabeler


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
                notes.append(f"{labeler.name} unavailable: {exc}")
                continue
            return LabelResult(result.labels, result.labeler, result.scores, tuple(notes) + result.notes)
        return LabelResult((), "none", notes=tuple(notes) or ("no labeler configured",))
