"""Versions of the model files a prediction depends on (content hash, size, time)."""

from __future__ import annotations

import hashlib
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from gerec.config import models_dir


@lru_cache(maxsize=64)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (read in blocks; cached by path, size and modification time)."""
    stat = Path(path).stat()
    return _sha256(str(path), stat.st_mtime_ns, stat.st_size)


def file_version(path: Path) -> dict[str, Any]:
    """sha256, size and modification time of one file (hash cached by path, size and mtime)."""
    stat = path.stat()
    return {
        "sha256": file_sha256(path),
        "bytes": stat.st_size,
        "modified": time.strftime("%Y-%m-%d %H:%M", time.gmtime(stat.st_mtime)),
    }


def model_file_versions(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every model file gerec uses: the files in ``models/`` and packaged member weights."""
    directory = directory or models_dir()
    out: dict[str, dict[str, Any]] = {}
    if directory.is_dir():
        for path in sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")):
            out[path.name] = file_version(path)
    try:
        from gerec.emotion.registry import REGISTRY_FILE, read_registry, resolve_weights

        spec = read_registry(directory / REGISTRY_FILE)
        for member in spec.members:
            if member.weights.startswith("package:"):
                out[member.weights] = file_version(resolve_weights(member, spec.directory))
    except Exception:  # a missing or broken registry is reported by the loaders, not here
        pass
    return out
