"""Error analysis over a results table (pandas; no streamlit): per-module scores, confusion
matrices and their cells, what changed between modules, where they disagree.

A results table is OUT.csv-shaped (:mod:`gerec_app.results_table` makes, reads and checks one);
which labels push wrong answers is :mod:`gerec_app.label_analysis`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gerec.classes import CLASSES, MODULES
from gerec.evaluation import score_module, to_indices
from gerec.fileio import csv_safe
from gerec.runs import compare as runs_compare

PAIRS = (("bottom_up", "fused"), ("top_down", "fused"), ("bottom_up", "top_down"))
FIXED, BROKEN = runs_compare.VERDICT_WORDS[runs_compare.FIXED], runs_compare.VERDICT_WORDS[runs_compare.BROKEN]
"""How an answer changed between two modules or two runs: it became right, or stopped being right."""
ACCURACY_COLUMNS = ("accuracy", *(f"recall {c}" for c in CLASSES))
"""The columns of this module's tables that hold an accuracy (a fraction; shown as a percentage)."""


def present_modules(frame: pd.DataFrame) -> list[str]:
    """Modules with at least one prediction."""
    return [m for m in MODULES if (frame[m] != "").any()]


def scores(frame: pd.DataFrame) -> pd.DataFrame:
    """Accuracy, coverage and per-class recall of each module."""
    actual = to_indices(list(frame["actual"]))
    out = []
    for module in present_modules(frame):
        score = score_module(module, actual, to_indices(list(frame[module])))
        row: dict[str, object] = {
            "module": module,
            "accuracy": round(score.accuracy, 4),
            "covered": score.covered,
            "total": score.total,
        }
        for cls, recall in zip(CLASSES, score.recall):
            row[f"recall {cls}"] = round(float(recall), 4)
        out.append(row)
    return pd.DataFrame(out)


def confusion(frame: pd.DataFrame, module: str) -> np.ndarray:
    """Confusion matrix of ``module`` (rows actual, columns predicted)."""
    return score_module(module, to_indices(list(frame["actual"])), to_indices(list(frame[module]))).confusion


def cell(frame: pd.DataFrame, module: str, actual: str, predicted: str) -> pd.DataFrame:
    """The images of one confusion-matrix cell."""
    rows = frame[(frame["actual"] == actual) & (frame[module] == predicted)]
    return rows[["image", "actual", *present_modules(frame), "labels_used"]].reset_index(drop=True)


def transitions(frame: pd.DataFrame) -> pd.DataFrame:
    """For module pairs A -> B: images fixed (A wrong, B right), broken (A right, B wrong), etc."""
    out = []
    available = set(present_modules(frame))
    for a, b in PAIRS:
        if not {a, b} <= available:
            continue
        both = frame[(frame[a] != "") & (frame[b] != "")]
        ra, rb = both[a] == both["actual"], both[b] == both["actual"]
        out.append(
            {
                "from": a,
                "to": b,
                "images": len(both),
                FIXED: int((~ra & rb).sum()),
                BROKEN: int((ra & ~rb).sum()),
                "both right": int((ra & rb).sum()),
                "both wrong": int((~ra & ~rb).sum()),
                "disagree": int((both[a] != both[b]).sum()),
            }
        )
    return pd.DataFrame(out)


def changed(frame: pd.DataFrame, a: str, b: str, kind: str) -> pd.DataFrame:
    """Images ``fixed`` or ``broken`` (:data:`gerec.runs.compare.FIXED`, ``BROKEN``) going from module
    ``a`` to ``b``."""
    if kind not in (runs_compare.FIXED, runs_compare.BROKEN):
        raise ValueError(f"kind must be {runs_compare.FIXED!r} or {runs_compare.BROKEN!r}, got {kind!r}")
    both = frame[(frame[a] != "") & (frame[b] != "")]
    ra, rb = both[a] == both["actual"], both[b] == both["actual"]
    rows = both[(~ra & rb) if kind == runs_compare.FIXED else (ra & ~rb)]
    return rows[["image", "actual", *present_modules(frame), "labels_used"]].reset_index(drop=True)


def disagreements(frame: pd.DataFrame) -> pd.DataFrame:
    """Images where the present modules do not all agree, with which were right."""
    modules = present_modules(frame)
    sub = frame[modules].replace("", np.nan)
    differ = sub.nunique(axis=1, dropna=True) > 1
    rows = frame[differ]
    out = rows[["image", "actual", *modules]].copy()
    out["right"] = ["+".join(m for m in modules if r[m] == r["actual"]) or "none" for _, r in rows.iterrows()]
    return out.reset_index(drop=True)


def to_csv(frame: pd.DataFrame) -> bytes:
    """A table as CSV bytes (for download buttons); formula-like cells are neutralised."""
    safe = frame.map(csv_safe).rename(columns=lambda c: csv_safe(str(c)))
    return safe.to_csv(index=False).encode("utf-8")
