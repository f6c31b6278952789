"""``classify PATH... [--label CLASS] [--labels LABELS.json] [--json]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from gerec.bn import DEFAULT_MODE, MODES
from gerec.classes import CLASSES, MODULES
from gerec.cli.common import find_images, prediction_line
from gerec.config import folder_labels_file
from gerec.emotion.aggregate import AGGREGATIONS
from gerec.errors import GerecError, InvalidDataset
from gerec.evaluation import format_score, score_module, to_indices
from gerec.fileio import printable
from gerec.scene.simple import read_label_file

if TYPE_CHECKING:
    from tqdm import tqdm

    from gerec.pipeline import Pipeline
    from gerec.types import GroupPrediction


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``classify`` command."""
    p = sub.add_parser("classify", help="predict the group emotion of photos")
    p.add_argument("paths", nargs="+", help="photo files or folders")
    p.add_argument("--label", choices=CLASSES, help="true class of every photo: prints accuracy at the end")
    p.add_argument(
        "--labels",
        type=Path,
        help="JSON {image_name: [scene labels]} used before other labelers "
        "(default: labels.json in the photos' folder, as the dashboard does)",
    )
    p.add_argument("--labeler", default=None, help="labeler chain, e.g. 'cached,gcv,offline' (default: config)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--mode", choices=MODES, default=str(DEFAULT_MODE))
    p.add_argument("--aggregation", choices=AGGREGATIONS, default="mean")
    p.set_defaults(func=run)


PROGRESS_MIN = 5
"""From this many photos, a progress bar on stderr."""


def default_labels(paths: list[Path]) -> Path | None:
    """``labels.json`` of the photos' folder when they share one and it can be read: the
    dashboard's default for its samples. Found on its own, not named by the user, so a damaged
    one is left out with a note on stderr (a ``--labels`` file that cannot be read is an error)."""
    folders = {p.resolve().parent for p in paths}
    found = folder_labels_file(folders.pop()) if len(folders) == 1 else None
    if found is None:
        return None
    try:
        read_label_file(found)
    except InvalidDataset as exc:
        print(f"scene labels: {exc}; not used (--labels or --labeler to choose others)", file=sys.stderr)
        return None
    print(
        f"scene labels: cached labels from {found} first (as the dashboard; --labels or --labeler to choose others)",
        file=sys.stderr,
    )
    return found


def run(args: argparse.Namespace) -> int:
    """Classify every photo; a photo that fails prints its error and the rest go on.

    Exit code 0 when every photo was analysed, 1 when some failed (their count on stderr), 2 for
    a usage error, before any photo is analysed (missing path, folder without photos, unreadable
    model file, a ``--labels`` file that is missing or damaged, an unknown ``--labeler`` or a bad
    labeler config).
    """
    from tqdm import tqdm

    from gerec.factory import make_pipeline

    paths = find_images(args.paths)  # missing paths and empty folders stop here (exit 2)
    labels = args.labels if args.labels is not None or args.labeler else default_labels(paths)
    pipeline = make_pipeline(args.mode, args.aggregation, labels, args.labeler)  # bad labels or settings: exit 2
    preds, failed = [], 0
    bar = tqdm(
        total=len(paths),
        desc="classify",
        unit="photo",
        file=sys.stderr,
        disable=len(paths) < PROGRESS_MIN,
        dynamic_ncols=True,
    )
    for path in paths:
        pred = _classify_one(pipeline, path, args.json, bar)
        if pred is None:
            failed += 1
        else:
            preds.append(pred)
    bar.close()
    if args.label and preds:
        _print_accuracy(preds, args.label, sys.stderr if args.json else sys.stdout)
    if failed:
        print(f"{failed} of {len(paths)} photo(s) failed", file=sys.stderr)
    return 1 if failed else 0


def _classify_one(pipeline: Pipeline, path: Path, as_json: bool, bar: tqdm) -> GroupPrediction | None:
    """One photo's prediction line (or its error line), written above the progress bar; ``None`` when it failed."""
    name = printable(path.name)
    try:
        pred = pipeline.analyze(path, name=name)
    except GerecError as exc:
        message = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - one photo never stops the others
        message = f"unexpected {type(exc).__name__}: {exc}"
    else:
        bar.write(json.dumps(pred.to_dict()) if as_json else prediction_line(pred), file=sys.stdout)
        bar.update()
        return pred
    bar.write(
        json.dumps({"image": name, "error": message}) if as_json else f"{name}  error: {message}", file=sys.stdout
    )
    bar.update()
    return None


def _print_accuracy(preds: list[GroupPrediction], label: str, out: TextIO) -> None:
    """Each module's accuracy when every photo's true class is ``label`` (``--label``)."""
    actual = np.full(len(preds), CLASSES.index(label))
    print(f"\naccuracy against --label {label} on {len(preds)} photos:", file=out)
    for module in MODULES:  # bottom_up, top_down, fused: each prediction's <module>_class
        classes = [getattr(p, f"{module}_class") for p in preds]
        print(format_score(score_module(module, actual, to_indices(classes))).splitlines()[0], file=out)
