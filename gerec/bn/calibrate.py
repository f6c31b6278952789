"""Calibrated scene networks: temperatures fitted by log-loss on held-out folds.

Tuning (:mod:`gerec.bn.tuning`) chooses the network's structure and tables by accuracy. Its
probabilities are then made to mean what they say with two factors, fitted by NLL on
predictions for images the tables were not fitted on:

* ``t`` scales the top-down log-odds: P(Emotion | labels) = softmax(t (log prior + w_label LL)).
  In the network this is ``label_weight = t w_label`` and ``prior ∝ prior ** t``: reweighted
  CPDs, so pgmpy still gives the same posterior. Top-down decisions do not change.
* ``c`` is the CNN node's weight: fused = softmax(t (log prior + w_label LL) + c log P(CNN | c)),
  fitted with ``t`` fixed, on the images with a CNN prediction.

Inside nested cross-validation the factors of outer fold f are fitted on the inner folds'
held-out predictions (each inner fold g predicted by tables fitted on the folds other than f
and g), so fold f is never fitted or chosen on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gerec.bn import devfit
from gerec.bn.devdata import NO_CNN, DevData, cnn_loglik, label_loglik
from gerec.bn.grid import Config, mapping_rules
from gerec.bn.histogram import LabelHistogram
from gerec.bn.network import SceneNetwork
from gerec.bn.tuning import build_network
from gerec.calibration import fit_scale, softmax
from gerec.classes import CLASSES, MODULES, N_CLASSES
from gerec.formatting import percent_spread


@dataclass(frozen=True)
class Temperatures:
    """The fitted factors: ``topdown`` (t) on the top-down log-odds, ``cnn_weight`` (c)."""

    topdown: float = 1.0
    cnn_weight: float = 1.0


@dataclass(frozen=True, eq=False)
class LogitParts:
    """Per image: the network's top-down log-odds (untempered by calibration) and the CNN
    node's untempered log-likelihood (zeros without a CNN prediction)."""

    topdown: np.ndarray
    cnn: np.ndarray
    has_cnn: np.ndarray

    def probs(self, temps: Temperatures) -> tuple[np.ndarray, np.ndarray]:
        """(top-down, fused) probabilities under ``temps``."""
        td = temps.topdown * self.topdown
        return softmax(td), softmax(td + temps.cnn_weight * self.cnn)

    def rows(self, mask: np.ndarray) -> LogitParts:
        """The parts of the images ``mask``."""
        return LogitParts(self.topdown[mask], self.cnn[mask], self.has_cnn[mask])


def logit_parts(net: SceneNetwork, rules: Sequence[str], embed_min: float | None, data: DevData) -> LogitParts:
    """:class:`LogitParts` of the dev images under ``net`` (its vocabulary rules given)."""
    x = devfit.presence(net.labels, rules, data.labels, embed_min)
    ll = label_loglik(x, net.p_present, net.absent_mask)
    topdown = np.log(net.prior) + net.label_weight * ll
    return LogitParts(topdown, cnn_loglik(data.cnn, net.cnn_table), data.cnn != NO_CNN)


def fit_temperatures(parts: LogitParts, y: np.ndarray) -> Temperatures:
    """``t`` by top-down NLL on all images, then ``c`` by fused NLL on those with a CNN prediction."""
    t = fit_scale(np.zeros_like(parts.topdown), parts.topdown, y)
    has = parts.has_cnn
    c = fit_scale(t * parts.topdown[has], parts.cnn[has], y[has]) if has.any() else 1.0
    return Temperatures(round(t, 4), round(c, 4))


def apply_temperatures(net: SceneNetwork, temps: Temperatures) -> SceneNetwork:
    """The same network with ``temps`` folded into its CPDs (label weight, prior, CNN weight)."""
    prior = net.prior**temps.topdown
    return dataclasses.replace(
        net, prior=prior / prior.sum(), label_weight=net.label_weight * temps.topdown, cnn_weight=temps.cnn_weight
    )


def stack(parts: Sequence[LogitParts]) -> LogitParts:
    """Concatenate the parts of several image sets."""
    return LogitParts(
        np.concatenate([p.topdown for p in parts]),
        np.concatenate([p.cnn for p in parts]),
        np.concatenate([p.has_cnn for p in parts]),
    )


def config_parts(hist: LabelHistogram, data: DevData, config: Config, fit: np.ndarray) -> LogitParts:
    """:class:`LogitParts` of all dev images under ``config`` with tables fitted on ``fit``."""
    net = build_network(hist, config, data, fit=fit)
    return logit_parts(net, mapping_rules(config.rules, config.embed_min), config.embed_min, data)


def held_out_parts(
    hist: LabelHistogram, data: DevData, config: Config, folds: np.ndarray, exclude: int | None = None
) -> tuple[LogitParts, np.ndarray]:
    """Each fold's images predicted by ``config`` fitted on the other folds (never on fold
    ``exclude``, whose images are left out). Returns the parts and the true classes, in the
    order of the folds."""
    parts, ys = [], []
    for g in sorted(set(folds.tolist()) - {exclude}):
        fit = (folds != g) if exclude is None else (folds != g) & (folds != exclude)
        parts.append(config_parts(hist, data, config, fit).rows(folds == g))
        ys.append(data.y[folds == g])
    return stack(parts), np.concatenate(ys)


@dataclass(frozen=True, eq=False)
class HeldOut:
    """Held-out probabilities of every dev image per module (rows: images; NaN rows for the
    bottom-up module where there is no CNN prediction), and each image's outer fold."""

    probs: dict[str, np.ndarray]
    folds: np.ndarray
    temperatures: tuple[Temperatures, ...]


def nested_held_out(
    hist: LabelHistogram, data: DevData, chosen: Sequence[Config], folds: np.ndarray, calibrate: bool = True
) -> HeldOut:
    """Nested CV's held-out probabilities: outer fold f uses its chosen config, fitted on the
    other folds, with temperatures fitted on the inner folds' held-out predictions (or the
    config's own weights when ``calibrate`` is False). Fold f is never fitted or chosen on."""
    n = len(data.y)
    out = {module: np.full((n, N_CLASSES), np.nan) for module in MODULES}
    temps = []
    for f, config in enumerate(chosen):
        if calibrate:
            inner, y_inner = held_out_parts(hist, data, config, folds, exclude=f)
            temps.append(fit_temperatures(inner, y_inner))
        else:
            temps.append(Temperatures(1.0, config.cnn_weight))
        net = build_network(hist, config, data, fit=folds != f)
        parts = logit_parts(net, mapping_rules(config.rules, config.embed_min), config.embed_min, data)
        rows = folds == f
        td, fz = parts.rows(rows).probs(temps[-1])
        out["top_down"][rows], out["fused"][rows] = td, fz
        out["bottom_up"][rows & parts.has_cnn] = bottom_up_probs(net, data.cnn[rows & parts.has_cnn])
    return HeldOut(out, folds, tuple(temps))


def bottom_up_probs(net: SceneNetwork, cnn: np.ndarray) -> np.ndarray:
    """:meth:`SceneNetwork.bottom_up_posterior` of CNN class indices (rows)."""
    return np.array([net.bottom_up_posterior(CLASSES[j]) for j in cnn]).reshape(-1, N_CLASSES)


REPORT_NAMES = {
    "reference": "reference",
    "tuned_uncalibrated": "tuned, before calibration",
    "tuned": "**tuned, calibrated (in use)**",
}


def markdown_table(report: dict[str, Any]) -> str:
    """The calibration table of ``docs/calibration.md`` from a ``tune --report`` file: held-out
    nested-CV figures per network and module, mean ± std over outer folds."""
    lines = [
        "| network | module | accuracy | ECE | ECE, pooled folds | NLL | Brier | mean top probability |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, label in REPORT_NAMES.items():
        for module in MODULES:
            f = report["calibration"][name][module]
            lines.append(
                f"| {label} | {module} | {percent_spread(f['accuracy_mean'], f['accuracy_std'])} "
                f"| {f['ece_mean']:.3f} ± {f['ece_std']:.3f} | {f['pooled']['ece']:.3f} "
                f"| {f['nll_mean']:.3f} ± {f['nll_std']:.3f} | {f['brier_mean']:.3f} ± {f['brier_std']:.3f} "
                f"| {f['pooled']['mean_confidence']:.3f} |"
            )
    return "\n".join(lines)


__all__ = [
    "HeldOut",
    "LogitParts",
    "Temperatures",
    "apply_temperatures",
    "bottom_up_probs",
    "config_parts",
    "fit_temperatures",
    "held_out_parts",
    "logit_parts",
    "markdown_table",
    "nested_held_out",
    "stack",
]
