"""Face boxes on photos and the words, names and numbers every page shares (no streamlit calls).

A prediction's tables are in :mod:`gerec_app.prediction_tables`; the face ensemble's, for the
Models page, in :mod:`gerec_app.ensemble_tables`.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import pandas as pd

from gerec import formatting
from gerec.bn.contributions import terms_text
from gerec.classes import CLASSES
from gerec.formatting import PERCENT_FORMAT as PERCENT_FORMAT  # the pages' name for it
from gerec.types import NO_FACE_ANSWER, NO_FACE_REASON, Face, LabelContribution

CLASS_COLOURS = {"Positive": "#2b9348", "Neutral": "#868e96", "Negative": "#d62828"}
"""The one colour of each class: face boxes, class bars, graph nodes, reports."""
CLASS_SHORT = {c: c[:3] for c in CLASSES}
"""Each class in three letters, 'Pos', 'Neu', 'Neg', where the full name does not fit: the network
graph's Emotion node and the headers of Analyze's verdict and faces tables (with the full names the
verdict table needed more than its column's 274 px in a 1024 px window with the sidebar open: 'Nega…')."""
MODULE_NAMES = {"bottom_up": "Bottom-up (faces)", "top_down": "Top-down (scene)", "fused": "Fused"}
"""The one display name of each module (OUT.csv and stored runs use the keys)."""
MODULE_COLOURS = {"bottom_up": "#1c7ed6", "top_down": "#f08c00", "fused": "#7048e8"}
"""Modules in hues no class uses (blue, orange, violet)."""
SERIES_COLOURS = ("#1c7ed6", "#f08c00", "#7048e8", "#0c8599", "#c2255c", "#5f3dc4", "#e8590c")
"""Ensemble members and other series, in order: hues away from the class colours."""
ENSEMBLE_COLOUR = "#343a40"
DISPLAY_SIDE = 1100


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


def answer(probs: Sequence[float] | None) -> tuple[str, str]:
    """A module's answer as a metric shows it: the class as the value, its probability on a smaller
    line, so the class is read whole in a third of a 1024 px window beside the sidebar ('Negative ·
    0.54' in one line needed 218 px of 177).

    >>> answer((0.09, 0.37, 0.54))
    ('Negative', 'probability 0.54')
    >>> answer(None)
    ('absent', 'no face')
    """
    if probs is None:
        return NO_FACE_ANSWER, NO_FACE_REASON
    best = max(range(len(CLASSES)), key=lambda i: probs[i])
    return CLASSES[best], f"probability {probs[best]:.2f}"


def faces_count(n: int) -> str:
    """``1 face``, ``3 faces``, ``0 faces``: a photo's face count in words."""
    return formatting.counted(n, "face")


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

    ``result`` is a :class:`gerec.saliency.FaceSaliency`.
    """
    from gerec.saliency import overlay

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


def reasons_title(rows: Sequence[LabelContribution]) -> str:
    """The heading over a prediction's reasons, naming the terms shown (a uniform prior has no row):
    ``How each term moves the verdict (labels, faces)``. The Analyze page's expander and the report."""
    return f"How each term moves the verdict ({terms_text(rows)})"


PHOTO_FORMATS = {"JPEG": (".jpg", ".jpeg"), "PNG": (".png",), "WebP": (".webp",)}
"""The photos the dashboard takes, by name and file-name suffixes: the uploader, the sample folder's
list, the error hints (a subset of :data:`gerec.imaging.FORMATS`; the CLI reads them all)."""
*_FIRST_FORMATS, _LAST_FORMAT = PHOTO_FORMATS
PHOTO_FORMATS_TEXT = f"{', '.join(_FIRST_FORMATS)} or {_LAST_FORMAT}"
"""``JPEG, PNG or WebP``: what can be uploaded, in words."""

SAMPLE_HINT = f"Put a {PHOTO_FORMATS_TEXT} photo in its place in the sample folder ({{folder}})."
"""What to do about a sample that is not a photo, or is one that cannot be read (the folder lists only
:data:`PHOTO_FORMATS`' files)."""

DRILL_DOWN_HINT = "Check the image folder on Error analysis."
"""What to do about a photo opened from Error analysis that cannot be read."""

ERROR_HINTS = {
    "ImageTooLarge": "Save it at a smaller size and upload it again.",
    "InvalidImage": f"Check that it is a {PHOTO_FORMATS_TEXT} photo and upload it again.",
    "NoFaceDetected": "Pick another face or photo.",
    "ModelFileMissing": "Run `make install` (or the command docs/models.md gives for the file) and restart.",
    "InvalidModelFile": "Rebuild the file with the command docs/models.md gives for it and restart.",
    "LabelerUnavailable": "Choose the offline labeler in the sidebar, or set up its keys.",
    "InvalidDataset": "Check the file's format (docs/cli.md) and try again.",
    "PathNotAllowed": "",  # each refusal says what to do, which depends on why (gerec_app.paths)
    "RunStoreError": "Give the path of a run store made by `gerec evaluate ... --store`.",
}
"""What to do, per error class (looked up along the class's bases); empty where the message says it."""


def plain_error(exc: BaseException, name: str | None = None, hint: str | None = None) -> str:
    """``empty.jpg: the file is empty (0 bytes). Check that it is …``: one line, no class names.

    The file name is said once; a library's own wording quoted in the message (the error's
    cause, as ``(cause)``, ``(CauseType: cause)`` or ``: cause``) is dropped. What to do is
    ``hint`` when given (e.g. a sample is not uploaded: :data:`SAMPLE_HINT`), else the error's own.
    """
    text = " ".join(str(exc).split())
    cause = exc.__cause__
    if cause is not None and str(cause).strip():
        quoted = " ".join(str(cause).split())
        for form in (f" ({type(cause).__name__}: {quoted})", f" ({quoted})", f": {quoted}"):
            text = text.replace(form, "")
    if name:
        text = text.removeprefix(f"{name}: ")
    hint = hint or next(
        (ERROR_HINTS[k.__name__] for k in type(exc).__mro__ if k.__name__ in ERROR_HINTS),
        "Try again; if it happens again, report it with the photo.",
    )
    if not text:
        text = "something went wrong"
    first = text.split(maxsplit=1)[0].rstrip(":,")
    if not name and first.isalpha():  # a sentence; a file name or path that opens it keeps its spelling
        text = text[0].upper() + text[1:]
    return f"{name + ': ' if name else ''}{text.rstrip('.')}." + (f" {hint}" if hint else "")


def percent(value: object, missing: str = formatting.NO_VALUE_SCREEN) -> str:
    """``69.37 %``: :func:`gerec.formatting.percent` (the CLI's rule) with the dashboard's missing value.

    >>> percent(0.69374), percent(None), percent(float("nan"))
    ('69.37 %', '–', '–')
    """
    return formatting.percent(value, missing)


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
