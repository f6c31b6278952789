"""A Keras-trained face member as ``python -m gerec train-faces`` and ``tools/export_onnx.py`` leave
it in a models folder, for the tests of Keras members, their ONNX exports and the fallback between
them. ``models/`` ships no Keras member since issue 19's round 16 (both weighted members are ONNX
graphs), so these tests make their own: a small VGG, untrained, with fixed weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gerec.emotion.data import FER_CLASSES, FER_TO_GROUP

NAME = "tiny-vgg"


def keras_entry(weights: str = "tiny_vgg.keras", name: str = NAME) -> dict[str, Any]:
    """A registry entry for a 48 px grey Keras member on FER's 7 classes, run from its ONNX export."""
    return {
        "name": name,
        "weights": weights,
        "backend": "onnx",
        "input_size": 48,
        "colour": "gray",
        "preprocess": "unit",
        "classes": list(FER_CLASSES),
        "mapping": {c: FER_TO_GROUP.get(c) for c in FER_CLASSES},
        "weight": 1.0,
        "enabled": True,
        "tta": "zoom",
    }


def make_keras_member(folder: Path, *, export: bool = True) -> tuple[dict[str, Any], Any]:
    """``tiny_vgg.keras`` in ``folder`` (seeded), its ONNX export beside it as the export tool writes
    it (unless ``export`` is false), and ``ensemble.json`` holding it alone: (its entry, the model)."""
    from gerec.tf_quiet import quiet_tensorflow

    quiet_tensorflow()
    import keras

    from gerec.config import models_dir
    from gerec.emotion.architectures import build_model
    from gerec.emotion.ensemble import onnx_export_path
    from gerec.emotion.registry import REGISTRY_FILE
    from gerec.onnx_export import keras_to_onnx
    from gerec.versions import file_sha256

    keras.utils.set_random_seed(0)
    model = build_model("vgg", 48, len(FER_CLASSES), 1, width=0.125)
    entry = keras_entry()
    path = folder / entry["weights"]
    model.save(path)
    if export:
        onnx_export_path(path).write_bytes(keras_to_onnx(model, file_sha256(path), entry["name"]))
    committed = json.loads((models_dir() / REGISTRY_FILE).read_text(encoding="utf-8"))
    registry = {**committed, "members": [entry]}  # its other parts (format, face confusion) as shipped
    (folder / REGISTRY_FILE).write_text(json.dumps(registry), encoding="utf-8")
    return entry, model
