"""Compare two stored runs: accuracy per module and the images whose answers changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gerec.evaluation import accuracy, to_indices
from gerec.runs.records import MODULES


@dataclass(frozen=True)
class RunComparison:
    """Per-module accuracy of both runs (on their shared images) and the changed answers."""

    run_a: str
    run_b: str
    shared: int
    accuracy_a: dict[str, float]
    accuracy_b: dict[str, float]
    changed: list[dict[str, Any]]  # image, actual, module, a, b, verdict (fixed/broken/changed)


def module_accuracy(records: list[dict[str, Any]]) -> dict[str, float]:
    """Accuracy per module over records (absent predictions are left out)."""
    actual = to_indices([r.get("actual") for r in records])
    return {m: accuracy(actual, to_indices([r.get(m) for r in records])) for m in MODULES}


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
                verdict = "changed"
                if actual and rb.get(module) == actual:
                    verdict = "fixed"
                elif actual and ra.get(module) == actual:
                    verdict = "broken"
                changed.append(
                    {
                        "image": image,
                        "actual": actual,
                        "module": module,
                        "a": ra.get(module),
                        "b": rb.get(module),
                        "verdict": verdict,
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
