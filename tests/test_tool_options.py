"""tools/combiner_check.py and tools/member_temperature_cv.py read their options as the other tools
do: --help describes them, and an unknown option or a file they name that cannot be read is one
plain usage error with exit code 2, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tool_module import load_tool

from gerec.emotion.data import FER_CLASSES

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("combiner_check", "member_temperature_cv")


def _usage_error(tool: str, argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as stopped:
        load_tool(tool).main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: ") and "Traceback" not in err
    return err


@pytest.mark.parametrize("tool", TOOLS)
def test_help_describes_the_options(tool):
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / f"{tool}.py"), "--help"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200"},  # one line per option
    )
    assert run.returncode == 0, run.stderr
    assert "--registry REGISTRY" in run.stdout and "registry (default: " in run.stdout
    assert "--data DATA" in run.stdout and "only its validation split is used" in run.stdout


@pytest.mark.parametrize("tool", TOOLS)
def test_an_unknown_option_is_a_usage_error(tool, capsys):
    assert "unrecognized arguments: --bogus" in _usage_error(tool, ["--bogus"], capsys)


@pytest.mark.parametrize("tool", TOOLS)
def test_a_face_set_that_cannot_be_read_is_a_usage_error(tool, tmp_path, capsys):
    err = _usage_error(tool, ["--data", str(tmp_path / "missing.npz")], capsys)
    assert "missing.npz: not a face set" in err


@pytest.mark.parametrize("tool", TOOLS)
def test_a_registry_that_cannot_be_read_is_a_usage_error(tool, tmp_path, capsys):
    labels = np.repeat(np.arange(len(FER_CLASSES)), 30)
    images = np.zeros((len(labels), 48, 48), np.uint8)
    np.savez(tmp_path / "train.npz", images=images, labels=labels, classes=np.array(FER_CLASSES))
    argv = ["--data", str(tmp_path / "train.npz"), "--registry", str(tmp_path / "missing.json")]
    assert f"ensemble registry not found: {tmp_path / 'missing.json'}" in _usage_error(tool, argv, capsys)
