"""Reading the project's JSON model files and CSV tables with named errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from gerec.errors import InvalidDataset, InvalidModelFile, ModelFileMissing


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
