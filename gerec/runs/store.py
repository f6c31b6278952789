"""An embedded SQLite store of evaluation runs (WAL; one transaction per finished image).

Rows are keyed by run and image, the image being its path relative to the images root. A store is
checked before anything is written to it: a file that is not SQLite, is damaged, or holds another
application's tables is refused with a :class:`RunStoreError`, and so is every SQLite or
permission failure later. A new store is made aside and linked into place whole, so processes
creating the same one at once all use it (none finds it half made: :mod:`gerec.runs.opening`).
``readonly=True`` (the ``runs`` commands, the dashboard) never writes.

JSON read back is checked (:mod:`gerec.runs.rows`): a damaged run or row never hides the rest.
A store's tables have a version (:mod:`gerec.runs.schema`): opening an older store to write
migrates it; read-only, it is read as it is. Each image's notes are kept with its row, so a run's
notes (:attr:`RunInfo.notes`) count every image it finished, across kills and ``--resume``. A run
keeps its state (running, complete, interrupted, failed: :meth:`RunStore.set_state`) and its counts,
so listing runs reads no prediction row (:mod:`gerec.runs.counts`), and the process that owns it
(:mod:`gerec.runs.owner`), so a running run whose process is gone reads as stopped.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple
from pathlib import Path
from typing import Any

from gerec.errors import InvalidDataset, RunStoreError
from gerec.runs.counts import run_counts, run_notes, run_owner
from gerec.runs.opening import connect_readonly, connect_writable
from gerec.runs.owner import liveness, this_process
from gerec.runs.rows import (
    JSON_COLUMNS,
    RunInfo,
    decode_prediction,
    decode_run_json,
)
from gerec.runs.schema import OWNER_COLUMNS, PREDICTION_COLUMNS, RUN_STATES, RUNNING
from gerec.runs.sqlite_io import store_error

STORE_ENV = "GEREC_STORE"


def default_store_path() -> Path:
    """``$GEREC_STORE``, else ``$XDG_DATA_HOME/gerec/runs.sqlite`` (``~/.local/share``)."""
    env = os.environ.get(STORE_ENV)
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "gerec" / "runs.sqlite"


class RunStore:
    """Runs and their per-image predictions in one SQLite file."""

    def __init__(self, path: str | Path | None = None, readonly: bool = False) -> None:
        self.path = Path(path) if path else default_store_path()
        self.readonly = readonly
        if readonly:
            self._db, self.version = connect_readonly(self.path)
        else:
            self._db, self.version = connect_writable(self.path, default=not path)
        self._db.row_factory = sqlite3.Row

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------- writing
    def create_run(
        self,
        dataset: str,
        mode: str,
        labeler: str,
        models: dict[str, Any],
        engine: str = "local",
        params: dict[str, Any] | None = None,
        expected: int | None = None,
    ) -> str:
        """Record a new run, :data:`RUNNING` with ``expected`` images to evaluate and this process its
        owner, and return its id."""
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        with self._writing():
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT INTO runs (id, created, dataset, mode, labeler, engine, models, params, state, expected, "
                f"{', '.join(OWNER_COLUMNS)}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    time.strftime("%Y-%m-%dT%H:%M:%S"),
                    dataset,
                    mode,
                    labeler,
                    engine,
                    json.dumps(models, sort_keys=True),
                    json.dumps(params or {}, sort_keys=True),
                    RUNNING,
                    expected,
                    *astuple(this_process()),
                ),
            )
        return run_id

    def set_state(self, run_id: str, state: str, expected: int | None = None) -> None:
        """Record how far a run got (:data:`RUN_STATES`), and the images it is to evaluate when given."""
        if state not in RUN_STATES:
            raise ValueError(f"unknown run state {state!r}")
        with self._writing():
            self._db.execute("BEGIN")
            self._db.execute(
                "UPDATE runs SET state = ?, expected = COALESCE(?, expected) WHERE id = ?", (state, expected, run_id)
            )

    def take_over(self, info: RunInfo, expected: int) -> None:
        """Mark the run ``info`` :data:`RUNNING` again with ``expected`` images, this process its owner
        (``--resume``), if its owner is still the one ``info`` read: a ``RunStoreError`` when another
        process took it over meanwhile (two resumes at once)."""
        was = astuple(info.owner) if info.owner else (None,) * len(OWNER_COLUMNS)
        with self._writing():
            self._db.execute("BEGIN")
            taken = self._db.execute(
                f"UPDATE runs SET state = ?, expected = ?, {', '.join(f'{c} = ?' for c in OWNER_COLUMNS)} "
                f"WHERE id = ? AND {' AND '.join(f'{c} IS ?' for c in OWNER_COLUMNS)}",
                (RUNNING, expected, *astuple(this_process()), info.id, *was),
            ).rowcount
        if not taken:
            raise RunStoreError(f"run {info.id} was taken over by another process (another --resume?) meanwhile")

    def add_prediction(self, run_id: str, record: dict[str, Any]) -> None:
        """Store one finished image in its own transaction (a rerun of the image replaces it: deleted,
        then inserted, so that the run's counts, kept by triggers, take it away first)."""
        values = [json.dumps(record.get(c)) if c in JSON_COLUMNS else record.get(c) for c in PREDICTION_COLUMNS]
        with self._writing():
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM predictions WHERE run_id = ? AND image = ?", (run_id, record.get("image")))
            self._db.execute(
                f"INSERT INTO predictions (run_id, {', '.join(PREDICTION_COLUMNS)}, finished) "
                f"VALUES (?, {', '.join('?' * len(PREDICTION_COLUMNS))}, ?)",
                [run_id, *values, time.strftime("%Y-%m-%dT%H:%M:%S")],
            )

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One transaction; SQLite failures (read-only, locked, disk full) become RunStoreError."""
        if self.readonly:
            raise RunStoreError(f"{self.path} was opened read-only")
        try:
            with self._db:
                yield
        except sqlite3.Error as exc:
            raise store_error(self.path, exc) from exc

    # ------------------------------------------------------------- reading
    def run(self, run_id: str) -> RunInfo:
        """One run; ``InvalidDataset`` when the id is unknown (a unique prefix is accepted),
        ``RunStoreError`` when its record is damaged."""
        rows = self._query("SELECT * FROM runs WHERE id = ? OR id LIKE ?", (run_id, run_id + "%"))
        if len(rows) != 1:
            found = "no run" if not rows else f"{len(rows)} runs"
            raise InvalidDataset(f"{found} matching {run_id!r} in {self.path}")
        return self._info(rows[0])

    def runs(self) -> list[RunInfo]:
        """All runs, newest first (a damaged one listed with ``damaged`` saying why)."""
        return [self._info(r, strict=False) for r in self._query("SELECT * FROM runs ORDER BY created DESC, id DESC")]

    def finished_images(self, run_id: str) -> set[str]:
        """Images of a run already stored (skipped by ``--resume``)."""
        return {r[0] for r in self._query("SELECT image FROM predictions WHERE run_id = ?", (run_id,))}

    def predictions(self, run_id: str) -> list[dict[str, Any]]:
        """A run's predictions, by image name, with JSON columns decoded.

        A row whose JSON columns are damaged comes back as a failed row: no verdicts or
        probabilities, its error beginning with :data:`DAMAGED_ROW` and naming the columns.
        """
        return [
            decode_prediction(dict(row))
            for row in self._query("SELECT * FROM predictions WHERE run_id = ? ORDER BY image", (run_id,))
        ]

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """All rows of a query; a damaged or vanished file is a RunStoreError."""
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise store_error(self.path, exc) from exc

    def _info(self, row: sqlite3.Row, strict: bool = True) -> RunInfo:
        """The run of a ``runs`` row. A damaged ``models`` or ``params`` is a ``RunStoreError``, or
        with ``strict=False`` (a listing) a run marked ``damaged``, so the other runs still list."""
        finished, failed, state, expected = run_counts(self._query, self.version, row)
        owner = run_owner(self.version, row)
        models, params, damaged = decode_run_json(row)
        if damaged and strict:
            raise RunStoreError(
                f"run store {self.path}: run {row['id']} is damaged ({damaged}): it cannot be shown, "
                "exported, compared or resumed; start a new run"
            )
        return RunInfo(
            row["id"],
            row["created"],
            row["dataset"],
            row["mode"],
            row["labeler"],
            row["engine"],
            models,
            params,
            finished,
            failed,
            damaged,
            run_notes(self._query, self.version, row["id"]),
            state,
            expected,
            owner,
            liveness(owner) if state == RUNNING else None,
        )
