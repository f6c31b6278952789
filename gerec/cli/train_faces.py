"""``train-faces DATA --out models/NAME.keras``: train one face-expression ensemble member."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gerec.emotion.architectures import ARCHITECTURES, AUGMENTS


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train-faces`` command."""
    p = sub.add_parser("train-faces", help="train one face-expression CNN (ensemble member)")
    p.add_argument("data", type=Path, help="FER-format .npz, or a folder with one subfolder of crops per class")
    p.add_argument("--out", type=Path, required=True, help="model file to write (.keras); report beside it")
    p.add_argument("--arch", choices=ARCHITECTURES, default="vgg")
    p.add_argument("--width", type=float, default=1.0, help="filter-count multiplier (default 1.0)")
    p.add_argument("--input-size", type=int, default=48)
    p.add_argument("--colour", choices=("gray", "rgb"), default="gray")
    p.add_argument("--classes", type=int, choices=(3, 7), default=7, help="3 group classes or FER's 7")
    p.add_argument("--epochs", type=int, default=24)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (warm-up, then cosine)")
    p.add_argument("--patience", type=int, default=6, help="early stopping: epochs without improvement")
    p.add_argument("--class-weight", choices=("none", "sqrt", "balanced"), default="sqrt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0 = TensorFlow's default)")
    p.add_argument("--limit", type=int, default=0, help="use only the first N training faces (smoke tests)")
    p.add_argument(
        "--init",
        type=Path,
        default=None,
        help="fine-tune: start from this saved member (.keras); a new head if the classes differ",
    )
    p.add_argument(
        "--augment",
        choices=AUGMENTS,
        default="standard",
        help="robust: also downscale-upscale (14-40 px), JPEG (quality 15-90), random erasing, "
        "lighting and rotation up to 20 degrees, as faces in group photos",
    )
    p.add_argument(
        "--swa-from",
        type=int,
        default=0,
        metavar="EPOCH",
        help="stochastic weight averaging: from this epoch on, hold the learning rate and average the weights; "
        "the average is shipped if it beats the best epoch on validation (0 = off)",
    )
    p.add_argument(
        "--keep",
        choices=("best", "last"),
        default="best",
        help="best: the best epoch on the validation split, with early stopping; last: the last epoch "
        "(or the weight average), no early stopping: nothing chosen on the split fit-ensemble scores",
    )
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint of an interrupted run")
    p.set_defaults(func=run)


def patience_warning(init: Path | None, patience: int, epochs: int, keep: str = "best") -> str | None:
    """A warning when fine-tuning could stop before the cosine cycle reaches its low learning rates."""
    if init is None or patience >= epochs or keep == "last":
        return None
    return (
        f"warning: --patience {patience} < --epochs {epochs} while fine-tuning (--init): a new cosine cycle "
        "first lowers validation accuracy and gains in its last epochs; early stopping may end it first"
    )


def run(args: argparse.Namespace) -> int:
    """Train, then print the best epoch's validation figures. A stop signal (SIGTERM, Ctrl-C) ends
    the run with 128 + the signal, leaving the previous member and report as they were and the
    checkpoint (``OUT.ckpt/``) that ``--resume`` continues."""
    from gerec.emotion.training import TrainConfig, train_member
    from gerec.fileio import report_path
    from gerec.stopping import stop_signals

    cfg = TrainConfig(
        data=str(args.data),
        out=str(args.out),
        arch=args.arch,
        input_size=args.input_size,
        n_classes=args.classes,
        colour=args.colour,
        width=args.width,
        epochs=args.epochs,
        batch=args.batch,
        lr=args.lr,
        patience=args.patience,
        seed=args.seed,
        class_weight=args.class_weight,
        threads=args.threads,
        limit=args.limit,
        init=str(args.init) if args.init else "",
        augment=args.augment,
        swa_from=args.swa_from,
        keep=args.keep,
    )
    warning = patience_warning(args.init, args.patience, args.epochs, args.keep)
    if warning:
        print(warning, file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with stop_signals():  # a stop raises here: temporary files go, the checkpoint stays for --resume
        report = train_member(cfg, resume=args.resume)
    final = report["final"]
    print(json.dumps({k: final[k] for k in ("val_accuracy", "val_accuracy3", "val_loss")}))
    print(
        f"kept {report['kept']} (best epoch {report['best_epoch']} of {report['epochs_run']}); wrote {args.out} and "
        f"{report_path(args.out)}"
    )
    return 0
