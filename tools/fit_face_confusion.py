"""Store the face ensemble's 3-class confusion on held-out faces in ``models/ensemble.json``.

The faces are the validation split carved out of FER-2013 ``train.npz`` by
:func:`gerec.emotion.data.validation_split` (10 %, stratified, seed 0): never ``test.npz``.
The fusion node of the scene network uses this table as P(CNN = j | Emotion = c).

Usage: python tools/fit_face_confusion.py [--data ../shared/data/fer2013/train.npz]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gerec.config import data_dir, models_dir
from gerec.emotion.data import load_face_set, validation_split
from gerec.emotion.ensemble import FaceEnsemble
from gerec.emotion.scoring import score_face_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=data_dir() / "fer2013" / "train.npz")
    parser.add_argument("--registry", type=Path, default=models_dir() / "ensemble.json")
    args = parser.parse_args()
    faces = load_face_set(args.data)
    _, val_idx = validation_split(faces.labels, 0.1, seed=0)
    val = faces.subset(val_idx)
    scores = score_face_set(FaceEnsemble.load(args.registry), val)
    data = json.loads(args.registry.read_text(encoding="utf-8"))
    data["face_confusion"] = {
        "matrix": scores.confusion3["ensemble"].tolist(),
        "rows": "true class (Positive, Neutral, Negative)",
        "columns": "ensemble prediction",
        "data": f"{args.data.name}: validation split (10 %, stratified by FER class, seed 0), surprise left out",
        "faces": scores.n3,
        "accuracy3": round(scores.accuracy3["ensemble"], 4),
    }
    for member in data["members"]:
        name = member["name"]
        if name in scores.accuracy3:
            member.setdefault("metrics", {})["val_accuracy3"] = round(scores.accuracy3[name], 4)
    args.registry.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(data["face_confusion"], indent=1))


if __name__ == "__main__":
    main()
