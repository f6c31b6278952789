"""Saliency of one face for every ensemble member on CPU: gerec.explain vs a naive baseline.

gerec: :class:`gerec.explain.SaliencyExplainer` with the dashboard's method (``DEFAULT_METHOD``:
greedy deletion of 6 px cells ranked by a 12 px occlusion pass, :mod:`gerec.deletion`, along one
path for the ensemble that every member reads), grey and blurred baselines, on the 48 px grey
face, the members' networks as the registry runs them (ONNX Runtime); the ensemble's map of its
verdict is the weighted sum of the members' maps. For reference,
round 4's method (``method="deletion"``, one greedy path per member) and round 3's (``method="shap"``:
Partition SHAP, ``DEFAULT_MAX_EVALS`` masked faces per member and baseline, refined by the sliding
occlusion pass) are timed on the same faces in the same process.

Baseline ("naive per-member"): for each member its own shap Partition explainer with shap's
defaults (blur masker on the 128 px crop, batch_size 10, eager ``predict_proba``), explaining
that member's predicted class, with the same number of masked faces per member as gerec's method spends.

Both are warmed up first (numba/TF compilation), then timed on the faces of a real group photo
(or random crops when the shared data is absent). The goal is <= 1.0 s per face.
Last line: ``ratio: <baseline seconds / gerec seconds>``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from gerec.config import data_dir
from gerec.explain import BASELINES, DEFAULT_METHOD, METHODS, SaliencyExplainer

N_FACES = 4
GOAL = 1.0
PREVIOUS_METHOD = "shap"
OWN_PATHS_METHOD = "deletion"
"""Round 4's method, the default until round 6: one greedy path per member, timed for comparison."""


def faces(pipeline) -> np.ndarray:
    """Aligned crops of a real photo's faces, or random crops when no photo is available."""
    photo = data_dir() / "group_photos" / "image_happy_neutral_1.jpg"
    if photo.is_file():
        _, crops = pipeline.analyze_with_crops(photo, labels=[])
        if len(crops):
            print(f"faces: {min(len(crops), N_FACES)} of {len(crops)} in {photo.name}")
            return crops[:N_FACES]
    print("faces: random 128 px crops (shared photos not found)")
    return np.random.default_rng(0).integers(0, 255, (N_FACES, 128, 128, 3), dtype=np.uint8)


def naive_explainers(members, shape: tuple[int, ...]):
    """One shap Partition explainer per member with shap's default settings."""
    import shap

    out = []
    for member in members:

        def model(x, member=member):
            return member.predict_proba(np.clip(x, 0, 255).astype(np.uint8))

        masker = shap.maskers.Image("blur(16,16)", shape)
        out.append((member, shap.PartitionExplainer(model, masker)))
    return out


def naive_saliency(explainers, crop: np.ndarray, max_evals: int) -> list[np.ndarray]:
    """Each member's saliency of its predicted class, one explainer after another."""
    maps = []
    for member, explainer in explainers:
        cls = int(np.argmax(member.predict_proba(crop[None])[0]))
        out = explainer(crop[None].astype(np.float32), max_evals=max_evals, outputs=[cls], silent=True)
        maps.append(np.asarray(out.values[0])[..., 0].sum(axis=2))
    return maps


def timed(explainer: SaliencyExplainer, crops: np.ndarray) -> list[float]:
    """Seconds per face of ``explainer.explain`` (maps checked finite)."""
    out = []
    for crop in crops:
        t0 = time.perf_counter()
        result = explainer.explain(crop)
        out.append(time.perf_counter() - t0)
        assert np.isfinite(result.values).all() and all(np.isfinite(m.values).all() for m in result.members)
    return out


def main() -> None:
    from gerec.pipeline import Pipeline

    pipeline = Pipeline()
    members = pipeline.ensemble.members
    print(
        f"members: {', '.join(m.spec.name for m in members)}; method {DEFAULT_METHOD} ({METHODS[DEFAULT_METHOD]}); "
        f"baselines {', '.join(BASELINES)}; load average {os.getloadavg()[0]:.1f}; "
        f"cpu threads {os.cpu_count()}"
    )
    crops = faces(pipeline)

    explainer = SaliencyExplainer(members, pipeline.ensemble.weights)
    t0 = time.perf_counter()
    explainer.explain(np.flipud(crops[0]).copy())  # warm-up on a crop not timed below
    warm = time.perf_counter() - t0
    evaluations = explainer.evaluations
    fast = timed(explainer, crops)
    evaluations = (explainer.evaluations - evaluations) // len(crops)
    t0 = time.perf_counter()
    explainer.explain(crops[0])
    cached = time.perf_counter() - t0
    previous = SaliencyExplainer(members, pipeline.ensemble.weights, method=PREVIOUS_METHOD)
    previous.explain(np.flipud(crops[0]).copy())
    before = timed(previous, crops)
    own_paths = SaliencyExplainer(members, pipeline.ensemble.weights, method=OWN_PATHS_METHOD)
    own_paths.explain(np.flipud(crops[0]).copy())
    own = timed(own_paths, crops)

    naive = naive_explainers(members, crops[0].shape)
    per_member = evaluations // len(members)
    naive_saliency(naive, np.flipud(crops[0]).copy(), per_member)  # warm-up
    slow = []
    for crop in crops:
        t0 = time.perf_counter()
        naive_saliency(naive, crop, per_member)
        slow.append(time.perf_counter() - t0)

    gerec_s, naive_s = statistics.median(fast), statistics.median(slow)
    print(
        f"gerec.explain ({DEFAULT_METHOD}, every member, both baselines; {evaluations} faces "
        f"evaluated per face): first call {warm:.2f} s (compilation), then median {gerec_s:.3f} s per face "
        f"(min {min(fast):.3f}, max {max(fast):.3f}); cached {cached * 1e3:.2f} ms"
    )
    print(
        f"round 4's method ({OWN_PATHS_METHOD}, one path per member): median "
        f"{statistics.median(own):.3f} s per face (min {min(own):.3f}, max {max(own):.3f})"
    )
    print(
        f"round 3's method ({PREVIOUS_METHOD}: {METHODS[PREVIOUS_METHOD]}): median "
        f"{statistics.median(before):.3f} s per face (min {min(before):.3f}, max {max(before):.3f})"
    )
    print(
        f"baseline naive per-member shap Partition: median {naive_s:.3f} s per face "
        f"(min {min(slow):.3f}, max {max(slow):.3f})"
    )
    print(f"goal <= {GOAL:.1f} s per face: {'met' if gerec_s <= GOAL else 'NOT met'}")
    print(f"ratio: {naive_s / gerec_s:.1f}")
    sys.exit(0)


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
