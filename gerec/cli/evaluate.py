"""``evaluate --labels LABELS.json [--images DIR] [--cnn-predictions CNN.csv] --out OUT.csv``."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import TextIO

from gerec.bn import MODES
from gerec.classes import CLASSES, true_class_of
from gerec.cli.common import find_images, progress
from gerec.emotion.aggregate import AGGREGATIONS
from gerec.errors import GerecError, InvalidDataset
from gerec.evaluation import format_score, read_cnn_predictions, score_module, to_indices
from gerec.scene.simple import read_label_file
from gerec.types import GroupPrediction, Probs

MODULES = ("bottom_up", "top_down", "fused")
COLUMNS = ["image", "actual", *MODULES] + [f"p_{m}_{c}" for m in MODULES for c in CLASSES] + [
    "faces", "labeler", "labels_used", "labels_ignored", "error"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` command."""
    p = sub.add_parser("evaluate", help="evaluate on a labelled set (photos or labels only)")
    p.add_argument("--labels", type=Path, help="JSON {image_name: [scene labels]}")
    p.add_argument("--images", type=Path, help="folder of photos: runs the full pipeline")
    p.add_argument("--cnn-predictions", type=Path, help="CSV image,faces_detected,cnn (label-only fusion)")
    p.add_argument("--mode", choices=MODES, default="tuned")
    p.add_argument("--aggregation", choices=AGGREGATIONS, default="mean")
    p.add_argument("--labeler", default=None, help="labeler chain after the cached labels")
    p.add_argument("--out", type=Path, required=True, help="CSV with one row per image")
    p.set_defaults(func=run)


def _row(image: str, actual: str | None, pred: GroupPrediction | None, error: str = "") -> dict[str, object]:
    row: dict[str, object] = {"image": image, "actual": actual or "", "error": error}
    if pred is None:
        return row
    values: dict[str, Probs | None] = {"bottom_up": pred.bottom_up, "top_down": pred.top_down, "fused": pred.fused}
    classes = {"bottom_up": pred.bottom_up_class, "top_down": pred.top_down_class, "fused": pred.fused_class}
    for module in MODULES:
        row[module] = classes[module] or ""
        probs = values[module]
        for i, cls in enumerate(CLASSES):
            row[f"p_{module}_{cls}"] = "" if probs is None else f"{probs[i]:.6f}"
    row.update(faces=len(pred.faces), labeler=pred.evidence.labeler,
               labels_used="|".join(pred.evidence.labels_used),
               labels_ignored="|".join(pred.evidence.labels_ignored))
    return row


def _summarise(rows: list[dict[str, object]], out: TextIO) -> None:
    actual = to_indices([str(r["actual"]) for r in rows])
    print(f"\n{len(rows)} images, {sum(1 for r in rows if r['error'])} failed", file=out)
    for module in MODULES:
        predicted = to_indices([str(r.get(module, "")) for r in rows])
        if (predicted >= 0).any():
            print(format_score(score_module(module, actual, predicted)), file=out)


def run(args: argparse.Namespace) -> int:
    """Evaluate and write OUT.csv row by row (a stopped run keeps every finished row)."""
    if args.labels is None and args.images is None:
        raise InvalidDataset("give --labels (label-only) or --images (photos), or both")
    labels = read_label_file(args.labels) if args.labels else {}
    cnn = read_cnn_predictions(args.cnn_predictions) if args.cnn_predictions else {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    with args.out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in (_photo_rows(args) if args.images else _label_rows(args, labels, cnn)):
            writer.writerow(row)
            handle.flush()
            rows.append(row)
    if not rows:
        raise InvalidDataset("nothing to evaluate: no images with a known true class")
    _summarise(rows, sys.stdout)
    print(f"\nwrote {args.out}")
    return 0


def _label_rows(args: argparse.Namespace, labels: dict[str, list[str]], cnn: dict[str, str | None]):
    from gerec.pipeline import Pipeline, PipelineConfig

    pipeline = Pipeline(PipelineConfig(mode=args.mode))
    images = [name for name in labels if true_class_of(name)]
    for name in progress(images, "evaluate (labels)"):
        pred = pipeline.from_labels(name, labels[name], cnn.get(name))
        yield _row(name, true_class_of(name), pred)


def _photo_rows(args: argparse.Namespace):
    from gerec.cli.setup import make_pipeline

    pipeline = make_pipeline(args.mode, args.aggregation, args.labels, args.labeler)
    photos = [p for p in find_images([args.images]) if true_class_of(str(p))]
    for path in progress(photos, "evaluate (photos)", min_items=2):
        actual = true_class_of(str(path))
        try:
            pred = pipeline.analyze(path)
        except GerecError as exc:
            yield _row(path.name, actual, None, f"{type(exc).__name__}: {exc}")
            continue
        yield _row(path.name, actual, pred)
