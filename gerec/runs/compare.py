"""Compare two stored runs: accuracy per module, the answers that changed, and how many.

An *answer* is one image's class from one module, so an image has one answer per module and two
runs can differ on up to ``len(MODULES)`` answers of one image. :func:`count_changes` is the one
place those changes are counted (by module and verdict, and the images they fall on), for
``gerec runs compare`` and the dashboard's Error analysis page alike.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from gerec.evaluation import accuracy, to_indices
from gerec.runs.records import MODULES

FIXED, BROKEN, CHANGED = "fixed", "broken", "changed"
VERDICTS = (FIXED, BROKEN, CHANGED)
"""How an answer changed from run A to run B: it became right, it stopped being right, or it moved
between two wrong classes (or the true class is not known)."""
VERDICT_WORDS = {FIXED: "fixed (wrong→right)", BROKEN: "broken (right→wrong)", CHANGED: "changed (neither right)"}
"""Each verdict in words, as the CLI and the dashboard say it."""
ALL_MODULES = "all modules"
"""The row of :class:`ChangeCounts` that sums every module's."""
ANSWERS_CHANGED = "answers changed"
"""A row's total in words: the column that its verdicts add up to (the CLI's and the page's tables)."""


@dataclass(frozen=True)
class RunComparison:
    """Per-module accuracy of both runs (on their shared images) and the changed answers."""

    run_a: str
    run_b: str
    shared: int
    accuracy_a: dict[str, float]
    accuracy_b: dict[str, float]
    changed: list[dict[str, Any]]  # image, actual, module, a, b, verdict (one of VERDICTS)


@dataclass(frozen=True)
class ChangeCounts:
    """Run B's changed answers counted: ``by_module[module][verdict]`` for each module and for
    :data:`ALL_MODULES`, so each row's verdicts add up to its :meth:`answers`, and the modules' rows
    to the last; ``images`` counts the images the changed answers fall on (at most one per answer),
    ``shared`` the images both runs finished."""

    shared: int
    images: int
    by_module: dict[str, dict[str, int]]

    def answers(self, module: str = ALL_MODULES) -> int:
        """How many answers of ``module`` (all modules by default) changed."""
        return sum(self.by_module[module].values())

    def sentence(self) -> str:
        """``1040 answers changed on 779 of 2172 images (an image has one answer per module, so up
        to 3 can change): 713 fixed (wrong→right), 224 broken (right→wrong), 103 changed (neither
        right)``: what is counted is said, and the verdicts add up to the answers.

        >>> text = ChangeCounts(5, 1, {ALL_MODULES: {FIXED: 2, BROKEN: 0, CHANGED: 0}}).sentence()
        >>> text.split(" (an image")[0]
        '2 answers changed on 1 of 5 images'
        >>> text.split(": ")[1]
        '2 fixed (wrong→right), 0 broken (right→wrong), 0 changed (neither right)'
        """
        total = self.by_module[ALL_MODULES]
        return (
            f"{_count(self.answers(), 'answer')} changed on {self.images} of {_count(self.shared, 'image')} "
            f"(an image has one answer per module, so up to {len(MODULES)} can change): "
            + ", ".join(f"{total[verdict]} {VERDICT_WORDS[verdict]}" for verdict in VERDICTS)
        )

    def to_json(self) -> dict[str, Any]:
        """The counts for ``--json``: per module (and all) each verdict and ``answers``."""
        return {
            "shared": self.shared,
            "images": self.images,
            "answers": {m: {**counts, "answers": self.answers(m)} for m, counts in self.by_module.items()},
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def count_changes(result: RunComparison) -> ChangeCounts:
    """Count :attr:`RunComparison.changed` by module (:data:`MODULES` order, then :data:`ALL_MODULES`)
    and verdict (:data:`VERDICTS` order), and the images the changes fall on."""
    counts = Counter((c["module"], c["verdict"]) for c in result.changed)
    by_module = {m: {v: counts[(m, v)] for v in VERDICTS} for m in MODULES}
    by_module[ALL_MODULES] = {v: sum(row[v] for row in by_module.values()) for v in VERDICTS}
    return ChangeCounts(result.shared, len({c["image"] for c in result.changed}), by_module)


def module_accuracy(records: list[dict[str, Any]]) -> dict[str, float]:
    """Accuracy per module over records (absent predictions are left out)."""
    actual = to_indices([r.get("actual") for r in records])
    return {m: accuracy(actual, to_indices([r.get(m) for r in records])) for m in MODULES}


def verdict(actual: str | None, a: str | None, b: str | None) -> str:
    """How an answer that changed from ``a`` to ``b`` did, for an image of class ``actual``."""
    if actual and b == actual:
        return FIXED
    if actual and a == actual:
        return BROKEN
    return CHANGED


def compare_runs(run_a: str, a: list[dict[str, Any]], run_b: str, b: list[dict[str, Any]]) -> RunComparison:
    """Compare the images both runs finished."""
    by_a = {r["image"]: r for r in a}
    by_b = {r["image"]: r for r in b}
    shared = sorted(set(by_a) & set(by_b))
    changed = []
    for image in shared:
        ra, rb = by_a[image], by_b[image]
        for module in MODULES:
            if ra.get(module) != rb.get(module):
                actual = ra.get("actual")
                changed.append(
                    {
                        "image": image,
                        "actual": actual,
                        "module": module,
                        "a": ra.get(module),
                        "b": rb.get(module),
                        "verdict": verdict(actual, ra.get(module), rb.get(module)),
                    }
                )
    return RunComparison(
        run_a,
        run_b,
        len(shared),
        module_accuracy([by_a[i] for i in shared]),
        module_accuracy([by_b[i] for i in shared]),
        changed,
    )
