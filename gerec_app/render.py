"""Face boxes on photos and tables built from gerec results (no streamlit calls)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import pandas as pd

from gerec.classes import CLASSES
from gerec.emotion.registry import tta_mode
from gerec.emotion.views import TTA_MODES, ZOOM
from gerec.types import Face, GroupPrediction, Probs, SceneEvidence

CLASS_COLOURS = {"Positive": "#2b9348", "Neutral": "#868e96", "Negative": "#d62828"}
MODULE_NAMES = {"bottom_up": "Bottom-up (faces)", "top_down": "Top-down (scene)", "fused": "Fused"}
DISPLAY_SIDE = 1100


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def annotate(pixels: np.ndarray, faces: Sequence[Face], max_side: int = DISPLAY_SIDE) -> np.ndarray:
    """A downscaled copy of the photo with numbered face boxes coloured by each face's class."""
    h, w = pixels.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    img = cv2.resize(pixels, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 \
        else pixels.copy()
    img = np.ascontiguousarray(img)
    thick = max(2, round(max(img.shape[:2]) / 400))
    for face in faces:
        x, y, bw, bh = (round(v * scale) for v in face.box)
        cls = face.scores.predicted if face.scores else "Neutral"
        colour = _rgb(CLASS_COLOURS[cls])
        cv2.rectangle(img, (x, y), (x + bw, y + bh), colour, thick)
        text = str(face.index)
        font = max(0.5, bh / 90)
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, thick)
        top = max(0, y - th - 6)
        cv2.rectangle(img, (x, top), (x + tw + 6, top + th + 6), colour, -1)
        cv2.putText(img, text, (x + 3, top + th + 3), cv2.FONT_HERSHEY_SIMPLEX, font, (255, 255, 255), thick)
    return img


def fmt_probs(probs: Probs | None) -> str:
    """``0.71 / 0.20 / 0.09`` or ``-``."""
    return "-" if probs is None else " / ".join(f"{p:.2f}" for p in probs)


def faces_frame(pred: GroupPrediction) -> pd.DataFrame:
    """One row per face: number, class, detector confidence, ensemble and member probabilities."""
    rows = []
    for face in pred.faces:
        row: dict[str, object] = {"face": face.index}
        if face.scores is not None:
            row["class"] = face.scores.predicted
            for cls, p in zip(CLASSES, face.scores.ensemble):
                row[f"P({cls})"] = round(p, 3)
            for name, probs in face.scores.members.items():
                row[name] = f"{CLASSES[int(np.argmax(probs))]} ({fmt_probs(probs)})"
        row["confidence"] = round(face.confidence, 3)
        row["box (x, y, w, h)"] = ", ".join(str(v) for v in face.box)
        rows.append(row)
    return pd.DataFrame(rows)


def verdict_frame(pred: GroupPrediction) -> pd.DataFrame:
    """The three predictions: class and probability per class."""
    rows = []
    for module, probs, cls in (("bottom_up", pred.bottom_up, pred.bottom_up_class),
                               ("top_down", pred.top_down, pred.top_down_class),
                               ("fused", pred.fused, pred.fused_class)):
        row: dict[str, object] = {"module": MODULE_NAMES[module], "class": cls or "absent (no face)"}
        for i, c in enumerate(CLASSES):
            row[c] = None if probs is None else round(probs[i], 4)
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_row(name: str, pred: GroupPrediction) -> dict[str, object]:
    """One photo in the comparison table (OUT.csv-like columns)."""
    row: dict[str, object] = {"image": name, "faces": len(pred.faces),
                              "bottom_up": pred.bottom_up_class or "", "top_down": pred.top_down_class,
                              "fused": pred.fused_class}
    for module, probs in (("bottom_up", pred.bottom_up), ("top_down", pred.top_down), ("fused", pred.fused)):
        for i, c in enumerate(CLASSES):
            row[f"p_{module}_{c}"] = None if probs is None else round(probs[i], 4)
    row.update(labeler=pred.evidence.labeler, labels_used="|".join(pred.evidence.labels_used),
               labels_ignored="|".join(pred.evidence.labels_ignored))
    return row


def evidence_frame(evidence: SceneEvidence) -> pd.DataFrame:
    """Every label with what happened to it: used, mapped (to which) or ignored."""
    mapped = dict(evidence.labels_mapped)
    rows = [{"label": lab, "status": "used", "network label": lab} for lab in evidence.labels_used
            if lab not in mapped.values()]
    rows += [{"label": raw, "status": "mapped", "network label": known} for raw, known in evidence.labels_mapped]
    rows += [{"label": lab, "status": "ignored", "network label": ""} for lab in evidence.labels_ignored]
    return pd.DataFrame(rows, columns=["label", "status", "network label"])


def parse_free_labels(text: str) -> list[str]:
    """Labels typed as comma- or line-separated text."""
    return [t.strip() for t in text.replace("\n", ",").split(",") if t.strip()]


def _percent(value: object) -> str:
    return f"{100 * float(value):.2f} %" if isinstance(value, int | float) else "–"


def weighting_note(metrics: dict) -> str:
    """How the ensemble's weights were chosen, from the registry's ``metrics.val`` (empty if unrecorded)."""
    val = metrics.get("val", {})
    if not val.get("selection"):
        return ""
    note = f"Weights: {val['selection']}."
    held_out = val.get("criterion_held_out_accuracy3") or {}
    if held_out:
        scores = ", ".join(f"{name} {_percent(acc)}" for name, acc in held_out.items())
        how = val.get("criterion_chosen_by", "cross-validation inside the validation split")
        note += f" Criterion chosen by {how} ({scores} held out)."
    return note


def tta_modes_text() -> str:
    """The test-time view modes a member can have, named from ``TTA_MODES``, for page prose."""
    names = [f"`{mode}`" for mode in TTA_MODES]
    return (f"{', '.join(names[:-1])} or {names[-1]}: the face, its mirror, "
            f"{round(100 * (ZOOM - 1))} % zooms in and out")


def ensemble_accuracy_table(members: Sequence[dict], metrics: dict) -> pd.DataFrame:
    """Every registry member (enabled or not) and the ensemble: weight, TTA mode, val/test 3- and 7-class accuracy."""
    rows = []
    for m in members:
        got = m.get("metrics", {})
        seen = " (in-sample)" if m.get("val_in_training") else ""  # trained on the validation faces
        rows.append({"member": m["name"], "in use": bool(m.get("enabled", True)), "weight": m.get("weight", 0.0),
                     "test-time views": tta_mode(m),
                     "val 3-class": _percent(got.get("val_accuracy3")) + seen,
                     "val 7-class": _percent(got.get("val_accuracy7")) + seen,
                     "test 3-class": _percent(got.get("test_accuracy3")),
                     "test 7-class": _percent(got.get("test_accuracy7"))})
    val, test = metrics.get("val", {}), metrics.get("test", {})
    rows.append({"member": "ensemble", "in use": True, "weight": 1.0, "test-time views": "each member's",
                 "val 3-class": _percent(val.get("accuracy3")), "val 7-class": _percent(val.get("accuracy7")),
                 "test 3-class": _percent(test.get("accuracy3")), "test 7-class": _percent(test.get("accuracy7"))})
    return pd.DataFrame(rows)
