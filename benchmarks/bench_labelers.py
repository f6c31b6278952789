"""Offline scene labeler: latency, and agreement with Google Cloud Vision on the shared group photos.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/bench_labelers.py [--repeats 5] [--grid]

* Latency of ``OfflineLabeler.label`` per photo over the group photos (median, p90), and the
  ratio to the named baseline measured in the same run: one MTCNN face detection
  (``gerec.faces.FaceDetector.detect``) on the same photos.
* On the photos of ``group_photos/labels.json`` with recorded ``scene_labels`` (GCV's): micro
  precision and recall of the offline labels against the GCV labels restricted to the scene
  network's 809-label vocabulary, and how often the top-down prediction of the ``reference``
  scene network from the offline labels equals the one from the GCV labels. Face counts for the
  face-derived labels come from MTCNN.
* ``--grid`` also prints other settings (top-k, threshold, derived labels). Those rows are chosen
  AFTER seeing these same few photos: read them as optimistic, not as held-out figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gerec.config import data_dir


@dataclass
class Photo:
    name: str
    pixels: np.ndarray
    faces: int
    gcv: tuple[str, ...] | None


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def load_photos(repeats: int) -> tuple[list[Photo], list[float]]:
    """Photos with MTCNN face counts, and the MTCNN detection times (seconds)."""
    from gerec.faces.detect import FaceDetector
    from gerec.imaging import load_image

    folder = data_dir() / "group_photos"
    if not folder.is_dir():
        sys.exit(f"group photos not found at {folder}: set GEREC_DATA")
    recorded = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    detector = FaceDetector()
    photos, det_times = [], []
    for path in sorted(folder.glob("*.jpg")):
        img = load_image(path)
        detector.detect(img.pixels)  # warm-up of this input size
        for _ in range(max(1, repeats // 2)):
            t0 = time.perf_counter()
            faces = detector.detect(img.pixels)
            det_times.append(time.perf_counter() - t0)
        gcv = recorded.get(path.name, {}).get("scene_labels")
        photos.append(Photo(path.name, img.pixels, len(faces), tuple(gcv) if gcv else None))
    return photos, det_times


def evaluate(labeler, photos: list[Photo], net, use_faces: bool = True) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Micro precision / recall vs GCV (in vocabulary) and top-down agreement."""
    from gerec.scene.base import LabelerInput

    tp = n_pred = n_true = agree = n = 0
    for p in photos:
        if p.gcv is None:
            continue
        res = labeler.label(LabelerInput(p.name, pixels=p.pixels, face_count=p.faces if use_faces else None))
        ours, _ = net.split_labels(res.labels)
        truth, _ = net.split_labels(p.gcv)
        tp += len(set(ours) & set(truth))
        n_pred += len(set(ours))
        n_true += len(set(truth))
        agree += int(np.argmax(net.posterior(ours)) == np.argmax(net.posterior(truth)))
        n += 1
    return {
        "n": n,
        "precision": tp / n_pred if n_pred else float("nan"),
        "recall": tp / n_true if n_true else float("nan"),
        "labels_per_photo": n_pred / n if n else 0.0,
        "agreement": agree / n if n else float("nan"),
    }


def label_table(labeler, photos: list[Photo], net) -> str:  # type: ignore[no-untyped-def]
    """Markdown: each photo's offline labels (score; derived ones marked), raw top-3 guesses, and GCV's."""
    from gerec.scene.base import LabelerInput

    rows = [
        "| photo | faces | offline labels (probability; *derived from faces*) | raw ImageNet top-3 (not used) "
        "| recorded GCV labels in the vocabulary (hits in bold) |",
        "|---|---|---|---|---|",
    ]
    for p in photos:
        res = labeler.label(LabelerInput(p.name, pixels=p.pixels, face_count=p.faces))
        derived = {
            lab for note in res.notes if note.startswith("derived") for lab in note.split(": ", 1)[1].split(", ")
        }
        ours = (
            ", ".join(
                f"*{lab}*" if lab in derived else f"{lab} {score:.2f}" for lab, score in zip(res.labels, res.scores)
            )
            or "none"
        )
        raw = next((n.split(": ", 1)[1] for n in res.notes if n.startswith("imagenet top-3")), "")
        truth = net.split_labels(p.gcv)[0] if p.gcv else ()
        gcv = ", ".join(f"**{t}**" if t in res.labels else t for t in truth) if p.gcv else "(none recorded)"
        rows.append(f"| {p.name} | {p.faces} | {ours} | {raw} | {gcv} |")
    return "\n".join(rows)


def line(tag: str, m: dict[str, float]) -> str:
    return (
        f"{tag:44s} precision {m['precision']:.3f}  recall {m['recall']:.3f}  "
        f"labels/photo {m['labels_per_photo']:.1f}  top-down agreement {m['agreement'] * m['n']:.0f}/{m['n']:.0f}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--grid", action="store_true")
    ap.add_argument("--table", action="store_true", help="print each photo's offline labels as a Markdown table")
    args = ap.parse_args(argv)

    from gerec.bn import load_scene_network
    from gerec.scene.base import LabelerInput, LabelResult
    from gerec.scene.offline import OfflineLabeler

    photos, det_times = load_photos(args.repeats)
    net = load_scene_network("reference")
    labeler = OfflineLabeler()
    times = []
    for p in photos:
        labeler.label(LabelerInput(p.name, pixels=p.pixels))  # warm-up
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            labeler.label(LabelerInput(p.name, pixels=p.pixels, face_count=p.faces))
            times.append(time.perf_counter() - t0)
    med, p90 = statistics.median(times), percentile(times, 90)
    det_med = statistics.median(det_times)
    print(
        f"photos: {len(photos)}, {sum(p.gcv is not None for p in photos)} with GCV labels; "
        f"MTCNN faces per photo: {[p.faces for p in photos]}"
    )
    print(
        f"offline labeler latency per photo: median {med * 1e3:.1f} ms, p90 {p90 * 1e3:.1f} ms "
        f"({len(times)} calls, top_k {labeler.top_k}, min_score {labeler.min_score})"
    )
    print(
        f"baseline MTCNN detection per photo: median {det_med * 1e3:.1f} ms, p90 "
        f"{percentile(det_times, 90) * 1e3:.1f} ms"
    )
    print(f"ratio offline labeler / MTCNN detection (median latency): {med / det_med:.3f}")

    class NoLabels:
        name = "none"

        def label(self, item: LabelerInput) -> LabelResult:
            return LabelResult((), "none")

    print(line("no labels at all (all-absent evidence)", evaluate(NoLabels(), photos, net)))
    print(line("offline, pixels only (no face count)", evaluate(labeler, photos, net, use_faces=False)))
    derived_only = OfflineLabeler(min_score=1.0)
    print(line("face-derived labels only", evaluate(derived_only, photos, net)))
    print(line("offline default (pixels + face-derived)", evaluate(labeler, photos, net)))
    if args.table:
        print(label_table(labeler, photos, net))
    if args.grid:
        print("-- exploration on the same photos (optimistic) --")
        for top_k in (5, 10, 20):
            for min_score in (0.05, 0.1, 0.15, 0.25, 0.4):
                lab = OfflineLabeler(top_k=top_k, min_score=min_score)
                print(line(f"top_k {top_k:2d} min_score {min_score:.2f}", evaluate(lab, photos, net)))
        no_event = ((2, None, "people"), (2, 7, "social group"), (8, None, "crowd"))
        print(line("default without derived 'event'", evaluate(OfflineLabeler(face_labels=no_event), photos, net)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
