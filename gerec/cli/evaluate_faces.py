"""``evaluate-faces DATA.npz --out OUT.csv``: the face ensemble on already-cropped faces."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from gerec.classes import CLASSES
from gerec.fileio import SafeDictWriter, open_output
from gerec.formatting import percent
from gerec.stopping import stop_signals


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate-faces`` command."""
    p = sub.add_parser("evaluate-faces", help="score the face ensemble on a face set (.npz)")
    p.add_argument("data", type=Path, help=".npz with images, labels, classes (FER-2013 format)")
    p.add_argument("--out", type=Path, help="CSV id,predicted,p_positive,p_neutral,p_negative")
    p.add_argument("--registry", type=Path, default=None, help="ensemble registry (default models/ensemble.json)")
    p.add_argument(
        "--split",
        choices=("all", "val"),
        default="all",
        help="val: only the validation split carved from the file (10 %%, stratified, seed 0), the faces "
        "fit-ensemble chooses on when the file is FER-2013 train.npz",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print 3-class accuracy, ECE and NLL (surprise left out) and 7-class accuracy where every
    member has 7 classes. ``--out`` is written once, after every face is scored, to a temporary
    file that replaces it in one step: a stop signal (SIGTERM, Ctrl-C) while the faces are scored
    or the file is written leaves the previous file (and no temporary one), says so in one line and
    exits with 128 + the signal."""
    from gerec.calibration import ece, nll
    from gerec.emotion.data import load_face_set
    from gerec.emotion.ensemble import FaceEnsemble
    from gerec.emotion.scoring import score_face_set

    faces = load_face_set(args.data)
    if args.split == "val":
        faces = faces.validation()
    ensemble = FaceEnsemble.load(args.registry)
    with stop_signals():
        scores = score_face_set(ensemble, faces)
        if args.out:
            write_results(args.out, faces.ids, scores.group_probs["ensemble"])
    split = " (the validation split: 10 %, stratified, seed 0)" if args.split == "val" else ""
    print(f"{len(faces.labels)} faces{split}, {scores.n3} with a group class (surprise left out of 3-class)")
    truth3 = faces.group_labels()
    for name in [*ensemble.names, "ensemble"]:
        seven = scores.accuracy7.get(name)
        seven_text = "" if seven is None else f"   7-class {percent(seven):>8}"
        if name == "ensemble" and seven is not None and len(scores.members7) < len(ensemble.names):
            seven_text += f" (its 7-class members: {', '.join(scores.members7)})"
        probs3 = scores.group_probs[name]
        calibration = f"   ECE {ece(probs3, truth3):.4f}   NLL {nll(probs3, truth3):.4f}"
        print(f"{name:<24} 3-class {percent(scores.accuracy3[name]):>8}{calibration}{seven_text}")
    if args.out:
        print(f"wrote {args.out}")
    return 0


def write_results(out: Path, ids: np.ndarray, probs: np.ndarray) -> None:
    """``id,predicted,p_positive,p_neutral,p_negative``, one row per face, replacing ``out`` in one step."""
    columns = ["id", "predicted"] + [f"p_{c.lower()}" for c in CLASSES]
    with open_output(out, "results file", atomic=True) as handle:
        writer = SafeDictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for face_id, p in zip(ids, probs):
            writer.writerow(dict(zip(columns, [face_id, CLASSES[int(p.argmax())]] + [f"{v:.6f}" for v in p])))
