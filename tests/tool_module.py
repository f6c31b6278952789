"""A script of ``tools/`` loaded as a module, so its functions can be tested (tools/ is not a package)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

TOOLS_DIR = Path(__file__).parents[1] / "tools"


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` as the module ``name``, run once."""
    spec = importlib.util.spec_from_file_location(name, TOOLS_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def usage_error(tool: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The stderr of ``tools/<tool>.py`` given ``argv``, checked to be a usage error: exit code 2,
    a usage line first, no traceback."""
    with pytest.raises(SystemExit) as stopped:
        load_tool(tool).main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: ") and "Traceback" not in err
    return err


def tool_help(tool: str) -> str:
    """``tools/<tool>.py --help`` run as a script (one line per option), checked to exit 0."""
    run = subprocess.run(
        [sys.executable, str(TOOLS_DIR / f"{tool}.py"), "--help"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert run.returncode == 0, run.stderr
    return run.stdout
