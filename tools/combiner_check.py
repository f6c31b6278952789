"""Would a learned combiner beat the face ensemble's linear mix? Held out inside the validation split.

    .venv/bin/python tools/combiner_check.py [--registry models/ensemble.json] [--data ../shared/data/fer2013/train.npz]

Only the clean validation faces of ``train.npz`` are used (no test face). The weighted members give
their tempered FER 7-class probabilities through their registry views, mixed by the registry's
weights (as :func:`teacher_targets.teacher_probabilities` mixes them). The split is cut again into halves as
``fit-ensemble`` cuts it (2-fold, 5 repeats, seed 0), stratified here by FER class so that surprise
faces count in the 7-class figures; on each half one of three combiners is fitted and scored on
the other half:

- ``linear mix``: the registry's mix as it is (nothing fitted on the half);
- ``+ class prior shift``: the mix times ``exp(b)``, renormalised, with one offset per class
  fitted by 7-class log-loss (a small L2 penalty keeps it near 0): vector scaling's bias part;
- ``stacker``: multinomial logistic regression on every member's tempered log-probabilities.

The registry's views, temperatures and weights were chosen on the whole split, so all three start
from the same partly in-sample mix; only what each combiner adds is held out. 3-class figures group
the 7-class probabilities (surprise left out). A combiner other than the linear mix would also break
what the saliency maps rest on (a map per member that adds up to the ensemble's probability), so it
has to win clearly to be worth it: docs/models.md, issue 19 round 13.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

from teacher_targets import member_probabilities  # noqa: E402

from gerec.calibration import PROB_FLOOR  # noqa: E402
from gerec.cli.common import add_face_data_option, add_registry_option  # noqa: E402
from gerec.emotion.data import load_face_set  # noqa: E402
from gerec.emotion.ensemble import FaceEnsemble, group_probabilities  # noqa: E402
from gerec.emotion.weighting import CV_DESIGN, CV_FOLDS, CV_REPEATS  # noqa: E402
from gerec.errors import GerecError  # noqa: E402
from gerec.folds import stratified_folds  # noqa: E402
from gerec.formatting import percent_spread  # noqa: E402

PRIOR_L2 = 1e-3  # penalty on the class offsets (log units), per class


def shifted(probs: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``probs * exp(offsets)``, renormalised row by row."""
    q = probs * np.exp(offsets)
    return q / q.sum(axis=1, keepdims=True)


def fit_prior_shift(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The class offsets with the lowest 7-class log-loss (plus :data:`PRIOR_L2`) on ``probs``."""
    rows = np.arange(len(y))

    def loss(b: np.ndarray) -> float:
        return float(-np.log(np.clip(shifted(probs, b)[rows, y], PROB_FLOOR, None)).mean() + PRIOR_L2 * b @ b)

    return np.asarray(minimize(loss, np.zeros(probs.shape[1]), method="L-BFGS-B").x)


def accuracies(probs7: np.ndarray, y7: np.ndarray, y3: np.ndarray, mapping: np.ndarray) -> tuple[float, float]:
    """(3-class, 7-class) accuracy; 3-class over the faces with a group class."""
    keep = y3 >= 0
    grouped = group_probabilities(probs7[keep], mapping)
    return float(np.mean(grouped.argmax(1) == y3[keep])), float(np.mean(probs7.argmax(1) == y7))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_registry_option(parser)
    add_face_data_option(parser)
    args = parser.parse_args(argv)
    try:
        val = load_face_set(args.data).validation()
        ensemble = FaceEnsemble.load(args.registry)
    except GerecError as exc:  # a file the options name that cannot be read: a usage error (exit 2)
        parser.error(str(exc))
    y7, y3 = val.labels, val.group_labels()
    mapping = ensemble.members[0].spec.mapping_matrix()
    parts = member_probabilities(ensemble, val.images)  # each member runs once
    mix = np.tensordot(ensemble.weights, parts, axes=1)
    logs = np.hstack(list(np.log(np.clip(parts, PROB_FLOOR, 1))))  # (faces, members x 7)
    rng = np.random.default_rng(0)
    results: dict[str, list[tuple[float, float]]] = {"linear mix": [], "+ class prior shift": [], "stacker": []}
    for _ in range(CV_REPEATS):
        folds = stratified_folds(y7, CV_FOLDS, rng, random_start=True)
        for k in range(CV_FOLDS):
            fit, held = folds != k, folds == k
            offsets = fit_prior_shift(mix[fit], y7[fit])
            stacker = LogisticRegression(C=1.0, max_iter=2000).fit(logs[fit], y7[fit])
            for name, probs in (
                ("linear mix", mix[held]),
                ("+ class prior shift", shifted(mix[held], offsets)),
                ("stacker", stacker.predict_proba(logs[held])),
            ):
                results[name].append(accuracies(probs, y7[held], y3[held], mapping))
    print(
        f"registry {args.registry}; members {', '.join(ensemble.names)} (weights "
        f"{', '.join(f'{w:.2f}' for w in ensemble.weights)}); {len(y7)} clean validation faces; held out: {CV_DESIGN}"
    )
    for name, rows in results.items():
        a = np.asarray(rows)
        print(
            f"{name:<20} held-out 3-class {percent_spread(a[:, 0].mean(), a[:, 0].std(ddof=1))}, "
            f"7-class {percent_spread(a[:, 1].mean(), a[:, 1].std(ddof=1))}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
