"""Held-out calibration of the face ensemble with and without its members' temperatures.

    python tools/member_temperature_cv.py [--registry models/ensemble.json] [--data ../shared/data/fer2013/train.npz]

Only the validation split of ``train.npz`` is used (no test face). Each weighted member scores the
clean validation faces through its registry views, untempered. The split is cut again as
``fit-ensemble`` cuts it (stratified 2-fold, 5 repeats, seed 0): on each half every member's
temperature is fitted as ``fit-ensemble`` fits it (:func:`gerec.calibration.fit_temperature`), and
the mix with the registry's weights is scored on the other half: 3-class ECE, NLL and accuracy,
with and without the temperatures. The weights themselves were fitted on the whole split, so
only the temperatures are held out here. Prints mean ± sd over the 10 halves, then the
temperatures fitted on the whole split (the registry's, to 4 decimals).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import numpy as np

from gerec.calibration import ece, fit_temperature, nll
from gerec.cli.common import add_face_data_option, add_registry_option
from gerec.emotion.data import load_face_set
from gerec.emotion.ensemble import FaceEnsemble, group_probabilities
from gerec.emotion.weighting import CV_DESIGN, CV_FOLDS, CV_REPEATS
from gerec.errors import GerecError
from gerec.folds import stratified_folds
from gerec.formatting import percent_spread


def scores(probs: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(ECE, NLL, accuracy) of 3-class probabilities on the faces with a group class."""
    keep = y >= 0
    return ece(probs[keep], y[keep]), nll(probs[keep], y[keep]), float(np.mean(probs[keep].argmax(1) == y[keep]))


def grouping(mapping: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Untempered member-class probabilities -> 3-class ones, through ``mapping``."""
    return lambda p: group_probabilities(p, mapping)


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
    y = val.group_labels()
    raws = [m.predict_raw(val.images) for m in ensemble.members]
    maps = [m.spec.mapping_matrix() for m in ensemble.members]
    w = np.asarray(ensemble.weights, dtype=float)

    def mix(temperatures: list[float], rows: np.ndarray) -> np.ndarray:
        parts = [group_probabilities(r[rows], mp, t) for r, mp, t in zip(raws, maps, temperatures)]
        return np.tensordot(w, np.stack(parts), axes=1)

    def fitted(rows: np.ndarray) -> list[float]:
        return [fit_temperature(r[rows], grouping(mp), y[rows]) for r, mp in zip(raws, maps)]

    rng = np.random.default_rng(0)
    results: dict[str, list[tuple[float, float, float]]] = {"untempered": [], "member temperatures": []}
    for _ in range(CV_REPEATS):
        folds = stratified_folds(y, CV_FOLDS, rng, random_start=True)
        for k in range(CV_FOLDS):
            fit_rows, held = np.flatnonzero((folds != k) & (folds >= 0)), np.flatnonzero(folds == k)
            results["untempered"].append(scores(mix([1.0] * len(raws), held), y[held]))
            results["member temperatures"].append(scores(mix(fitted(fit_rows), held), y[held]))
    print(
        f"registry {args.registry}; members {', '.join(ensemble.names)} (weights {', '.join(f'{x:.2f}' for x in w)}); "
        f"{len(y)} validation faces, {int((y >= 0).sum())} with a group class; held out: {CV_DESIGN}"
    )
    for name, rows in results.items():
        a = np.asarray(rows)
        print(
            f"{name:<20} held-out ECE {a[:, 0].mean():.4f} ± {a[:, 0].std():.4f}  NLL {a[:, 1].mean():.4f} ± "
            f"{a[:, 1].std():.4f}  accuracy {percent_spread(a[:, 2].mean(), a[:, 2].std())}"
        )
    every = np.arange(len(y))
    print("temperatures on the whole split:", ", ".join(f"{n} {t:.4f}" for n, t in zip(ensemble.names, fitted(every))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
