"""Reading the project's JSON model files and CSV tables, and writing outputs, with named errors."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import IO, Any

from gerec.errors import InvalidDataset, InvalidModelFile, ModelFileMissing, OutputError
from gerec.stopping import held_where_handled

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a CSV cell as a formula."""


def report_path(model: Path) -> Path:
    """The JSON report beside a model file, ``<model stem>.report.json``: a trained face member's
    (``train-faces``, ``tools/train_pretrained_face.py``), and the tuned network's that
    ``tools/calibration_table.py`` reads by default.

    >>> report_path(Path("models/gerec_vgg48u.keras")).as_posix()
    'models/gerec_vgg48u.report.json'
    """
    return model.with_suffix(".report.json")


def read_model_json(path: Path, what: str, hint: str = "") -> Any:
    """A model file's JSON: ``ModelFileMissing`` when absent, ``InvalidModelFile`` when not JSON."""
    if not path.is_file():
        raise ModelFileMissing(f"{what} not found: {path}{hint}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidModelFile(f"{path}: not valid JSON: {exc}") from exc


def read_csv_rows(path: Path, what: str) -> list[dict[str, str]]:
    """A CSV table's rows as dicts; ``InvalidDataset`` when it cannot be read."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidDataset(f"cannot read {what} {path}: {exc}") from exc


def csv_safe(value: Any) -> Any:
    """A CSV cell no spreadsheet runs as a formula: text starting with ``= + - @``, tab or CR gets a
    leading ``'`` (numbers, and text that is a number such as ``-0.5``, are left as they are)."""
    if not isinstance(value, str) or not value.startswith(FORMULA_PREFIXES):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


class SafeDictWriter(csv.DictWriter):
    """``csv.DictWriter`` whose every cell goes through :func:`csv_safe` (the one CSV writer gerec uses)."""

    def writeheader(self) -> Any:
        return self.writer.writerow([csv_safe(str(f)) for f in self.fieldnames])

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({k: csv_safe(v) for k, v in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)


def printable(name: str) -> str:
    """A file name that can be printed, written to CSV and stored: undecodable bytes of a
    non-UTF-8 name (kept by Python as surrogates) become ``\\xNN``."""
    return (
        os.fsencode(name).decode("utf-8", "backslashreplace")
        if any("\udc80" <= ch <= "\udcff" for ch in name)
        else name
    )


@contextmanager
def open_output(path: Path, what: str = "output file", atomic: bool = False) -> Iterator[IO[str]]:
    """Open ``path`` for writing text; a missing folder or a refused write is an :class:`OutputError`.

    ``atomic``: for an output written whole (not rows streamed as they finish), the text goes to a
    temporary sibling that replaces ``path`` when the block ends (:func:`replaced_atomically`): a
    stop or an error while writing leaves the previous file (or none), never a cut-short one.
    """
    if not path.parent.is_dir():
        raise OutputError(f"cannot write the {what} {path}: the folder {path.parent} does not exist (create it first)")
    try:
        with replaced_atomically(path) if atomic else nullcontext(path) as target:
            try:
                handle = target.open("w", newline="", encoding="utf-8")
            except OSError as exc:
                raise OutputError(f"cannot write the {what} {path}: {exc.strerror or exc}") from exc
            with handle:
                yield handle
    except OSError as exc:  # disk full, removed folder... while writing (or replacing)
        raise OutputError(f"writing the {what} {path} failed: {exc.strerror or exc}") from exc


@contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
    """The temporary sibling of ``path`` to write (:func:`replaced_together` with one file): it
    replaces ``path`` in one step when the block ends, and is removed if the block fails. A crash
    mid-write leaves the old file (or none), never a half-written one."""
    with replaced_together() as files:
        yield files.temporary(path)


class Replacements:
    """The files a :func:`replaced_together` block writes, each through a temporary sibling."""

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []  # (temporary file, the file it replaces)

    def temporary(self, path: Path) -> Path:
        """The temporary sibling of ``path`` to write (same suffix, so writers that check it accept
        it): it replaces ``path`` when the block ends."""
        tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
        self.pending.append((tmp, path))
        return tmp


@contextmanager
def replaced_together() -> Iterator[Replacements]:
    """Several files replaced together: each written to its temporary sibling
    (:meth:`Replacements.temporary`), then, once the block has written them all, each replaces its
    file, in the order asked for, one right after another. A stop or an error while any is written
    replaces none and removes the temporary files. Inside :func:`gerec.stopping.stop_signals`, a
    stop that comes while they replace theirs waits until all have, so it never splits them (a
    failed ``os.replace``, or SIGKILL, still could).
    """
    files = Replacements()
    try:
        yield files
        with held_where_handled():
            for tmp, path in files.pending:
                os.replace(tmp, path)
    finally:
        for tmp, _ in files.pending:
            tmp.unlink(missing_ok=True)


_JSON_TYPES = (
    (type(None), "null"),
    (bool, "true/false"),
    (int, "a whole number"),
    (float, "a number"),
    (str, "text"),
    (list, "a list"),
    (dict, "an object"),
)
_MISSING = object()


def json_type(value: Any) -> str:
    """How a JSON value's type reads in an error message (``null``, ``a list``, ``an object``...)."""
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), type(value).__name__)


def json_object(data: Any, source: str, what: str) -> dict[str, Any]:
    """``data`` when it is a JSON object; otherwise :class:`InvalidModelFile` saying what it is."""
    if not isinstance(data, dict):
        raise InvalidModelFile(f"{source}: expected {what} (a JSON object), got {json_type(data)}")
    return data


def model_field(
    data: dict[str, Any], key: str, kind: type | tuple[type, ...], source: str, default: Any = _MISSING
) -> Any:
    """``data[key]`` checked to be of JSON type ``kind``; :class:`InvalidModelFile` names the field."""
    if key not in data:
        if default is _MISSING:
            raise InvalidModelFile(f"{source}: field '{key}' is missing")
        return default
    value = data[key]
    wrong_bool = isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,))
    if not isinstance(value, kind) or wrong_bool:
        raise InvalidModelFile(f"{source}: field '{key}' must be {_kind_name(kind)}, got {json_type(value)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds:  # "a number" covers whole numbers too
        kinds = tuple(k for k in kinds if k is not int)
    return " or ".join(dict.fromkeys(name for k in kinds for t, name in _JSON_TYPES if t is k))
