"""Two stored runs compared on the Error analysis page: per module, both accuracies and the answers
run B changed; every changed answer (pandas; no streamlit).

:func:`gerec.runs.compare.compare_runs` gives one row per changed answer (an image and a module), so
an image can count up to once per module: every count here is of answers, and the images they fall
on are counted apart.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from gerec.classes import MODULES
from gerec.runs.compare import RunComparison
from gerec_app.analysis import BROKEN, FIXED

NEITHER_RIGHT = "changed (neither right)"
"""An answer that changed from one wrong class to another (or whose true class is not known)."""
VERDICTS = {"fixed": FIXED, "broken": BROKEN, "changed": NEITHER_RIGHT}
""":func:`gerec.runs.compare.compare_runs`' verdicts in the page's words."""
ACCURACY_COLUMNS = RUN_A, RUN_B = ("Run A accuracy", "Run B accuracy")
"""The columns of :func:`summary` that hold an accuracy (a fraction; shown as a percentage)."""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def summary(result: RunComparison) -> pd.DataFrame:
    """Per module: both runs' accuracy on their shared images and run B's changed answers by
    verdict (:data:`VERDICTS`), then a row ``all modules`` summing them. Every count is of answers,
    one per image and module, so each row's verdicts add up to its ``answers changed``."""
    counts = Counter((c["module"], c["verdict"]) for c in result.changed)
    rows: list[dict[str, object]] = []
    for module in result.accuracy_a:
        row: dict[str, object] = {"module": module, RUN_A: result.accuracy_a[module], RUN_B: result.accuracy_b[module]}
        row.update({column: counts[(module, verdict)] for verdict, column in VERDICTS.items()})
        rows.append(row)
    total: dict[str, object] = {"module": "all modules", RUN_A: None, RUN_B: None}
    total.update(
        {column: sum(n for (_, v), n in counts.items() if v == verdict) for verdict, column in VERDICTS.items()}
    )
    table = pd.DataFrame([*rows, total])
    table["answers changed"] = table[list(VERDICTS.values())].sum(axis=1)
    return table


def headline(result: RunComparison) -> str:
    """``937 answers changed on 779 of 2172 images (...): 224 fixed (wrong→right), 713 broken
    (right→wrong), 0 changed (neither right)``: what is counted is said, and the verdicts add up to
    the answers (an image has one answer per module, so the answers can outnumber the images)."""
    by_verdict = Counter(c["verdict"] for c in result.changed)
    images = len({c["image"] for c in result.changed})
    return (
        f"{_count(len(result.changed), 'answer')} changed on {images} of {_count(result.shared, 'image')} "
        f"(an image has one answer per module, so up to {len(MODULES)} can change): "
        + ", ".join(f"{by_verdict[verdict]} {column}" for verdict, column in VERDICTS.items())
    )


def changes(result: RunComparison) -> pd.DataFrame:
    """Every changed answer (one row per image and module) as :func:`gerec.runs.compare.compare_runs`
    gives it: ``image, actual, module, a, b, verdict`` (the download's columns)."""
    return pd.DataFrame(result.changed, columns=["image", "actual", "module", "a", "b", "verdict"])


def changes_for_people(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`changes` for the screen: verdicts in the page's words, runs named ``Run A``/``Run B``."""
    return table.assign(verdict=table["verdict"].map(lambda v: VERDICTS.get(v, v))).rename(
        columns={"a": "Run A", "b": "Run B"}
    )
