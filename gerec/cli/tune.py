"""``tune HISTOGRAM.csv --labels DEV.json --cnn-predictions DEV.csv -o models/scene_bn_tuned.json``.

Nested, stratified k-fold cross-validation of the scene network's hyperparameters on the dev
labels (see :mod:`gerec.bn.tuning`); prints held-out-fold accuracies for the reference and the
tuned network, then fits the tuned network on all dev data and writes it.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from gerec.bn import tuning
from gerec.bn.fit import file_sha256
from gerec.bn.histogram import read_histogram
from gerec.classes import CLASSES

CRITERION = "mean of top-down and fused accuracy on the training folds"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``tune`` command."""
    p = sub.add_parser("tune", help="tune the scene network by cross-validation on dev labels")
    p.add_argument("histogram", type=Path, help="CSV: label,positive,neutral,negative + a 'total' row")
    p.add_argument("--labels", type=Path, required=True, help="JSON {image: [label, ...]} (dev half)")
    p.add_argument("--cnn-predictions", type=Path, required=True,
                   help="CSV image,faces_detected,cnn (the CNN's hard prediction, empty = no face)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--out", type=Path, default=Path("models/scene_bn_tuned.json"))
    p.add_argument("--report", type=Path, default=None, help="also write the full CV report (JSON)")
    p.add_argument("--no-ablations", action="store_true", help="skip the per-hyperparameter ablations")
    p.set_defaults(func=run)


def _summary(result: tuning.CVResult, y: np.ndarray) -> dict[str, Any]:
    return {
        "topdown_per_fold": result.topdown,
        "fused_per_fold": result.fused,
        "topdown_mean": float(np.mean(result.topdown)),
        "topdown_std": float(np.std(result.topdown)),
        "fused_mean": float(np.mean(result.fused)),
        "fused_std": float(np.std(result.fused)),
        "topdown_recall": tuning.recall(y, result.predictions_topdown),
        "fused_recall": tuning.recall(y, result.predictions_fused),
        "chosen_per_fold": [asdict(c) for c in result.chosen],
    }


def _pct(values: list[float]) -> str:
    return f"{100 * np.mean(values):6.2f} ± {100 * np.std(values):4.2f} %"


def _print_result(name: str, s: dict[str, Any]) -> None:
    folds = "  ".join(f"{100 * a:5.2f}" for a in s["topdown_per_fold"])
    print(f"{name:<10} top-down {_pct(s['topdown_per_fold'])}   folds: {folds}")
    folds = "  ".join(f"{100 * a:5.2f}" for a in s["fused_per_fold"])
    print(f"{'':<10} fused    {_pct(s['fused_per_fold'])}   folds: {folds}")
    for kind in ("topdown", "fused"):
        rec = ", ".join(f"{c} {100 * r:5.2f}" for c, r in s[f"{kind}_recall"].items())
        print(f"{'':<10} recall ({kind}, pooled held-out folds): {rec}")


def _ablations(hist: Any, data: tuning.DevData, args: argparse.Namespace,
               grid: tuning.Grid) -> dict[str, Any]:
    restricts = {f"{name}={value}": {name: value}
                 for name, values in grid.axes().items() for value in values}
    results = tuning.nested_cv(hist, data, args.folds, args.seed, grid, restricts)
    out: dict[str, Any] = {}
    for key in restricts:
        r = results[key]
        out[key] = {"topdown_mean": float(np.mean(r.topdown)), "topdown_std": float(np.std(r.topdown)),
                    "fused_mean": float(np.mean(r.fused)), "fused_std": float(np.std(r.fused))}
    return out


def run(args: argparse.Namespace) -> int:
    """Cross-validate, print the figures, fit on all dev data and write the network."""
    from gerec.bn.pgmpy_model import build_pgmpy_network

    start = time.monotonic()
    hist = read_histogram(args.histogram)
    data = tuning.load_dev_data(args.labels, args.cnn_predictions)
    grid = tuning.Grid()
    reference = asdict(tuning.REFERENCE_CONFIG)
    results = tuning.nested_cv(hist, data, args.folds, args.seed, grid, {"reference": reference})
    summaries = {name: _summary(r, data.y) for name, r in results.items()}
    n_faces = int((data.cnn != tuning.NO_CNN).sum())
    print(f"{len(data.y)} dev images ({n_faces} with a CNN prediction); {args.folds}-fold stratified "
          f"nested CV, seed {args.seed}; {tuning.grid_size(grid)} configurations; "
          f"selection: {CRITERION}")
    print("held-out-fold accuracy, mean ± std over folds:")
    for name in ("reference", "tuned"):
        _print_result(name, summaries[name])
    for i, c in enumerate(results["tuned"].chosen):
        print(f"  fold {i} chose {asdict(c)}")

    ablations = {} if args.no_ablations else _ablations(hist, data, args, grid)
    if ablations:
        print("ablations (one hyperparameter fixed, the rest re-selected; held-out folds):")
        for key, a in ablations.items():
            print(f"  {key:<28} top-down {100 * a['topdown_mean']:6.2f} ± {100 * a['topdown_std']:4.2f}"
                  f"   fused {100 * a['fused_mean']:6.2f} ± {100 * a['fused_std']:4.2f}")

    final = tuning.select_on_all(hist, data, grid)
    print(f"final configuration (selected on all dev data): {asdict(final)}")
    tuned_cv = {k: v for k, v in summaries["tuned"].items() if k != "chosen_per_fold"}
    reference_cv = {k: v for k, v in summaries["reference"].items() if k != "chosen_per_fold"}
    metadata = {
        "mode": "tuned",
        "fitted_from": {"source": args.histogram.name, "sha256": file_sha256(args.histogram)},
        "tuned_on": {
            "labels": args.labels.name, "labels_sha256": file_sha256(args.labels),
            "cnn_predictions": args.cnn_predictions.name,
            "cnn_predictions_sha256": file_sha256(args.cnn_predictions),
            "images": len(data.y), "images_with_cnn": n_faces,
        },
        "hyperparameters": asdict(final),
        "rule": ("P(label|class) = count / images in class, count 0 -> 1e-4" if final.alpha is None
                 else f"P(label|class) = (count + {final.alpha}) / (images in class + {2 * final.alpha})"),
        "prior": {"uniform": "uniform", "histogram": "histogram class totals",
                  "dev": "dev class frequencies (+1)"}[final.prior],
        "absent_labels": final.absent,
        "cnn_table": ("row-normalised reference face-CNN confusion matrix" if final.cnn_table == "reference"
                      else "row-normalised confusion of the reference CNN on the dev images (+1)"),
        "cross_validation": {
            "folds": args.folds, "seed": args.seed, "stratified": True, "nested": True,
            "selection": CRITERION, "grid": {k: list(v) for k, v in grid.axes().items()},
            "tuned": tuned_cv, "reference": reference_cv,
        },
        "class_totals": hist.totals.tolist(),
    }
    net = tuning.build_network(hist, final, data, metadata)
    build_pgmpy_network(net)  # check_model() on the real structure before writing it
    args.out.parent.mkdir(parents=True, exist_ok=True)
    net.save(args.out)
    print(f"wrote {args.out}: {len(net.labels)} labels + CNN node, checked in pgmpy")
    if args.report is not None:
        report = {"classes": list(CLASSES), "cv": summaries, "ablations": ablations,
                  "final": asdict(final), "seconds": round(time.monotonic() - start, 1)}
        args.report.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.report}")
    print(f"done in {time.monotonic() - start:.0f} s")
    return 0
