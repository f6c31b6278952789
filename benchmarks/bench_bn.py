"""Per-image scene-network inference: gerec's closed-form path vs pgmpy variable elimination.

Same 811-node network (Emotion + 809 labels + CNN), same evidence (dev images' GCV labels and
the reference CNN's prediction, or random label sets when the shared data is absent), same run.
The last line is ``speedup: <pgmpy seconds / closed-form seconds>``.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time

import numpy as np

from gerec.bn import load_scene_network
from gerec.bn.pgmpy_model import build_pgmpy_network, legacy_pgmpy_posterior, pgmpy_posterior
from gerec.config import data_dir

N_IMAGES = 40


def evidence_sets(net) -> list[tuple[list[str], str | None]]:
    gaf = data_dir() / "gaf3"
    if (gaf / "val_labels_dev.json").is_file():
        from gerec.evaluation import read_cnn_predictions
        from gerec.scene.simple import read_label_file

        labels = read_label_file(gaf / "val_labels_dev.json")
        cnn = read_cnn_predictions(gaf / "reference_cnn_val_dev.csv")
        names = sorted(labels)[:: max(1, len(labels) // N_IMAGES)][:N_IMAGES]
        print(f"evidence: {len(names)} dev images of val_labels_dev.json with reference CNN predictions")
        return [(list(net.split_labels(labels[n])[0]), cnn.get(n)) for n in names]
    rng = np.random.default_rng(0)
    print(f"evidence: {N_IMAGES} random label sets (shared data not found)")
    return [(list(rng.choice(net.labels, 8, replace=False)), "Positive") for _ in range(N_IMAGES)]


def main() -> None:
    reference = load_scene_network("reference")
    # Exact inference in the reference network; the reference's own rule (identical factors
    # once, pgmpy < 0.1.11) is checked against pgmpy's set of factors at the end.
    net = dataclasses.replace(reference, collapse_identical_factors=False)
    model = build_pgmpy_network(net)
    print(f"network: {len(model.nodes())} nodes, {len(model.edges())} edges")
    sets = evidence_sets(net)
    pgmpy_times, diffs = [], []
    for present, cnn in sets:
        t0 = time.perf_counter()
        ref = pgmpy_posterior(net, present, cnn, model)
        pgmpy_times.append(time.perf_counter() - t0)
        diffs.append(float(np.max(np.abs(np.array(ref) - np.array(net.posterior(present, cnn))))))
    repeats = 200
    t0 = time.perf_counter()
    for _ in range(repeats):
        for present, cnn in sets:
            net.posterior(present, cnn)
    fast = (time.perf_counter() - t0) / (repeats * len(sets))
    slow = statistics.median(pgmpy_times)
    print(f"pgmpy variable elimination: median {slow * 1e3:.2f} ms per image")
    print(f"closed form (default):      mean {fast * 1e6:.2f} us per image")
    print(f"largest posterior difference: {max(diffs):.3e}")
    legacy = [
        np.max(np.abs(np.array(legacy_pgmpy_posterior(reference, p, c, model)) - np.array(reference.posterior(p, c))))
        for p, c in sets
    ]
    t0 = time.perf_counter()
    for _ in range(repeats):
        for present, cnn in sets:
            reference.posterior(present, cnn)
    rule = (time.perf_counter() - t0) / (repeats * len(sets))
    print(
        f"reference rule (identical factors once): mean {rule * 1e6:.2f} us per image, "
        f"largest difference vs pgmpy's set of factors {max(legacy):.3e}"
    )
    print(f"speedup: {slow / fast:.0f}")
    sys.stdout.flush()


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
