"""The run store refuses what is not a gerec store before writing anything; SQLite failures are named."""

from __future__ import annotations

import csv
import hashlib
import io
import sqlite3
from pathlib import Path

import pytest

from gerec.cli import main
from gerec.errors import RunStoreError
from gerec.fileio import SafeDictWriter, csv_safe
from gerec.runs.records import failed_record
from gerec.runs.store import RunStore


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def foreign_db(tmp_path) -> Path:
    path = tmp_path / "other_app.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE users (name TEXT)")
        con.execute("INSERT INTO users VALUES ('ann')")
    con.close()
    return path


@pytest.mark.parametrize("readonly", [False, True])
def test_a_foreign_database_is_refused_untouched(foreign_db, readonly):
    before = digest(foreign_db)
    with pytest.raises(RunStoreError, match=r"not a gerec run store \(it holds users\)"):
        RunStore(foreign_db, readonly=readonly)
    assert digest(foreign_db) == before
    assert not foreign_db.with_name(foreign_db.name + "-wal").exists()


def test_runs_commands_never_write(foreign_db, tmp_path, capsys):
    before = digest(foreign_db)
    assert main(["runs", "--store", str(foreign_db), "list"]) == 2
    assert "RunStoreError" in capsys.readouterr().err and digest(foreign_db) == before
    assert main(["runs", "--store", str(tmp_path / "none.sqlite"), "list"]) == 2
    assert "no run store at" in capsys.readouterr().err and not (tmp_path / "none.sqlite").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is an empty file"),
        (b"SQLite format 3\x00" + bytes(range(256)) * 8, "not an SQLite database or is damaged"),
        (b"just some text, no database\n" * 40, "not an SQLite database or is damaged"),
    ],
)
def test_damaged_or_empty_files_are_named_errors(tmp_path, content, message):
    path = tmp_path / "runs.sqlite"
    path.write_bytes(content)
    with pytest.raises(RunStoreError, match=message):
        RunStore(path)
    assert path.read_bytes() == content


def test_missing_folder_of_an_explicit_store(tmp_path):
    with pytest.raises(RunStoreError, match="does not exist"):
        RunStore(tmp_path / "nowhere" / "runs.sqlite")
    assert not (tmp_path / "nowhere").exists()


def test_sqlite_failures_while_writing_are_named(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs.sqlite")
    run_id = store.create_run("set", "tuned", "cached", {})

    class ReadOnlyDb:
        def __init__(self, db):
            self.db = db

        def __enter__(self):
            raise sqlite3.OperationalError("attempt to write a readonly database")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(store, "_db", ReadOnlyDb(store._db))
    with pytest.raises(RunStoreError, match="it is read-only"):
        store.add_prediction(run_id, failed_record("a.jpg", None, "x"))


def test_read_only_store_refuses_writes_and_sees_runs(tmp_path):
    with RunStore(tmp_path / "runs.sqlite") as store:
        run_id = store.create_run("set", "tuned", "cached", {})
        store.add_prediction(run_id, failed_record("Positive/a.jpg", "Positive", "InvalidImage: x"))
        store.add_prediction(run_id, failed_record("Negative/a.jpg", "Negative", "InvalidImage: x"))
    with RunStore(tmp_path / "runs.sqlite", readonly=True) as store:
        assert store.run(run_id).finished == 2  # same base name in two folders: two rows
        with pytest.raises(RunStoreError, match="read-only"):
            store.create_run("set", "tuned", "cached", {})


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x")', "+cmd.jpg", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_neutralised(cell):
    assert csv_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-0.5", "0.25", "pos_1.jpg", "", 3, None, "a=b"])
def test_other_cells_are_left_alone(cell):
    assert csv_safe(cell) == cell


def test_safe_writer_escapes_every_row_and_header():
    buf = io.StringIO()
    writer = SafeDictWriter(buf, fieldnames=["image", "labels"])
    writer.writeheader()
    writer.writerows([{"image": "+cmd.jpg", "labels": "=1+1|smile"}])
    writer.writerow({"image": "ok.jpg", "labels": "smile"})
    assert list(csv.reader(io.StringIO(buf.getvalue()))) == [
        ["image", "labels"],
        ["'+cmd.jpg", "'=1+1|smile"],
        ["ok.jpg", "smile"],
    ]


def test_runs_export_and_evaluate_out_are_escaped(tmp_path, capsys):
    db = tmp_path / "runs.sqlite"
    with RunStore(db) as store:
        run_id = store.create_run("set", "tuned", "cached", {})
        store.add_prediction(run_id, failed_record("=cmd|' /C calc'!A0", "Positive", "@boom"))
    out = tmp_path / "export.csv"
    assert main(["runs", "--store", str(db), "export", run_id, "-o", str(out)]) == 0
    [row] = list(csv.DictReader(out.open(encoding="utf-8")))
    assert row["image"] == "'=cmd|' /C calc'!A0" and row["error"] == "'@boom"
    labels = tmp_path / "labels.json"
    labels.write_text('{"pos_1.jpg": ["=HYPERLINK(\\"http://evil\\")"]}', encoding="utf-8")
    result = tmp_path / "out.csv"
    main(["evaluate", "--labels", str(labels), "--out", str(result)])
    text = result.read_text(encoding="utf-8")
    assert ",=" not in text and "'=hyperlink" in text.lower()


def test_dashboard_downloads_are_escaped():
    import pandas as pd

    from gerec_app.analysis import to_csv

    frame = pd.DataFrame({"image": ["+cmd.jpg", "ok.jpg"], "p": [-0.5, 0.25], "labels": ["-x", "smile"]})
    rows = list(csv.reader(io.StringIO(to_csv(frame).decode("utf-8"))))
    assert rows[1] == ["'+cmd.jpg", "-0.5", "'-x"] and rows[2] == ["ok.jpg", "0.25", "smile"]
