"""A photo's prediction as tables: its faces, the three verdicts, a comparison row, the scene
evidence, and labels typed as text (no streamlit calls)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gerec.classes import CLASSES
from gerec.formatting import NO_VALUE_SCREEN
from gerec.imaging import MAX_SIDE
from gerec.types import NO_FACE, GroupPrediction, SceneEvidence
from gerec_app.render import CLASS_SHORT, MODULE_NAMES

if TYPE_CHECKING:
    from gerec.bn.network import SceneNetwork
    from gerec.bn.vocabulary import LabelMapping


PROBABILITY_FORMAT = "%.2f"
"""How the faces table shows a probability: two decimals, as the verdicts, their table and the members'
cells (the frame keeps the numbers, so the table sorts by them)."""


DETECTOR = "detector"
"""The faces table's column of MTCNN's confidence (its help says so; 'detector confidence' took the width
a member's column needed in a 1024 px window)."""
MEMBER_CELL_NOTE = "A member's cell: its class and that class's probability; the face to inspect charts all three."
BOX = "box"
"""The faces table's column of the face's box (:data:`BOX_HELP` says in which pixels)."""
BOX_HELP = (
    f"x, y, width, height of the face's box in pixels of the photo as analysed: upright, and at most {MAX_SIDE} px "
    "on its longest side (larger photos are analysed downscaled)"
)
PINNED = ("face", "class")
"""The faces table's columns that stay in view when a narrow window scrolls the table sideways (to a member's,
the detector's or the box column): which face, and its class."""


def member_cell(probs: Sequence[float]) -> str:
    """A member's verdict on a face in a few characters: its class (as the columns head it) and that class's
    probability (all three, 'Positive (0.95 / 0.01 / 0.04)', made the table twice as wide as a 1024 px
    window's main column; the face inspector's chart has them).

    >>> member_cell((0.10, 0.25, 0.65))
    'Neg 0.65'
    """
    best = int(np.argmax(probs))
    return f"{CLASS_SHORT[CLASSES[best]]} {PROBABILITY_FORMAT % probs[best]}"


def faces_frame(pred: GroupPrediction) -> pd.DataFrame:
    """One row per face: number, class, the ensemble's probability per class (headed
    :data:`~gerec_app.render.CLASS_SHORT`, as the verdicts' table), each member's :func:`member_cell`,
    detector confidence, box."""
    rows = []
    for face in pred.faces:
        row: dict[str, object] = {"face": face.index}
        if face.scores is not None:
            row["class"] = face.scores.predicted
            for cls, p in zip(CLASSES, face.scores.ensemble):
                row[CLASS_SHORT[cls]] = p
            for name, probs in face.scores.members.items():
                row[name] = member_cell(probs)
        row[DETECTOR] = face.confidence  # MTCNN's, not the class's probability
        row[BOX] = ", ".join(str(v) for v in face.box)
        rows.append(row)
    return pd.DataFrame(rows)


def faces_columns() -> dict[str, tuple[str, str]]:
    """The faces table's number columns: (format, help) for ``st.column_config.NumberColumn`` (this
    module makes no streamlit calls)."""
    columns = {CLASS_SHORT[c]: (PROBABILITY_FORMAT, f"P({c}): the face ensemble's probability") for c in CLASSES}
    columns[DETECTOR] = ("%.3f", "MTCNN's confidence that the box holds a face")
    return columns


def verdict_frame(pred: GroupPrediction) -> pd.DataFrame:
    """The three predictions: class and probability per class (2 decimals, as the chart and the
    verdicts above it; :data:`~gerec.formatting.NO_VALUE_SCREEN` for bottom-up without a face),
    headed :data:`~gerec_app.render.CLASS_SHORT` (the caption under the table names the classes)."""
    rows = []
    for module, probs, cls in (
        ("bottom_up", pred.bottom_up, pred.bottom_up_class),
        ("top_down", pred.top_down, pred.top_down_class),
        ("fused", pred.fused, pred.fused_class),
    ):
        row: dict[str, object] = {"module": MODULE_NAMES[module], "class": cls or NO_FACE}
        for i, c in enumerate(CLASSES):  # text, so an absent module's cells read the dash, not "None"
            row[CLASS_SHORT[c]] = NO_VALUE_SCREEN if probs is None else f"{probs[i]:.2f}"
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_row(name: str, pred: GroupPrediction) -> dict[str, object]:
    """One photo in the comparison table (OUT.csv-like columns)."""
    row: dict[str, object] = {
        "image": name,
        "faces": len(pred.faces),
        "bottom_up": pred.bottom_up_class or "",
        "top_down": pred.top_down_class,
        "fused": pred.fused_class,
    }
    for module, probs in (("bottom_up", pred.bottom_up), ("top_down", pred.top_down), ("fused", pred.fused)):
        for i, c in enumerate(CLASSES):
            row[f"p_{module}_{c}"] = None if probs is None else round(probs[i], 4)
    row.update(
        labeler=pred.evidence.labeler,
        labels_used="|".join(pred.evidence.labels_used),
        labels_ignored="|".join(pred.evidence.labels_ignored),
    )
    return row


def evidence_frame(evidence: SceneEvidence) -> pd.DataFrame:
    """Every label with what happened to it: used, mapped (to which) or ignored."""
    mapped = dict(evidence.labels_mapped)
    rows = [
        {"label": lab, "status": "used", "network label": lab}
        for lab in evidence.labels_used
        if lab not in mapped.values()
    ]
    rows += [{"label": raw, "status": "mapped", "network label": known} for raw, known in evidence.labels_mapped]
    rows += [{"label": lab, "status": "ignored", "network label": ""} for lab in evidence.labels_ignored]
    return pd.DataFrame(rows, columns=["label", "status", "network label"])


def parse_free_labels(text: str) -> list[str]:
    """Labels typed as comma- or line-separated text."""
    return [t.strip() for t in text.replace("\n", ",").split(",") if t.strip()]


def typed_labels(net: SceneNetwork, text: str) -> tuple[LabelMapping, list[str]]:
    """Labels typed as text, mapped onto ``net``'s labels, and the captions that say what happened:
    what was mapped (``weddings → wedding``) and each unknown word with the nearest known labels."""
    from gerec.bn.vocabulary import map_typed, suggest

    typed = map_typed(net, parse_free_labels(text))
    notes = ["Mapped: " + ", ".join(f"{a} → {b}" for a, b in typed.mapped)] if typed.mapped else []
    for word in typed.ignored:
        hint = ", ".join(suggest(net, word))
        notes.append(f"“{word}” is not a label the network knows" + (f"; nearest known: {hint}." if hint else "."))
    return typed, notes
