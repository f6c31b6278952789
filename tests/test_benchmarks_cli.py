"""Every benchmark answers ``--help`` with its usage and runs nothing: a user reading what a
benchmark measures must not start a run that takes minutes, and an unknown option is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).parents[1] / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_help_prints_usage_and_runs_nothing(script):
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {script.name}")
    assert not any(line.startswith(("ratio:", "speedup:")) for line in done.stdout.splitlines())  # nothing timed


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_an_unknown_option_is_refused(script):
    done = subprocess.run(
        [sys.executable, str(script), "--no-such-option"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "unrecognized arguments" in done.stderr
