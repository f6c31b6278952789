"""The run store refuses what is not a gerec store before writing anything; SQLite failures are named."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import multiprocessing
import sqlite3
from dataclasses import astuple
from pathlib import Path

import pytest

from gerec.cli import main
from gerec.errors import RunStoreError
from gerec.fileio import SafeDictWriter, csv_safe
from gerec.runs.records import failed_record
from gerec.runs.schema import STORE_VERSION
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


def _race(target, path: Path, processes: int) -> list[str]:  # noqa: ANN001 - a process's function
    """Run ``target(str(path), start, results, i)`` in ``processes`` forked processes that wait for
    each other at the barrier ``start``; what each put on ``results`` ('ok' or its error)."""
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Barrier(processes), ctx.Queue()
    workers = [ctx.Process(target=target, args=(str(path), start, results, i)) for i in range(processes)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    return outcomes


def _open_together(path: str, start, results, tag: int) -> None:  # noqa: ANN001 - multiprocessing objects
    """One process of the race: open the store when every process is ready, store a run of 5 rows."""
    try:
        start.wait()
        with RunStore(path) as store:
            run_id = store.create_run("set", "reference", "offline", {}, "local", {})
            for i in range(5):
                store.add_prediction(run_id, failed_record(f"{tag}_{i}.jpg", "Positive", "x"))
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_creating_one_new_store_together_all_write_to_it(tmp_path):
    """Four real processes open a store that does not exist yet at the same moment, 15 times over.
    Before, nearly every trial refused one of them: the 0-byte file another's connect had just made
    was 'an empty file, not a gerec run store', or setting up WAL failed at once as 'locked'."""
    processes, trials = 4, 15
    for trial in range(trials):
        path = tmp_path / f"runs{trial}.sqlite"
        outcomes = _race(_open_together, path, processes)
        assert outcomes == ["ok"] * processes, f"trial {trial}: {outcomes}"
        with RunStore(path, readonly=True) as store:
            assert sorted(r.finished for r in store.runs()) == [5] * processes
    made = {p.name for p in tmp_path.iterdir()}
    assert not [name for name in made if name.startswith(".")], made  # no store half made is left behind


def test_a_new_store_is_made_where_the_file_system_has_no_hard_links(tmp_path, monkeypatch):
    def no_links(*args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("gerec.runs.sqlite_io.os.link", no_links)
    with RunStore(tmp_path / "runs.sqlite") as store:
        store.add_prediction(store.create_run("set", "tuned", "cached", {}), failed_record("a.jpg", None, "x"))
    with RunStore(tmp_path / "runs.sqlite", readonly=True) as store:
        assert [r.finished for r in store.runs()] == [1]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


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


def _record(image: str, fused: str) -> dict:
    return {
        **failed_record(image, "Positive", ""),
        "error": None,
        "top_down": fused,
        "fused": fused,
        "probs": {"top_down": [0.5, 0.3, 0.2], "fused": [0.6, 0.3, 0.1]},
        "faces": [],
        "labels_used": ["smile"],
        "labels_ignored": [],
        "timings": {},
    }


def _damage(db: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(db) as con:
        con.execute(sql, params)
    con.close()


def test_damaged_json_in_a_row_reports_that_row_and_the_rest_of_the_run_reads(tmp_path, capsys):
    from gerec.runs.rows import DAMAGED_ROW

    db = tmp_path / "runs.sqlite"
    with RunStore(db) as store:
        run_id = store.create_run("set", "tuned", "cached", {})
        for name in ("pos_1.jpg", "pos_2.jpg", "pos_3.jpg", "pos_4.jpg"):
            store.add_prediction(run_id, _record(name, "Positive"))
    _damage(db, "UPDATE predictions SET probs = '{bad json' WHERE image = 'pos_1.jpg'")
    _damage(db, "UPDATE predictions SET labels_used = '\"smile\"', faces = '7' WHERE image = 'pos_2.jpg'")
    _damage(db, "UPDATE predictions SET timings = ? WHERE image = 'pos_3.jpg'", b"\xff\xfe{}")
    with RunStore(db, readonly=True) as store:
        records = {r["image"]: r for r in store.predictions(run_id)}
    assert records["pos_4.jpg"]["probs"]["fused"] == [0.6, 0.3, 0.1] and records["pos_4.jpg"]["error"] is None
    assert records["pos_1.jpg"]["error"] == f"{DAMAGED_ROW}: probs is not valid JSON"
    assert (
        records["pos_2.jpg"]["error"]
        == f"{DAMAGED_ROW}: faces is not a list of faces, labels_used is not a list of labels"
    )
    assert records["pos_3.jpg"]["error"] == f"{DAMAGED_ROW}: timings is not valid JSON"
    for name in ("pos_1.jpg", "pos_2.jpg", "pos_3.jpg"):  # a damaged row is a failed one: nothing from it is trusted
        assert (
            records[name]["fused"] is None and records[name]["probs"] is None and records[name]["actual"] == "Positive"
        )
    assert main(["runs", "--store", str(db), "show", run_id]) == 0
    shown = capsys.readouterr().out
    assert "fused 100.00 %" in shown and f"3 row(s) {DAMAGED_ROW} {db}" in shown and "pos_2.jpg" in shown
    out = tmp_path / "export.csv"
    assert main(["runs", "--store", str(db), "export", run_id, "-o", str(out)]) == 0
    rows = {r["image"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert rows["pos_1.jpg"]["error"].startswith(DAMAGED_ROW) and rows["pos_4.jpg"]["p_fused_Positive"] == "0.600000"


@pytest.mark.parametrize(
    ("column", "value", "why"),
    [
        ("models", "{bad json", "its models column is not valid JSON"),
        ("params", "null", "its params column is null, not a JSON object"),
        ("models", '{"scene_bn.json": "x"}', "its models column is not an object of file"),
    ],
)
def test_a_damaged_run_record_is_a_named_error_and_the_listing_goes_on(tmp_path, capsys, column, value, why):
    db = tmp_path / "runs.sqlite"
    with RunStore(db) as store:
        bad = store.create_run("set", "tuned", "cached", {"scene_bn.json": {"sha256": "x"}})
        good = store.create_run("set", "reference", "cached", {})
        store.add_prediction(bad, _record("pos_1.jpg", "Positive"))
    _damage(db, f"UPDATE runs SET {column} = ? WHERE id = ?", value, bad)
    with RunStore(db, readonly=True) as store:
        listed = {r.id: r for r in store.runs()}
        assert why in listed[bad].damaged and listed[good].damaged == "" and listed[bad].finished == 1
        with pytest.raises(RunStoreError, match=rf"run store {db}: run {bad} is damaged \({why}"):
            store.run(bad)
        assert store.run(good).mode == "reference"
    assert main(["runs", "--store", str(db), "list"]) == 0
    assert f"DAMAGED: {why}" in capsys.readouterr().out
    for verb in (["show", bad], ["export", bad], ["compare", good, bad]):
        assert main(["runs", "--store", str(db), *verb]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: RunStoreError: run store") and bad in err and err.count("\n") == 1
    labels = tmp_path / "labels.json"
    labels.write_text('{"pos_1.jpg": ["smile"]}', encoding="utf-8")
    resume = ["evaluate", "--labels", str(labels), "--out", str(tmp_path / "out.csv"), "--store", str(db)]
    assert main([*resume, "--resume", bad]) == 2
    assert f"run {bad} is damaged" in capsys.readouterr().err


# ----------------------------------------------------------- store versions: notes kept per image
FIRST_STORE = """
PRAGMA journal_mode=WAL;
CREATE TABLE runs (id TEXT PRIMARY KEY, created TEXT NOT NULL, dataset TEXT NOT NULL, mode TEXT NOT NULL,
    labeler TEXT NOT NULL, engine TEXT NOT NULL DEFAULT 'local', models TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}');
CREATE TABLE predictions (run_id TEXT NOT NULL REFERENCES runs(id), image TEXT NOT NULL, actual TEXT,
    bottom_up TEXT, top_down TEXT, fused TEXT, probs TEXT, faces TEXT, labeler TEXT, labels_used TEXT,
    labels_ignored TEXT, timings TEXT, error TEXT, finished TEXT NOT NULL, PRIMARY KEY (run_id, image));
INSERT INTO runs VALUES ('20250101-000000-aaaaaa', '2025-01-01T00:00:00', 'set', 'tuned', 'cached', 'local',
    '{}', '{}');
INSERT INTO predictions VALUES ('20250101-000000-aaaaaa', 'pos_1.jpg', 'Positive', NULL, 'Positive',
    'Positive', '{"top_down": [0.6, 0.3, 0.1], "fused": [0.6, 0.3, 0.1]}', '[]', 'cached', '["smile"]', '[]',
    '{}', NULL, '2025-01-01T00:00:01');
"""
"""A store as gerec made it before store versions (user_version 0, no notes column): written out
here, not with gerec's schema, so that it stays what such stores on users' disks are."""
OLD_RUN = "20250101-000000-aaaaaa"
FALLBACK = "gcv unavailable: no credentials configured"


def old_store(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript(FIRST_STORE)
    con.close()
    return path


def _noted(image: str, *notes: str, labeler: str | None = "offline") -> dict:
    return {**_record(image, "Positive"), "labeler": labeler, "notes": list(notes)}


def test_an_old_store_reads_as_it_is_and_migrates_when_written(tmp_path, capsys):
    """Before, a run's notes were in the sidecar only; a store made before they were kept must
    still open: read-only as it is (no notes), and migrated by the next evaluate --store."""
    db = old_store(tmp_path / "runs.sqlite")
    before = digest(db)
    with RunStore(db, readonly=True) as store:
        assert store.run(OLD_RUN).notes == () and store.predictions(OLD_RUN)[0]["notes"] is None
    assert main(["runs", "--store", str(db), "show", OLD_RUN]) == 0
    assert "top_down 100.00 %" in capsys.readouterr().out and digest(db) == before  # read-only: unchanged
    with RunStore(db) as store:
        new = store.create_run("set", "reference", "gcv -> offline", {})
        store.add_prediction(new, _noted("pos_1.jpg", FALLBACK, "imagenet top-3: tent 0.50"))
        assert store.run(OLD_RUN).notes == () and store.predictions(OLD_RUN)[0]["notes"] is None
        assert store.run(new).notes == (f"{FALLBACK}; offline answered instead (1 photo)",)
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == STORE_VERSION == 4
        assert "notes" in {r[1] for r in con.execute("PRAGMA table_info(predictions)")}
    con.close()


def _migrate_together(path: str, start, results, tag: int) -> None:  # noqa: ANN001 - multiprocessing objects
    """One process of the race: open an old store when every process is ready, store a noted row."""
    try:
        start.wait()
        with RunStore(path) as store:
            store.add_prediction(OLD_RUN, _noted(f"{tag}.jpg", FALLBACK))
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_migrating_one_old_store_together_all_write_to_it(tmp_path):
    """Four real processes open the same old store at once: one migrates it, the others wait and
    find it migrated (none adds the column twice)."""
    processes = 4
    for trial in range(5):
        path = old_store(tmp_path / f"runs{trial}.sqlite")
        outcomes = _race(_migrate_together, path, processes)
        assert outcomes == ["ok"] * processes, f"trial {trial}: {outcomes}"
        with RunStore(path, readonly=True) as store:
            assert store.run(OLD_RUN).notes == (f"{FALLBACK}; offline answered instead (4 photos)",)


@pytest.mark.parametrize("readonly", [False, True])
def test_a_store_of_a_newer_gerec_is_refused_untouched(tmp_path, readonly):
    db = old_store(tmp_path / "runs.sqlite")
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA user_version = 99")
    con.close()
    before = digest(db)
    with pytest.raises(
        RunStoreError, match=f"version 99, made by a newer gerec .* reads versions up to {STORE_VERSION}"
    ):
        RunStore(db, readonly=readonly)
    assert digest(db) == before


def test_notes_round_trip_and_runs_commands_show_them(tmp_path, capsys):
    db = tmp_path / "runs.sqlite"
    with RunStore(db) as store:
        run_id = store.create_run("set", "reference", "gcv -> offline", {})
        for i in range(3):
            store.add_prediction(run_id, _noted(f"pos_{i}.jpg", FALLBACK, f"imagenet top-3: tent 0.{i}"))
        store.add_prediction(run_id, _noted("pos_3.jpg", "gcv unavailable: quota exceeded", labeler="none"))
        store.add_prediction(run_id, _noted("pos_4.jpg", FALLBACK))
        store.add_prediction(run_id, failed_record("pos_5.jpg", "Positive", "InvalidImage: x"))
    _damage(db, "UPDATE predictions SET notes = '[\"gcv unavailable: lost' WHERE image = 'pos_4.jpg'")
    expected = (
        f"{FALLBACK}; offline answered instead (3 photos)",
        "gcv unavailable: quota exceeded; no labeler answered (1 photo)",
    )
    with RunStore(db, readonly=True) as store:
        records = {r["image"]: r for r in store.predictions(run_id)}
        assert store.run(run_id).notes == expected  # the damaged row's notes are not counted
    assert records["pos_0.jpg"]["notes"] == [FALLBACK, "imagenet top-3: tent 0.0"]
    assert records["pos_4.jpg"]["error"].endswith("notes is not valid JSON") and records["pos_5.jpg"]["notes"] is None
    assert main(["runs", "--store", str(db), "list"]) == 0
    assert [line.strip() for line in capsys.readouterr().out.splitlines()[2:]] == [f"note: {n}" for n in expected]
    assert main(["runs", "--store", str(db), "show", run_id]) == 0
    shown = capsys.readouterr().out
    assert all(f"\nnote: {n}\n" in shown for n in expected)
    assert main(["runs", "--store", str(db), "show", run_id, "--json"]) == 0
    assert tuple(json.loads(capsys.readouterr().out)["notes"]) == expected


def test_store_modules_examples_run():
    import doctest

    import gerec.runs.owner
    import gerec.runs.records
    import gerec.runs.rows
    import gerec.runs.schema

    for module in (gerec.runs.schema, gerec.runs.records, gerec.runs.rows, gerec.runs.owner):
        result = doctest.testmod(module)
        assert result.attempted >= 1 and result.failed == 0, module.__name__


# ----------------------------------------------------------- store version 3: run states, counts kept per run
def _counted_from_rows(db: Path, run_id: str) -> tuple[int, int, tuple[str, ...]]:
    """A run's images, failed images and notes counted from its rows one by one, as gerec did before
    it kept them (the reference the kept counts must equal)."""
    from collections import Counter

    from gerec.runs.records import fallback_notes, format_fallback_notes

    con = sqlite3.connect(db)
    rows = con.execute("SELECT labeler, notes, error FROM predictions WHERE run_id = ? ORDER BY rowid", (run_id,))
    images, failed = 0, 0
    notes: Counter[tuple[str, str]] = Counter()
    for labeler, stored, error in rows.fetchall():
        images, failed = images + 1, failed + bool(error)
        try:
            decoded = json.loads(stored) if stored is not None else None
        except ValueError:
            continue
        if isinstance(decoded, list):
            notes.update(fallback_notes({"labeler": labeler, "notes": decoded}))
    con.close()
    return images, failed, tuple(format_fallback_notes(notes))


def test_listing_runs_reads_no_prediction_row(tmp_path):
    """Listing decoded every row's notes to count them (~3 s for a million rows): a run's counts are
    now kept with it, by triggers that follow every row added, replaced or changed."""
    from gerec.runs.schema import COMPLETE, INTERRUPTED, RUNNING

    db = tmp_path / "runs.sqlite"
    with RunStore(db) as store:
        run_id = store.create_run("set", "reference", "gcv -> offline", {}, expected=7)
        other = store.create_run("set", "tuned", "offline", {})
        for i in range(4):
            store.add_prediction(run_id, _noted(f"pos_{i}.jpg", FALLBACK, f"imagenet top-3: tent 0.{i}"))
        store.add_prediction(run_id, _noted("pos_4.jpg", "gcv unavailable: quota exceeded", labeler=None))
        store.add_prediction(run_id, failed_record("pos_5.jpg", "Positive", "InvalidImage: x"))
        store.add_prediction(run_id, {**failed_record("pos_0.jpg", "Positive", "InvalidImage: y"), "notes": []})
        store.add_prediction(other, _noted("pos_0.jpg", FALLBACK))
        assert store.run(run_id).state == RUNNING
        store.set_state(run_id, INTERRUPTED)
        with pytest.raises(ValueError, match="unknown run state"):
            store.set_state(run_id, "paused")
    _damage(db, "UPDATE predictions SET notes = '[\"gcv unavailable: lost' WHERE image = 'pos_1.jpg'")
    _damage(db, "UPDATE predictions SET error = 'stopped' WHERE image = 'pos_2.jpg' AND run_id = ?", run_id)
    with RunStore(db, readonly=True) as store:
        statements: list[str] = []
        store._db.set_trace_callback(statements.append)
        listed = {r.id: r for r in store.runs()}
        store._db.set_trace_callback(None)
    assert statements and not [s for s in statements if "predictions" in s]
    info = listed[run_id]
    assert (info.finished, info.failed, info.notes) == _counted_from_rows(db, run_id)
    assert (info.finished, info.failed, info.notes) == (
        6,
        3,
        (
            f"{FALLBACK}; offline answered instead (2 photos)",
            "gcv unavailable: quota exceeded; no labeler answered (1 photo)",
        ),
    )
    assert (info.state, info.expected, info.state_text()) == (INTERRUPTED, 7, "interrupted after 6 of 7 images")
    assert (listed[other].finished, listed[other].notes) == _counted_from_rows(db, other)[::2]
    with RunStore(db) as store:
        store.set_state(run_id, COMPLETE)
        assert store.run(run_id).state_text() == "complete"


def version_2_store(path: Path) -> Path:
    """A store as gerec wrote it at version 2 (each row's notes, no run states or counts): four rows
    of OLD_RUN with notes, one of them failed and one damaged, beside FIRST_STORE's."""
    con = sqlite3.connect(path)
    con.executescript(FIRST_STORE + "ALTER TABLE predictions ADD COLUMN notes TEXT; PRAGMA user_version = 2;")
    con.executemany(
        "INSERT INTO predictions (run_id, image, labeler, notes, error, finished) VALUES (?, ?, ?, ?, ?, '')",
        [
            (OLD_RUN, "pos_2.jpg", "offline", json.dumps([FALLBACK]), None),
            (OLD_RUN, "pos_3.jpg", "offline", json.dumps([FALLBACK, "imagenet top-3: tent 0.50"]), None),
            (OLD_RUN, "pos_4.jpg", None, json.dumps(["gcv unavailable: quota exceeded"]), "InvalidImage: x"),
            (OLD_RUN, "pos_5.jpg", "offline", '["gcv unavailable: lost', None),
        ],
    )
    con.commit()
    con.close()
    return path


def test_an_old_stores_runs_read_as_state_unknown_and_their_counts_are_made_when_it_migrates(tmp_path, capsys):
    """A store of version 2 read as it is (counted in SQL) and after the next evaluate --store has
    migrated it (the counts made from its rows): the same figures; its run's state is not known."""
    from gerec.runs.rows import STATE_UNKNOWN

    db = version_2_store(tmp_path / "runs.sqlite")
    expected = (
        5,
        1,
        (
            f"{FALLBACK}; offline answered instead (2 photos)",
            "gcv unavailable: quota exceeded; no labeler answered (1 photo)",
        ),
    )
    with RunStore(db, readonly=True) as store:
        before = store.run(OLD_RUN)
    assert (before.finished, before.failed, before.notes) == expected == _counted_from_rows(db, OLD_RUN)
    assert main(["runs", "--store", str(db), "list"]) == 0
    assert f"(1 failed)  {STATE_UNKNOWN}  labeler=" in capsys.readouterr().out
    with RunStore(db) as store:  # migrated
        store.add_prediction(OLD_RUN, _noted("pos_6.jpg", FALLBACK))
        after = store.run(OLD_RUN)
    assert (after.finished, after.failed, after.notes[0]) == (6, 1, f"{FALLBACK}; offline answered instead (3 photos)")
    assert (after.state, after.expected, after.complete, after.state_text()) == (None, None, None, STATE_UNKNOWN)


def version_3_store(path: Path) -> Path:
    """A store as gerec wrote it at version 3 (run states and counts, no owners): OLD_RUN, of 3
    images, left running after 1 (as a SIGKILL left it), made by applying the steps up to version 3."""
    from gerec.runs.schema import STEPS

    con = sqlite3.connect(path, isolation_level=None)
    con.executescript(FIRST_STORE)
    for step in STEPS[:2]:
        for table, columns in (("predictions", step.prediction_columns), ("runs", step.run_columns)):
            for name, kind in columns:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
        for statement in step.statements:
            con.execute(statement)
    con.execute("UPDATE runs SET state = 'running', expected = 3")
    con.execute("PRAGMA user_version = 3")
    con.close()
    return path


def test_a_version_3_stores_running_run_reads_as_before_and_new_runs_record_their_owner(tmp_path, capsys):
    """A store of version 3 keeps no owner: its running run reads as it did ('unfinished (still
    running, or killed)'), read-only as it is and after the next evaluate --store has migrated the
    store to version 4; the runs stored since record the process that owns them."""
    from gerec.runs.owner import this_process

    db = version_3_store(tmp_path / "runs.sqlite")
    before = digest(db)
    unfinished = "unfinished (still running, or killed) after 1 of 3 images"
    with RunStore(db, readonly=True) as store:
        old = store.run(OLD_RUN)
    assert (store.version, old.state_text(), old.owner, old.liveness) == (3, unfinished, None, None)
    assert main(["runs", "--store", str(db), "list"]) == 0
    assert f"(0 failed)  {unfinished}  labeler=cached" in capsys.readouterr().out and digest(db) == before
    with RunStore(db) as store:  # migrated
        new = store.create_run("set", "reference", "cached", {}, expected=2)
        assert store.version == STORE_VERSION == 4
        assert store.run(OLD_RUN).state_text() == unfinished
        assert store.run(new).owner == this_process()


def test_a_run_is_taken_over_only_from_the_owner_it_was_read_with(tmp_path):
    """Two resumes at once: each reads the run, finds its owner gone, and takes it over. Before, both
    went on (and both rewrote its OUT.csv); now the second finds the owner changed and stops."""
    from gerec.runs.owner import Owner, this_process
    from gerec.runs.schema import RUNNING

    db = tmp_path / "runs.sqlite"
    with RunStore(db) as store:
        run_id = store.create_run("set", "reference", "cached", {}, expected=6)
        read = store.run(run_id)
        other = Owner("elsewhere.example", 4321, None)  # the other resume's take-over, meanwhile
        store._db.execute("UPDATE runs SET owner_host = ?, owner_pid = ?, owner_started = ?", astuple(other))
        with pytest.raises(RunStoreError, match=f"run {run_id} was taken over by another process"):
            store.take_over(read, 6)
        assert store.run(run_id).owner == other
        store.take_over(store.run(run_id), 6)  # read again: its owner now is the one the store holds
        assert (store.run(run_id).owner, store.run(run_id).state) == (this_process(), RUNNING)
