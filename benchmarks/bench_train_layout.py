"""Training steps of an EfficientNet-Lite face member in the two memory layouts of ``tools/train_pretrained_face.py``.

gerec: ``--layout channels-last`` (the default since issue 19 round 18), the network's weights in
torch.channels_last. Baseline: ``--layout contiguous``, torch's default layout, which every member
of rounds 1-17 trained in. Each timed step is what the tool's epochs repeat: a batch of augmented
64 px grey faces (FER-2013 ``train.npz`` when it is there, else random crops), forward, loss,
backward and an AdamW step, with the tool's own network (:func:`pretrained_face_net.build`).

The layouts take turns (``--rounds`` times each, a fresh network each time, warmed up by two steps)
so a load that comes and goes falls on both. Needs the tools venv (torch and the EfficientNet-Lite
weight packages: ``tools/train_pretrained_face.py``'s docstring), not gerec's ``.venv``::

    /work/torchenv/bin/python benchmarks/bench_train_layout.py --arch efficientnet-lite1

Last line: ``ratio: <baseline seconds per step / gerec seconds per step>``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]  # gerec from the source tree; the tool's modules

TIMED = {"channels-last (gerec)": "channels-last", "contiguous (baseline)": "contiguous"}
"""What is timed -> its ``--layout`` (tools/pretrained_face_net.LAYOUTS)."""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="efficientnet-lite1", help="the backbone, as the tool's --arch")
    p.add_argument("--size", type=int, default=64, help="input side in pixels, as the tool's --size")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=8, help="timed steps per turn")
    p.add_argument("--rounds", type=int, default=3, help="turns per layout")
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args()


def batch(size: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Augmented training faces as the tool makes them, and their labels."""
    from pretrained_face_data import train_batch

    from gerec.config import fer_train_file
    from gerec.emotion.data import load_face_set

    rng = np.random.default_rng(0)
    path = fer_train_file()
    if path.is_file():
        faces = load_face_set(path)
        pick = rng.choice(len(faces.labels), n, replace=False)
        print(f"faces: {n} of {path}")
        return train_batch(faces.images[pick], rng, size), faces.labels[pick]
    print("faces: random 48 px crops (FER-2013 train.npz not found)")
    return train_batch(rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), rng, size), rng.integers(0, 7, n)


def seconds_per_step(args: argparse.Namespace, layout: str, x: np.ndarray, y: np.ndarray) -> float:
    """A fresh network in ``layout``: two warm-up steps, then the median of ``--steps`` timed ones."""
    import torch
    from pretrained_face_net import build, in_layout

    torch.manual_seed(0)
    model, _ = build(7, args.arch)
    model = in_layout(model, layout).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    times = []
    for i in range(2 + args.steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    args = parse_args()
    try:
        import torch
    except ImportError:
        raise SystemExit("error: torch is not installed here: run this with the tools venv (its docstring)") from None
    torch.set_num_threads(args.threads)
    x, y = batch(args.size, args.batch)
    found: dict[str, list[float]] = {name: [] for name in TIMED}
    for r in range(args.rounds):
        for name, layout in TIMED.items():
            found[name].append(seconds_per_step(args, layout, x, y))
            print(f"round {r + 1}, {name}: {found[name][-1]:.3f} s per step")
    medians = {name: statistics.median(v) for name, v in found.items()}
    for name, m in medians.items():
        print(f"median, {name}: {m:.3f} s per step ({args.arch}, {args.size} px, batch {args.batch})")
    gerec, baseline = medians.values()
    print(f"ratio: {baseline / gerec:.3f}")


if __name__ == "__main__":
    main()
