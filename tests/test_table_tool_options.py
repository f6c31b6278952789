"""tools/calibration_table.py, tools/face_member_table.py and tools/build_imagenet_label_map.py read
their options with argparse, as the other tools do: --help describes them with their defaults, and an
unknown option or an input that cannot be read is one plain usage error with exit code 2, not a
traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tool_module import load_tool, tool_help, usage_error

from gerec.bn.calibrate import markdown_table
from gerec.config import models_dir
from gerec.emotion.figures import member_table
from gerec.emotion.registry import REGISTRY_FILE

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("calibration_table", "face_member_table", "build_imagenet_label_map")
TABLE_TOOLS = {"calibration_table": "calibration report not found", "face_member_table": "ensemble registry not found"}


def test_help_describes_the_options_and_their_defaults():
    assert f"(default: {models_dir() / 'scene_bn_tuned.report.json'})" in tool_help("calibration_table")
    assert "python -m gerec tune --report" in tool_help("calibration_table")
    assert f"registry (default: {models_dir() / REGISTRY_FILE})" in tool_help("face_member_table")
    assert "--embedding  also add text-embedding guesses" in tool_help("build_imagenet_label_map")


@pytest.mark.parametrize("tool", TOOLS)
def test_an_unknown_option_is_a_usage_error(tool, capsys):
    assert "unrecognized arguments: --bogus" in usage_error(tool, ["--bogus"], capsys)


@pytest.mark.parametrize(("tool", "said"), TABLE_TOOLS.items())
def test_a_missing_input_is_a_usage_error(tool, said, tmp_path, capsys):
    assert f"{said}: {tmp_path / 'missing.json'}" in usage_error(tool, [str(tmp_path / "missing.json")], capsys)


@pytest.mark.parametrize(
    ("tool", "said"),
    [
        ("calibration_table", "not a `tune --report` file: no calibration figures (KeyError: 'calibration')"),
        ("face_member_table", "not a gerec ensemble registry"),
    ],
)
def test_json_of_another_kind_is_a_usage_error(tool, said, tmp_path, capsys):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"members": []}), encoding="utf-8")
    assert f"{other}: {said}" in usage_error(tool, [str(other)], capsys)


def test_the_label_map_builder_without_its_inputs_is_a_usage_error(tmp_path, monkeypatch, capsys):
    tool = load_tool("build_imagenet_label_map")
    monkeypatch.setattr(tool, "ROOT", tmp_path)  # no models/scene_bn.json, no class list
    with pytest.raises(SystemExit) as stopped:
        tool.main([])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: ") and "Traceback" not in err
    assert "cannot read the class list or the scene network's labels" in err and "scene_bn.json" in err
    assert not (tmp_path / "models").exists()  # nothing written


def test_the_tables_read_the_shipped_files_by_default(capsys):
    assert load_tool("calibration_table").main([]) == 0
    report = json.loads((models_dir() / "scene_bn_tuned.report.json").read_text(encoding="utf-8"))
    assert capsys.readouterr().out == markdown_table(report) + "\n"
    assert load_tool("face_member_table").main([]) == 0
    registry = json.loads((models_dir() / REGISTRY_FILE).read_text(encoding="utf-8"))
    assert capsys.readouterr().out == member_table(registry) + "\n"
