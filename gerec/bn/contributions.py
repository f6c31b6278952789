"""The scene network's reasons as rows that add up (see :meth:`SceneNetwork.contributions`).

Every row is a term of the posterior's log-odds, centred over the classes (softmax ignores a
constant): the prior, each present label, each absent label entered as evidence (or the rest of
them summed into one row), and the bottom-up (CNN) evidence. Softmax of the summed rows is the
fused posterior; without the bottom-up row it is the top-down one. Rows that do not fit a chart
are summed into one row per kind (:func:`fit_rows`), never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from gerec.classes import CLASSES
from gerec.types import LabelContribution, Probs

if TYPE_CHECKING:
    from gerec.bn.factor_set import FactorSet

PRIOR_LABEL = "prior"
BOTTOM_UP_LABEL = "faces (bottom-up)"
REST_KINDS = {"label": "label-rest", "absent": "absent-rest"}
"""The kind of the row that sums the rows of a kind that do not fit."""
TERM_WORDS = {
    "prior": "prior",
    "label": "labels",
    "label-rest": "labels",
    "absent": "labels",
    "absent-rest": "labels",
    "bottom-up": "faces",
}
"""What each kind of row is, in one word, for saying which terms a set of rows holds."""


def centred(vector: np.ndarray | Sequence[float]) -> Probs:
    """A per-class vector minus its mean (the same softmax)."""
    arr = np.asarray(vector, dtype=float)
    arr = arr - arr.mean()
    return (float(arr[0]), float(arr[1]), float(arr[2]))


def rest_label(kind: str, count: int) -> str:
    """``12 other absent labels`` / ``3 other present labels``."""
    what = "absent" if kind == "absent-rest" else "present"
    return f"{count} other {what} label{'s' if count != 1 else ''}"


def summed(rows: Sequence[LabelContribution], kind: str) -> LabelContribution:
    """Rows summed into one ``label-rest`` or ``absent-rest`` row."""
    count = sum(r.count for r in rows)
    total = np.sum([r.log_ratio for r in rows], axis=0) if rows else np.zeros(3)
    return LabelContribution(rest_label(kind, count), False, centred(total), kind, count)


def terms_text(rows: Sequence[LabelContribution]) -> str:
    """The kinds of term ``rows`` hold, in their order: no ``prior`` when the prior is uniform (it has
    no row then), no ``faces`` without bottom-up evidence.

    >>> terms_text([LabelContribution("smile", True, (0.5, 0.0, -0.5)), LabelContribution("crowd", False,
    ...     (0.1, 0.0, -0.1), "absent"), LabelContribution(BOTTOM_UP_LABEL, False, (1.0, 0.0, -1.0), "bottom-up")])
    'labels, faces'
    """
    return ", ".join(dict.fromkeys(TERM_WORDS[r.kind] for r in rows))


def logits(rows: Sequence[LabelContribution], bottom_up: bool = True) -> np.ndarray:
    """The summed rows: the posterior's log-odds up to a constant (without the CNN term if asked)."""
    total = np.zeros(3)
    for row in rows:
        if bottom_up or row.kind != "bottom-up":
            total += np.asarray(row.log_ratio)
    return total


def towards(row: LabelContribution) -> str:
    """The class a row pushes the posterior hardest towards (its largest term; ties: class order)."""
    return CLASSES[int(np.argmax(row.log_ratio))]


def bottom_up_row(rows: Sequence[LabelContribution]) -> LabelContribution | None:
    """The faces' (CNN node's) row, the term the bottom-up evidence adds to the fused log-odds."""
    return next((r for r in rows if r.kind == "bottom-up"), None)


def rows_posterior(rows: Sequence[LabelContribution], bottom_up: bool = True) -> Probs:
    """Softmax of the summed rows: the fused posterior, or top-down with ``bottom_up=False``."""
    z = logits(rows, bottom_up)
    p = np.exp(z - z.max())
    p /= p.sum()
    return (float(p[0]), float(p[1]), float(p[2]))


def label_rows(
    labels: Sequence[str], log_present: np.ndarray, log_absent: np.ndarray, present: np.ndarray, absent_mask: np.ndarray
) -> tuple[list[LabelContribution], list[LabelContribution]]:
    """One row per present label and per absent label entered as evidence."""
    idx = set(present.tolist())
    rows: list[LabelContribution] = []
    absent: list[LabelContribution] = []
    for i, label in enumerate(labels):
        if i in idx:
            rows.append(LabelContribution(label, True, centred(log_present[i])))
        elif absent_mask[i]:
            absent.append(LabelContribution(label, False, centred(log_absent[i]), "absent"))
    return rows, absent


def shared_name(names: Sequence[str]) -> str:
    """``smile`` or ``smile (+3 alike)``: a factor's first label and how many share it."""
    return names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1} alike)"


def factor_rows(
    labels: Sequence[str], factors: FactorSet, present: np.ndarray, absent_mask: np.ndarray
) -> tuple[list[LabelContribution], list[LabelContribution]]:
    """Rows when identical factors count once (:class:`gerec.bn.factor_set.FactorSet`, as its
    ``log_likelihood`` sums them): one per distinct factor in the sum, named after its labels."""
    idx = np.asarray(present, dtype=int)
    chosen = set(idx.tolist())
    removed = np.bincount(factors.absent_id[idx[absent_mask[idx]]], minlength=len(factors.values))
    active = (factors.absent_count > 0) & (removed < factors.absent_count)
    sharing: dict[int, list[str]] = {}
    for i, label in enumerate(labels):
        if absent_mask[i] and i not in chosen:
            sharing.setdefault(int(factors.absent_id[i]), []).append(label)
    absent = [
        LabelContribution(shared_name(sharing[f]), False, centred(factors.values[f]), "absent", len(sharing[f]))
        for f in map(int, np.flatnonzero(active))
    ]
    rows: list[LabelContribution] = []
    for f in np.unique(factors.present_id[idx]):
        if not active[f]:
            names = [labels[i] for i in sorted(chosen) if factors.present_id[i] == f]
            rows.append(LabelContribution(shared_name(names), True, centred(factors.values[f]), "label", len(names)))
    return rows, absent


def order_rows(
    prior: LabelContribution | None,
    present: list[LabelContribution],
    absent: list[LabelContribution],
    bottom_up: LabelContribution | None,
    top_absent: int | None,
) -> tuple[LabelContribution, ...]:
    """Prior, present labels and absent labels (strongest first), the absent rest, bottom-up."""
    present = sorted(present, key=lambda r: -r.strength)
    absent = sorted(absent, key=lambda r: -r.strength)
    rest: list[LabelContribution] = []
    if top_absent is not None and len(absent) > top_absent:
        rest = [summed(absent[top_absent:], "absent-rest")]
        absent = absent[:top_absent]
    head = [prior] if prior is not None else []
    tail = [bottom_up] if bottom_up is not None else []
    return tuple(head + present + absent + rest + tail)


def fit_rows(rows: Sequence[LabelContribution], max_rows: int) -> tuple[LabelContribution, ...]:
    """At most ``max_rows`` rows (prior and bottom-up always stay) that add up to the same.

    The strongest labels are kept in their order; the others are summed, per kind (present,
    absent), with any rest row of that kind into one row.
    """
    rows = list(rows)
    if len(rows) <= max_rows:
        return tuple(rows)
    head = [r for r in rows if r.kind == "prior"]
    tail = [r for r in rows if r.kind == "bottom-up"]
    items = [r for r in rows if r.kind in REST_KINDS]
    strongest = sorted(range(len(items)), key=lambda i: -items[i].strength)
    for k in range(len(items), -1, -1):
        kept = set(strongest[:k])
        spill = {kind: [r for r in rows if r.kind == kind] for kind in REST_KINDS.values()}
        for i, row in enumerate(items):
            if i not in kept:
                spill[REST_KINDS[row.kind]].append(row)
        if k + sum(1 for v in spill.values() if v) + len(head) + len(tail) <= max_rows:
            break
    rest = [summed(v, kind) for kind, v in spill.items() if v]
    return tuple(head + [r for i, r in enumerate(items) if i in kept] + rest + tail)
