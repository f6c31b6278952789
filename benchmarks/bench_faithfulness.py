"""Faithfulness of face saliency: deletion and insertion curves with a grey and a blurred baseline.

For each face (FER-2013 faces with a group class, a seeded sample) and each method, pixels are
deleted (replaced by the baseline) or inserted (into the baseline) most salient first, in 20
steps of 5 %, and the full ensemble's probability of its own verdict (each member's test-time
views, as the dashboard's bars) is read after each step. AUC is the mean of that curve
(trapezoid): deletion lower is better, insertion higher. Methods: the dashboard's
(:class:`gerec.explain.SaliencyExplainer`), random order, gradient x input and 8x8 occlusion.
Round 3's method (``method="shap"``, SHAP refined by occlusion) and round 4's (``method="deletion"``,
one greedy path per member) are measured in the same run for comparison. Means come with 95 %
bootstrap intervals over faces (1000 resamples); ratios are paired.

    python benchmarks/bench_faithfulness.py [--data ../shared/data/fer2013/test.npz] [--faces 100]
    python benchmarks/bench_faithfulness.py --split val [--faces 120]   # the validation split of train.npz

Last line: ``ratio: X``, the worse of the two baselines' deletion AUC ratios (dashboard / random).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from gerec.classes import CLASSES
from gerec.config import fer_test_file, fer_train_file
from gerec.explain import BASELINES, GREY, SaliencyExplainer
from gerec.occlusion import EYE_ROWS, MOUTH_ROWS, resolution
from gerec.saliency import DEFAULT_BLUR, blurred

STEPS = 20
PATCH = 8
RESAMPLES = 1000


def sample_faces(path: str, n: int, split: str, seed: int) -> np.ndarray:
    """``n`` faces with a group class (surprise left out), drawn with ``seed``."""
    from gerec.emotion.data import load_face_set, validation_split

    faces = load_face_set(path)
    index = np.arange(len(faces.labels))
    if split in ("val", "validation"):
        index = validation_split(faces.labels)[1]
    index = index[faces.group_labels()[index] >= 0]
    pick = np.sort(np.random.default_rng(seed).choice(index, min(n, len(index)), replace=False))
    return faces.images[pick].astype(np.float32)


def baseline_of(name: str, face: np.ndarray) -> np.ndarray:
    return np.full_like(face, GREY) if name == "grey" else blurred(face, DEFAULT_BLUR)


def curve_images(face: np.ndarray, order: np.ndarray, base: np.ndarray, insertion: bool) -> np.ndarray:
    """The STEPS + 1 faces of a deletion (or insertion) curve."""
    start, end = (base, face) if insertion else (face, base)
    out = np.repeat(start.reshape(1, -1), STEPS + 1, axis=0)
    for k in range(1, STEPS + 1):
        idx = order[: int(round(face.size * k / STEPS))]
        out[k, idx] = end.reshape(-1)[idx]
    return out.reshape(STEPS + 1, *face.shape)


def aucs(
    ensemble, faces: np.ndarray, maps: np.ndarray, target: np.ndarray, baseline: str, insertion: bool
) -> np.ndarray:
    """Per-face AUC of the ensemble's probability of ``target`` along the curves."""
    images = np.concatenate(
        [
            curve_images(f, np.argsort(-m.reshape(-1), kind="stable"), baseline_of(baseline, f), insertion)
            for f, m in zip(faces, maps)
        ]
    )
    probs = ensemble.predict_proba(np.clip(images, 0, 255).round().astype(np.uint8))
    curves = probs.reshape(len(faces), STEPS + 1, 3)[np.arange(len(faces)), :, target]
    return np.trapezoid(curves, dx=1 / STEPS, axis=1)


def gradient_x_input(ensemble, faces: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Gradient of the single-view ensemble probability (each member tempered) times the pixel, per grey
    member (the members' Keras models: ONNX Runtime gives no gradients). Members that are ONNX graphs with no Keras file
    are left out and the others' weights renormalised; the caller prints which."""
    from gerec.emotion.ensemble import FaceEnsemble
    from gerec.tf_quiet import quiet_tensorflow

    quiet_tensorflow()  # gerec's TensorFlow settings (oneDNN off), as when the members were Keras
    import tensorflow as tf

    ensemble = FaceEnsemble(ensemble.spec, backend="keras")
    usable = set(gradient_members(ensemble))
    keras_members = [(w, m) for w, m in zip(ensemble.weights, ensemble.members) if m.spec.name in usable]
    total_weight = sum(w for w, _ in keras_members)

    scale = {"minus1_1": (1 / 127.5, -1.0), "unit": (1 / 255, 0.0), "raw255": (1.0, 0.0)}
    x = tf.constant(faces[..., None])
    total = np.zeros(faces.shape)
    for w, member in keras_members:
        a, b = scale[member.spec.preprocess]
        mapping = tf.constant(member.spec.mapping_matrix(), tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(x)
            own = tf.nn.softmax(tf.math.log(member.model(x * a + b, training=False) + 1e-15) / member.spec.temperature)
            grouped = tf.matmul(own, mapping)  # tempered as the member's to_group does
            p = tf.gather(grouped / tf.reduce_sum(grouped, axis=1, keepdims=True), target, axis=1, batch_dims=1)
        total += w / total_weight * tape.gradient(p, x).numpy()[..., 0] * faces
    return total


def gradient_members(ensemble) -> list[str]:
    """The members gradient x input can use (those with a Keras file)."""
    return [m.spec.name for m in ensemble.members if not m.spec.is_graph]


def occlusion(explainer: SaliencyExplainer, faces: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Drop of the ensemble probability on the explained views when an 8x8 patch is replaced (both baselines)."""
    out = np.zeros(faces.shape)
    side = faces.shape[1]
    cells = [(r, c) for r in range(0, side, PATCH) for c in range(0, side, PATCH)]
    for i, face in enumerate(faces):
        batch = [face]
        for name in BASELINES:
            base = baseline_of(name, face)
            for r, c in cells:
                occluded = face.copy()
                occluded[r : r + PATCH, c : c + PATCH] = base[r : r + PATCH, c : c + PATCH]
                batch.append(occluded)
        stack = np.stack(batch)
        p = sum(w * explainer.member_probabilities(m, stack)[:, target[i]] for m, w in enumerate(explainer.weights))
        drops = (p[0] - p[1:]).reshape(len(BASELINES), len(cells)).mean(axis=0)
        for (r, c), d in zip(cells, drops):
            out[i, r : r + PATCH, c : c + PATCH] = d
    return out


def resolution_line(results) -> str:
    """Regions of constant evidence per member map and per ensemble map; eyes and mouth apart."""
    members = [m.regions for r in results for m in r.members]
    ensemble = [resolution(r.partition) for r in results]
    eyes = np.array([r.values[EYE_ROWS[0] : EYE_ROWS[1]].mean() for r in results])
    mouth = np.array([r.values[MOUTH_ROWS[0] : MOUTH_ROWS[1]].mean() for r in results])
    return (
        f"regions per member map: median {np.median(members):.0f} (min {min(members)}, max {max(members)}); "
        f"per ensemble map: median {np.median([e[0] for e in ensemble]):.0f}, largest region "
        f"{max(e[1] for e in ensemble)} px; no region spans eye rows {EYE_ROWS[0]}-{EYE_ROWS[1] - 1} and mouth "
        f"rows {MOUTH_ROWS[0]}-{MOUTH_ROWS[1] - 1} on {sum(e[2] for e in ensemble)}/{len(ensemble)} maps; "
        f"eye and mouth rows' mean saliency of opposite sign on {int(np.sum(eyes * mouth < 0))}/{len(results)}"
    )


def interval(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    idx = rng.integers(0, len(values), (RESAMPLES, len(values)))
    means = values[idx].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def ratio_interval(num: np.ndarray, den: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    idx = rng.integers(0, len(num), (RESAMPLES, len(num)))
    ratios = num[idx].mean(axis=1) / den[idx].mean(axis=1)
    return float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        default=None,
        help="FER-format .npz (default: fer2013/train.npz with --split val, where the validation split is carved "
        "from, else fer2013/test.npz)",
    )
    parser.add_argument(
        "--split",
        choices=("all", "val", "validation"),
        default="all",
        help="val (or validation): the validation split carved from a training set",
    )
    parser.add_argument("--faces", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.data is None:
        args.data = str(fer_test_file() if args.split == "all" else fer_train_file())
    from gerec.emotion.ensemble import FaceEnsemble

    ensemble = FaceEnsemble.load()
    faces = sample_faces(args.data, args.faces, args.split, args.seed)
    target = ensemble.predict_proba(faces.astype(np.uint8)).argmax(axis=1)
    explainer = SaliencyExplainer(ensemble.members, ensemble.weights)
    print(
        f"data: {args.data} ({args.split}), {len(faces)} faces with a group class, seed {args.seed}; "
        f"members {', '.join(explainer.names)}; {STEPS} steps of {100 // STEPS} %",
        flush=True,
    )
    explainer.explain(faces[0][::-1].copy())  # warm-up (compilation), not timed
    t0 = time.perf_counter()
    results = [explainer.explain(f, CLASSES[t]) for f, t in zip(faces, target)]
    seconds = (time.perf_counter() - t0) / len(faces)
    print(
        f"dashboard method ({explainer.method}): {seconds:.2f} s per face (all members); "
        f"{resolution_line(results)}; explained "
        f"views disagree with the verdict on {sum(not r.agrees for r in results)} faces",
        flush=True,
    )
    left_out = sorted(set(ensemble.names) - set(gradient_members(ensemble)))
    if left_out:
        print(f"gradient x input: without {', '.join(left_out)} (ONNX graphs, no gradients); the others reweighted")
    shap = SaliencyExplainer(ensemble.members, ensemble.weights, method="shap")
    own_paths = SaliencyExplainer(ensemble.members, ensemble.weights, method="deletion")
    maps = {
        "dashboard": np.stack([r.values for r in results]),
        "deletion (round 4)": np.stack([own_paths.explain(f, CLASSES[t]).values for f, t in zip(faces, target)]),
        "shap (round 3)": np.stack([shap.explain(f, CLASSES[t]).values for f, t in zip(faces, target)]),
        "random": np.random.default_rng(args.seed + 1).random(faces.shape),
        "gradient x input": gradient_x_input(ensemble, faces, target),
        "occlusion 8x8": occlusion(explainer, faces, target),
    }
    rng = np.random.default_rng(args.seed)
    worst = 0.0
    for baseline in BASELINES:
        scores = {
            (name, kind): aucs(ensemble, faces, m, target, baseline, kind == "insertion")
            for name, m in maps.items()
            for kind in ("deletion", "insertion")
        }
        for (name, kind), values in scores.items():
            low, high = interval(values, rng)
            rand = scores[("random", kind)]
            r_low, r_high = ratio_interval(values, rand, rng)
            print(
                f"{baseline:<5} {kind:<9} {name:<18} AUC {values.mean():.4f} [{low:.4f}, {high:.4f}]  "
                f"vs random {values.mean() / rand.mean():.3f} [{r_low:.3f}, {r_high:.3f}]",
                flush=True,
            )
        worst = max(worst, scores[("dashboard", "deletion")].mean() / scores[("random", "deletion")].mean())
    print(f"goal: deletion ratio <= 0.6 with both baselines: {'met' if worst <= 0.6 else 'NOT met'}")
    print(f"ratio: {worst:.3f}")
    sys.exit(0)


if __name__ == "__main__":
    main()
