"""One evaluated image as a plain record: what the store keeps and OUT.csv shows."""

from __future__ import annotations

from collections import Counter
from typing import Any

from gerec.classes import CLASSES, MODULES
from gerec.scene.chain import is_fallback_note
from gerec.types import GroupPrediction

CSV_COLUMNS = (
    ["image", "actual", *MODULES]
    + [f"p_{m}_{c}" for m in MODULES for c in CLASSES]
    + ["faces", "labeler", "labels_used", "labels_ignored", "error"]
)


def prediction_record(pred: GroupPrediction, actual: str | None) -> dict[str, Any]:
    """A JSON-ready record of a prediction."""
    return {
        "image": pred.image,
        "actual": actual,
        "bottom_up": pred.bottom_up_class,
        "top_down": pred.top_down_class,
        "fused": pred.fused_class,
        "probs": {
            "bottom_up": None if pred.bottom_up is None else list(pred.bottom_up),
            "top_down": list(pred.top_down),
            "fused": list(pred.fused),
        },
        "faces": [
            {
                "box": list(f.box),
                "confidence": round(f.confidence, 4),
                "ensemble": None if f.scores is None else [round(p, 6) for p in f.scores.ensemble],
            }
            for f in pred.faces
        ],
        "labeler": pred.evidence.labeler,
        "labels_used": list(pred.evidence.labels_used),
        "labels_ignored": list(pred.evidence.labels_ignored),
        "notes": list(pred.evidence.notes),  # kept with the row; evaluate counts the fallback ones
        "timings": {k: round(v, 4) for k, v in pred.timings.items()},
        "error": None,
    }


def failed_record(image: str, actual: str | None, error: str) -> dict[str, Any]:
    """A record of an image that could not be analysed, with the reason."""
    return {
        "image": image,
        "actual": actual,
        "bottom_up": None,
        "top_down": None,
        "fused": None,
        "probs": None,
        "faces": None,
        "labeler": None,
        "labels_used": None,
        "labels_ignored": None,
        "notes": None,
        "timings": None,
        "error": error,
    }


def csv_row(record: dict[str, Any]) -> dict[str, object]:
    """The OUT.csv row of a record (class names, empty where absent)."""
    row: dict[str, object] = {
        "image": record["image"],
        "actual": record.get("actual") or "",
        "error": record.get("error") or "",
    }
    probs = record.get("probs") or {}
    for module in MODULES:
        row[module] = record.get(module) or ""
        values = probs.get(module)
        for i, cls in enumerate(CLASSES):
            row[f"p_{module}_{cls}"] = "" if values is None else f"{values[i]:.6f}"
    faces = record.get("faces")
    row["faces"] = "" if faces is None else len(faces)
    row["labeler"] = record.get("labeler") or ""
    row["labels_used"] = "|".join(record.get("labels_used") or [])
    row["labels_ignored"] = "|".join(record.get("labels_ignored") or [])
    return row


def fallback_notes(record: dict[str, Any]) -> list[tuple[str, str]]:
    """A record's notes of labelers that did not answer, each with the labeler that answered instead."""
    answered = record.get("labeler") or "none"
    return [(note, answered) for note in record.get("notes") or () if is_fallback_note(note)]


def format_fallback_notes(counts: Counter[tuple[str, str]]) -> list[str]:
    """One line per distinct fallback note, in the order first seen, with how many photos it concerns.

    >>> format_fallback_notes(Counter({("gcv unavailable: no credentials", "offline"): 15}))
    ['gcv unavailable: no credentials; offline answered instead (15 photos)']
    """
    return [
        f"{note}; {'no labeler answered' if answered == 'none' else answered + ' answered instead'}"
        f" ({n} photo{'' if n == 1 else 's'})"
        for (note, answered), n in counts.items()
    ]
