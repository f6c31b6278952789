"""What made a results file: a JSON sidecar beside every ``OUT.csv`` (``OUT.csv.json``).

The CSV stays a plain table any tool reads; the sidecar records the scene-network mode, the
network file and its hash, the model files in use and their hashes (photo runs), the labels and
CNN-prediction files and their hashes, whether the run is **in-sample** (a tuned network
evaluated on the very labels file it was fitted on), and how far the run got: ``evaluate`` writes
it when it opens OUT.csv, before any row (``"complete": false``), and again when it ends, with
the rows written and the labelers' fallback notes. The Error analysis page reads it; the CLI
prints the in-sample warning.

Examples
--------
>>> from gerec.provenance import sidecar_path
>>> sidecar_path("runs/out.csv").name
'out.csv.json'
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gerec.errors import InvalidDataset, OutputError
from gerec.fileio import replaced_atomically
from gerec.modes import MODES

SIDECAR_SUFFIX = ".json"
FORMAT = 1
IN_SAMPLE_WARNING = (
    "in-sample: the {mode} network was tuned on {labels}, so accuracy on it is optimistic; "
    "its honest figures are the cross-validated ones (Models page, README)"
)


def sidecar_path(out: str | Path) -> Path:
    """``OUT.csv`` -> ``OUT.csv.json``."""
    out = Path(out)
    return out.with_name(out.name + SIDECAR_SUFFIX)


def _file(path: str | Path | None) -> dict[str, Any] | None:
    if not path:
        return None
    from gerec.versions import file_version

    p = Path(path)
    return {"path": str(p), "sha256": file_version(p)["sha256"]} if p.is_file() else {"path": str(p)}


def tuned_on_sha256(mode: str) -> str | None:
    """The sha256 of the labels file the ``mode`` network was fitted on (``None`` when not recorded)."""
    from gerec.bn import load_scene_network

    tuned_on = load_scene_network(mode).metadata.get("tuned_on") or {}
    digest = tuned_on.get("labels_sha256")
    return str(digest) if digest else None


def is_in_sample(mode: str, labels_sha256: str | None) -> bool:
    """Whether results of the ``mode`` network on a labels file with this hash are in-sample."""
    return bool(labels_sha256) and labels_sha256 == tuned_on_sha256(mode)


def run_provenance(
    mode: str,
    *,
    labels: str | Path | None = None,
    cnn_predictions: str | Path | None = None,
    images: str | Path | None = None,
    labeler: str | None = None,
    made_by: str = "python -m gerec evaluate",
) -> dict[str, Any]:
    """The sidecar document of an evaluation run."""
    from gerec.bn import network_path
    from gerec.versions import model_file_versions

    labels_file = _file(labels)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "made_by": made_by,
        "created": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "mode": mode,
        "network": _file(network_path(mode)),
        "kind": "photos" if images else "label-only",
        "images": str(images) if images else None,
        "labeler": labeler or ("cached" if not images else None),
        "labels_file": labels_file,
        "cnn_predictions": _file(cnn_predictions),
    }
    if images:
        doc["models"] = {name: v["sha256"] for name, v in model_file_versions().items()}
    doc["in_sample"] = is_in_sample(mode, (labels_file or {}).get("sha256"))
    return doc


def write_sidecar(out: str | Path, doc: dict[str, Any]) -> Path:
    """Write ``doc`` beside ``out`` in one step (a crash leaves the old sidecar or the new one,
    never half of one); returns the sidecar's path. ``OutputError`` when it cannot be written."""
    path = sidecar_path(out)
    try:
        with replaced_atomically(path) as partial:
            partial.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write the provenance file {path}: {exc.strerror or exc}") from exc
    return path


def progress_fields(complete: bool, rows: int, expected: int | None, notes: list[str]) -> dict[str, Any]:
    """The sidecar fields that say how far a run got: ``complete`` (``false`` while it runs and when it
    was stopped), the ``rows`` written to OUT.csv, the ``rows_expected`` and the labelers' ``notes``.
    Sidecars written before these fields existed lack them: read as complete, rows unknown."""
    return {"complete": complete, "rows": rows, "rows_expected": expected, "notes": notes}


def completeness_warning(doc: dict[str, Any], rows: int) -> str | None:
    """Why the ``rows`` rows of a results table may not be the whole run its sidecar describes:
    the run was stopped (or is still running), or the sidecar counted other rows (``None``: neither)."""
    expected = doc.get("rows_expected")
    if doc.get("complete") is False:
        of = f" of {expected}" if expected is not None else ""
        return (
            f"this run did not finish: the results hold {rows}{of} images, those done before it was "
            "stopped (or it is still running); accuracy is on those only"
        )
    recorded = doc.get("rows")
    if recorded is not None and recorded != rows:
        return (
            f"the provenance file counts {recorded} rows but the results hold {rows}: "
            "they may not belong together (run evaluate again to rewrite both)"
        )
    return None


def _is_file_entry(value: Any) -> bool:
    """``{"path": str, "sha256": str}`` (the hash absent when the file was not found), or ``null``."""
    return value is None or (
        isinstance(value, dict) and isinstance(value.get("path"), str) and isinstance(value.get("sha256", ""), str)
    )


def _is_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _is_count(value: Any) -> bool:
    return value is None or type(value) is int and value >= 0


FILE_ENTRY = 'a file entry {"path": ..., "sha256": ...}'
SIDECAR_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "mode": (lambda v: v in MODES, f"one of {', '.join(MODES)}"),
    "format": (lambda v: v is None or type(v) is int, "a number"),
    "made_by": (_is_text, "text"),
    "created": (_is_text, "text"),
    "kind": (_is_text, "text"),
    "images": (_is_text, "text"),
    "labeler": (_is_text, "text"),
    "network": (_is_file_entry, FILE_ENTRY),
    "labels_file": (_is_file_entry, FILE_ENTRY),
    "cnn_predictions": (_is_file_entry, FILE_ENTRY),
    "models": (
        lambda v: v is None or isinstance(v, dict) and all(isinstance(h, str) for h in v.values()),
        "an object of file name -> sha256",
    ),
    "in_sample": (lambda v: v is None or isinstance(v, bool), "true or false"),
    "complete": (lambda v: v is None or isinstance(v, bool), "true or false"),
    "rows": (_is_count, "a whole number"),
    "rows_expected": (_is_count, "a whole number"),
    "notes": (lambda v: v is None or isinstance(v, list) and all(isinstance(n, str) for n in v), "a list of text"),
}
"""Each field a sidecar may hold, the check of its value, and what it should be (for the message)."""


def parse_sidecar(data: str | bytes, source: str = "the provenance file") -> dict[str, Any]:
    """A sidecar's content, every field checked. Raises ``InvalidDataset`` naming ``source`` and the
    field when it is not one (not UTF-8, damaged or cut-short JSON, no network mode, a field of the
    wrong type)."""
    remedy = "open the results without it, or run evaluate again to rewrite it"
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise InvalidDataset(f"{source} is not UTF-8 text: {remedy}") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidDataset(f"{source} {json_fault(text, exc)}: {remedy}") from exc
    if not isinstance(doc, dict) or "mode" not in doc:
        raise InvalidDataset(f"{source} does not say which network made the results: {remedy}")
    wrong: dict[str, list[str]] = {}  # what a field should be -> the fields that are not
    for key, (check, what) in SIDECAR_FIELDS.items():
        if not check(doc.get(key)):
            wrong.setdefault(what, []).append(key)
    if wrong:
        says = "; ".join(f"{' and '.join(keys)} should be {what}" for what, keys in wrong.items())
        raise InvalidDataset(f"{source} is damaged ({says}): {remedy}")
    return doc


def json_fault(text: str, exc: json.JSONDecodeError) -> str:
    """What is wrong with a JSON text, said of its file: empty, cut short (the text ends inside the
    JSON: a copy or a write that stopped early), or broken at a line and column.

    >>> def fault(text):
    ...     try:
    ...         json.loads(text)
    ...     except json.JSONDecodeError as exc:
    ...         return json_fault(text, exc)
    >>> {fault(cut) for cut in ('{"mode": "tuned"', '{"mode": "tu', '{"in_sample": tr', '{"rows": 1.')}
    {'is cut short (the file ends inside its JSON)'}
    >>> fault('{"mode": tuned}'), fault(' ')
    ('is not valid JSON (broken at line 1, column 10)', 'is empty')
    """
    if not text.strip():
        return "is empty"
    rest = text[exc.pos :].rstrip()  # where the parser stopped: the end, or a value the end cut
    if (
        not rest
        or exc.msg.startswith("Unterminated string")
        or any(word.startswith(rest) for word in ("true", "false", "null"))
        or re.fullmatch(r"[-+.eE0-9]+", rest)
    ):
        return "is cut short (the file ends inside its JSON)"
    return f"is not valid JSON (broken at line {exc.lineno}, column {exc.colno})"


def read_sidecar(out: str | Path) -> dict[str, Any] | None:
    """The sidecar beside ``out``, or ``None`` when there is none. Raises ``InvalidDataset``."""
    path = sidecar_path(out)
    if not path.is_file():
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidDataset(f"{path} cannot be read ({exc.strerror})") from exc
    return parse_sidecar(data, str(path))


def in_sample_text(mode: str, labels: str | Path) -> str:
    """The in-sample warning for a run of the ``mode`` network on the labels file it was tuned on
    (named by its file name): the one text the CLI, the sidecar reader and the dashboard show.

    >>> in_sample_text("tuned", "data/val_labels_dev.json").split(",")[0]
    'in-sample: the tuned network was tuned on val_labels_dev.json'
    """
    return IN_SAMPLE_WARNING.format(mode=mode, labels=Path(labels).name)


def in_sample_warning(doc: dict[str, Any]) -> str | None:
    """The in-sample warning for a sidecar (``None`` when the run is held out or unknown)."""
    if not doc.get("in_sample"):
        return None
    return in_sample_text(doc.get("mode", "tuned"), (doc.get("labels_file") or {}).get("path", "its labels file"))


def summary(doc: dict[str, Any]) -> dict[str, str]:
    """The sidecar as short ``what: value`` pairs for a page or a report."""

    def short(entry: dict[str, Any] | None) -> str:
        if not entry:
            return "none"
        digest = entry.get("sha256")
        return f"{Path(entry['path']).name} (sha256 {digest[:12]})" if digest else f"{entry['path']} (not found)"

    out = {
        "made by": str(doc.get("made_by", "?")),
        "when": str(doc.get("created", "?")),
        "network mode": str(doc.get("mode", "?")),
        "network file": short(doc.get("network")),
        "run": str(doc.get("kind", "?")),
        "labels file": short(doc.get("labels_file")),
        "CNN predictions": short(doc.get("cnn_predictions")),
    }
    if doc.get("models"):
        out["model files"] = f"{len(doc['models'])} files, sha256 recorded"
    out["in-sample"] = "yes" if doc.get("in_sample") else "no"
    if doc.get("complete") is not None:
        # an unfinished run's row count is the one written last, not what its OUT.csv holds now
        rows = doc.get("rows")
        done = "yes" if rows is None else f"yes ({rows} rows)"
        out["finished"] = done if doc["complete"] else "no: stopped before the end (or still running)"
    if doc.get("notes"):
        out["labeler notes"] = "; ".join(doc["notes"])
    return out


def stored_run_in_sample(mode: str, params: dict[str, Any]) -> bool:
    """Whether a stored run (``RunInfo.mode``, ``RunInfo.params``) is in-sample: the labels hash it
    recorded, else the hash of its labels file when that is still there."""
    digest = params.get("labels_sha256")
    if not digest and params.get("labels"):
        digest = (_file(params["labels"]) or {}).get("sha256")
    return is_in_sample(mode, digest)
