"""An embedded SQLite store of evaluation runs (WAL; one transaction per finished image)."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gerec.errors import InvalidDataset

STORE_ENV = "GEREC_STORE"
SCHEMA = """
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
PREDICTION_COLUMNS = ("image", "actual", "bottom_up", "top_down", "fused", "probs", "faces", "labeler",
                      "labels_used", "labels_ignored", "timings", "error")
JSON_COLUMNS = {"probs", "faces", "labels_used", "labels_ignored", "timings"}


def default_store_path() -> Path:
    """``$GEREC_STORE``, else ``$XDG_DATA_HOME/gerec/runs.sqlite`` (``~/.local/share``)."""
    env = os.environ.get(STORE_ENV)
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "gerec" / "runs.sqlite"


@dataclass(frozen=True)
class RunInfo:
    """One stored run and how many images it finished."""

    id: str
    created: str
    dataset: str
    mode: str
    labeler: str
    engine: str
    models: dict[str, Any]
    params: dict[str, Any]
    finished: int
    failed: int


class RunStore:
    """Runs and their per-image predictions in one SQLite file."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise InvalidDataset(f"{self.path}: not a gerec run store: {exc}") from exc
        self._db.row_factory = sqlite3.Row

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------- writing
    def create_run(self, dataset: str, mode: str, labeler: str, models: dict[str, Any],
                   engine: str = "local", params: dict[str, Any] | None = None) -> str:
        """Record a new run and return its id."""
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT INTO runs (id, created, dataset, mode, labeler, engine, models, params) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (run_id, time.strftime("%Y-%m-%dT%H:%M:%S"), dataset, mode, labeler, engine,
                 json.dumps(models, sort_keys=True), json.dumps(params or {}, sort_keys=True)),
            )
        return run_id

    def add_prediction(self, run_id: str, record: dict[str, Any]) -> None:
        """Store one finished image in its own transaction (a rerun of the image replaces it)."""
        values = [json.dumps(record.get(c)) if c in JSON_COLUMNS else record.get(c) for c in PREDICTION_COLUMNS]
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                f"INSERT OR REPLACE INTO predictions (run_id, {', '.join(PREDICTION_COLUMNS)}, finished) "
                f"VALUES (?, {', '.join('?' * len(PREDICTION_COLUMNS))}, ?)",
                [run_id, *values, time.strftime("%Y-%m-%dT%H:%M:%S")],
            )

    # ------------------------------------------------------------- reading
    def run(self, run_id: str) -> RunInfo:
        """One run; ``InvalidDataset`` when the id is unknown (a unique prefix is accepted)."""
        rows = self._db.execute("SELECT * FROM runs WHERE id = ? OR id LIKE ?", (run_id, run_id + "%")).fetchall()
        if len(rows) != 1:
            found = "no run" if not rows else f"{len(rows)} runs"
            raise InvalidDataset(f"{found} matching {run_id!r} in {self.path}")
        return self._info(rows[0])

    def runs(self) -> list[RunInfo]:
        """All runs, newest first."""
        return [self._info(r) for r in self._db.execute("SELECT * FROM runs ORDER BY created DESC, id DESC")]

    def finished_images(self, run_id: str) -> set[str]:
        """Images of a run already stored (skipped by ``--resume``)."""
        return {r[0] for r in self._db.execute("SELECT image FROM predictions WHERE run_id = ?", (run_id,))}

    def predictions(self, run_id: str) -> list[dict[str, Any]]:
        """A run's predictions, by image name, with JSON columns decoded."""
        out = []
        for row in self._db.execute("SELECT * FROM predictions WHERE run_id = ? ORDER BY image", (run_id,)):
            item = dict(row)
            for col in JSON_COLUMNS:
                item[col] = json.loads(item[col]) if item[col] is not None else None
            out.append(item)
        return out

    def _info(self, row: sqlite3.Row) -> RunInfo:
        counts = self._db.execute(
            "SELECT COUNT(*), SUM(error IS NOT NULL AND error != '') FROM predictions WHERE run_id = ?", (row["id"],)
        ).fetchone()
        return RunInfo(row["id"], row["created"], row["dataset"], row["mode"], row["labeler"], row["engine"],
                       json.loads(row["models"]), json.loads(row["params"]), int(counts[0]), int(counts[1] or 0))
