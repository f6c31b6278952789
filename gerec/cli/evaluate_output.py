"""Where ``evaluate``'s finished images go: the run store, OUT.csv and its sidecar, kept alike.

:func:`write_all` stores the run (new or resumed) first, then writes each image to OUT.csv and
to the store (:meth:`Results.add`: counted once in both, so a failed write leaves them alike), and
at the end says in the sidecar and in the store how far the run got: complete, interrupted by a
signal (SIGTERM, Ctrl-C) or stopped by an error. A signal that arrives while the run is being
stored waits until it is, so a run is never left in the store without a state: stopped before its
first image, it is marked interrupted with 0 rows (and OUT.csv is left as it was, when it was not
opened yet).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections import Counter
from collections.abc import Callable, Generator, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from gerec.errors import RunStoreError, SettingsMismatch
from gerec.fileio import SafeDictWriter, open_output
from gerec.provenance import progress_fields, sidecar_path, write_sidecar
from gerec.runs.engines import PipelineSpec
from gerec.runs.owner import ALIVE
from gerec.runs.records import CSV_COLUMNS, csv_row, fallback_notes, format_fallback_notes
from gerec.runs.schema import COMPLETE, FAILED, INTERRUPTED, RUNNING
from gerec.stopping import StopSignals, exit_code, stop_name

if TYPE_CHECKING:
    from gerec.runs.rows import RunInfo

Evaluation = Callable[[set[str]], Generator[dict[str, Any], None, None]]
"""The records of the images not in the given set of finished ones, as they finish."""


def run_settings(args: argparse.Namespace, spec: PipelineSpec, provenance: dict[str, Any]) -> dict[str, Any]:
    """What a stored run records of its settings, and what a resume must repeat."""
    labeler = "cached" if not args.images else ("cached -> " if args.labels else "") + (args.labeler or "default")
    params = {
        "aggregation": args.aggregation,
        "labels": str(args.labels or ""),
        "cnn_predictions": str(args.cnn_predictions or ""),
        "labels_sha256": (provenance["labels_file"] or {}).get("sha256", ""),
    }
    return {"dataset": str(args.images or args.labels), "mode": str(spec.mode), "labeler": labeler, "params": params}


def open_store(
    args: argparse.Namespace, spec: PipelineSpec, provenance: dict[str, Any], expected: int
) -> tuple[Any, str | None, set[str]]:
    """The store, the run (created, or resumed: taken over and marked running again) and its finished images."""
    if args.store is None and not args.resume:
        return None, None, set()
    from gerec.runs.rows import settings_difference
    from gerec.runs.store import RunStore
    from gerec.versions import model_file_versions

    store = RunStore(args.store or None)
    settings = run_settings(args, spec, provenance)
    if args.resume:
        info = store.run(args.resume)
        differ = settings_difference(info, models=model_file_versions(), **settings)
        if differ:
            raise SettingsMismatch(
                f"run {info.id} cannot be resumed with other settings: "
                + "; ".join(differ)
                + ". Repeat its settings, or start a new run without --resume"
            )
        still_running(info)
        done = store.finished_images(info.id)
        store.take_over(info, expected)
        print(f"resuming run {info.id}: {len(done)} images already finished", file=sys.stderr)
        return store, info.id, done
    run_id = store.create_run(
        settings["dataset"],
        spec.mode,
        settings["labeler"],
        model_file_versions(),
        args.engine,
        settings["params"],
        expected,
    )
    print(f"run {run_id} in {store.path}", file=sys.stderr)
    return store, run_id, set()


def still_running(info: RunInfo) -> None:
    """A ``RunStoreError`` when the run to resume is still running in another process of this host
    (both would evaluate its remaining images); a run whose owner is gone, or cannot be asked after
    (another host, a store older than version 4), is taken over."""
    owner = info.owner
    if info.state == RUNNING and info.liveness == ALIVE and owner is not None and owner.pid != os.getpid():
        raise RunStoreError(
            f"run {info.id} is still running (process {owner.pid} on this host): wait until it ends, "
            f"or stop it (kill -TERM {owner.pid}) and --resume it then"
        )


@dataclass
class Results:
    """Where each finished image goes: the store, OUT.csv (flushed), and the rows and fallback
    notes counted for the sidecar; a stop signal waits until an image is in all or in none."""

    stops: StopSignals
    store: Any = None
    run_id: str | None = None
    handle: IO[str] | None = None
    """OUT.csv, once opened (until then, it and its sidecar are as the previous run left them)."""
    rows: list[dict[str, object]] = field(default_factory=list)
    notes: Counter[tuple[str, str]] = field(default_factory=Counter)
    writer: SafeDictWriter = field(init=False)

    def open(self, handle: IO[str]) -> None:
        """Write to ``handle``, OUT.csv just opened."""
        self.handle = handle
        self.writer = SafeDictWriter(handle, fieldnames=CSV_COLUMNS)

    def add(self, records: Iterable[dict[str, Any]], store: bool = True) -> None:
        """Write ``records`` to OUT.csv, then to the store unless they come from it, none cut by a
        signal. A record is counted once it is in both: a row that cannot be written to OUT.csv
        (a full disk) is not stored, and one the store refuses is cut off OUT.csv again."""
        assert self.handle is not None, "OUT.csv is opened before any record"
        with self.stops.held():
            for record in records:
                row = csv_row(record)
                start = self._append(row)
                if store and self.store is not None:
                    try:
                        self.store.add_prediction(self.run_id, record)
                    except BaseException:
                        self._cut(start)
                        raise
                self.rows.append(row)
                self.notes.update(fallback_notes(record))

    def _append(self, row: dict[str, object]) -> int:
        """Write ``row`` to OUT.csv, whole or not at all; where it starts. Written to the file itself,
        past the text buffers: a write that fails part way is cut off again, and no part of it stays
        buffered to be written when the file is closed."""
        text = io.StringIO()
        SafeDictWriter(text, fieldnames=CSV_COLUMNS).writerow(row)
        raw = self._file()
        data = memoryview(text.getvalue().encode(self.handle.encoding))  # type: ignore[union-attr]
        start = raw.tell()
        try:
            while data:
                data = data[raw.write(data) :]
        except BaseException:
            self._cut(start)
            raise
        return start

    def _cut(self, start: int) -> None:
        """Cut OUT.csv back to ``start`` bytes: a row that is not wholly written or not stored goes."""
        raw = self._file()
        raw.truncate(start)
        raw.seek(start)

    def _file(self) -> Any:
        """OUT.csv's file itself (an ``io.FileIO``) under the handle's buffers, which are flushed
        (the header is written through them)."""
        assert isinstance(self.handle, io.TextIOWrapper), "OUT.csv is opened as text"
        self.handle.flush()
        return self.handle.buffer.raw  # type: ignore[attr-defined]

    def record_state(self, finished: bool, stopped: KeyboardInterrupt | None) -> None:
        """Say in the store how far the run got. Stopped by an error, the store may be what failed:
        that error is the one reported, not a second one from recording the state."""
        if self.store is None:
            return
        state = COMPLETE if finished else INTERRUPTED if stopped is not None else FAILED
        try:
            self.store.set_state(self.run_id, state)
        except RunStoreError:
            if state != FAILED:
                raise


def write_all(
    results: Results,
    args: argparse.Namespace,
    spec: PipelineSpec,
    made: dict[str, Any],
    expected: int,
    evaluation: Evaluation,
) -> KeyboardInterrupt | None:
    """The run stored, the sidecar (unfinished), OUT.csv's rows, then the sidecar and the store
    again saying how far the run got, whether it finished, was stopped by a signal (returned) or
    failed (raised)."""
    out = args.out
    finished, stopped = False, None
    try:
        with results.stops.held():  # the run is stored whole; a signal meanwhile stops it at 0 rows
            results.store, results.run_id, done = open_store(args, spec, made, expected)
        with open_output(out, "results file") as handle:
            results.open(handle)
            # the previous run's sidecar must never describe these rows: replaced before the first one
            write_sidecar(out, {**made, **progress_fields(False, 0, expected, [])})
            results.writer.writeheader()
            if results.store is not None and done:  # a resumed run's stored rows first, all at once
                results.add(results.store.predictions(results.run_id), store=False)
            with closing(evaluation(done)) as records:  # stopped: the engine ends its threads or workers now
                for record in records:
                    results.add([record])
        finished = True
    except KeyboardInterrupt as exc:  # SIGTERM or Ctrl-C: the rows written so far stay, alike everywhere
        stopped = exc
    finally:
        with results.stops.held():
            try:
                if results.handle is not None:  # OUT.csv was opened: its sidecar says how far it got
                    lines = notes_lines(results.notes)
                    if stopped is not None:
                        lines.append(stop_note(stopped, len(results.rows), expected))
                    write_sidecar(out, {**made, **progress_fields(finished, len(results.rows), expected, lines)})
            finally:
                results.record_state(finished, stopped)
    return stopped


def stop_note(stopped: KeyboardInterrupt, rows: int, expected: int) -> str:
    """What the sidecar's notes and stderr say of a run stopped by a signal."""
    return f"interrupted by {stop_name(stopped)} after {rows} of {expected} images"


def stopped_run(stopped: KeyboardInterrupt, out: Path, results: Results, expected: int) -> int:
    """Say what a stopped run kept and how to go on; its exit code (128 + the signal)."""
    kept = [f"{out}, {sidecar_path(out).name}"] if results.handle is not None else []
    if results.store is not None:
        kept.append(f"run {results.run_id} in {results.store.path}")
    rest = f"; --resume {results.run_id} with the same settings does the rest" if results.store is not None else ""
    held = f": {' and '.join(kept)} hold them{rest}" if kept else ""
    print(f"{stop_note(stopped, len(results.rows), expected)}{held}", file=sys.stderr)
    return exit_code(stopped)


def notes_lines(notes: Counter[tuple[str, str]]) -> list[str]:
    """The fallback notes, each printed once on stderr; returned for the sidecar."""
    lines = format_fallback_notes(notes)
    for line in lines:
        print(f"note: {line}", file=sys.stderr)
    return lines
