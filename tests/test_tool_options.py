"""tools/combiner_check.py and tools/member_temperature_cv.py read their options as the other tools
do: --help describes them, and an unknown option or a file they name that cannot be read is one
plain usage error with exit code 2, not a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tool_module import tool_help, usage_error

from gerec.emotion.data import FER_CLASSES

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("combiner_check", "member_temperature_cv")


@pytest.mark.parametrize("tool", TOOLS)
def test_help_describes_the_options(tool):
    shown = tool_help(tool)
    assert "--registry REGISTRY" in shown and "registry (default: " in shown
    assert "--data DATA" in shown and "only its validation split is used" in shown


@pytest.mark.parametrize("tool", TOOLS)
def test_an_unknown_option_is_a_usage_error(tool, capsys):
    assert "unrecognized arguments: --bogus" in usage_error(tool, ["--bogus"], capsys)


@pytest.mark.parametrize("tool", TOOLS)
def test_a_face_set_that_cannot_be_read_is_a_usage_error(tool, tmp_path, capsys):
    err = usage_error(tool, ["--data", str(tmp_path / "missing.npz")], capsys)
    assert "missing.npz: not a face set" in err


@pytest.mark.parametrize("tool", TOOLS)
def test_a_registry_that_cannot_be_read_is_a_usage_error(tool, tmp_path, capsys):
    labels = np.repeat(np.arange(len(FER_CLASSES)), 30)
    images = np.zeros((len(labels), 48, 48), np.uint8)
    np.savez(tmp_path / "train.npz", images=images, labels=labels, classes=np.array(FER_CLASSES))
    argv = ["--data", str(tmp_path / "train.npz"), "--registry", str(tmp_path / "missing.json")]
    assert f"ensemble registry not found: {tmp_path / 'missing.json'}" in usage_error(tool, argv, capsys)
