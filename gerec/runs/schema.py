"""The run store's tables, their version, and how an older store is brought up to date.

A store's version is SQLite's ``user_version``; stores made before versions were kept hold 0 and
are version 1. Each entry of :data:`STEPS` is one version: what it adds to the one before
(prediction columns, run columns, and statements: a table, triggers, filling them from the rows
already stored). A new store is made as version 1 and migrated like an old one, so the two never
differ. ``runs`` commands and the dashboard open a store read-only: an old store is read as it
is (the columns it lacks read as empty, its counts are made from its rows); the next
``evaluate --store`` migrates it, in one transaction that other processes wait for.

Version 3 keeps each run's state (:data:`RUN_STATES`; ``NULL`` for a run stored before it was kept)
and its counts: the images finished and failed (``runs``) and the rows per distinct notes
(``run_notes``), kept by triggers on ``predictions``, so listing runs reads no prediction row.

Version 4 keeps the process that owns each run (:data:`OWNER_COLUMNS`: its host, process id and
start, :mod:`gerec.runs.owner`; ``NULL`` for a run stored before), so a running run whose process
is gone (a SIGKILL, a crash) can be told from one that still runs.

Examples
--------
>>> STORE_VERSION, prediction_columns(1)[-1], prediction_columns(STORE_VERSION)[-1], run_columns(STORE_VERSION)[:4]
(4, 'error', 'notes', ('state', 'expected', 'images', 'failed'))
>>> run_columns(STORE_VERSION)[4:] == OWNER_COLUMNS
True
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from gerec.errors import RunStoreError

TABLES = ("runs", "predictions")
FIRST_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    dataset TEXT NOT NULL,
    mode TEXT NOT NULL,
    labeler TEXT NOT NULL,
    engine TEXT NOT NULL DEFAULT 'local',
    models TEXT NOT NULL,          -- JSON: file -> {sha256, bytes, modified}
    params TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS predictions (
    run_id TEXT NOT NULL REFERENCES runs(id),
    image TEXT NOT NULL,
    actual TEXT,
    bottom_up TEXT,
    top_down TEXT,
    fused TEXT,
    probs TEXT,                    -- JSON: module -> [p_Positive, p_Neutral, p_Negative] or null
    faces TEXT,                    -- JSON: [{box, confidence, ensemble}]
    labeler TEXT,
    labels_used TEXT,              -- JSON list
    labels_ignored TEXT,           -- JSON list
    timings TEXT,                  -- JSON: stage -> seconds
    error TEXT,
    finished TEXT NOT NULL,
    PRIMARY KEY (run_id, image)
);
"""
"""Version 1, the tables every store has."""
FIRST_COLUMNS = (
    "image",
    "actual",
    "bottom_up",
    "top_down",
    "fused",
    "probs",
    "faces",
    "labeler",
    "labels_used",
    "labels_ignored",
    "timings",
    "error",
)
"""The prediction columns of version 1 that a record fills (``run_id`` and ``finished`` are the store's)."""
NOTES = "notes"
STATE = "state"
RUN_STATES = RUNNING, COMPLETE, INTERRUPTED, FAILED = ("running", "complete", "interrupted", "failed")
"""A run's ``state``: running (or killed: since version 4 its owner says which), every image
evaluated, stopped by a signal, stopped by an error. ``NULL``: stored before states were kept."""
OWNER_COLUMNS = ("owner_host", "owner_pid", "owner_started")
"""The run columns of :class:`gerec.runs.owner.Owner`'s fields: the process that owns the run."""


def _counted(row: str, sign: str) -> tuple[str, ...]:
    """A trigger's statements that add (``+``) or take away (``-``) the ``row`` (``NEW``, ``OLD``)
    from its run's counts: the images, the failed ones, and the rows with the same notes (keyed by
    the labeler that answered and the notes' stored JSON, decoded when read)."""
    key = f"run_id = {row}.run_id AND labeler = COALESCE({row}.labeler, '') AND notes = {row}.notes"
    counts = (
        f"UPDATE runs SET images = images {sign} 1, failed = failed {sign} (COALESCE({row}.error, '') != '') "
        f"WHERE id = {row}.run_id;"
    )
    if sign == "+":
        return (
            counts,
            f"INSERT INTO run_notes SELECT {row}.run_id, COALESCE({row}.labeler, ''), {row}.notes, 1, {row}.rowid "
            f"WHERE {row}.notes IS NOT NULL AND {row}.notes != '[]' "
            "ON CONFLICT (run_id, labeler, notes) DO UPDATE SET images = images + 1;",
        )
    return (
        counts,
        f"UPDATE run_notes SET images = images - 1 WHERE {key};",
        f"DELETE FROM run_notes WHERE {key} AND images <= 0;",
    )


def _trigger(name: str, event: str, *body: tuple[str, ...]) -> str:
    return f"CREATE TRIGGER {name} AFTER {event} ON predictions BEGIN {' '.join(s for b in body for s in b)} END"


RUN_COUNTS = (
    "CREATE TABLE run_notes (run_id TEXT NOT NULL REFERENCES runs(id), labeler TEXT NOT NULL, "
    "notes TEXT NOT NULL, images INTEGER NOT NULL, first INTEGER NOT NULL, PRIMARY KEY (run_id, labeler, notes))",
    "UPDATE runs SET images = (SELECT COUNT(*) FROM predictions WHERE run_id = runs.id), "
    "failed = (SELECT COUNT(*) FROM predictions WHERE run_id = runs.id AND COALESCE(error, '') != '')",
    "INSERT INTO run_notes SELECT run_id, COALESCE(labeler, ''), notes, COUNT(*), MIN(rowid) FROM predictions "
    "WHERE notes IS NOT NULL AND notes != '[]' GROUP BY run_id, COALESCE(labeler, ''), notes",
    _trigger("predictions_counted", "INSERT", _counted("NEW", "+")),
    _trigger("predictions_uncounted", "DELETE", _counted("OLD", "-")),
    _trigger(
        "predictions_recounted", "UPDATE OF run_id, labeler, notes, error", _counted("OLD", "-"), _counted("NEW", "+")
    ),
)
"""Version 3's per-run counts: the table of notes, both filled from the rows already stored, and the
triggers that keep them (a row replaced is deleted, then inserted: ``REPLACE`` fires no delete trigger)."""


@dataclass(frozen=True)
class Step:
    """What one version adds to the one before."""

    prediction_columns: tuple[tuple[str, str], ...] = ()
    run_columns: tuple[tuple[str, str], ...] = ()
    statements: tuple[str, ...] = ()
    """Run after the columns are added, in the migration's transaction."""


STEPS = (
    Step(prediction_columns=((NOTES, "TEXT"),)),  # JSON list: the image's notes (a labeler that did not answer, ...)
    Step(
        run_columns=(
            (STATE, "TEXT"),  # RUN_STATES; NULL: stored before states were kept
            ("expected", "INTEGER"),  # the images the run was to evaluate; NULL: not known
            ("images", "INTEGER NOT NULL DEFAULT 0"),  # its rows (finished images), kept by the triggers
            ("failed", "INTEGER NOT NULL DEFAULT 0"),  # its rows with an error
        ),
        statements=RUN_COUNTS,
    ),
    Step(run_columns=tuple(zip(OWNER_COLUMNS, ("TEXT", "INTEGER", "TEXT")))),  # NULL: stored before
)
"""The versions after the first, in order: the n-th (from 1) makes version n + 1."""
STORE_VERSION = 1 + len(STEPS)


def prediction_columns(version: int) -> tuple[str, ...]:
    """The prediction columns a record fills in a store of ``version``."""
    return FIRST_COLUMNS + tuple(name for step in STEPS[: version - 1] for name, _ in step.prediction_columns)


def run_columns(version: int) -> tuple[str, ...]:
    """The run columns a store of ``version`` has beyond the first version's."""
    return tuple(name for step in STEPS[: version - 1] for name, _ in step.run_columns)


PREDICTION_COLUMNS = prediction_columns(STORE_VERSION)
"""What a record fills in a store of this version (every store written to is)."""


def stored_version(db: sqlite3.Connection) -> int:
    """The store's version (``user_version``; 0, in a store made before versions, is 1)."""
    return int(db.execute("PRAGMA user_version").fetchone()[0]) or 1


def has_tables(db: sqlite3.Connection) -> bool:
    """Whether the database holds any table (an SQLite file without any can become a store)."""
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table'").fetchone() is not None


def check_store(db: sqlite3.Connection, path: Path) -> int:
    """The version of a gerec run store; anything else (another application's tables, missing
    columns, a version this gerec does not know) is a :class:`RunStoreError`. Reads only."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if set(TABLES) - tables:
        other = ", ".join(sorted(tables)) or "no tables"
        raise RunStoreError(f"{path} is not a gerec run store (it holds {other}); give another --store path")
    version = stored_version(db)
    if version > STORE_VERSION:
        raise RunStoreError(
            f"{path} is a run store of version {version}, made by a newer gerec (this one reads versions "
            f"up to {STORE_VERSION}): upgrade gerec, or give another --store path"
        )
    if version < 1:
        raise RunStoreError(f"{path}: its store version {version} is not one gerec writes: the file is damaged")
    for table, needed in (("predictions", prediction_columns(version)), ("runs", run_columns(version))):
        lacking = set(needed) - {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
        if lacking:
            raise RunStoreError(
                f"{path}: the {table} table lacks {', '.join(sorted(lacking))}: "
                "not a store this version of gerec can use"
            )
    return version


def initialise(db: sqlite3.Connection) -> None:
    """WAL and the tables of the current version: in a new store before it is linked into place,
    or in an existing SQLite file without tables."""
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(FIRST_SCHEMA)
    migrate(db)


def migrate(db: sqlite3.Connection) -> None:
    """Bring the store to :data:`STORE_VERSION` in one transaction (a process that migrated it
    meanwhile leaves nothing to do; a failure leaves it as it was)."""
    db.execute("BEGIN IMMEDIATE")  # the version is read again under the lock
    try:
        version = stored_version(db)
        for step in STEPS[version - 1 :]:
            for table, columns in (("predictions", step.prediction_columns), ("runs", step.run_columns)):
                for name, kind in columns:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            for statement in step.statements:
                db.execute(statement)
        if version < STORE_VERSION:  # never lowered (a newer gerec may have migrated it meanwhile)
            db.execute(f"PRAGMA user_version = {STORE_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
