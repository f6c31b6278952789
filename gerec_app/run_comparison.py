"""Two stored runs compared on the Error analysis page, for the screen: per module, both accuracies
and the answers run B changed; every changed answer (pandas; no streamlit).

The counting is :func:`gerec.runs.compare.count_changes`' (``gerec runs compare`` prints the same
figures); this module only lays them out in the page's words.
"""

from __future__ import annotations

import pandas as pd

from gerec.runs.compare import ANSWERS_CHANGED, VERDICT_WORDS, VERDICTS, ChangeCounts, RunComparison

ACCURACY_COLUMNS = RUN_A, RUN_B = ("Run A accuracy", "Run B accuracy")
"""The columns of :func:`summary` that hold an accuracy (a fraction; shown as a percentage)."""


def summary(result: RunComparison, counts: ChangeCounts) -> pd.DataFrame:
    """Per module (then ``all modules``): both runs' accuracy on their shared images and run B's
    changed answers ``counts`` (:func:`gerec.runs.compare.count_changes`) by verdict, in columns
    named by :data:`VERDICT_WORDS`, which add up to :data:`ANSWERS_CHANGED`."""
    rows = [
        {
            "module": module,
            RUN_A: result.accuracy_a.get(module),
            RUN_B: result.accuracy_b.get(module),
            **{VERDICT_WORDS[v]: by_verdict[v] for v in VERDICTS},
            ANSWERS_CHANGED: counts.answers(module),
        }
        for module, by_verdict in counts.by_module.items()
    ]
    return pd.DataFrame(rows)


def changes(result: RunComparison) -> pd.DataFrame:
    """Every changed answer (one row per image and module) as :func:`gerec.runs.compare.compare_runs`
    gives it: ``image, actual, module, a, b, verdict`` (the download's columns)."""
    return pd.DataFrame(result.changed, columns=["image", "actual", "module", "a", "b", "verdict"])


def changes_for_people(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`changes` for the screen: verdicts in words (:data:`VERDICT_WORDS`), runs named ``Run A``/``Run B``."""
    return table.assign(verdict=table["verdict"].map(lambda v: VERDICT_WORDS.get(v, v))).rename(
        columns={"a": "Run A", "b": "Run B"}
    )
