"""Paths typed into the dashboard and uploaded files, checked before anything is read.

A path field accepts only a regular file (or, for the images field, a folder) inside an allowed
root: ``$GEREC_DATA``, the sample photos, the run store's folder, and any folders listed in
``$GEREC_DASHBOARD_ROOTS`` (separated by ``:``) or under ``allowed_roots`` in the ``[dashboard]``
table of ``.streamlit/secrets.toml``. Symbolic links are followed before the check, so a link
cannot lead outside. Devices, FIFOs and sockets are refused (a FIFO would hang the page), and
each kind of file has a size cap. Uploads are checked by content and against a total budget.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from gerec.config import data_dir, samples_dir
from gerec.errors import GerecError, ImageTooLarge, InvalidImage, PathNotAllowed
from gerec.imaging import MAX_FILE_BYTES

ROOTS_ENV = "GEREC_DASHBOARD_ROOTS"
MB = 2**20
LIMITS = {"labels": 100 * MB, "table": 200 * MB, "store": 4096 * MB, "photo": MAX_FILE_BYTES}
"""Largest file each path field reads: labels JSON, CSV tables, run store, photo (the library's own
limit, which ``maxUploadSize`` in ``.streamlit/config.toml`` repeats in MB: a test keeps them equal)."""
UPLOAD_BUDGET = 200 * MB
"""Total bytes of photos uploaded at once (Streamlit's ``maxUploadSize`` caps each file)."""


def allowed_roots(extra: Iterable[str | Path] = ()) -> list[Path]:
    """The folders whose files the dashboard may read, resolved (missing ones left out)."""
    from gerec.runs.store import default_store_path

    candidates: list[str | Path] = [data_dir(), default_store_path().parent, *extra]
    samples = samples_dir()
    if samples is not None:
        candidates.append(samples)
    candidates += [p for p in os.environ.get(ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    candidates += _secret_roots()
    roots = []
    for raw in candidates:
        path = Path(raw).expanduser()
        if path.is_dir():
            roots.append(path.resolve())
    return list(dict.fromkeys(roots))


def _secret_roots() -> list[str]:
    """``allowed_roots`` of the ``[dashboard]`` table in ``.streamlit/secrets.toml``, if any."""
    try:
        import streamlit as st

        section = st.secrets.get("dashboard") or {}
        return [str(p) for p in section.get("allowed_roots", [])]
    except Exception:  # noqa: BLE001 - no secrets file: Streamlit raises its own not-found error
        return []


ADD_A_ROOT = (
    f"To read it, add its folder to ${ROOTS_ENV} or to [dashboard] allowed_roots in .streamlit/secrets.toml "
    "(docs/limits-and-safety.md)"
)
"""The advice under a path outside the allowed folders: how to allow one more."""


def _resolved_inside(raw: str, roots: Sequence[Path] | None, what: str) -> Path:
    """``raw`` with links resolved, refused unless it exists inside one of ``roots`` (default: allowed).

    Every refusal says why and the one thing to do about it (:class:`PathNotAllowed` has no general
    hint: a missing file needs its path checked, a file outside the roots needs its folder allowed).
    """
    roots = allowed_roots() if roots is None else roots
    try:
        path = Path(raw.strip()).expanduser().resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise PathNotAllowed(f"{raw}: no such {what}. Check the path") from exc
    except (OSError, RuntimeError) as exc:  # no permission on a folder on the way, a loop of links
        raise PathNotAllowed(f"{raw}: cannot be reached (no permission, or a loop of links). Check the path") from exc
    _inside(path, roots, raw)
    return path


def _inside(path: Path, roots: Sequence[Path], raw: str) -> None:
    if not any(path == root or path.is_relative_to(root) for root in roots):
        shown = ", ".join(str(r) for r in roots) or "none"
        raise PathNotAllowed(f"{raw}: outside the folders the dashboard may read ({shown}). {ADD_A_ROOT}")


def confined_file(raw: str, kind: str, roots: Sequence[Path] | None = None) -> Path:
    """The resolved path of a regular file inside the allowed roots, at most ``LIMITS[kind]`` bytes."""
    path = _resolved_inside(raw, roots, "file")
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise PathNotAllowed(
            f"{raw}: not a regular file (folders, devices, pipes and sockets are not read). Give the path of a file"
        )
    if info.st_size > LIMITS[kind]:
        raise PathNotAllowed(
            f"{raw}: {info.st_size / MB:.0f} MB, over the {LIMITS[kind] / MB:.0f} MB limit for a {kind} file. "
            "Give a smaller file"
        )
    return path


def confined_dir(raw: str, roots: Sequence[Path] | None = None) -> Path:
    """The resolved path of a folder inside the allowed roots."""
    path = _resolved_inside(raw, roots, "folder")
    if not path.is_dir():
        raise PathNotAllowed(f"{raw}: not a folder. Give the path of a folder")
    return path


def child_file(folder: Path, name: str, kind: str = "photo") -> Path:
    """``folder/name`` (a name from a results table), refused when it leads outside ``folder``."""
    return confined_file(str(folder / name), kind, roots=[folder])


def is_child_file(folder: Path, name: str) -> bool:
    """Whether :func:`child_file` accepts ``name`` in ``folder``."""
    try:
        child_file(folder, name)
        return True
    except PathNotAllowed:
        return False


def not_a_photo(name: str, data: bytes) -> InvalidImage | None:
    """The error of a file (an upload or a sample) that does not start like a photo gerec reads.

    Empty files and damaged photos pass: the loader names what is wrong with them.
    """
    from gerec.imaging import looks_like_image

    if data and not looks_like_image(data):
        return InvalidImage(f"{name}: not a photo, whatever its name says")  # the hint names what to use
    return None


def accept_uploads(
    items: Sequence[tuple[str, bytes]], budget: int = UPLOAD_BUDGET
) -> tuple[list[tuple[str, bytes]], list[tuple[str, GerecError]]]:
    """Uploads that start like a photo gerec reads, within the total budget; and each refused one's error.

    Empty files and damaged photos pass: the loader names what is wrong with them.
    """
    accepted: list[tuple[str, bytes]] = []
    refused: list[tuple[str, GerecError]] = []
    total = 0
    for name, data in items:
        if (error := not_a_photo(name, data)) is not None:
            refused.append((name, error))
        elif total + len(data) > budget:
            refused.append(
                (name, ImageTooLarge(f"{name}: left out, the photos uploaded together exceed {budget / MB:.0f} MB"))
            )
        else:
            total += len(data)
            accepted.append((name, data))
    return accepted, refused
