"""The run store's SQLite plumbing: a failure in plain words, a file put in place whole, a
connection closed when opening it fails.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gerec.errors import RunStoreError


def store_error(path: Path, exc: sqlite3.Error) -> RunStoreError:
    """A run-store error in plain words for an SQLite failure."""
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        why = "it is read-only (check the permissions of the file and of its folder)"
    elif "unable to open" in text:
        why = "it cannot be opened (check that the folder exists and is writable)"
    elif "locked" in text or "busy" in text:
        why = "another process holds it locked; try again when it has finished"
    elif (
        "not a database" in text
        or "malformed" in text
        or isinstance(exc, sqlite3.DatabaseError)
        and not isinstance(exc, sqlite3.OperationalError)
    ):
        why = "the file is not an SQLite database or is damaged"
    else:
        why = f"SQLite failed ({type(exc).__name__}: {text})"
    return RunStoreError(f"run store {path}: {why}")


def place(made: Path, path: Path) -> None:
    """Give the file ``made`` the name ``path`` unless ``path`` exists (``FileExistsError``): a hard
    link, atomic; where the file system has none, an exclusive create and one write of its bytes."""
    try:
        os.link(made, path)
        return
    except FileExistsError:
        raise
    except OSError:  # no hard links here (FAT, some network shares)
        pass
    data = made.read_bytes()
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as handle:
        handle.write(data)


@contextmanager
def closed_on_error(db: sqlite3.Connection) -> Iterator[None]:
    """The connection is closed when the block fails (a refused store is not left open)."""
    try:
        yield
    except BaseException:
        db.close()
        raise
