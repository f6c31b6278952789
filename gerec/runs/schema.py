"""The run store's tables, their version, and how an older store is brought up to date.

A store's version is SQLite's ``user_version``; stores made before versions were kept hold 0 and
are version 1. Each entry of :data:`ADDED_COLUMNS` is one version: a prediction column added
since the first. A new store is made as version 1 and migrated like an old one, so the two never
differ. ``runs`` commands and the dashboard open a store read-only: an old store is read as it
is (the columns it lacks read as empty); the next ``evaluate --store`` migrates it, in one
transaction that other processes wait for.

Examples
--------
>>> STORE_VERSION, prediction_columns(1)[-1], prediction_columns(STORE_VERSION)[-1]
(2, 'error', 'notes')
"""

from __future__ import annotations

import sqlite3
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
ADDED_COLUMNS = ((NOTES, "TEXT"),)  # JSON list: the image's notes (a labeler that did not answer, ...)
"""Prediction columns added since version 1, in order: the n-th (from 1) makes version n + 1."""
STORE_VERSION = 1 + len(ADDED_COLUMNS)


def prediction_columns(version: int) -> tuple[str, ...]:
    """The prediction columns a record fills in a store of ``version``."""
    return FIRST_COLUMNS + tuple(name for name, _ in ADDED_COLUMNS[: version - 1])


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
    columns = {r[1] for r in db.execute("PRAGMA table_info(predictions)")}
    lacking = set(prediction_columns(version)) - columns
    if lacking:
        raise RunStoreError(
            f"{path}: the predictions table lacks {', '.join(sorted(lacking))}: "
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
        for name, kind in ADDED_COLUMNS[version - 1 :]:
            db.execute(f"ALTER TABLE predictions ADD COLUMN {name} {kind}")
        if version < STORE_VERSION:  # never lowered (a newer gerec may have migrated it meanwhile)
            db.execute(f"PRAGMA user_version = {STORE_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
