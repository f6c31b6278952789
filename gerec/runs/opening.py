"""Opening a run store's SQLite file: read-only (checked, never written), or to write (made when
missing, checked before any write, then migrated when older). Used by :class:`gerec.runs.store.RunStore`.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path

from gerec.errors import RunStoreError
from gerec.runs.schema import STORE_VERSION, check_store, has_tables, initialise, migrate
from gerec.runs.sqlite_io import closed_on_error, place, store_error

BUSY_TIMEOUT = 30.0
"""Seconds a connection waits for another process's lock before a write fails as locked."""


def connect_readonly(path: Path) -> tuple[sqlite3.Connection, int]:
    """A read-only connection to the store at ``path``, checked, and the store's version."""
    if not path.is_file():
        raise RunStoreError(f"no run store at {path} (run `python -m gerec evaluate ... --store` first)")
    try:
        db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
        with closed_on_error(db):
            version = check_store(db, path)
    except sqlite3.Error as exc:
        raise store_error(path, exc) from exc
    return db, version


def connect_writable(path: Path, default: bool) -> tuple[sqlite3.Connection, int]:
    """A connection to write the store at ``path`` (made when missing; its folder too when it is the
    ``default`` store), checked and brought up to date, and the store's version (now the latest)."""
    if default:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunStoreError(f"cannot create the folder of the run store {path}: {exc.strerror}") from exc
    elif not path.parent.is_dir():
        raise RunStoreError(f"cannot create the run store {path}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise RunStoreError(f"{path} is a folder; give the path of a .sqlite file")
    if not path.exists():
        create_store(path)
    if path.is_file() and path.stat().st_size == 0:
        raise RunStoreError(f"{path} is an empty file, not a gerec run store: remove it or give another path")
    try:
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
        with closed_on_error(db):
            version = brought_up_to_date(db, path)
        db.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error as exc:
        raise store_error(path, exc) from exc
    return db, version


def create_store(path: Path) -> None:
    """Make a new store beside the path and link it into place: the path never holds a store
    half made (an empty file, a database without tables) that another process could open or
    refuse. When another process links its store first, that store is used."""
    partial = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.new")
    try:
        db = sqlite3.connect(partial, timeout=BUSY_TIMEOUT, isolation_level=None)
        try:
            initialise(db)
        finally:
            db.close()
        place(partial, path)
    except FileExistsError:
        pass  # another process made it first: every later write waits on its locks
    except sqlite3.Error as exc:
        raise store_error(path, exc) from exc
    except OSError as exc:
        raise RunStoreError(f"cannot create the run store {path}: {exc.strerror or exc}") from exc
    finally:
        for leftover in (partial, *(partial.with_name(partial.name + s) for s in ("-wal", "-shm", "-journal"))):
            leftover.unlink(missing_ok=True)


def brought_up_to_date(db: sqlite3.Connection, path: Path) -> int:
    """Check the store before any write (a foreign database stays as it was), then make an
    SQLite file without tables a store, or migrate an older one; returns its version now."""
    if not has_tables(db):
        initialise(db)
    elif check_store(db, path) < STORE_VERSION:
        migrate(db)
    return STORE_VERSION
