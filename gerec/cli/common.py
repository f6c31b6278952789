"""Helpers shared by commands (and tools): finding photos, formatting predictions, progress bars,
the options several of them take."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from gerec.config import LABELS_FILE_NAME, fer_train_file, models_dir
from gerec.errors import InvalidDataset
from gerec.fileio import printable
from gerec.imaging import IMAGE_SUFFIXES
from gerec.types import NO_FACE, GroupPrediction, format_probs

T = TypeVar("T")

VALIDATION_DATA_HELP = "FER-2013 train.npz; only its validation split is used"
"""What ``--data`` is for the commands and tools that score the face ensemble on the validation split."""


def add_registry_option(
    parser: argparse.ArgumentParser, what: str = "the face ensemble's registry", *, positional: bool = False
) -> None:
    """``--registry`` (or an optional positional ``registry``): an ensemble registry, by default the
    project's (``models/ensemble.json`` under ``$GEREC_MODELS``), its help ending with the default."""
    from gerec.emotion.registry import REGISTRY_FILE

    default, text = models_dir() / REGISTRY_FILE, f"{what} (default: %(default)s)"
    if positional:
        parser.add_argument("registry", nargs="?", type=Path, default=default, help=text)
    else:
        parser.add_argument("--registry", type=Path, default=default, help=text)


def add_face_data_option(parser: argparse.ArgumentParser, what: str = VALIDATION_DATA_HELP) -> None:
    """``--data``: a FER-format face set, by default FER-2013 ``train.npz`` under ``$GEREC_DATA``."""
    parser.add_argument("--data", type=Path, default=fer_train_file(), help=f"{what} (default: %(default)s)")


def find_images(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, and image files (by suffix) found recursively in folders, sorted.

    A path that does not exist, is not a regular file or folder, or a folder without photos is
    an :class:`InvalidDataset` (a usage error: nothing is analysed). Files in a folder whose names
    do not end like a photo are left out, and so are entries that are not regular files whatever
    their names (a FIFO, a socket, a device, a broken link: opening a FIFO would wait forever),
    with a note on stderr saying how many of each; the folder's own ``labels.json`` (classify
    reads it) is expected there and left out without a note.
    """
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found, left_out = _folder_photos(path)
            suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
            if not found:
                raise InvalidDataset(
                    f"{printable(str(path))}: no photos in this folder "
                    f"({suffixes}, searched recursively{''.join('; ' + what for what, _ in left_out)})"
                )
            for what, why in left_out:
                print(f"note: {printable(str(path))}: {what} left out, {why}", file=sys.stderr)
            out.extend(found)
        elif path.is_file():
            out.append(path)
        elif path.exists():
            raise InvalidDataset(f"{printable(str(path))}: not a regular file or folder")
        else:
            raise InvalidDataset(f"{printable(str(path))}: no such file or folder")
    return out


def _folder_photos(folder: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """The photos in a folder (recursively), and what was left out: ``(count and example, why)``."""
    entries = sorted(p for p in folder.rglob("*") if not p.is_dir())
    regular = [p for p in entries if p.is_file()]
    found = [p for p in regular if p.suffix.lower() in IMAGE_SUFFIXES]
    # the folder's own labels file (read by classify) is expected beside the photos: not "left out"
    unnamed = [p for p in regular if p.suffix.lower() not in IMAGE_SUFFIXES and p.name != LABELS_FILE_NAME]
    special = [p for p in entries if not p.is_file()]

    def example(group: list[Path], kind: str) -> str:
        return f"{len(group)} {kind}, e.g. {printable(str(group[0].relative_to(folder)))}"

    left_out = []
    if unnamed:
        left_out.append(
            (example(unnamed, "other file(s)"), f"not named as photos ({', '.join(sorted(IMAGE_SUFFIXES))})")
        )
    if special:
        left_out.append(
            (example(special, "special file(s)"), "not regular files (FIFO, socket, device or broken link)")
        )
    return found, left_out


def prediction_line(pred: GroupPrediction) -> str:
    """One human-readable line for a prediction."""
    bottom = f"{pred.bottom_up_class} ({format_probs(pred.bottom_up)})" if pred.bottom_up else NO_FACE
    notes = "".join(f"  note: {n}" for n in pred.evidence.notes)
    return (
        f"{printable(pred.image)}  faces={len(pred.faces)}  bottom_up={bottom}  "
        f"top_down={pred.top_down_class} ({format_probs(pred.top_down)})  "
        f"fused={pred.fused_class} ({format_probs(pred.fused)})  "
        f"labels={len(pred.evidence.labels_used)} used/{len(pred.evidence.labels_ignored)} ignored "
        f"by {pred.evidence.labeler}{notes}"
    )


def progress(items: list[T], description: str, min_items: int = 20) -> Iterator[T]:
    """Iterate with a tqdm progress bar on stderr when the run is long."""
    if len(items) < min_items:
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, desc=description, file=sys.stderr, unit="img", dynamic_ncols=True)
