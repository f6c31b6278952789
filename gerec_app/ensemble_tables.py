"""The face ensemble and its members in words and tables, for the Models page (no streamlit calls)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from gerec.classes import CLASSES
from gerec.emotion.registry import tta_mode
from gerec.emotion.views import TTA_MODES, ZOOM
from gerec.formatting import NO_VALUE_SCREEN, percent_spread
from gerec_app.render import percent, plain_error

if TYPE_CHECKING:
    from gerec.emotion.registry import EnsembleSpec

NOT_MEASURED = "not measured"  # the ensemble's test cells before its one test measurement


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
    """The chosen criterion's held-out ``figure`` with its sd and the faces it is over, or
    :data:`~gerec.formatting.NO_VALUE_SCREEN` when the registry has none."""
    criterion = str(val.get("criterion"))
    if criterion not in (val.get(f"criterion_held_out_{figure}") or {}):
        return NO_VALUE_SCREEN
    faces = HELD_OUT_FACES.get(str(val.get("fit_faces")))
    return _held_out_text(val, figure, criterion) + (f" ({faces})" if faces else "")


def _held_out_text(val: dict, figure: str, criterion: str) -> str:
    """A criterion's held-out ``figure`` (accuracy3 or accuracy7) from ``metrics.val``, with its sd when
    recorded: ``81.26 ± 0.71 %``."""
    spread = val.get(f"criterion_held_out_{figure}_sd") or {}
    return percent_spread(val[f"criterion_held_out_{figure}"][criterion], spread.get(criterion), NO_VALUE_SCREEN)


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


WHY_NOT_USED = "why not in use"
"""The column that replaces ``in use`` in the table of members without a weight."""


def shown_in_use(used: pd.DataFrame, unused: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`split_in_use`'s two tables as the page shows them: the members in use without an
    ``in use`` column (every row would say true) and without their weight and saliency sanity (the
    members table above it has them: ten columns were wider than a 1024 px window gives the table), the
    others saying why each is not used, without a column no row has a value in."""
    why = unused["in use"].map(lambda enabled: "weight 0 at the fit" if enabled else "disabled in the registry")
    unused = unused.drop(columns="in use").assign(**{WHY_NOT_USED: why})
    empty = [c for c in unused.columns if (unused[c] == NO_VALUE_SCREEN).all()]  # e.g. held out: the ensemble's only
    return used.drop(columns=["in use", "weight", "saliency sanity"]), unused.drop(columns=empty)


def members_frame(spec: EnsembleSpec) -> pd.DataFrame:
    """The members in use, one row each: weight, input, size on disk (or why it cannot be read), how
    it runs, temperature, saliency sanity. Their recipes (``source``) and class mappings are prose under
    the table: as columns they made it wider than a 1024 px window gives it."""
    from gerec.config import runtime_override
    from gerec.emotion.registry import resolve_weights
    from gerec.errors import GerecError

    rows = []
    for m in spec.members:
        try:
            size = f"{resolve_weights(m, spec.directory).stat().st_size / 1e6:.2f} MB"
        except GerecError as exc:
            size = plain_error(exc)
        rows.append(
            {
                "member": m.name,
                "weight": m.weight,
                "input": f"{m.input_size}×{m.input_size} {m.colour}, {m.preprocess}",
                "size on disk": size,
                "runs with": backend_text(runtime_override() or m.backend, m.is_graph),
                "temperature": temperature_text(m.temperature),
                "saliency sanity": sanity_text(m.metrics.get("val_saliency_sanity")),
            }
        )
    return pd.DataFrame(rows)


def mapping_text(mapping: dict[str, str | None]) -> str:
    """A member's class mapping, grouped by group class: ``angry, sad → Negative; surprise dropped``.

    >>> mapping_text({"angry": "Negative", "happy": "Positive", "sad": "Negative", "surprise": None})
    'happy → Positive; angry, sad → Negative; surprise dropped'
    """
    groups = [f"{', '.join(k for k, v in mapping.items() if v == c)} → {c}" for c in CLASSES if c in mapping.values()]
    dropped = [k for k, v in mapping.items() if not v]
    return "; ".join(groups + ([f"{', '.join(dropped)} dropped"] if dropped else []))


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
                "val 3-class, held out": NO_VALUE_SCREEN,
                "val 7-class, held out": NO_VALUE_SCREEN,
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
    """A member's saliency sanity check (``fit-ensemble``'s ``val_saliency_sanity``) in words: how many
    maps changed when its class head was randomised (a caption under the members table says so)."""
    if not record:
        return "not checked"
    return f"{record['maps_changed']} of {record['faces']} maps changed (median ρ {record['median_rho']:+.2f})"


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


def face_confusion_text(info: dict) -> str:
    """The face confusion's description (the registry's ``face_confusion`` without its matrix) in one
    line, its accuracies as :func:`percent` writes them.

    >>> face_confusion_text({"faces": 2555, "accuracy3": 0.8262, "matrix": [[1]]})
    'faces 2555, accuracy3 82.62 %'
    """
    return ", ".join(
        f"{k} {percent(v) if k.startswith('accuracy') else v}"
        for k, v in info.items()
        if isinstance(v, str | int | float)
    )
