"""What a network ``tune`` fits says about itself: where it was fitted and tuned, its
hyperparameters and rule in words, its calibration and the nested CV's held-out figures."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from gerec.bn import tuning
from gerec.bn.calibrate import Temperatures
from gerec.bn.histogram import LabelHistogram
from gerec.versions import file_sha256

CRITERION = {
    "accuracy": (
        "mean of top-down and fused accuracy on the inner folds (each scored with tables, prior and CNN "
        "table fitted on the other inner folds)"
    ),
    "nll": "mean of top-down and fused NLL on the inner folds (scored as for accuracy)",
}
CALIBRATION = (
    "temperatures by NLL after selection: t on the top-down log-odds (label_weight x t, prior ** t), "
    "then the CNN weight c on the fused log-odds with t fixed; in nested CV fitted on the inner folds' "
    "held-out predictions, for the final network on its plain k-fold held-out predictions"
)


def images_with_cnn(data: tuning.DevData) -> int:
    """How many dev images have a CNN prediction (at least one face)."""
    return int((data.cnn != tuning.NO_CNN).sum())


def network_metadata(
    args: argparse.Namespace,
    hist: LabelHistogram,
    data: tuning.DevData,
    grid: tuning.Grid,
    final: tuning.Config,
    temps: Temperatures,
    calibration: dict[str, dict[str, Any]],
    summaries: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The tuned network's metadata: ``tune``'s arguments ``args``, the final configuration and
    temperatures, the held-out ``calibration`` figures and the nested CV's ``summaries``."""
    n_faces = images_with_cnn(data)
    tuned_cv = {k: v for k, v in summaries["tuned"].items() if k != "chosen_per_fold"}
    reference_cv = {k: v for k, v in summaries["reference"].items() if k != "chosen_per_fold"}
    return {
        "mode": "tuned",
        "fitted_from": {"source": args.histogram.name, "sha256": file_sha256(args.histogram)},
        "tuned_on": {
            "labels": args.labels.name,
            "labels_sha256": file_sha256(args.labels),
            "cnn_predictions": args.cnn_predictions.name,
            "cnn_predictions_sha256": file_sha256(args.cnn_predictions),
            "images": len(data.y),
            "images_with_cnn": n_faces,
        },
        "hyperparameters": asdict(final),
        "rule": rule_text(final),
        "prior": {"uniform": "uniform", "histogram": "histogram class totals", "dev": "dev class frequencies (+1)"}[
            final.prior
        ]
        + f", raised to the power t = {temps.topdown}",
        "absent_labels": final.absent,
        "cnn_table": (
            "row-normalised reference face-CNN confusion matrix"
            if final.cnn_table == "reference"
            else "row-normalised confusion of the reference CNN on the dev images (+1)"
        ),
        "calibration": {
            "method": CALIBRATION,
            "temperatures": asdict(temps),
            "selected_label_weight": final.label_weight,
            "selected_cnn_weight": final.cnn_weight,
            "soft_cnn": "photos enter the faces' tempered mean as virtual evidence on the CNN node",
            "cv": calibration["tuned"],
            "cv_reference": calibration["reference"],
            "cv_uncalibrated": calibration["tuned_uncalibrated"],
        },
        "cross_validation": {
            "folds": args.folds,
            "seed": args.seed,
            "stratified": True,
            "nested": True,
            "selection": CRITERION[args.criterion],
            "grid": {k: list(v) for k, v in grid.axes().items()},
            "tuned": tuned_cv,
            "reference": reference_cv,
        },
        "class_totals": hist.totals.tolist(),
    }


def rule_text(final: tuning.Config) -> str:
    """The rule for P(label|class) of configuration ``final``, in words."""
    count, total = "count", "total"
    if final.shrink > 0:
        count, total = f"(count + {final.shrink} x pooled rate)", f"(total + {final.shrink})"
    if final.alpha is None:
        p = f"{count} / {total}, 0 -> 1e-4"
    else:
        p = f"({count} + {final.alpha}) / ({total} + {2 * final.alpha})"
    pooled = " (pooled rate: the label's count over all classes / total over all classes)" if final.shrink else ""
    if final.dev_weight <= 0:
        return f"P(label|class) = {p}{pooled}; count and total from the histogram"
    grown = (
        "no new labels"
        if final.new_min is None
        else f"dev labels the string rules map to no histogram label and seen in >= {final.new_min} dev "
        "images become new labels, counted on the dev images alone"
    )
    return (
        f"P(label|class) = {p}{pooled}; count = histogram count + {final.dev_weight} x dev images of the "
        f"class with the label, total = histogram class total + {final.dev_weight} x dev images of the "
        "class; " + grown
    )
