"""``explain-faces DATA.npz --out MAPS.npz [--limit N]``: saliency of the ensemble's verdict per face."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from gerec.classes import CLASSES


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``explain-faces`` command."""
    p = sub.add_parser("explain-faces", help="saliency maps of the face ensemble's verdict on a face set (.npz)")
    p.add_argument("data", type=Path, help=".npz with images, labels, classes (FER-2013 format)")
    p.add_argument("--out", type=Path, required=True, help=".npz with ids, predicted, saliency (N x H x W float32)")
    p.add_argument("--limit", type=int, default=None, help="only the first N faces")
    p.add_argument("--registry", type=Path, default=None, help="ensemble registry (default models/ensemble.json)")
    p.set_defaults(func=run)


def saliency_on_grid(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A map resized to the face set's own pixel grid (unchanged when it already is)."""
    if values.shape == shape:
        return values.astype(np.float32)
    import cv2

    return cv2.resize(values.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def npz_path(path: Path) -> Path:
    """The file ``numpy.savez`` writes for ``path``: ``.npz`` added unless the name ends with it.

    >>> npz_path(Path("maps")).name, npz_path(Path("maps.npz")).name
    ('maps.npz', 'maps.npz')
    """
    return path if path.name.endswith(".npz") else path.with_name(path.name + ".npz")


def run(args: argparse.Namespace) -> int:
    """Write each face's id, the ensemble's class and the map of that class (higher: more support).

    The maps are written once, at the end, replacing ``--out`` in one step (``complete`` True). A
    stop signal (SIGTERM, Ctrl-C) while faces are explained keeps the maps finished: ``--out`` then
    holds those faces only, with ``complete`` False, and stderr says how many of how many (none
    finished: the previous file is left as it was); a second signal does not cut that write short. A
    signal during the final write leaves the previous file (and no temporary one). The exit code is
    128 + the signal.
    """
    from gerec.cli.common import progress
    from gerec.emotion.data import load_face_set
    from gerec.emotion.ensemble import FaceEnsemble
    from gerec.errors import InvalidDataset
    from gerec.explain import SaliencyExplainer
    from gerec.stopping import stop_name, stop_signals

    if args.limit is not None and args.limit < 1:
        raise InvalidDataset("--limit must be at least 1")
    faces = load_face_set(args.data)
    images = faces.images[: args.limit] if args.limit else faces.images
    ensemble = FaceEnsemble.load(args.registry)
    out = npz_path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with stop_signals():
        predicted = ensemble.predict_proba(images).argmax(axis=1)
        explainer = SaliencyExplainer(ensemble.members, ensemble.weights)
        maps = np.zeros((len(images), *images.shape[1:3]), dtype=np.float32)
        done = 0
        try:
            for i in progress(list(range(len(images))), "explaining faces", min_items=1):
                maps[i] = saliency_on_grid(
                    explainer.explain(images[i], CLASSES[int(predicted[i])]).values, maps.shape[1:]
                )
                done = i + 1
        except KeyboardInterrupt as exc:  # the stop itself goes on to the CLI (its line, its exit code)
            if done:
                write_maps(out, faces.ids[:done], predicted[:done], maps[:done], complete=False)
            kept = f"wrote the {done} finished to {out} (complete: false)" if done else f"{out} left as it was"
            print(f"stopped by {stop_name(exc)} after {done} of {len(images)} faces; {kept}", file=sys.stderr)
            raise
        write_maps(out, faces.ids[: len(images)], predicted, maps, complete=True)
    print(f"{len(images)} faces explained ({explainer.evaluations} masked faces evaluated); wrote {out}")
    return 0


def write_maps(out: Path, ids: np.ndarray, predicted: np.ndarray, maps: np.ndarray, complete: bool) -> None:
    """``out`` replaced in one step by the faces' ids, class names, maps and whether every face is there
    (a stop during the write leaves the previous file and no temporary one)."""
    from gerec.fileio import replaced_atomically

    names = np.array([CLASSES[int(c)] for c in predicted])
    with replaced_atomically(out) as tmp, tmp.open("wb") as handle:
        np.savez_compressed(
            handle,
            ids=np.asarray(ids).astype(str),
            predicted=names,
            saliency=maps,
            complete=np.bool_(complete),
        )
