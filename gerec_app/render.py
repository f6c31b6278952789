"""Face boxes on photos and tables built from gerec results (no streamlit calls)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pandas as pd

from gerec.classes import CLASSES
from gerec.emotion.registry import tta_mode
from gerec.emotion.views import TTA_MODES, ZOOM
from gerec.types import NO_FACE, Face, GroupPrediction, SceneEvidence, format_probs

if TYPE_CHECKING:
    from gerec.bn.network import SceneNetwork
    from gerec.bn.vocabulary import LabelMapping

CLASS_COLOURS = {"Positive": "#2b9348", "Neutral": "#868e96", "Negative": "#d62828"}
"""The one colour of each class: face boxes, class bars, graph nodes, reports."""
MODULE_NAMES = {"bottom_up": "Bottom-up (faces)", "top_down": "Top-down (scene)", "fused": "Fused"}
"""The one display name of each module (OUT.csv and stored runs use the keys)."""
MODULE_COLOURS = {"bottom_up": "#1c7ed6", "top_down": "#f08c00", "fused": "#7048e8"}
"""Modules in hues no class uses (blue, orange, violet)."""
SERIES_COLOURS = ("#1c7ed6", "#f08c00", "#7048e8", "#0c8599", "#c2255c", "#5f3dc4", "#e8590c")
"""Ensemble members and other series, in order: hues away from the class colours."""
ENSEMBLE_COLOUR = "#343a40"
DISPLAY_SIDE = 1100
NO_VALUE = "–"
"""What a table cell shows when there is no value (a module without an answer, an unrecorded figure)."""


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def annotate(pixels: np.ndarray, faces: Sequence[Face], max_side: int = DISPLAY_SIDE) -> np.ndarray:
    """A downscaled copy of the photo with numbered face boxes coloured by each face's class."""
    h, w = pixels.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    img = (
        cv2.resize(pixels, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        if scale < 1
        else pixels.copy()
    )
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


def class_colour_legend() -> str:
    """``green Positive, grey Neutral, red Negative``: the box colours in words."""
    names = {"#2b9348": "green", "#868e96": "grey", "#d62828": "red"}
    return ", ".join(f"{names.get(c, c)} {cls}" for cls, c in CLASS_COLOURS.items())


def faces_count(n: int) -> str:
    """``1 face``, ``3 faces``, ``0 faces``: a photo's face count in words."""
    return f"{n} face{'' if n == 1 else 's'}"


def member_colours(names: Sequence[str]) -> dict[str, str]:
    """A series colour per member name (the ensemble in dark grey)."""
    colours = {"ensemble": ENSEMBLE_COLOUR}
    colours.update(
        {n: SERIES_COLOURS[i % len(SERIES_COLOURS)] for i, n in enumerate(x for x in names if x != "ensemble")}
    )
    return colours


def largest_face(faces: Sequence[Face]) -> int:
    """Position of the largest face by box area (0 when there is none): the face shown first."""
    return max(range(len(faces)), key=lambda i: faces[i].area) if faces else 0


def face_name(face: Face) -> str:
    """``face 3 · Positive · 112 px``: what the face picker shows."""
    cls = face.scores.predicted if face.scores else "not scored"
    return f"face {face.index} · {cls} · {max(face.box[2], face.box[3])} px"


def colour_scale(maps: Sequence[np.ndarray], percentile: float = 99.0) -> float | None:
    """The value shown at full colour: a high percentile of every map's magnitude (one scale for all)."""
    top = float(np.percentile(np.abs(np.concatenate([np.ravel(m) for m in maps])), percentile))
    return top or None


def saliency_images(crop: np.ndarray, result, members: bool = True) -> tuple[list[np.ndarray], list[str]]:
    """Overlays (one colour scale) of the verdict's map and, with ``members``, each member's, with captions.

    ``result`` is a :class:`gerec.explain.FaceSaliency`.
    """
    from gerec.explain import overlay

    maps = [result.values] + ([m.values for m in result.members] if members else [])
    scale = colour_scale(maps)
    captions = [
        f"ensemble: {result.target}, explained views p={result.probability:.2f} (bars {result.verdict_probability:.2f})"
    ]
    captions += [f"{m.member}: {m.target}, p={m.probability:.2f}" for m in result.members] if members else []
    return [overlay(crop, values, scale=scale) for values in maps], captions


RAW_GUESS_PREFIX = "imagenet top-3:"
"""The offline labeler's note with its raw ImageNet classes (shown only in a named expander)."""


def is_raw_guess(note: str) -> bool:
    """Whether a labeler note is the offline tagger's raw ImageNet guesses."""
    return note.startswith(RAW_GUESS_PREFIX)


FRIENDLY_COLUMNS = {
    "image": "photo",
    "bottom_up": "Bottom-up",
    "top_down": "Top-down",
    "fused": "Fused",
    "labels_used": "labels used",
    "labels_ignored": "labels ignored",
    "labeler": "labeler",
    "faces": "faces",
    "actual": "true class",
    "error": "error",
}


def friendly_column(name: str) -> str:
    """``p_bottom_up_Positive`` -> ``Bottom-up P(Positive)``; other OUT.csv names by :data:`FRIENDLY_COLUMNS`."""
    for module, title in MODULE_NAMES.items():
        prefix = f"p_{module}_"
        if name.startswith(prefix):
            return f"{title.split(' (')[0]} P({name[len(prefix) :]})"
    return FRIENDLY_COLUMNS.get(name, name)


def friendly_columns(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of an OUT.csv-shaped table for people: module keys (``top_down``) named as on screen
    wherever they appear as values, and column names by :func:`friendly_column`."""
    out = table.copy()
    for column in ("module", "from", "to"):
        if column in out.columns:
            out[column] = out[column].map(lambda v: MODULE_NAMES.get(v, v))
    return out.rename(columns={c: friendly_column(c) for c in out.columns})


ERROR_HINTS = {
    "ImageTooLarge": "Save it at a smaller size and upload it again.",
    "InvalidImage": "Check that it is a JPEG, PNG or WebP photo and upload it again.",
    "NoFaceDetected": "Pick another face or photo.",
    "ModelFileMissing": "Run `make install` (or see Model files in the README) and restart.",
    "InvalidModelFile": "Rebuild the file as the README's Model files table says and restart.",
    "LabelerUnavailable": "Choose the offline labeler in the sidebar, or set up its keys.",
    "InvalidDataset": "Check the file's format (see the README) and try again.",
    "PathNotAllowed": "Give a regular file inside $GEREC_DATA or a folder listed under [dashboard] allowed_roots "
    "in .streamlit/secrets.toml (docs/limits-and-safety.md).",
    "RunStoreError": "Give the path of a run store made by `gerec evaluate ... --store`.",
}
"""What to do, per error class (looked up along the class's bases)."""


def plain_error(exc: BaseException, name: str | None = None) -> str:
    """``empty.jpg: the file is empty (0 bytes). Check that it is …``: one line, no class names.

    The file name is said once; a library's own wording quoted in the message (the error's
    cause, as ``(cause)``, ``(CauseType: cause)`` or ``: cause``) is dropped.
    """
    text = " ".join(str(exc).split())
    cause = exc.__cause__
    if cause is not None and str(cause).strip():
        quoted = " ".join(str(cause).split())
        for form in (f" ({type(cause).__name__}: {quoted})", f" ({quoted})", f": {quoted}"):
            text = text.replace(form, "")
    if name:
        text = text.removeprefix(f"{name}: ")
    hint = next(
        (ERROR_HINTS[k.__name__] for k in type(exc).__mro__ if k.__name__ in ERROR_HINTS),
        "Try again; if it happens again, report it with the photo.",
    )
    if not text:
        text = "something went wrong"
    first = text.split(maxsplit=1)[0].rstrip(":,")
    if not name and first.isalpha():  # a sentence; a file name or path that opens it keeps its spelling
        text = text[0].upper() + text[1:]
    return f"{name + ': ' if name else ''}{text.rstrip('.')}. {hint}"


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
                row[name] = f"{CLASSES[int(np.argmax(probs))]} ({format_probs(probs, sep=' / ')})"
        row["detector confidence"] = round(face.confidence, 3)  # MTCNN's, not the class's probability
        row["box (x, y, w, h)"] = ", ".join(str(v) for v in face.box)
        rows.append(row)
    return pd.DataFrame(rows)


def verdict_frame(pred: GroupPrediction) -> pd.DataFrame:
    """The three predictions: class and probability per class (4 decimals; "–" for bottom-up
    without a face)."""
    rows = []
    for module, probs, cls in (
        ("bottom_up", pred.bottom_up, pred.bottom_up_class),
        ("top_down", pred.top_down, pred.top_down_class),
        ("fused", pred.fused, pred.fused_class),
    ):
        row: dict[str, object] = {"module": MODULE_NAMES[module], "class": cls or NO_FACE}
        for i, c in enumerate(CLASSES):  # text, so an absent module's cells read "–", not "None"
            row[c] = NO_VALUE if probs is None else f"{probs[i]:.4f}"
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


NOT_MEASURED = "not measured"  # the ensemble's test cells before its one test measurement
PERCENT_FORMAT = "%.2f %%"
"""How a fraction reads on every page, as a printf format of its percentage: :func:`percent`'s text,
and the format of a sortable number column of :func:`percent_points` (``st.column_config.NumberColumn``)."""


def percent(value: object, missing: str = NO_VALUE) -> str:
    """``69.37 %``: an accuracy or other fraction as every page shows it; ``missing`` when there is none.

    >>> percent(0.69374), percent(None), percent(float("nan"))
    ('69.37 %', '–', '–')
    """
    number = float(value) if isinstance(value, int | float) else float("nan")
    return PERCENT_FORMAT % (100 * number) if number == number else missing


def percent_columns(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """A copy of ``table`` for the screen with its fraction ``columns`` (accuracy, recall) by :func:`percent`
    (downloads keep the fractions); for a static table, which is not sorted."""
    return table.assign(**{c: table[c].map(percent) for c in columns if c in table.columns})


def percent_points(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """A copy of ``table`` with its fraction ``columns`` as percentages (69.374 for 0.69374): still
    numbers, so a sortable table sorts them as numbers, shown with :data:`PERCENT_FORMAT` as
    :func:`percent` writes them.

    >>> percent_points(pd.DataFrame({"accuracy": [0.69374, None], "n": [1, 2]}), ["accuracy"]).round(3).to_dict("list")
    {'accuracy': [69.374, nan], 'n': [1, 2]}
    """
    return table.assign(**{c: 100 * pd.to_numeric(table[c], errors="coerce") for c in columns if c in table.columns})


def weighting_note(metrics: dict) -> str:
    """How the ensemble's weights were chosen, from the registry's ``metrics.val`` (empty if unrecorded)."""
    val = metrics.get("val", {})
    if not val.get("selection"):
        return ""
    note = f"Weights: {val['selection']}."
    held_out = val.get("criterion_held_out_accuracy3") or {}
    if held_out:
        seven = val.get("criterion_held_out_accuracy7") or {}
        scores = ", ".join(
            f"{name} {_held_out_text(val, 'accuracy3', name)}"
            + (f" 3-class, {_held_out_text(val, 'accuracy7', name)} 7-class" if name in seven else "")
            for name in held_out
        )
        how = val.get("criterion_chosen_by", "cross-validation inside the validation split")
        note += f" Criterion chosen by {how} ({scores} held out)."
    chosen_ece = (val.get("criterion_held_out_ece3") or {}).get(val.get("criterion"))
    if chosen_ece is not None:
        spread = (val.get("criterion_held_out_ece3_sd") or {}).get(val["criterion"])
        note += f" Held-out 3-class ECE of the chosen mix: {float(chosen_ece):.3f}" + (
            f" ± {float(spread):.3f}." if spread is not None else "."
        )
    if val.get("held_out_design"):
        note += f" Held out means {val['held_out_design']}."
    return note


HELD_OUT_FACES = {"clean+corrupted": "clean + corrupted copies", "clean": "clean faces"}
"""``metrics.val.fit_faces`` -> the faces a held-out figure is over, in words (the in-sample
figures beside it are over the clean faces)."""


def _chosen_held_out(val: dict, figure: str) -> str:
    """The chosen criterion's held-out ``figure`` with its sd and the faces it is over, or "–"
    when the registry has none."""
    criterion = str(val.get("criterion"))
    if criterion not in (val.get(f"criterion_held_out_{figure}") or {}):
        return NO_VALUE
    faces = HELD_OUT_FACES.get(str(val.get("fit_faces")))
    return _held_out_text(val, figure, criterion) + (f" ({faces})" if faces else "")


def _held_out_text(val: dict, figure: str, criterion: str) -> str:
    """A criterion's held-out ``figure`` (accuracy3 or accuracy7) from ``metrics.val``, with its sd when recorded."""
    spread = val.get(f"criterion_held_out_{figure}_sd") or {}
    text = percent(val[f"criterion_held_out_{figure}"][criterion])
    return text + (f" ± {100 * float(spread[criterion]):.2f}" if criterion in spread else "")


def tta_modes_text() -> str:
    """The test-time view modes a member can have, named from ``TTA_MODES``, for page prose."""
    names = [f"`{mode}`" for mode in TTA_MODES]
    return (
        f"{', '.join(names[:-1])} or {names[-1]}: the face, its mirror, {round(100 * (ZOOM - 1))} % zooms in and out, "
        "and the zoomed-in crop moved to each corner (ten-crop)"
    )


def split_in_use(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the ensemble row first, then members with a weight; the members without one) of an accuracy table."""
    weight = pd.to_numeric(table["weight"], errors="coerce").fillna(0)
    used = table[(table["member"] == "ensemble") | ((weight > 0) & table["in use"].astype(bool))]
    order = [i for i in used.index if used.loc[i, "member"] == "ensemble"] + [
        i for i in used.index if used.loc[i, "member"] != "ensemble"
    ]
    return used.loc[order].reset_index(drop=True), table.drop(index=used.index).reset_index(drop=True)


def ensemble_accuracy_table(members: Sequence[dict], metrics: dict) -> pd.DataFrame:
    """Every registry member (enabled or not) and the ensemble: weight, TTA mode, val/test 3- and 7-class
    accuracy, the ensemble's held-out validation accuracy (its chosen criterion's cross-validation), and
    each weighted member's saliency sanity check."""
    rows = []
    for m in members:
        got = m.get("metrics", {})
        seen = " (in-sample)" if m.get("val_in_training") else ""  # trained on the validation faces
        rows.append(
            {
                "member": m["name"],
                "in use": bool(m.get("enabled", True)),
                "weight": m.get("weight", 0.0),
                "test-time views": tta_mode(m),
                "val 3-class": percent(got.get("val_accuracy3")) + seen,
                "val 7-class": percent(got.get("val_accuracy7")) + seen,
                "val 3-class, held out": NO_VALUE,
                "val 7-class, held out": NO_VALUE,
                "test 3-class": percent(got.get("test_accuracy3")),
                "test 7-class": percent(got.get("test_accuracy7")),
                "saliency sanity": sanity_text(got.get("val_saliency_sanity")),
            }
        )
    val, test = metrics.get("val", {}), metrics.get("test", {})
    rows.append(
        {
            "member": "ensemble",
            "in use": True,
            "weight": 1.0,
            "test-time views": "each member's",
            "val 3-class": percent(val.get("accuracy3")) + (" (fitted here)" if val.get("accuracy3") else ""),
            "val 7-class": percent(val.get("accuracy7")) + (" (fitted here)" if val.get("accuracy7") else ""),
            "val 3-class, held out": _chosen_held_out(val, "accuracy3"),
            "val 7-class, held out": _chosen_held_out(val, "accuracy7"),
            "test 3-class": percent(test.get("accuracy3"), NOT_MEASURED),
            "test 7-class": percent(test.get("accuracy7"), NOT_MEASURED),
            "saliency sanity": "each member's",
        }
    )
    return pd.DataFrame(rows)


def sanity_text(record: dict | None) -> str:
    """A member's saliency sanity check (``fit-ensemble``'s ``val_saliency_sanity``) in words."""
    if not record:
        return "not checked"
    return (
        f"{record['maps_changed']} of {record['faces']} maps changed with the class head randomised "
        f"(median ρ {record['median_rho']:+.2f})"
    )


BACKEND_TEXT = {
    "onnx": "ONNX Runtime (its ONNX export, no TensorFlow)",
    "keras": "Keras (TensorFlow)",
    "graph": "ONNX Runtime (the member is an ONNX graph, no Keras file)",
}


def temperature_text(temperature: float) -> str:
    """A member's temperature in words: how its probabilities are changed before they are mixed."""
    if temperature == 1.0:
        return "1 (as the network gives them)"
    return f"{temperature:.3g} ({'softened' if temperature > 1 else 'sharpened'})"


def backend_text(backend: str, is_graph: bool = False) -> str:
    """How a member's network runs, in words: ``backend`` (the registry's or ``$GEREC_RUNTIME``'s), except
    for a member that is an ONNX graph, which runs that graph whatever is asked."""
    return BACKEND_TEXT["graph"] if is_graph else BACKEND_TEXT.get(backend, backend)
