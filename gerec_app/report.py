"""A photo's report as one self-contained HTML file (images embedded as data URIs; no streamlit calls
in :func:`build_report`, so it is tested on its own).

Contents: the photo with its numbered face boxes, the three verdicts with their probabilities, each
face (class, probabilities, aligned crop and every member's saliency) and the reasons (how each
scene label moves the network, which labels were used, mapped or ignored, the labeler's notes).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import numpy as np
from PIL import Image

from gerec.bn.contributions import fit_rows, towards
from gerec.bn.network import SceneNetwork
from gerec.classes import CLASSES
from gerec.formatting import NO_VALUE_SCREEN
from gerec.saliency import FaceSaliency
from gerec.types import NO_FACE, GroupPrediction
from gerec.why import faces_mean, module_words, why_text
from gerec_app.render import (
    CLASS_COLOURS,
    MODULE_NAMES,
    class_colour_legend,
    faces_count,
    reasons_title,
    saliency_images,
)

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#1d2521}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #dee2e6}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #dee2e6;padding:.3em .6em;text-align:left}
th{background:#f1f3f5} .cls{color:#fff;padding:.1em .5em;border-radius:.3em;font-weight:600}
.faces{display:flex;flex-wrap:wrap;gap:1.2em} .face{border:1px solid #dee2e6;border-radius:.4em;padding:.6em}
.face img{width:112px;height:112px;image-rendering:auto;margin-right:.3em}
figure{display:inline-block;margin:0;vertical-align:top}
figcaption{font-size:.75em;color:#495057;max-width:112px} .muted{color:#6c757d;font-size:.85em}
"""


def data_uri(pixels: np.ndarray, fmt: str = "PNG") -> str:
    """An RGB array as a ``data:image/...;base64,`` URI."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(buf, format=fmt, quality=88)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def _cls(name: str | None) -> str:
    if not name:
        return NO_FACE
    return f'<span class="cls" style="background:{CLASS_COLOURS[name]}">{html.escape(name)}</span>'


def _verdicts(pred: GroupPrediction) -> str:
    rows = []
    for module, probs, cls in (
        ("bottom_up", pred.bottom_up, pred.bottom_up_class),
        ("top_down", pred.top_down, pred.top_down_class),
        ("fused", pred.fused, pred.fused_class),
    ):
        cells = "".join(f"<td>{NO_VALUE_SCREEN if p is None else f'{p:.2f}'}</td>" for p in (probs or (None,) * 3))
        rows.append(f"<tr><th>{MODULE_NAMES[module]}</th><td>{_cls(cls)}</td>{cells}</tr>")
    head = "".join(f"<th>P({c})</th>" for c in CLASSES)
    return f"<table><tr><th>module</th><th>class</th>{head}</tr>{''.join(rows)}</table>"


def _faces_caption(pred: GroupPrediction) -> str:
    """Under the photo: how many faces, how they are numbered, what the box colours mean."""
    if not pred.faces:
        return "No face found."
    return f"{faces_count(len(pred.faces))}, numbered left to right. Box colours: {class_colour_legend()}."


def _faces(pred: GroupPrediction, crops: np.ndarray, maps: Sequence[FaceSaliency | None]) -> str:
    if not pred.faces:
        return "<p>No face found: bottom-up is absent; the fused answer is the top-down one.</p>"
    blocks = []
    for i, face in enumerate(pred.faces):
        scores = face.scores
        probs = "" if scores is None else " · ".join(f"{c} {p:.2f}" for c, p in zip(CLASSES, scores.ensemble))
        figures = [
            f'<figure><img src="{data_uri(crops[i])}" alt="face {face.index}"><figcaption>aligned crop'
            "</figcaption></figure>"
        ]
        saliency = maps[i] if i < len(maps) else None
        if saliency is not None:
            images, captions = saliency_images(crops[i], saliency)
            figures += [
                f'<figure><img src="{data_uri(img)}" alt="{html.escape(cap)}"><figcaption>'
                f"{html.escape(cap)}</figcaption></figure>"
                for img, cap in zip(images, captions)
            ]
        blocks.append(
            f'<div class="face"><b>Face {face.index}</b> {_cls(scores.predicted if scores else None)}'
            f'<div class="muted">{probs}; box {face.box}, detector confidence {face.confidence:.2f}</div>'
            f"{''.join(figures)}</div>"
        )
    return f'<div class="faces">{"".join(blocks)}</div>'


def _reasons(pred: GroupPrediction, network: SceneNetwork) -> str:
    ev = pred.evidence
    items = []
    for row in fit_rows(pred.contributions, 10):  # every term, the weakest summed: they add up to fused
        verb = "push" if row.count > 1 or row.kind == "bottom-up" else "pushes"  # '12 other labels', 'faces'
        items.append(
            f"<li>{html.escape(row.display)} {verb} towards {_cls(towards(row))} "
            f"(log-likelihood {max(row.log_ratio):+.2f})</li>"
        )
    mapped = ", ".join(f"{html.escape(a)} → {html.escape(b)}" for a, b in ev.labels_mapped) or "none"
    notes = "".join(f"<li class='muted'>{html.escape(n)}</li>" for n in ev.notes if not n.startswith("imagenet"))
    faces = {c: sum(1 for f in pred.faces if f.scores and f.scores.predicted == c) for c in CLASSES}
    face_text = ", ".join(f"{n} {c}" for c, n in faces.items() if n) or "no face"
    mean = faces_mean(pred)
    if mean is not None:
        face_text += "; the mean of their probabilities: " + ", ".join(f"{c} {p:.2f}" for c, p in zip(CLASSES, mean))
    bottom_up, fused = module_words(network)
    with_faces = pred.bottom_up is not None
    return (
        f"<p>{html.escape(why_text(pred))}</p>"
        f"<p>Faces: {face_text}.</p>"
        + (f"<p>{html.escape(bottom_up)}</p>" if with_faces else "")
        + f"<p>Scene labels from <b>{html.escape(ev.labeler)}</b>: {html.escape(', '.join(ev.labels_used)) or 'none'}"
        f"; mapped: {mapped}; ignored: {html.escape(', '.join(ev.labels_ignored)) or 'none'}.</p>"
        f"<p>{html.escape(reasons_title(pred.contributions))}:</p><ul>{''.join(items)}</ul>"
        + (f"<p>{html.escape(fused)}</p>" if with_faces else "")
        + (f"<ul>{notes}</ul>" if notes else "")
    )


def build_report(
    name: str,
    display: np.ndarray,
    pred: GroupPrediction,
    crops: np.ndarray,
    maps: Sequence[FaceSaliency | None],
    settings: Mapping[str, str],
    network: SceneNetwork,
) -> str:
    """The HTML report of one photo. ``display`` is the photo with face boxes, ``maps`` each face's
    saliency (``None`` where not computed, as for faces past the end of ``maps``), ``settings`` what
    made it (shown as a table), ``network`` the one that analysed it (``Pipeline.photo_network``: says
    what bottom-up and fused are)."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    made = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in settings.items())
    title = html.escape(name)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gerec report: {title}</title><style>{STYLE}</style></head>
<body><h1>Group emotion: {title}</h1><p class="muted">gerec report, {when}. Classes in order {", ".join(CLASSES)}.</p>
<h2>Verdict</h2>{_verdicts(pred)}
<h2>Photo</h2><img src="{data_uri(display, "JPEG")}" alt="{title} with face boxes" style="max-width:100%">
<p class="muted">{_faces_caption(pred)}</p>
<h2>Faces and saliency</h2>{_faces(pred, crops, maps)}
<p class="muted">Saliency: red regions push the member towards the class shown, blue away from it.</p>
<h2>Why</h2>{_reasons(pred, network)}
<h2>What made this report</h2><table>{made}</table>
</body></html>
"""


Progress = Callable[[int, int], None]
"""``progress(done, total)``: how many of a photo's faces have their saliency (the slow part of a
report), called before the first face and after each."""


def photo_report(res, shown: GroupPrediction, s, progress: Progress | None = None) -> str:  # noqa: ANN001 - state.PhotoResult, settings.Settings
    """The report of the photo on the Analyze page, with the labels as currently edited; ``progress``
    is told of each face's saliency (the face inspector's cached maps are reused)."""
    from gerec_app import state

    maps: list[FaceSaliency | None] = []
    for i, crop in enumerate(res.crops):
        if progress is not None:
            progress(i, len(res.crops))
        maps.append(state.saliency(res.digest, i, crop))
    if progress is not None:
        progress(len(res.crops), len(res.crops))
    from gerec.bn import network_path
    from gerec.config import models_dir
    from gerec.emotion.registry import REGISTRY_FILE
    from gerec.versions import file_version

    def version(path) -> str:  # noqa: ANN001 - a Path
        return f"{path.name}, sha256 {file_version(path)['sha256'][:16]}" if path.is_file() else f"{path} (missing)"

    settings = {
        "scene network": s.mode,
        "network file": version(network_path(s.mode)),
        "ensemble registry": version(models_dir() / REGISTRY_FILE),
        "labeler chain": s.chain,
        "cached labels": s.labels_file or "none",
        "labels": "edited by hand" if shown is not res.prediction else "from the labeler",
    }
    network = state.pipeline(s.mode, s.chain, s.labels_file).photo_network
    return build_report(res.name, res.display, shown, res.crops, maps, settings, network)
