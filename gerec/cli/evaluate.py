"""``evaluate --labels LABELS.json [--images DIR] [--cnn-predictions CNN.csv] --out OUT.csv``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, TextIO

from gerec.agreement import agreement, format_agreement, read_reference_predictions
from gerec.bn import DEFAULT_MODE, MODES
from gerec.classes import true_class_of
from gerec.cli.common import find_images, progress
from gerec.cli.evaluate_output import Evaluation, Results, stopped_run, write_all
from gerec.emotion.aggregate import AGGREGATIONS
from gerec.errors import InvalidDataset, OutputError
from gerec.evaluation import (
    format_calibration,
    format_score,
    read_cnn_predictions,
    row_probs,
    score_module,
    to_indices,
)
from gerec.fileio import printable
from gerec.provenance import in_sample_warning, run_provenance, sidecar_path
from gerec.runs.engines import PipelineSpec, image_key, local_records, ray_records
from gerec.runs.records import MODULES, prediction_record
from gerec.scene.simple import read_label_file
from gerec.stopping import stop_signals


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` command."""
    p = sub.add_parser("evaluate", help="evaluate on a labelled set (photos or labels only)")
    p.add_argument("--labels", type=Path, help="JSON {image_name: [scene labels]}")
    p.add_argument("--images", type=Path, help="folder of photos: runs the full pipeline")
    p.add_argument("--cnn-predictions", type=Path, help="CSV image,faces_detected,cnn (label-only fusion)")
    p.add_argument("--mode", choices=MODES, default=str(DEFAULT_MODE))
    p.add_argument(
        "--reference-predictions",
        type=Path,
        metavar="CSV",
        help="the reference's own decisions (image,bayesian,fused): print the agreement with them",
    )
    p.add_argument("--aggregation", choices=AGGREGATIONS, default="mean")
    p.add_argument("--labeler", default=None, help="labeler chain after the cached labels")
    p.add_argument("--out", type=Path, required=True, help="CSV with one row per image")
    p.add_argument(
        "--store",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="keep every finished image in the run store (default: the user data folder)",
    )
    p.add_argument("--resume", metavar="RUN_ID", help="continue a stored run, skipping finished images")
    p.add_argument("--engine", choices=("local", "ray"), default="local", help="where photos are analysed")
    p.add_argument("--workers", type=int, default=2, help="Ray actors (--engine ray)")
    p.add_argument("--ray-address", default=None, help="existing Ray cluster, e.g. ray://head:10001")
    p.set_defaults(func=run)


def _summarise(rows: list[dict[str, object]], out: TextIO) -> None:
    actual = to_indices([str(r["actual"]) for r in rows])
    print(f"\n{len(rows)} images, {sum(1 for r in rows if r['error'])} failed", file=out)
    for module in MODULES:
        predicted = to_indices([str(r.get(module, "")) for r in rows])
        if (predicted >= 0).any():
            print(format_score(score_module(module, actual, predicted)), file=out)
            print(format_calibration(row_probs(rows, module), actual), file=out)


def run(args: argparse.Namespace) -> int:
    """Evaluate; every finished image is written to OUT.csv (and the store) as it finishes.

    Every input is read and the pipeline built before OUT.csv is opened or a run is stored, so a
    usage error (exit 2: a missing or damaged labels file, an unknown labeler, a bad labeler
    config, a folder without labelled photos...) leaves an existing OUT.csv and the store as they were.
    How far the run got is said in the sidecar and the store (:mod:`gerec.cli.evaluate_output`).
    """
    if args.labels is None and args.images is None:
        raise InvalidDataset("give --labels (label-only) or --images (photos), or both")
    reference = read_reference_predictions(args.reference_predictions) if args.reference_predictions else None
    spec = PipelineSpec(args.mode, args.aggregation, str(args.labels) if args.labels else None, args.labeler)
    if args.images is not None and not args.images.is_dir():
        raise InvalidDataset(f"--images {args.images}: no such folder")
    if not args.out.parent.is_dir():  # checked before any photo is analysed
        raise OutputError(f"--out {args.out}: the folder {args.out.parent} does not exist (create it first)")
    expected, evaluation = _photo_evaluation(args, spec) if args.images else _label_evaluation(args)
    made = run_provenance(
        args.mode,
        labels=args.labels,
        cnn_predictions=args.cnn_predictions,
        images=args.images,
        labeler=None if not args.images else args.labeler or "default",
    )
    with stop_signals() as stops:  # installed before the run is stored: a signal never leaves it unmarked
        results = Results(stops)
        stopped = write_all(results, args, spec, made, expected, evaluation)
    if stopped is not None:
        return stopped_run(stopped, args.out, results, expected)
    store, run_id, rows = results.store, results.run_id, results.rows
    if not rows:
        raise InvalidDataset("nothing to evaluate: no images with a known true class")
    if warning := in_sample_warning(made):
        print(f"warning: {warning}", file=sys.stderr)
    _summarise(rows, sys.stdout)
    if reference is not None:
        print("\n" + format_agreement(agreement(rows, reference)))
    if warning:
        print(f"({warning})")
    print(
        f"\nwrote {args.out} and {sidecar_path(args.out).name} (what made it)"
        + (f"; run {run_id} stored in {store.path}" if store is not None else "")
    )
    failed = sum(1 for r in rows if r["error"])
    if failed:
        print(f"{failed} of {len(rows)} image(s) failed (see the error column of {args.out})", file=sys.stderr)
    return 1 if failed else 0


def _label_evaluation(args: argparse.Namespace) -> tuple[int, Evaluation]:
    """Label-only: reads the labels and CNN files now (a bad one stops the command here); the
    number of images and their records."""
    from gerec.pipeline import Pipeline, PipelineConfig
    from gerec.scene.chain import LabelerChain

    labels = read_label_file(args.labels)
    cnn = read_cnn_predictions(args.cnn_predictions) if args.cnn_predictions else {}
    # labels come from the file; no face member is used, so the face registry is not needed
    pipeline = Pipeline(PipelineConfig(mode=args.mode), labeler=LabelerChain([]), faces=False)
    known = [name for name in labels if true_class_of(name)]
    if not known:
        raise InvalidDataset(f"--labels {args.labels}: no image with a known true class (pos_/neu_/neg_ prefix)")

    def records(done: set[str]) -> Generator[dict[str, Any], None, None]:
        for name in progress([n for n in known if printable(n) not in done], "evaluate (labels)"):
            record = prediction_record(pipeline.from_labels(name, labels[name], cnn.get(name)), true_class_of(name))
            yield {**record, "faces": None, "image": printable(name)}  # label-only: the face count is not known

    return len(known), records


def _photo_evaluation(args: argparse.Namespace, spec: PipelineSpec) -> tuple[int, Evaluation]:
    """Photos: finds them and builds the pipeline now (bad labels or labeler settings stop here);
    the number of photos and their records."""
    found = [(str(p), image_key(p, args.images)) for p in find_images([args.images]) if true_class_of(str(p))]
    if not found:
        raise InvalidDataset(
            f"--images {args.images}: no photo with a known true class (pos_/neu_/neg_ prefix "
            "or a Positive/Neutral/Negative folder)"
        )
    # built here with either engine: labels, labeler settings, registry and scene network are checked
    # before anything is written (cheap: members load with the first face); Ray actors build their own
    built = spec.build()
    pipeline = built if args.engine == "local" else None

    def records(done: set[str]) -> Generator[dict[str, Any], None, None]:
        todo = [(path, key) for path, key in found if key not in done]
        photos, keys = [p for p, _ in todo], [k for _, k in todo]
        if pipeline is None:
            inner = ray_records(spec, photos, args.workers, args.ray_address, keys)
        else:
            inner = local_records(pipeline, photos, keys=keys)
        yield from progress_over(inner, len(photos))

    return len(found), records


def progress_over(records: Iterator[dict[str, Any]], total: int) -> Iterator[dict[str, Any]]:
    """Wrap an iterator of records in a progress bar on stderr when there are several."""
    if total < 2:
        yield from records
        return
    from tqdm import tqdm

    yield from tqdm(records, total=total, desc="evaluate (photos)", file=sys.stderr, unit="img")
