"""Agreement with another system's decisions, image by image (the reference's own predictions).

Accuracy is a weak test of a reproduction: two pipelines can score the same and decide
differently. The reference's per-image decisions come as ``image,bayesian,fused`` (its top-down
and fused classes); :func:`agreement` compares them with gerec's rows (``evaluate``'s OUT.csv
rows: ``image``, ``top_down``, ``fused``).

Examples
--------
>>> ours = [{"image": "a.jpg", "top_down": "Positive", "fused": "Neutral"},
...         {"image": "b.jpg", "top_down": "Negative", "fused": "Negative"}]
>>> ref = {"a.jpg": {"top_down": "Positive", "fused": "Positive"},
...        "b.jpg": {"top_down": "Negative", "fused": "Negative"}}
>>> [(a.module, a.agreed, a.compared, a.differing) for a in agreement(ours, ref)]
[('top_down', 2, 2, ()), ('fused', 1, 2, ('a.jpg',))]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gerec.classes import CLASSES
from gerec.errors import InvalidDataset
from gerec.fileio import read_csv_rows
from gerec.formatting import percent

REFERENCE_COLUMNS = {"top_down": "bayesian", "fused": "fused"}
"""gerec module -> column of the reference's predictions file."""


def read_reference_predictions(path: str | Path) -> dict[str, dict[str, str]]:
    """``image,bayesian,fused`` -> {image: {"top_down": class, "fused": class}}."""
    path = Path(path)
    rows = read_csv_rows(path, "reference predictions")
    wanted = ["image", *REFERENCE_COLUMNS.values()]
    if not rows or any(col not in rows[0] for col in wanted):
        raise InvalidDataset(f"{path}: expected columns {','.join(wanted)} (the reference's decisions)")
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        image = (row["image"] or "").strip()
        decisions = {module: (row[col] or "").strip() for module, col in REFERENCE_COLUMNS.items()}
        bad = [v for v in decisions.values() if v not in CLASSES]
        if not image or bad:
            raise InvalidDataset(f"{path}: row {row} needs an image and classes among {', '.join(CLASSES)}")
        if image in out:
            raise InvalidDataset(f"{path}: image {image} appears twice")
        out[image] = decisions
    return out


@dataclass(frozen=True)
class Agreement:
    """How often one module's decisions equal the reference's on the images both decided.

    ``compared`` counts the images present in both; an image gerec failed on (no class) counts
    as a disagreement. ``unmatched`` counts gerec's images without a reference decision.
    """

    module: str
    agreed: int
    compared: int
    unmatched: int
    differing: tuple[str, ...]

    @property
    def rate(self) -> float:
        """Share of compared images with the same decision (NaN when none were compared)."""
        return self.agreed / self.compared if self.compared else float("nan")


def agreement(
    rows: Sequence[Mapping[str, object]],
    reference: Mapping[str, Mapping[str, str]],
    modules: Sequence[str] = tuple(REFERENCE_COLUMNS),
) -> tuple[Agreement, ...]:
    """Agreement per module between gerec's rows and the reference's decisions."""
    results = []
    for module in modules:
        agreed, compared, unmatched, differing = 0, 0, 0, []
        for row in rows:
            image = str(row["image"])
            if image not in reference:
                unmatched += 1
                continue
            compared += 1
            if str(row.get(module) or "") == reference[image][module]:
                agreed += 1
            else:
                differing.append(image)
        results.append(Agreement(module, agreed, compared, unmatched, tuple(differing)))
    return tuple(results)


def format_agreement(results: Sequence[Agreement], show: int = 10) -> str:
    """A short report: the agreement per module and the first differing images."""
    lines = ["agreement with the reference's decisions:"]
    for a in results:
        line = f"  {a.module:<10} {percent(a.rate):>8}  ({a.agreed}/{a.compared} images"
        line += f"; {a.unmatched} without a reference decision)" if a.unmatched else ")"
        lines.append(line)
        if a.differing:
            more = f" and {len(a.differing) - show} more" if len(a.differing) > show else ""
            lines.append(f"    differ: {', '.join(a.differing[:show])}{more}")
    return "\n".join(lines)
