"""A run store's rows read back: a run (:class:`RunInfo`) and a prediction, their JSON checked.

The store's JSON read back is checked: a run whose ``models`` or ``params`` is not the JSON object it
should be is a :class:`RunStoreError` naming the store, the run and the column (a listing marks
it damaged and goes on); a prediction row whose JSON columns are damaged is returned as a failed
row (its error says which columns), so the rest of the run stays readable.
:func:`settings_difference` says what a resume would change of a stored run's settings.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from gerec.classes import MODULES
from gerec.runs.owner import ALIVE, ELSEWHERE, GONE, Owner
from gerec.runs.schema import COMPLETE, FAILED, INTERRUPTED, NOTES, RUNNING

JSON_COLUMNS = {"probs", "faces", "labels_used", "labels_ignored", "timings", NOTES}
DAMAGED_ROW = "damaged in the run store"
"""How the error of a prediction row whose JSON could not be read begins."""
STATE_WORDS = {
    RUNNING: "unfinished (still running, or killed)",  # no owner recorded, or no way to ask after it
    COMPLETE: "complete",
    INTERRUPTED: "interrupted",
    FAILED: "stopped by an error",
}
"""A run's state as ``runs`` and the dashboard say it."""
STATE_UNKNOWN = "state not recorded (stored by an older gerec)"
RUNNING_WORDS = {
    ALIVE: "running (process {pid}), {of} so far",
    GONE: "stopped without a word (killed?) after {of}",
    ELSEWHERE: "unfinished on host {host} (still running, or killed: cannot be told from this host) after {of}",
}
"""A running run as its owner's :func:`gerec.runs.owner.liveness` tells it."""


def _is_probs(value: Any) -> bool:
    """``{module: [p, p, p] or null}``: what ``probs`` holds."""
    return isinstance(value, dict) and all(
        v is None
        or isinstance(v, list)
        and len(v) == 3
        and all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in v)
        for v in value.values()
    )


def is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


JSON_SHAPES = {
    "probs": (_is_probs, "an object of module -> three probabilities"),
    "faces": (lambda v: isinstance(v, list) and all(isinstance(f, dict) for f in v), "a list of faces"),
    "labels_used": (is_str_list, "a list of labels"),
    "labels_ignored": (is_str_list, "a list of labels"),
    "timings": (lambda v: isinstance(v, dict), "an object of stage -> seconds"),
    NOTES: (is_str_list, "a list of notes"),
}
"""Per JSON column of a prediction: the check of its decoded value (``null`` is always allowed)."""


def decode_json(text: Any) -> Any:
    """A stored JSON value; ``ValueError`` when it is not JSON (nor UTF-8, for a blob)."""
    if not isinstance(text, (str, bytes)):
        raise ValueError(f"a {type(text).__name__}, not JSON text")
    return json.loads(text)


def decode_prediction(item: dict[str, Any]) -> dict[str, Any]:
    """One stored row with its JSON decoded and checked (a damaged row becomes a failed one)."""
    item.setdefault(NOTES, None)  # a store made before notes were kept, read as it is
    damaged = []
    for col in sorted(JSON_COLUMNS):
        if item[col] is None:
            continue
        check, shape = JSON_SHAPES[col]
        try:
            item[col] = decode_json(item[col])
        except ValueError:
            damaged.append(f"{col} is not valid JSON")
            continue
        if item[col] is not None and not check(item[col]):
            damaged.append(f"{col} is not {shape}")
    if not damaged:
        return item
    stored_error = f"; stored error: {item['error']}" if item.get("error") else ""
    reason = f"{DAMAGED_ROW}: {', '.join(damaged)}{stored_error}"
    return {
        **item,
        **dict.fromkeys((*MODULES, *JSON_COLUMNS)),
        "error": reason,
    }


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
    damaged: str = ""
    """What is wrong with the run's record when it cannot be read (only in :meth:`RunStore.runs`)."""
    notes: tuple[str, ...] = ()
    """Its images' fallback notes, one line per distinct note with how many images it concerns
    (``gcv unavailable: ...; offline answered instead (37 photos)``)."""
    state: str | None = None
    """How far it got (:data:`gerec.runs.schema.RUN_STATES`); ``None``: stored before states were kept."""
    expected: int | None = None
    """The images it was to evaluate (``None``: not known)."""
    owner: Owner | None = None
    """The process that owns it (``None``: stored before owners were kept)."""
    liveness: str | None = None
    """Of a running run: whether its owner is still there when it was read
    (:data:`gerec.runs.owner.LIVENESS`; ``None``: cannot be told)."""

    @property
    def complete(self) -> bool | None:
        """Whether every image was evaluated (``None``: not known, the state was not kept)."""
        return None if self.state is None else self.state == COMPLETE

    def state_text(self) -> str:
        """Its state in words, with how many images of how many when it did not finish.

        >>> RunInfo("r", "", "", "", "", "", {}, {}, 3, 0, state=INTERRUPTED, expected=16).state_text()
        'interrupted after 3 of 16 images'
        >>> RunInfo("r", "", "", "", "", "", {}, {}, 3, 0).state_text()
        'state not recorded (stored by an older gerec)'
        >>> killed = RunInfo("r", "", "", "", "", "", {}, {}, 3, 0, state=RUNNING, expected=16, liveness=GONE)
        >>> killed.state_text()
        'stopped without a word (killed?) after 3 of 16 images'
        """
        if self.state is None:
            return STATE_UNKNOWN
        if self.state == COMPLETE:
            return STATE_WORDS[COMPLETE]
        of = f"{self.finished} of {self.expected or '?'} images"
        if self.state == RUNNING and self.liveness in RUNNING_WORDS:
            host, pid = (self.owner.host, self.owner.pid) if self.owner else ("?", "?")
            return RUNNING_WORDS[self.liveness].format(of=of, host=host, pid=pid)
        return f"{STATE_WORDS.get(self.state, self.state)} after {of}"


def decode_run_json(row: sqlite3.Row) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A run's ``models`` and ``params`` (JSON objects; each model file's entry an object too),
    and what is damaged (empty when nothing; then both are ``{}``)."""
    found: dict[str, dict[str, Any]] = {}
    for column in ("models", "params"):
        try:
            value = decode_json(row[column])
        except ValueError:
            return {}, {}, f"its {column} column is not valid JSON"
        if not isinstance(value, dict):
            return {}, {}, f"its {column} column is {json.dumps(value)[:40]}, not a JSON object"
        found[column] = value
    if not all(isinstance(v, dict) for v in found["models"].values()):
        return {}, {}, "its models column is not an object of file -> {sha256, bytes, modified}"
    return found["models"], found["params"], ""


def settings_difference(
    stored: RunInfo, dataset: str, mode: str, labeler: str, params: dict[str, Any], models: dict[str, Any]
) -> list[str]:
    """What differs between a stored run and the settings of a resume (empty when all agree)."""
    diffs = [
        f"{what} {now!r} (stored: {then!r})"
        for what, now, then in (
            ("dataset", dataset, stored.dataset),
            ("mode", mode, stored.mode),
            ("labeler", labeler, stored.labeler),
        )
        if now != then
    ]
    for key in sorted(set(params) | set(stored.params)):
        if params.get(key) != stored.params.get(key):
            diffs.append(f"{key} {params.get(key)!r} (stored: {stored.params.get(key)!r})")
    changed = sorted(
        name
        for name in set(models) | set(stored.models)
        if (models.get(name) or {}).get("sha256") != (stored.models.get(name) or {}).get("sha256")
    )
    if changed:
        diffs.append("model files changed since: " + ", ".join(changed))
    return diffs
