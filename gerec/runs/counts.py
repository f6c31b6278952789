"""A stored run's progress read back: its finished and failed images, its state, its owner, its
notes' counts.

A store of version 3 keeps them with the run (:data:`gerec.runs.schema.RUN_COUNTS`: triggers follow
every row), so listing runs reads no prediction row. An older store, read as it is, has them
counted from its rows in SQL, and its runs' state is not known (``None``).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from typing import Any

from gerec.runs.owner import Owner
from gerec.runs.records import fallback_notes, format_fallback_notes
from gerec.runs.rows import decode_json, is_str_list
from gerec.runs.schema import NOTES, OWNER_COLUMNS, STATE, prediction_columns, run_columns

Query = Callable[[str, tuple[Any, ...]], list[sqlite3.Row]]
"""A store's query: every row of ``sql`` with its parameters (``RunStore._query``)."""


def run_counts(query: Query, version: int, row: sqlite3.Row) -> tuple[int, int, str | None, int | None]:
    """A run's finished and failed images, its state and its expected images, for its ``runs`` ``row``
    in a store of ``version``."""
    if STATE in run_columns(version):
        return int(row["images"]), int(row["failed"]), row[STATE], row["expected"]
    counts = query(
        "SELECT COUNT(*), SUM(error IS NOT NULL AND error != '') FROM predictions WHERE run_id = ?", (row["id"],)
    )[0]
    return int(counts[0]), int(counts[1] or 0), None, None


def run_owner(version: int, row: sqlite3.Row) -> Owner | None:
    """The process that owns the run of the ``runs`` ``row`` (``None``: not recorded, or a store
    older than version 4)."""
    if OWNER_COLUMNS[0] not in run_columns(version):
        return None
    host, pid, started = (row[c] for c in OWNER_COLUMNS)
    if not isinstance(host, str) or not isinstance(pid, int):
        return None
    return Owner(host, pid, started if isinstance(started, str) else None)


def run_notes(query: Query, version: int, run_id: str) -> tuple[str, ...]:
    """The run's notes: each labeler that did not answer, with the one that answered instead
    and on how many images (none in a store made before notes were kept; a damaged row adds none).
    Read from the counts kept per distinct notes, or counted in SQL in an older store: the JSON
    of each distinct notes is decoded once, never each row's."""
    if NOTES not in prediction_columns(version):
        return ()
    if STATE in run_columns(version):
        sql = "SELECT labeler, notes, images FROM run_notes WHERE run_id = ? ORDER BY first"
    else:
        sql = (
            f"SELECT labeler, {NOTES} AS notes, COUNT(*) AS images FROM predictions WHERE run_id = ? AND "
            f"{NOTES} IS NOT NULL AND {NOTES} != '[]' GROUP BY COALESCE(labeler, ''), {NOTES} ORDER BY MIN(rowid)"
        )
    counts: Counter[tuple[str, str]] = Counter()
    for row in query(sql, (run_id,)):
        try:
            notes = decode_json(row["notes"])
        except ValueError:
            continue
        if is_str_list(notes):
            for key in fallback_notes({"labeler": row["labeler"], NOTES: notes}):
                counts[key] += row["images"]
    return tuple(format_fallback_notes(counts))
