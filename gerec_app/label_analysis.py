"""Which labels push wrongly classified images towards their wrong class, from a results table and
the scene network that made it (pandas; no streamlit)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gerec.bn import SceneNetwork
from gerec.classes import CLASSES

ERROR_RATE = "error rate with label"
"""The column of :func:`label_errors` with the share of a label's images the module got wrong (a
fraction; shown as a percentage)."""
WRONG, PUSHED, TOTAL_PUSH, IMAGES = (
    "wrong images with label",
    "pushed towards wrong class",
    "total push",
    "images with label",
)
LABEL_ERROR_COLUMNS = ("label", WRONG, PUSHED, "mean push", TOTAL_PUSH, IMAGES, ERROR_RATE, "favours")
"""The columns of :func:`label_errors`, in order (the CSV's names)."""
LABEL_ERROR_HEADERS = {WRONG: "wrong images", PUSHED: "pushed wrong", IMAGES: "images", ERROR_RATE: "error rate"}
"""The short headers the page gives :func:`label_errors`' longer columns, so the table fits a page's
width (the full names are the CSV's and each header's tooltip)."""


def label_push_table(net: SceneNetwork) -> dict[str, np.ndarray]:
    """Each known label's centred log-likelihood per class when present (from contributions)."""
    return {r.label: np.asarray(r.log_ratio) for r in net.contributions(net.labels, top_absent=0) if r.kind == "label"}


def label_errors(frame: pd.DataFrame, net: SceneNetwork, module: str = "top_down", min_images: int = 3) -> pd.DataFrame:
    """Labels that most often push wrongly classified images towards their wrong class.

    For every image ``module`` got wrong, each present label's push is its log-likelihood for the
    predicted class minus that for the true class (the contributions of ``labels_used``).
    """
    push = label_push_table(net)
    index = {c: i for i, c in enumerate(CLASSES)}
    stats: dict[str, list[float]] = {}
    seen: dict[str, int] = {}
    wrong_count: dict[str, int] = {}
    for _, row in frame.iterrows():
        labels = [lab for lab in str(row["labels_used"]).split("|") if lab in push]
        for lab in labels:
            seen[lab] = seen.get(lab, 0) + 1
        predicted = row[module]
        if not predicted or predicted == row["actual"]:
            continue
        p, a = index[predicted], index[row["actual"]]
        for lab in labels:
            wrong_count[lab] = wrong_count.get(lab, 0) + 1
            stats.setdefault(lab, []).append(float(push[lab][p] - push[lab][a]))
    out = []
    for lab, values in stats.items():
        arr = np.array(values)
        if wrong_count[lab] < min_images:
            continue
        out.append(
            (
                lab,
                wrong_count[lab],
                int((arr > 0).sum()),
                round(float(arr.mean()), 4),
                round(float(arr[arr > 0].sum()), 3),
                seen[lab],
                round(wrong_count[lab] / seen[lab], 4),
                CLASSES[int(np.argmax(push[lab]))],
            )
        )
    table = pd.DataFrame(out, columns=list(LABEL_ERROR_COLUMNS))
    return table.sort_values([TOTAL_PUSH, PUSHED], ascending=False).reset_index(drop=True)
