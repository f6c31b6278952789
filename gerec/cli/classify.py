"""``classify PATH... [--label CLASS] [--labels LABELS.json] [--json]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from gerec.bn import DEFAULT_MODE, MODES
from gerec.classes import CLASSES
from gerec.cli.common import find_images, prediction_line
from gerec.emotion.aggregate import AGGREGATIONS
from gerec.errors import GerecError
from gerec.evaluation import format_score, score_module, to_indices


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``classify`` command."""
    p = sub.add_parser("classify", help="predict the group emotion of photos")
    p.add_argument("paths", nargs="+", help="photo files or folders")
    p.add_argument("--label", choices=CLASSES, help="true class of every photo: prints accuracy at the end")
    p.add_argument("--labels", type=Path, help="JSON {image_name: [scene labels]} used before other labelers")
    p.add_argument("--labeler", default=None, help="labeler chain, e.g. 'cached,gcv,offline' (default: config)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--mode", choices=MODES, default=str(DEFAULT_MODE))
    p.add_argument("--aggregation", choices=AGGREGATIONS, default="mean")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Classify every photo; a photo that fails prints its error and the rest go on."""
    from gerec.factory import make_pipeline

    pipeline = make_pipeline(args.mode, args.aggregation, args.labels, args.labeler)
    names, preds, failed = [], [], 0
    for path in find_images(args.paths):
        try:
            pred = pipeline.analyze(path)
        except GerecError as exc:
            failed += 1
            message = f"{type(exc).__name__}: {exc}"
            if args.json:
                print(json.dumps({"image": path.name, "error": message}), flush=True)
            else:
                print(f"{path.name}  error: {message}", flush=True)
            continue
        names.append(path.name)
        preds.append(pred)
        print(json.dumps(pred.to_dict()) if args.json else prediction_line(pred), flush=True)
    if args.label and preds:
        actual = np.full(len(preds), CLASSES.index(args.label))
        modules: dict[str, list[str | None]] = {
            "bottom_up": [p.bottom_up_class for p in preds],
            "top_down": [p.top_down_class for p in preds],
            "fused": [p.fused_class for p in preds],
        }
        out = sys.stderr if args.json else sys.stdout
        print(f"\naccuracy against --label {args.label} on {len(preds)} photos:", file=out)
        for module, classes in modules.items():
            print(format_score(score_module(module, actual, to_indices(classes))).splitlines()[0], file=out)
    if failed:
        print(f"{failed} photo(s) failed", file=sys.stderr)
    return 1 if failed and not preds else 0
