"""MTCNN's three networks written as ONNX graphs, so face detection needs no TensorFlow.

The networks are built exactly as ``mtcnn==1.0.0`` builds them (its ``MTCNN`` loads the packaged
``.lz4`` weights) and converted layer by layer along each network's ``call``
(:func:`gerec.onnx_export.chain_to_onnx`). Each graph records the SHA-256 of its weight file.
Used by ``tools/export_onnx.py``; needs TensorFlow, the ``mtcnn`` package and ``onnx``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gerec.errors import InvalidModelFile, ModelFileMissing
from gerec.faces.mtcnn_onnx import MTCNN_RELEASE, STAGES, onnx_file_name, packaged_weights

# Per network: its input without the batch axis, the trunk's layer attributes (in ``call``'s order),
# one chain of layer attributes per head, and the heads' output names, in the order ``call`` returns them.
_LAYOUT: dict[str, tuple[tuple[int | None, ...], str, tuple[str, ...], tuple[str, ...]]] = {
    "pnet": (
        (None, None, 3),
        "conv1 prelu1 maxpool1 conv2 prelu2 conv3 prelu3",
        ("conv4_1", "conv4_2"),
        ("bbox_reg", "bbox_class"),
    ),
    "rnet": (
        (24, 24, 3),
        "conv1 prelu1 maxpool1 conv2 prelu2 maxpool2 conv3 prelu3 permute flatten fc4 prelu4",
        ("fc5_1", "fc5_2"),
        ("bbox_reg", "bbox_class"),
    ),
    "onet": (
        (48, 48, 3),
        "conv1 prelu1 maxpool1 conv2 prelu2 maxpool2 conv3 prelu3 maxpool3 conv4 prelu4 permute flatten fc5 prelu5",
        ("fc6_1", "fc6_2", "fc6_3"),
        ("bbox_reg", "landmarks", "bbox_class"),
    ),
}


def network_to_onnx(stage: str, network: Any, source_sha256: str) -> bytes:
    """One of mtcnn's Keras networks (``PNet``, ``RNet`` or ``ONet``) as a serialised ONNX model."""
    from gerec.onnx_export import chain_to_onnx

    input_shape, trunk, heads, outputs = _LAYOUT[stage]
    return chain_to_onnx(
        [getattr(network, name) for name in trunk.split()],
        [[getattr(network, name) for name in head.split()] for head in heads],
        input_shape,
        outputs,
        source_sha256,
        onnx_file_name(stage).removesuffix(".onnx"),
    )


def export_mtcnn(folder: Path) -> list[Path]:
    """Write ``mtcnn_pnet.onnx``, ``mtcnn_rnet.onnx`` and ``mtcnn_onet.onnx`` into ``folder``."""
    from importlib.metadata import version

    from gerec.tf_quiet import quiet_tensorflow
    from gerec.versions import file_sha256

    if (installed := version("mtcnn")) != MTCNN_RELEASE:
        raise InvalidModelFile(f"the MTCNN export is written for mtcnn {MTCNN_RELEASE}, not {installed}")
    quiet_tensorflow()
    from mtcnn import MTCNN

    detector = MTCNN(device="CPU:0")  # builds the three networks and loads the packaged weights
    written = []
    for name, stage in zip(STAGES, detector.stages, strict=True):
        source = packaged_weights(name)
        if source is None:
            raise ModelFileMissing(f"mtcnn's packaged weights for {name} were not found: reinstall mtcnn")
        out = folder / onnx_file_name(name)
        out.write_bytes(network_to_onnx(name, stage.model, file_sha256(source)))
        written.append(out)
    return written
