"""Face ensemble under group-photo corruptions, on the validation split carved from train.npz.

Every face of the validation split (``validation_split(labels, 0.1, seed=0)`` of FER-2013
``train.npz``; never ``test.npz``) is corrupted once per setting of
:data:`gerec.emotion.corruptions.BENCHMARK_CORRUPTIONS` (blur, downscale to 24 px and back, JPEG
quality 20, occlusion, rotation 20 degrees, low contrast and dark), with a fixed seed, so every
model sees the same corrupted faces. For each setting it prints the 3-class (surprise left out)
and 7-class accuracy of

- the registry's ensemble (``--registry``, default ``models/ensemble.json``: its weights and views);
- the baseline, the ensemble on main before issue 19: gerec-vgg48h 0.75 (zoom views) +
  gerec-vgg48i 0.25 (flip+zoom views). Its registry entries and any of its files that models/
  no longer holds (gerec-vgg48h was retired by issue 19's refit) are read from git history,
  commit :data:`BASELINE_COMMIT`, into a temporary folder;
- every Keras member listed in the registry, enabled or not, with its own views (members marked
  ``val_in_training`` are skipped: the validation faces are in their training data).

The mean over the corrupted settings (clean left out) is the robustness figure. Last line:
``ratio: <registry ensemble / baseline, mean corrupted 3-class accuracy>`` (above 1: more robust).

    python benchmarks/bench_robustness.py [--registry models/ensemble.json] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from gerec.config import fer_train_file, models_dir
from gerec.emotion.corruptions import BENCHMARK_CORRUPTIONS, corrupt_all
from gerec.emotion.data import load_face_set, validation_split
from gerec.emotion.ensemble import Member, load_member
from gerec.emotion.registry import REGISTRY_FILE, member_from_json, resolve_weights
from gerec.emotion.views import FIT_TTA_MODES, TTA_MODES, covering_mode

BASELINE = {"gerec-vgg48h": (0.75, "zoom"), "gerec-vgg48i": (0.25, "flip+zoom")}
"""The face ensemble on main before issue 19: member -> (weight, TTA mode)."""
BASELINE_COMMIT = "dcd913e"
"""The last commit whose models/ holds every baseline member (and whose registry lists them)."""
ROOT = Path(__file__).resolve().parent.parent


def git_file(path: str) -> bytes:
    """``path`` (relative to the project) as it was at :data:`BASELINE_COMMIT`."""
    try:
        return subprocess.run(
            ["git", "show", f"{BASELINE_COMMIT}:{path}"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        sys.exit(f"the baseline's {path} is read from git history ({BASELINE_COMMIT}); run from a git clone: {exc}")


def baseline_registry(folder: Path) -> Path:
    """The baseline members' registry (entries from :data:`BASELINE_COMMIT`) in ``folder``, with their files."""
    doc = json.loads(git_file(f"models/{REGISTRY_FILE}"))
    doc["members"] = [m for m in doc["members"] if m["name"] in BASELINE]
    for item in doc["members"]:
        item.pop("backend", None)  # measured with its Keras file, as every member here
        target = folder / item["weights"]
        current = models_dir() / item["weights"]
        target.write_bytes(current.read_bytes() if current.is_file() else git_file(f"models/{item['weights']}"))
    path = folder / REGISTRY_FILE
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


CLEAN = "clean"


def grey(images: np.ndarray) -> np.ndarray:
    """uint8 grey crops (n, H, W); RGB sets are converted."""
    if images.ndim == 3:
        return images
    import cv2

    return np.stack([cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) for img in images])


def member_views(registry: Path, names: set[str]) -> dict[str, tuple[Member, dict]]:
    """Every member of the registry worth measuring (Keras files run by Keras, ONNX graphs by ONNX
    Runtime), loaded to run all views once."""
    doc = json.loads(registry.read_text(encoding="utf-8"))
    out = {}
    for item in doc["members"]:
        spec = member_from_json(item, str(registry))
        if spec.val_in_training and spec.name not in names:
            continue
        run = covering_mode((*FIT_TTA_MODES, spec.tta))  # its views, and those of any mode a fit offers by default
        member = load_member(replace(spec, tta=run), resolve_weights(spec, registry.parent), "keras")
        out[spec.name] = (member, item)
    return out


def mixes(
    per_view: dict[str, dict[str, np.ndarray]],
    members: dict[str, tuple[Member, dict]],
    registry_weights: dict[str, tuple[float, str]],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(3-class group probs, 7-class raw probs) of every member, the registry's ensemble and the baseline."""

    def member_probs(name: str, tta: str) -> tuple[np.ndarray, np.ndarray]:
        raw = np.mean([per_view[name][v] for v in TTA_MODES[tta]], axis=0)
        return members[name][0].to_group(raw), raw

    def ensemble(weights: dict[str, tuple[float, str]]) -> tuple[np.ndarray, np.ndarray]:
        total = sum(w for w, _ in weights.values())
        parts = [(w / total, *member_probs(n, tta)) for n, (w, tta) in weights.items() if w > 0]
        group = np.sum([w * g for w, g, _ in parts], axis=0)
        return group, np.sum([w * r for w, _, r in parts], axis=0)

    out = {name: member_probs(name, item.get("tta", "none")) for name, (_, item) in members.items()}
    out["ensemble (registry)"] = ensemble(registry_weights)
    out["baseline (main)"] = ensemble(BASELINE)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", type=Path, default=models_dir() / REGISTRY_FILE)
    parser.add_argument("--data", type=Path, default=fer_train_file())
    parser.add_argument("--limit", type=int, default=0, help="only N validation faces, drawn at random (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random corruptions (occlusion)")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (set GEREC_DATA to the shared data folder)")
        return 0
    faces = load_face_set(args.data)
    _, val_idx = validation_split(faces.labels, 0.1, seed=0)
    if args.limit:  # a random subset: the file is sorted by class
        val_idx = np.sort(np.random.default_rng(args.seed).permutation(val_idx)[: args.limit])
    val = faces.subset(val_idx)
    truth3, truth7 = val.group_labels(), val.labels
    keep = truth3 >= 0
    doc = json.loads(args.registry.read_text(encoding="utf-8"))
    weights = {
        m["name"]: (float(m["weight"]), m.get("tta", "none"))
        for m in doc["members"]
        if m.get("enabled", True) and float(m["weight"]) > 0
    }
    members = member_views(args.registry, set(weights))
    with tempfile.TemporaryDirectory() as tmp:
        old = member_views(baseline_registry(Path(tmp)), set(BASELINE))
    members |= {name: pair for name, pair in old.items() if name not in members}
    missing = set(BASELINE) - set(members)
    if missing:
        sys.exit(f"the baseline needs {sorted(missing)}, which {BASELINE_COMMIT}'s registry does not list")
    print(
        f"data: {args.data.name} validation split (10 %, stratified, seed 0), {len(truth7)} faces, "
        f"{int(keep.sum())} with a group class; registry {args.registry}: "
        + ", ".join(f"{n} {w:g} ({t})" for n, (w, t) in weights.items())
    )
    images = grey(val.images)
    table: dict[str, dict[str, tuple[float, float]]] = {}
    t0 = time.perf_counter()
    for corruption in BENCHMARK_CORRUPTIONS:
        crops = corrupt_all(images, corruption, seed=args.seed)
        per_view = {
            name: dict(zip(TTA_MODES[member.spec.tta], member.predict_views(crops, 512)))
            for name, (member, _) in members.items()
        }
        table[corruption] = {
            name: (float(np.mean(g[keep].argmax(1) == truth3[keep])), float(np.mean(r.argmax(1) == truth7)))
            for name, (g, r) in mixes(per_view, members, weights).items()
        }
    columns = list(next(iter(table.values())))
    print(f"({time.perf_counter() - t0:.0f} s)\n")
    print("| corruption | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    corrupted = [c for c in table if c != CLEAN]
    for name in [*table, "mean of corrupted"]:
        cells = []
        for col in columns:
            if name == "mean of corrupted":
                a3, a7 = (float(np.mean([table[c][col][i] for c in corrupted])) for i in (0, 1))
            else:
                a3, a7 = table[name][col]
            cells.append(f"{100 * a3:.2f} / {100 * a7:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\ncells: 3-class % (surprise left out) / 7-class %")
    ours, baseline = (
        float(np.mean([table[c][col][0] for c in corrupted])) for col in ("ensemble (registry)", "baseline (main)")
    )
    print(f"ratio: {ours / baseline:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
