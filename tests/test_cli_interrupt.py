"""The command line's exit code for a stop signal: 128 + the signal (130 Ctrl-C, 143 SIGTERM), whatever
command it stops and wherever the signal lands."""

from __future__ import annotations

import json
import os
import signal

import pytest

from gerec.cli import main
from gerec.provenance import read_sidecar
from gerec.stopping import Interrupted

LABELS = {f"{p}_{i}.jpg": ["people", "smile"] for p in ("pos", "neu", "neg") for i in range(2)}


@pytest.mark.parametrize(
    ("stop", "code", "said"),
    [
        (Interrupted(signal.SIGTERM), 143, "interrupted by SIGTERM"),
        (Interrupted(signal.SIGINT), 130, "interrupted by SIGINT (Ctrl-C)"),
        (KeyboardInterrupt(), 130, "interrupted by SIGINT (Ctrl-C)"),  # Python's own Ctrl-C
    ],
)
def test_a_stopped_command_exits_with_128_plus_its_signal(tmp_path, monkeypatch, capsys, stop, code, said):
    def stopped(args):
        raise stop

    monkeypatch.setattr("gerec.cli.evaluate.run", stopped)
    assert main(["evaluate", "--labels", str(tmp_path / "l.json"), "--out", str(tmp_path / "o.csv")]) == code
    assert capsys.readouterr().err.strip() == said


def test_sigterm_during_a_finished_runs_last_sidecar_write_exits_with_143(tmp_path, monkeypatch, capsys):
    """Every row written, then SIGTERM while the sidecar says so: evaluate lets the write finish and
    the signal stop the command after it. Before, the CLI said 130 (Ctrl-C) for it."""
    import gerec.cli.evaluate_output as evaluate  # where the sidecar is written

    labels, out = tmp_path / "labels.json", tmp_path / "out.csv"
    labels.write_text(json.dumps(LABELS), encoding="utf-8")
    real_write = evaluate.write_sidecar

    def write_then_signal(path, made):
        if made["complete"]:  # the last write of a run that finished
            os.kill(os.getpid(), signal.SIGTERM)  # evaluate's handler runs here, inside the write
        real_write(path, made)

    monkeypatch.setattr(evaluate, "write_sidecar", write_then_signal)
    handler = signal.getsignal(signal.SIGTERM)
    assert main(["evaluate", "--labels", str(labels), "--out", str(out)]) == 128 + signal.SIGTERM == 143
    made = read_sidecar(out)
    assert made is not None
    assert (made["complete"], made["rows"], made["rows_expected"]) == (True, 6, 6)  # the write was not cut
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1 + 6
    assert capsys.readouterr().err.strip().endswith("interrupted by SIGTERM")
    assert signal.getsignal(signal.SIGTERM) is handler  # evaluate's own is gone
