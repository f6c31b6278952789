"""Calibration: metrics of how much a probability is worth, and the temperatures that fix it.

Metrics are pure functions over an (n, 3) probability array in :data:`gerec.classes.CLASSES`
order and the true class indices (``-1``: unknown, left out):

* **ECE** (expected calibration error): the top probability's equal-width bins (15 by default);
  the mean over bins of |accuracy - mean confidence|, weighted by the bin's share of items.
* **NLL**: mean negative log-probability of the true class (natural log; clipped at 1e-15).
* **Brier**: mean over items of the squared distance between the probability vector and the
  one-hot truth, summed over the 3 classes (0 is perfect, 2 the worst).

:func:`fit_scale` finds the factor on a set of log-likelihood terms that minimises NLL: the
scene network's temperatures are fitted with it (see :mod:`gerec.bn.calibrate`).
:func:`fit_temperature` finds a face member's temperature: the one whose tempered probabilities
(:func:`tempered`), grouped into the 3 classes, have the lowest NLL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ECE_BINS = 15
PROB_FLOOR = 1e-15
SCALE_BOUNDS = (0.02, 20.0)


def _valid(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=float).reshape(-1, 3) if np.size(probs) else np.zeros((0, 3))
    y = np.asarray(y, dtype=int)
    keep = (y >= 0) & np.isfinite(probs).all(axis=1)
    return probs[keep], y[keep]


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-probability of the true class (NaN with no item)."""
    p, y = _valid(probs, y)
    if not len(y):
        return float("nan")
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], PROB_FLOOR, 1.0))))


def brier(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean squared distance to the one-hot truth, summed over classes (NaN with no item)."""
    p, y = _valid(probs, y)
    if not len(y):
        return float("nan")
    return float(np.mean(((p - np.eye(p.shape[1])[y]) ** 2).sum(axis=1)))


@dataclass(frozen=True)
class ReliabilityBin:
    """One confidence bin: its range, how many items fell in it, their mean top probability
    and how often the top class was right."""

    low: float
    high: float
    count: int
    confidence: float
    accuracy: float


def bin_index(top: np.ndarray | float, bins: int) -> np.ndarray:
    """The bin of each top probability among ``bins`` equal-width, right-closed bins of [0, 1]
    (0.8 is in the 0.7-0.8 bin, 0 in the first)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    return np.clip(np.digitize(top, edges[1:-1], right=True), 0, bins - 1)


def reliability(probs: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> tuple[ReliabilityBin, ...]:
    """The top probability's equal-width bins over [0, 1] (empty bins have count 0, NaN means)."""
    p, y = _valid(probs, y)
    top = p.max(axis=1) if len(y) else np.zeros(0)
    right = (p.argmax(axis=1) == y) if len(y) else np.zeros(0, dtype=bool)
    edges = np.round(np.linspace(0.0, 1.0, bins + 1), 10)
    which = bin_index(top, bins)
    out = []
    for b in range(bins):
        inside = which == b
        n = int(inside.sum())
        conf = float(top[inside].mean()) if n else float("nan")
        acc = float(right[inside].mean()) if n else float("nan")
        out.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), n, conf, acc))
    return tuple(out)


def ece(probs: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error over equal-width bins of the top probability (NaN with no item)."""
    table = reliability(probs, y, bins)
    total = sum(b.count for b in table)
    if not total:
        return float("nan")
    return float(sum(b.count / total * abs(b.accuracy - b.confidence) for b in table if b.count))


@dataclass(frozen=True)
class CalibrationScore:
    """Accuracy and calibration of one module's probabilities on ``n`` items."""

    n: int
    accuracy: float
    ece: float
    nll: float
    brier: float
    mean_confidence: float


def score_probs(probs: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> CalibrationScore:
    """All metrics at once (items with an unknown truth or a missing vector are left out)."""
    p, yy = _valid(probs, y)
    if not len(yy):
        nan = float("nan")
        return CalibrationScore(0, nan, nan, nan, nan, nan)
    return CalibrationScore(
        len(yy), float(np.mean(p.argmax(1) == yy)), ece(p, yy, bins), nll(p, yy), brier(p, yy), float(p.max(1).mean())
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    z = np.asarray(logits, dtype=float)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def fit_scale(
    fixed: np.ndarray, scaled: np.ndarray, y: np.ndarray, bounds: tuple[float, float] = SCALE_BOUNDS
) -> float:
    """The factor s minimising the NLL of ``softmax(fixed + s * scaled)`` (rows: items, 3 classes).

    A temperature is the case ``fixed = 0``. The search is over log s in ``bounds`` (bounded
    Brent), so the result is deterministic.
    """
    fixed = np.asarray(fixed, dtype=float)
    scaled = np.asarray(scaled, dtype=float)
    y = np.asarray(y, dtype=int)
    if not len(y):
        return 1.0
    rows = np.arange(len(y))

    def loss(log_s: float) -> float:
        z = fixed + np.exp(log_s) * scaled
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[rows, y]))

    lo, hi = np.log(bounds[0]), np.log(bounds[1])
    from scipy.optimize import minimize_scalar  # here: importing scipy.optimize costs about a second

    result = minimize_scalar(loss, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(result.x))


def tempered(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise ``p ** (1 / temperature)`` renormalised, i.e. ``softmax(log p / T)``; the order within a row is kept."""
    p = np.asarray(probs, dtype=np.float64)
    if temperature == 1.0:
        return p
    return softmax(np.log(np.clip(p, PROB_FLOOR, 1.0)) / temperature)


def fit_temperature(
    probs: np.ndarray,
    group: Callable[[np.ndarray], np.ndarray],
    y: np.ndarray,
    bounds: tuple[float, float] = (0.2, 5.0),
) -> float:
    """The temperature T in ``bounds`` minimising the NLL of ``group(tempered(probs, T))`` against the
    3-class truth ``y`` (``-1`` left out); bounded Brent on log T, so deterministic."""
    keep = np.asarray(y) >= 0
    p, y = np.asarray(probs, dtype=np.float64)[keep], np.asarray(y)[keep]
    if not len(y):
        return 1.0
    from scipy.optimize import minimize_scalar

    result = minimize_scalar(
        lambda log_t: nll(group(tempered(p, float(np.exp(log_t)))), y),
        bounds=(np.log(bounds[0]), np.log(bounds[1])),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(result.x))


DISPLAY_BINS = 10
"""Bins of the reliability tables shown to people (tenths: "when it says 80-90 %")."""


def fold_summary(probs: np.ndarray, y: np.ndarray, folds: np.ndarray) -> dict[str, object]:
    """Metrics per fold (mean and std over folds), pooled over all items, and the pooled
    reliability table in :data:`DISPLAY_BINS` bins: a JSON-ready record of held-out figures."""
    per_fold = [score_probs(probs[folds == f], y[folds == f]) for f in sorted(set(folds.tolist()))]
    pooled = score_probs(probs, y)
    out: dict[str, object] = {"n": pooled.n, "pooled": dataclasses.asdict(pooled)}
    for metric in ("accuracy", "ece", "nll", "brier", "mean_confidence"):
        values = [getattr(s, metric) for s in per_fold if s.n]
        out[f"{metric}_mean"] = float(np.mean(values)) if values else float("nan")
        out[f"{metric}_std"] = float(np.std(values)) if values else float("nan")
    out["reliability"] = [dataclasses.asdict(b) for b in reliability(probs, y, DISPLAY_BINS)]
    return out


def bins_from_json(rows: list[dict[str, float]]) -> tuple[ReliabilityBin, ...]:
    """Reliability bins back from :func:`fold_summary`'s ``reliability`` list."""
    return tuple(
        ReliabilityBin(float(r["low"]), float(r["high"]), int(r["count"]), float(r["confidence"]), float(r["accuracy"]))
        for r in rows
    )


def worth_sentence(
    module_name: str, probability: float, bins: tuple[ReliabilityBin, ...], where: str = "on held-out folds"
) -> str:
    """One plain sentence on what ``probability`` is worth, from a reliability table.

    >>> b = (ReliabilityBin(0.8, 0.9, 50, 0.85, 0.84),)
    >>> worth_sentence("the fused module", 0.83, b)
    'When the fused module says 80-90 %, it was right 84 % of the time on held-out folds (50 images).'
    """
    inside = [b for b in bins if b.low < probability <= b.high or (probability <= b.low == bins[0].low)]
    if not inside:
        return f"No track record for {module_name} at {probability:.0%}."
    b = inside[0]
    low, high = round(100 * b.low), round(100 * b.high)
    if not b.count:
        return f"{module_name[:1].upper()}{module_name[1:]} never said {low}-{high} % {where}: no track record."
    return (
        f"When {module_name} says {low}-{high} %, it was right {100 * b.accuracy:.0f} % of the time "
        f"{where} ({b.count} images)."
    )
