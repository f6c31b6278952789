"""gerec.fileio's writers: files replaced together, or not at all."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from gerec.fileio import replaced_together
from gerec.stopping import Interrupted, stop_signals


def test_a_failure_while_writing_the_second_file_replaces_neither(tmp_path):
    """The first file written whole, the second cut short by an error: both previous files are
    kept as they were and no temporary file is left."""
    network, report = tmp_path / "net.json", tmp_path / "net.report.json"
    network.write_text("the previous network", encoding="utf-8")
    report.write_text("the previous report", encoding="utf-8")
    with pytest.raises(OSError, match="disk full"), replaced_together() as files:
        files.temporary(network).write_text("the new network", encoding="utf-8")
        files.temporary(report).write_text("the new re", encoding="utf-8")
        raise OSError("disk full")
    assert network.read_text(encoding="utf-8") == "the previous network"
    assert report.read_text(encoding="utf-8") == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json", "net.report.json"]


def test_files_written_whole_replace_theirs_when_the_block_ends(tmp_path):
    """Nothing is replaced until the block ends; then every file is, new ones made, no temporary left."""
    network, report = tmp_path / "net.json", tmp_path / "net.report.json"
    network.write_text("the previous network", encoding="utf-8")
    with replaced_together() as files:
        tmp = files.temporary(network)
        assert tmp.parent == network.parent and tmp.suffix == ".json"  # writers that check the suffix accept it
        tmp.write_text("the new network", encoding="utf-8")
        files.temporary(report).write_text("the new report", encoding="utf-8")
        assert network.read_text(encoding="utf-8") == "the previous network" and not report.exists()
    assert network.read_text(encoding="utf-8") == "the new network"
    assert report.read_text(encoding="utf-8") == "the new report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json", "net.report.json"]


def test_a_stop_signal_while_the_files_are_replaced_waits_until_all_are(tmp_path, monkeypatch):
    """SIGTERM right after the first file is replaced: before, it stopped the command there, leaving
    the new network beside the previous report; now it is delivered once both are replaced."""
    network, report = tmp_path / "net.json", tmp_path / "net.report.json"
    network.write_text("the previous network", encoding="utf-8")
    report.write_text("the previous report", encoding="utf-8")
    real_replace = os.replace

    def replace_then_signal(src: Path, dst: Path) -> None:
        real_replace(src, dst)
        if dst == network:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(os, "replace", replace_then_signal)
    with pytest.raises(Interrupted), stop_signals(), replaced_together() as files:
        files.temporary(network).write_text("the new network", encoding="utf-8")
        files.temporary(report).write_text("the new report", encoding="utf-8")
    assert network.read_text(encoding="utf-8") == "the new network"
    assert report.read_text(encoding="utf-8") == "the new report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json", "net.report.json"]


def test_report_path_is_the_one_report_name():
    """The report beside a model file: the doctest runs, and the calibration table's default report
    is the one beside the tuned network (tools/calibration_table.py reads what train/tune write)."""
    import doctest

    from tool_module import load_tool

    import gerec.fileio
    from gerec.bn import TUNED_FILE
    from gerec.fileio import report_path

    result = doctest.testmod(gerec.fileio)
    assert result.attempted >= 1 and result.failed == 0
    assert report_path(Path("a/member.keras")) == Path("a/member.report.json")
    beside_tuned = Path(TUNED_FILE).stem + ".report.json"
    assert beside_tuned == load_tool("calibration_table").REPORT_FILE
