"""``tune HISTOGRAM.csv --labels DEV.json --cnn-predictions DEV.csv -o models/scene_bn_tuned.json``.

Nested, stratified k-fold cross-validation of the scene network's hyperparameters on the dev
labels (see :mod:`gerec.bn.tuning`); prints held-out-fold accuracies for the reference and the
tuned network, then fits the tuned network on all dev data and writes it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from gerec.bn import calibrate as calibrate_mod
from gerec.bn import tuning
from gerec.bn.calibrate import Temperatures
from gerec.bn.histogram import LabelHistogram, read_histogram
from gerec.bn.network import SceneNetwork
from gerec.calibration import fold_summary
from gerec.classes import CLASSES, MODULES
from gerec.cli.tune_metadata import CRITERION, images_with_cnn, network_metadata
from gerec.fileio import replaced_together
from gerec.formatting import percent, percent_spread
from gerec.stopping import stop_signals


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``tune`` command."""
    p = sub.add_parser("tune", help="tune the scene network by cross-validation on dev labels")
    p.add_argument("histogram", type=Path, help="CSV: label,positive,neutral,negative + a 'total' row")
    p.add_argument("--labels", type=Path, required=True, help="JSON {image: [label, ...]} (dev half)")
    p.add_argument(
        "--cnn-predictions",
        type=Path,
        required=True,
        help="CSV image,faces_detected,cnn (the CNN's hard prediction, empty = no face)",
    )
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--out", type=Path, default=Path("models/scene_bn_tuned.json"))
    p.add_argument("--report", type=Path, default=None, help="also write the full CV report (JSON)")
    p.add_argument("--no-ablations", action="store_true", help="skip the per-hyperparameter ablations")
    p.add_argument(
        "--criterion",
        choices=tuning.CRITERIA,
        default="accuracy",
        help="how grid points are selected (nll computes about ten times longer)",
    )
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


def _mean_sd(values: list[float]) -> str:
    """Per-fold fractions as ``mean ± sd %``, padded to line up under each other."""
    return f"{percent_spread(np.mean(values), np.std(values)):>15}"


def _print_result(name: str, s: dict[str, Any]) -> None:
    for label, kind, title in ((name, "topdown", "top-down"), ("", "fused", "fused")):
        folds = "  ".join(f"{percent(a):>8}" for a in s[f"{kind}_per_fold"])
        print(f"{label:<10} {title:<8} {_mean_sd(s[f'{kind}_per_fold'])}   folds: {folds}")
    for kind in ("topdown", "fused"):
        rec = ", ".join(f"{c} {percent(r)}" for c, r in s[f"{kind}_recall"].items())
        print(f"{'':<10} recall ({kind}, pooled held-out folds): {rec}")


def _ablation_restricts(grid: tuning.Grid) -> dict[str, dict[str, Any]]:
    return {
        f"{name}={value}": {name: value} for name, values in grid.axes().items() if len(values) > 1 for value in values
    }


def _ablation_summary(results: dict[str, tuning.CVResult], keys: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        r = results[key]
        out[key] = {
            "topdown_mean": float(np.mean(r.topdown)),
            "topdown_std": float(np.std(r.topdown)),
            "fused_mean": float(np.mean(r.fused)),
            "fused_std": float(np.std(r.fused)),
            "topdown_per_fold": r.topdown,
            "fused_per_fold": r.fused,
        }
    return out


def _calibration_figures(
    hist: Any,
    data: tuning.DevData,
    results: dict[str, tuning.CVResult],
) -> dict[str, dict[str, Any]]:
    """Held-out figures per module of the nested CV: reference, tuned before and after calibration."""
    folds = results["tuned"].folds
    runs = {
        "reference": (results["reference"].chosen, False),
        "tuned_uncalibrated": (results["tuned"].chosen, False),
        "tuned": (results["tuned"].chosen, True),
    }
    out: dict[str, dict[str, Any]] = {}
    for name, (chosen, calibrate) in runs.items():
        held = calibrate_mod.nested_held_out(hist, data, chosen, folds, calibrate)
        out[name] = {module: fold_summary(probs, data.y, folds) for module, probs in held.probs.items()}
        if calibrate:
            out[name]["temperatures_per_fold"] = [asdict(t) for t in held.temperatures]
    return out


def _print_calibration(figures: dict[str, dict[str, Any]]) -> None:
    print("held-out calibration (nested CV), mean ± std over outer folds; ECE pooled over all folds:")
    for name, modules in figures.items():
        for module in MODULES:
            f = modules[module]
            pooled = f["pooled"]
            print(
                f"  {name:<19} {module:<9} acc {percent_spread(f['accuracy_mean'], f['accuracy_std']):>15}"
                f"  ECE {f['ece_mean']:.3f} ± {f['ece_std']:.3f} (pooled {pooled['ece']:.3f})"
                f"  NLL {f['nll_mean']:.3f} ± {f['nll_std']:.3f}  Brier {f['brier_mean']:.3f} ± {f['brier_std']:.3f}"
            )


def write_outputs(net: SceneNetwork, out: Path, report: dict[str, Any], report_path: Path | None) -> None:
    """The network at ``out`` and, with ``report_path``, the report there, replaced together
    (:func:`gerec.fileio.replaced_together`): a stop or a failed write replaces neither."""
    for path in (out, report_path):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_together() as files:
        net.save(files.temporary(out))
        if report_path is not None:
            files.temporary(report_path).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    """Cross-validate, print the figures, fit on all dev data, calibrate and write the network.

    The network and ``--report`` are written once, at the end, and replaced together: a stop
    signal (SIGTERM, Ctrl-C) leaves the previous pair (and no temporary file) and exits with
    128 + the signal.
    """
    with stop_signals():
        return _tune(args)


def _tune(args: argparse.Namespace) -> int:
    start = time.monotonic()
    hist = read_histogram(args.histogram)
    data = tuning.load_dev_data(args.labels, args.cnn_predictions)
    grid = tuning.Grid()
    scores = tuning.all_fold_scores(hist, data, args.folds, args.seed, grid, args.criterion == "nll")
    ablation_keys = [] if args.no_ablations else list(_ablation_restricts(grid))
    results = _nested_cv(args, hist, data, grid, scores)
    summaries = {name: _summary(results[name], data.y) for name in ("tuned", "reference")}
    _print_cv(args, data, grid, results, summaries)
    calibration = _calibration_figures(hist, data, results)
    _print_calibration(calibration)
    ablations = _ablation_summary(results, ablation_keys)
    _print_ablations(ablations)
    final = tuning.select_on_all(hist, data, grid, args.folds, args.seed, scores, args.criterion)
    print(f"final configuration (best {args.folds}-fold score on all dev data): {asdict(final)}")
    held, y_held = calibrate_mod.held_out_parts(hist, data, final, results["tuned"].folds)
    temps = calibrate_mod.fit_temperatures(held, y_held)
    print(f"final temperatures (fitted on its {args.folds}-fold held-out predictions): {asdict(temps)}")
    metadata = network_metadata(args, hist, data, grid, final, temps, calibration, summaries)
    net = _final_network(hist, data, final, temps, metadata)
    report = {
        "classes": list(CLASSES),
        "cv": summaries,
        "calibration": calibration,
        "ablations": ablations,
        "final": asdict(final),
        "temperatures": asdict(temps),
        "seconds": round(time.monotonic() - start, 1),
    }
    write_outputs(net, args.out, report, args.report)
    print(f"wrote {args.out}: {len(net.labels)} labels + CNN node, checked in pgmpy")
    if args.report is not None:
        print(f"wrote {args.report}")
    print(f"done in {time.monotonic() - start:.0f} s")
    return 0


def _nested_cv(
    args: argparse.Namespace, hist: LabelHistogram, data: tuning.DevData, grid: tuning.Grid, scores: tuning.FoldScores
) -> dict[str, tuning.CVResult]:
    """Nested CV of the whole grid (``tuned``), the reference configuration alone (``reference``) and,
    unless ``--no-ablations``, each ablation (one hyperparameter fixed)."""
    restricts: dict[str, dict[str, Any]] = {"reference": asdict(tuning.REFERENCE_CONFIG)}
    restricts.update({} if args.no_ablations else _ablation_restricts(grid))
    return tuning.nested_cv(
        hist,
        data,
        args.folds,
        args.seed,
        grid,
        restricts,
        scores=scores,
        predictions=("tuned", "reference"),
        criterion=args.criterion,
    )


def _print_cv(
    args: argparse.Namespace,
    data: tuning.DevData,
    grid: tuning.Grid,
    results: dict[str, tuning.CVResult],
    summaries: dict[str, dict[str, Any]],
) -> None:
    """The nested CV's design, the held-out accuracies of the reference and the tuned search, and
    the configuration each outer fold chose."""
    print(
        f"{len(data.y)} dev images ({images_with_cnn(data)} with a CNN prediction); {args.folds}-fold stratified "
        f"nested CV, seed {args.seed}; {tuning.grid_size(grid)} configurations; "
        f"selection: {CRITERION[args.criterion]}"
    )
    print("held-out-fold accuracy, mean ± std over folds:")
    for name in ("reference", "tuned"):
        _print_result(name, summaries[name])
    for i, c in enumerate(results["tuned"].chosen):
        print(f"  fold {i} chose {asdict(c)}")


def _print_ablations(ablations: dict[str, dict[str, Any]]) -> None:
    """Each ablation's held-out accuracies (nothing when none was run)."""
    if not ablations:
        return
    print("ablations (one hyperparameter fixed, the rest re-selected on inner folds; held-out folds):")
    for key, a in ablations.items():
        print(
            f"  {key:<28} top-down {percent_spread(a['topdown_mean'], a['topdown_std']):>15}"
            f"   fused {percent_spread(a['fused_mean'], a['fused_std']):>15}"
        )


def _final_network(
    hist: LabelHistogram, data: tuning.DevData, final: tuning.Config, temps: Temperatures, metadata: dict[str, Any]
) -> SceneNetwork:
    """The tuned network: ``final`` fitted on every dev image, its temperatures applied, soft bottom-up
    evidence, and checked in pgmpy (``check_model()`` on the real structure) before it is written."""
    from gerec.bn.pgmpy_model import build_pgmpy_network

    net = tuning.build_network(hist, final, data, metadata)
    net = dataclasses.replace(calibrate_mod.apply_temperatures(net, temps), soft_cnn=True)
    net.metadata["new_labels"] = list(net.labels[len(hist.labels) :])
    build_pgmpy_network(net)
    return net
