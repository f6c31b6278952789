"""Tune the scene network's few hyperparameters by nested, stratified k-fold cross-validation.

The histogram alone supplies P(label | class). On the dev labels (and the reference CNN's hard
predictions) only hyperparameters are fitted: vocabulary-mapping rules, additive smoothing,
which absent labels count, the class prior, the CNN table, and the label/CNN tempering
weights. For every outer fold, a grid search picks the configuration with the best accuracy on
the *other* folds (the prior and CNN table, when fitted, are fitted on those folds too) and its
accuracy on the held-out fold is what gets reported. Everything is a closed-form, vectorised
copy of :meth:`SceneNetwork.posterior`; :func:`build_network` makes the real network.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gerec.bn.fit import REFERENCE_CNN_CONFUSION, reference_p_present, row_normalise, smoothed_p_present
from gerec.bn.histogram import LabelHistogram
from gerec.bn.network import SceneNetwork
from gerec.bn.vocabulary import RULES, VocabularyMapper, config_of
from gerec.classes import CLASSES, N_CLASSES, class_index, true_class_of
from gerec.errors import InvalidDataset

NO_CNN = -1
PRIORS = ("uniform", "histogram", "dev")
CNN_TABLES = ("reference", "dev")
RULE_SETS: dict[str, tuple[str, ...]] = {
    "none": ("exact",),
    "punctuation": RULES[:2],
    "stem": RULES[:3],
    "expand": RULES[:4],
    "head": RULES[:5],
    "words": RULES[:6],
    "synonyms": RULES[:4] + ("synonyms",),
    "all": RULES,
}


@dataclass(frozen=True, eq=False)
class DevData:
    """Dev images: raw labels, true class index, CNN prediction index (``NO_CNN`` if none)."""

    images: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]
    y: np.ndarray
    cnn: np.ndarray


@dataclass(frozen=True)
class Grid:
    """The hyperparameter values searched. ``alpha`` None is the reference 1e-4 floor."""

    rules: tuple[str, ...] = tuple(RULE_SETS)
    alpha: tuple[float | None, ...] = (None, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
    absent: tuple[str, ...] = ("all", "none", "top25", "top50", "top100", "top200", "top400")
    prior: tuple[str, ...] = PRIORS
    cnn_table: tuple[str, ...] = CNN_TABLES
    label_weight: tuple[float, ...] = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1.0)
    cnn_weight: tuple[float, ...] = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)

    def axes(self) -> dict[str, tuple[Any, ...]]:
        """Axis name -> values, in the order of the score arrays' axes."""
        return {k: tuple(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Config:
    """One point of the grid (see :class:`Grid`)."""

    rules: str = "none"
    alpha: float | None = None
    absent: str = "all"
    prior: str = "uniform"
    cnn_table: str = "reference"
    label_weight: float = 1.0
    cnn_weight: float = 1.0


REFERENCE_CONFIG = Config()


@dataclass
class CVResult:
    """Nested-CV outcome: per outer fold, the chosen config and held-out accuracies."""

    folds: np.ndarray
    chosen: list[Config]
    topdown: list[float]
    fused: list[float]
    predictions_topdown: np.ndarray
    predictions_fused: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------- data
def load_dev_data(labels_json: str | Path, cnn_csv: str | Path | None = None) -> DevData:
    """Read dev labels (``{image: [label, ...]}``) and, optionally, the CNN predictions CSV."""
    try:
        raw = json.loads(Path(labels_json).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidDataset(f"cannot read labels {labels_json}: {exc}") from exc
    images = tuple(sorted(raw))
    y = []
    for image in images:
        cls = true_class_of(image)
        if cls is None:
            raise InvalidDataset(f"{labels_json}: no true class for {image!r} (expected pos_/neu_/neg_)")
        y.append(class_index(cls))
    cnn = np.full(len(images), NO_CNN, dtype=int)
    if cnn_csv is not None:
        try:
            with Path(cnn_csv).open(newline="", encoding="utf-8") as handle:
                pred = {r["image"]: (r.get("cnn") or "").strip() for r in csv.DictReader(handle)}
        except (OSError, KeyError, csv.Error) as exc:
            raise InvalidDataset(f"cannot read CNN predictions {cnn_csv}: {exc}") from exc
        cnn = np.array([class_index(pred[i]) if pred.get(i) else NO_CNN for i in images], dtype=int)
    labels = tuple(tuple(str(x) for x in raw[i]) for i in images)
    return DevData(images, labels, np.asarray(y, dtype=int), cnn)


def stratified_folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold index (0..k-1) per item; each class is shuffled (fixed seed) and dealt round-robin."""
    rng = np.random.default_rng(seed)
    folds = np.empty(len(y), dtype=int)
    for c in range(N_CLASSES):
        members = np.flatnonzero(y == c)
        folds[rng.permutation(members)] = np.arange(members.size) % k
    return folds


def presence_matrix(data: DevData, vocabulary: Sequence[str], rules: Sequence[str]) -> np.ndarray:
    """(images x labels) 0/1 matrix of the known labels each image's raw labels map to.

    Cached on ``data`` per (vocabulary, rules).
    """
    cache: dict[tuple[Any, ...], np.ndarray] = data.__dict__.setdefault("_presence", {})
    key = (tuple(vocabulary), tuple(rules))
    if key in cache:
        return cache[key]
    mapper = VocabularyMapper(tuple(vocabulary), tuple(rules))
    index = {label: i for i, label in enumerate(vocabulary)}
    x = np.zeros((len(data.images), len(vocabulary)))
    for row, raw in enumerate(data.labels):
        for label in mapper.map(raw).used:
            x[row, index[label]] = 1.0
    cache[key] = x
    return x


# ---------------------------------------------------------------------------------- parts
def p_present_for(hist: LabelHistogram, alpha: float | None) -> np.ndarray:
    """The reference rule (``alpha`` None) or additive smoothing."""
    return reference_p_present(hist) if alpha is None else smoothed_p_present(hist, alpha)


def mutual_information(hist: LabelHistogram, alpha: float = 1.0) -> np.ndarray:
    """I(label present; class) per label in nats, from the histogram (class prior = totals)."""
    p = smoothed_p_present(hist, alpha)
    prior = hist.totals / hist.totals.sum()
    mi = np.zeros(len(hist.labels))
    for q in (p, 1.0 - p):
        marginal = q @ prior
        mi += (prior[None, :] * q * np.log(q / marginal[:, None])).sum(1)
    return mi


def absent_mask_for(hist: LabelHistogram, absent: str) -> np.ndarray:
    """``all``, ``none`` or ``topK``: the K labels of highest mutual information with the class."""
    n = len(hist.labels)
    if absent == "all":
        return np.ones(n, dtype=bool)
    if absent == "none":
        return np.zeros(n, dtype=bool)
    if absent.startswith("top") and absent[3:].isdigit():
        mask = np.zeros(n, dtype=bool)
        mask[np.argsort(-mutual_information(hist), kind="stable")[: int(absent[3:])]] = True
        return mask
    raise ValueError(f"unknown absent mode {absent!r}")


def prior_for(hist: LabelHistogram, kind: str, y: np.ndarray) -> np.ndarray:
    """Class prior: uniform, the histogram's class totals, or class frequencies of ``y`` (+1)."""
    if kind == "uniform":
        return np.full(N_CLASSES, 1.0 / N_CLASSES)
    counts = hist.totals if kind == "histogram" else np.bincount(y, minlength=N_CLASSES) + 1.0
    if kind not in PRIORS:
        raise ValueError(f"unknown prior {kind!r}")
    return np.asarray(counts, dtype=float) / float(np.sum(counts))


def cnn_table_for(kind: str, y: np.ndarray, cnn: np.ndarray) -> np.ndarray:
    """The reference confusion, or the confusion of ``cnn`` on ``y`` (+1 per cell), row-normalised."""
    if kind == "reference":
        return row_normalise(REFERENCE_CNN_CONFUSION)
    if kind != "dev":
        raise ValueError(f"unknown CNN table {kind!r}")
    confusion = np.ones((N_CLASSES, N_CLASSES))
    has = cnn != NO_CNN
    np.add.at(confusion, (y[has], cnn[has]), 1.0)
    return row_normalise(confusion)


def label_loglik(x: np.ndarray, p: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Untempered label log-likelihood per image and class (as in :class:`SceneNetwork`)."""
    log_p, log_q = np.log(p), np.log1p(-p)
    counted = log_q * mask[:, None]
    return counted.sum(0)[None, :] + x @ (log_p - counted)


def cnn_loglik(cnn: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Untempered CNN log-likelihood per image and class (zeros without a face)."""
    out = np.zeros((len(cnn), N_CLASSES))
    has = cnn != NO_CNN
    out[has] = np.log(table[:, cnn[has]].T)
    return out


# ---------------------------------------------------------------------------------- search
def fold_scores(
    hist: LabelHistogram, data: DevData, folds: np.ndarray, grid: Grid, fit_mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Correct predictions per fold for every grid point, fitting prior/table on ``fit_mask``.

    Returns (top-down, fused) arrays of shape (*grid axes, n_folds).
    """
    k = int(folds.max()) + 1
    onehot = np.eye(k)[folds]  # (n, k)
    lw = np.asarray(grid.label_weight)[:, None, None]
    cw = np.asarray(grid.cnn_weight)[:, None, None, None]
    shape = [len(v) for v in grid.axes().values()]
    top = np.zeros(shape + [k])
    fused = np.zeros(shape + [k])
    priors = [np.log(prior_for(hist, p, data.y[fit_mask])) for p in grid.prior]
    cnn_parts = [cnn_loglik(data.cnn, cnn_table_for(t, data.y[fit_mask], data.cnn[fit_mask]))
                 for t in grid.cnn_table]
    masks = [absent_mask_for(hist, a) for a in grid.absent]
    for ir, rules in enumerate(grid.rules):
        x = presence_matrix(data, hist.labels, RULE_SETS[rules])
        for ia, alpha in enumerate(grid.alpha):
            p = p_present_for(hist, alpha)
            for im, mask in enumerate(masks):
                labels = lw * label_loglik(x, p, mask)[None]  # (n_lw, n, 3)
                for ip, log_prior in enumerate(priors):
                    td = labels + log_prior
                    correct = (td.argmax(-1) == data.y).astype(float)
                    top[ir, ia, im, ip] = (correct @ onehot)[None, :, None, :]
                    for it, part in enumerate(cnn_parts):
                        fz = td[None] + cw * part[None, None]
                        correct = (fz.argmax(-1) == data.y).astype(float)
                        fused[ir, ia, im, ip, it] = np.moveaxis(correct @ onehot, 0, 1)
    return top, fused


def _index_to_config(grid: Grid, index: Sequence[int]) -> Config:
    axes = grid.axes()
    return Config(**{name: values[i] for (name, values), i in zip(axes.items(), index, strict=True)})


def config_index(grid: Grid, config: Config) -> tuple[int, ...]:
    """The grid position of ``config`` (ValueError when a value is not on the grid)."""
    return tuple(values.index(getattr(config, name)) for name, values in grid.axes().items())


def select(top: np.ndarray, fused: np.ndarray, n: int, restrict: dict[str, Any] | None,
           grid: Grid) -> tuple[int, ...]:
    """The grid position maximising (top-down + fused) / 2 accuracy over ``n`` items.

    ``restrict`` fixes some axes to one value (ablations). Ties go to the first position in
    grid order, so the choice is deterministic.
    """
    score = (top + fused) / (2.0 * n)
    allowed = np.ones(score.shape, dtype=bool)
    for axis, (name, values) in enumerate(grid.axes().items()):
        if restrict and name in restrict:
            sel = np.zeros(len(values), dtype=bool)
            sel[values.index(restrict[name])] = True
            allowed &= sel.reshape([-1 if a == axis else 1 for a in range(score.ndim)])
    score = np.where(allowed, score, -np.inf)
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(score)), score.shape))


def predict(hist: LabelHistogram, data: DevData, config: Config, fit_mask: np.ndarray,
            ) -> tuple[np.ndarray, np.ndarray]:
    """(top-down, fused) predicted class indices for all images under ``config``."""
    x = presence_matrix(data, hist.labels, RULE_SETS[config.rules])
    ll = label_loglik(x, p_present_for(hist, config.alpha), absent_mask_for(hist, config.absent))
    td = np.log(prior_for(hist, config.prior, data.y[fit_mask])) + config.label_weight * ll
    table = cnn_table_for(config.cnn_table, data.y[fit_mask], data.cnn[fit_mask])
    fz = td + config.cnn_weight * cnn_loglik(data.cnn, table)
    return td.argmax(1), fz.argmax(1)


def nested_cv(hist: LabelHistogram, data: DevData, k: int = 5, seed: int = 0, grid: Grid | None = None,
              restricts: dict[str, dict[str, Any]] | None = None) -> dict[str, CVResult]:
    """Nested CV: per outer fold, select on the other folds, score on the held-out fold.

    Returns a result for the full search (key ``"tuned"``) and for each named restriction in
    ``restricts`` (the same search with some axes fixed; ``{"reference": reference values}``
    gives the untuned reference, scored on the same folds).
    """
    grid = grid or Grid()
    folds = stratified_folds(data.y, k, seed)
    settings = {"tuned": {}, **(restricts or {})}
    results = {name: CVResult(folds, [], [], [], np.zeros_like(data.y), np.zeros_like(data.y))
               for name in settings}
    for fold in range(k):
        train = folds != fold
        top, fused = fold_scores(hist, data, folds, grid, train)
        top_train = top.sum(-1) - top[..., fold]
        fused_train = fused.sum(-1) - fused[..., fold]
        n_test = int((~train).sum())
        for name, restrict in settings.items():
            index = select(top_train, fused_train, int(train.sum()), restrict, grid)
            res = results[name]
            res.chosen.append(_index_to_config(grid, index))
            res.topdown.append(float(top[index][fold] / n_test))
            res.fused.append(float(fused[index][fold] / n_test))
            td, fz = predict(hist, data, res.chosen[-1], train)
            res.predictions_topdown[~train] = td[~train]
            res.predictions_fused[~train] = fz[~train]
    return results


def select_on_all(hist: LabelHistogram, data: DevData, grid: Grid | None = None) -> Config:
    """The configuration chosen with every dev image (for the final fit)."""
    grid = grid or Grid()
    everything = np.ones(len(data.y), dtype=bool)
    folds = np.zeros(len(data.y), dtype=int)
    top, fused = fold_scores(hist, data, folds, grid, everything)
    return _index_to_config(grid, select(top[..., 0], fused[..., 0], len(data.y), None, grid))


def recall(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Per-class recall, by class name."""
    return {c: float((pred[y == i] == i).mean()) for i, c in enumerate(CLASSES)}


def build_network(hist: LabelHistogram, config: Config, data: DevData | None = None,
                  metadata: dict[str, Any] | None = None) -> SceneNetwork:
    """The :class:`SceneNetwork` of ``config``; dev-fitted prior/table come from ``data``."""
    needs_data = config.prior == "dev" or config.cnn_table == "dev"
    if needs_data and data is None:
        raise ValueError("a dev-fitted prior or CNN table needs the dev data")
    y = data.y if data is not None else np.zeros(0, dtype=int)
    cnn = data.cnn if data is not None else np.zeros(0, dtype=int)
    meta = dict(metadata or {})
    meta["vocabulary"] = config_of(RULE_SETS[config.rules])
    return SceneNetwork(
        labels=hist.labels,
        p_present=p_present_for(hist, config.alpha),
        prior=prior_for(hist, config.prior, y),
        cnn_table=cnn_table_for(config.cnn_table, y, cnn),
        absent_mask=absent_mask_for(hist, config.absent),
        label_weight=config.label_weight,
        cnn_weight=config.cnn_weight,
        metadata=meta,
    )


def grid_size(grid: Grid) -> int:
    """Number of configurations on the grid."""
    return int(np.prod([len(v) for v in grid.axes().values()]))


__all__ = ["Config", "DevData", "Grid", "REFERENCE_CONFIG", "build_network", "grid_size",
           "load_dev_data", "nested_cv", "recall", "select_on_all", "stratified_folds"]
