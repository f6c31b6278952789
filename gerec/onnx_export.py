"""Keras networks written as ONNX graphs, so inference needs no TensorFlow.

Only the layers gerec's networks use are supported (the face members' VGG-style and residual CNNs
and MTCNN's three networks): Conv2D, BatchNormalization, Activation / ReLU / Softmax, PReLU,
MaxPooling2D, Dropout, GlobalAveragePooling2D, Permute, Flatten, Dense, and Add. A face member
(:func:`keras_to_onnx`) is a graph with one input and one output whose branches join only in
``Add`` layers (a chain is the simplest such graph); MTCNN's networks (:func:`chain_to_onnx`) are
a chain of layers (the trunk) ending in one or more heads, each a chain applied to the trunk's
output. Anything else raises ``ValueError`` rather than guess. The graph takes and returns Keras's channels-last
tensors; inside, it runs channels-first, as ONNX operators expect.

Conversion is deterministic (same Keras file, same bytes), and each graph records the SHA-256 of
the file it came from (metadata ``source_sha256``), so a stale export is detected at load time.
Used by ``tools/export_onnx.py``; needs the ``onnx`` package (never at run time).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

OPSET = 13
CHANNELS_FIRST = "nchw"
CHANNELS_LAST = "nhwc"
FLAT = "flat"
PERMUTED = "permuted"
"""After a Permute: only Flatten may follow."""


class _Graph:
    """Nodes and initializers being collected, with unique names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.weights: list[Any] = []
        self._n = 0

    def name(self, stem: str) -> str:
        self._n += 1
        return f"{stem}_{self._n}"

    def const(self, stem: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(stem)
        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], stem: str, **attrs: Any) -> str:
        from onnx import helper

        out = self.name(stem)
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out


def _activation(g: _Graph, x: str, name: str, layout: str, stem: str) -> str:
    if name in ("linear", None):
        return x
    if name == "relu":
        return g.op("Relu", [x], f"{stem}_relu")
    if name == "softmax":
        return g.op("Softmax", [x], f"{stem}_softmax", axis=1 if layout == CHANNELS_FIRST else -1)
    raise ValueError(f"activation {name!r} is not supported")


def _pool_pad(padding: str) -> str:
    if padding == "same":
        return "SAME_UPPER"  # TensorFlow pads the extra row / column at the end, as SAME_UPPER does
    if padding == "valid":
        return "VALID"
    raise ValueError(f"padding {padding!r} is not supported")


def _to_layout(g: _Graph, x: str, layout: str, want: str) -> str:
    if layout in (want, FLAT):
        return x
    if layout == PERMUTED:
        raise ValueError("after a Permute layer only Flatten is supported")
    perm = [0, 2, 3, 1] if want == CHANNELS_LAST else [0, 3, 1, 2]
    return g.op("Transpose", [x], "transpose", perm=perm)


Converted = tuple[str, str]
"""A converted layer's output: the tensor's name and its layout."""


def _conv(g: _Graph, layer: Any, x: str, layout: str, cfg: dict[str, Any], stem: str) -> Converted:
    if tuple(cfg["dilation_rate"]) != (1, 1) or cfg.get("groups", 1) != 1:
        raise ValueError(f"{layer.name}: dilated or grouped convolutions are not supported")
    kernel, *rest = layer.get_weights()
    x = _to_layout(g, x, layout, CHANNELS_FIRST)
    inputs = [x, g.const(f"{stem}_w", kernel.transpose(3, 2, 0, 1))]
    if cfg["use_bias"]:
        inputs.append(g.const(f"{stem}_b", rest[0]))
    y = g.op(
        "Conv",
        inputs,
        stem,
        kernel_shape=list(cfg["kernel_size"]),
        strides=list(cfg["strides"]),
        auto_pad=_pool_pad(cfg["padding"]),
    )
    return _activation(g, y, cfg["activation"], CHANNELS_FIRST, stem), CHANNELS_FIRST


def _batch_norm(g: _Graph, layer: Any, x: str, layout: str, cfg: dict[str, Any], stem: str) -> Converted:
    if cfg["axis"] not in (-1, 3, [3], [-1]):
        raise ValueError(f"{layer.name}: only channel-axis batch normalisation is supported")
    values = dict(zip([w.name for w in layer.weights], layer.get_weights(), strict=True))
    mean, var = values["moving_mean"], values["moving_variance"]
    gamma = values.get("gamma", np.ones_like(mean))
    beta = values.get("beta", np.zeros_like(mean))
    x = _to_layout(g, x, layout, CHANNELS_FIRST)
    params = [g.const(f"{stem}_{n}", v) for n, v in (("g", gamma), ("b", beta), ("m", mean), ("v", var))]
    return g.op("BatchNormalization", [x, *params], stem, epsilon=float(cfg["epsilon"])), CHANNELS_FIRST


def _activation_layer(g: _Graph, layer: Any, x: str, layout: str, cfg: dict[str, Any], stem: str) -> Converted:
    kind = type(layer).__name__
    name = cfg.get("activation", "relu" if kind == "ReLU" else "softmax")
    if kind == "ReLU" and (cfg.get("max_value") is not None or cfg.get("negative_slope", 0.0) != 0.0):
        raise ValueError(f"{layer.name}: only a plain ReLU is supported")
    return _activation(g, x, name, layout, stem), layout


def _prelu(g: _Graph, layer: Any, x: str, layout: str, cfg: dict[str, Any], stem: str) -> Converted:
    (alpha,) = layer.get_weights()
    if layout == FLAT:
        slope = alpha.reshape(-1)
    else:
        if alpha.shape[:2] != (1, 1):
            raise ValueError(f"{layer.name}: only PReLU shared over height and width is supported")
        x = _to_layout(g, x, layout, CHANNELS_FIRST)
        layout = CHANNELS_FIRST
        slope = alpha.reshape(-1, 1, 1)
    return g.op("PRelu", [x, g.const(f"{stem}_alpha", slope)], stem), layout


def _max_pool(g: _Graph, layer: Any, x: str, layout: str, cfg: dict[str, Any], stem: str) -> Converted:
    x = _to_layout(g, x, layout, CHANNELS_FIRST)
    y = g.op(
        "MaxPool",
        [x],
        stem,
        kernel_shape=list(cfg["pool_size"]),
        strides=list(cfg["strides"]),
        auto_pad=_pool_pad(cfg["padding"]),
    )
    return y, CHANNELS_FIRST


def _global_average(g: _Graph, layer: Any, x: str, layout: str, cfg: dict[str, Any], stem: str) -> Converted:
    if cfg.get("keepdims"):
        raise ValueError(f"{layer.name}: keepdims is not supported")
    x = _to_layout(g, x, layout, CHANNELS_FIRST)
    return g.op("Flatten", [g.op("GlobalAveragePool", [x], stem)], f"{stem}_flat", axis=1), FLAT


def _permute(g: _Graph, layer: Any, x: str, layout: str, cfg: dict[str, Any], stem: str) -> Converted:
    dims = tuple(cfg["dims"])
    x = _to_layout(g, x, layout, CHANNELS_LAST)
    return g.op("Transpose", [x], stem, perm=[0, *dims]), PERMUTED


def _flatten(g: _Graph, layer: Any, x: str, layout: str, cfg: dict[str, Any], stem: str) -> Converted:
    if layout == CHANNELS_FIRST:
        x = _to_layout(g, x, layout, CHANNELS_LAST)  # Keras flattens channels-last
    return g.op("Flatten", [x], stem, axis=1), FLAT


def _dense(g: _Graph, layer: Any, x: str, layout: str, cfg: dict[str, Any], stem: str) -> Converted:
    if layout != FLAT:
        raise ValueError(f"{layer.name}: Dense on a 4-d tensor is not supported")
    kernel, *rest = layer.get_weights()
    bias = rest[0] if cfg["use_bias"] else np.zeros(kernel.shape[1], np.float32)
    y = g.op("Gemm", [x, g.const(f"{stem}_w", kernel), g.const(f"{stem}_b", bias)], stem)
    return _activation(g, y, cfg["activation"], FLAT, stem), FLAT


def _identity(g: _Graph, layer: Any, x: str, layout: str, cfg: dict[str, Any], stem: str) -> Converted:
    return x, layout


LAYERS: dict[str, Callable[[_Graph, Any, str, str, dict[str, Any], str], Converted]] = {
    "InputLayer": _identity,
    "Dropout": _identity,
    "Conv2D": _conv,
    "BatchNormalization": _batch_norm,
    "Activation": _activation_layer,
    "ReLU": _activation_layer,
    "Softmax": _activation_layer,
    "PReLU": _prelu,
    "MaxPooling2D": _max_pool,
    "GlobalAveragePooling2D": _global_average,
    "Permute": _permute,
    "Flatten": _flatten,
    "Dense": _dense,
}
"""The Keras layer types the export converts, by class name, each to its ONNX nodes."""


def _layer(g: _Graph, layer: Any, x: str, layout: str) -> Converted:
    """Append one Keras layer; returns the new tensor name and its layout."""
    kind = type(layer).__name__
    if kind not in LAYERS:
        raise ValueError(f"layer {layer.name} ({kind}) is not supported")
    return LAYERS[kind](g, layer, x, layout, layer.get_config(), layer.name.replace("-", "_"))


def chain_to_onnx(
    trunk: Sequence[Any],
    heads: Sequence[Sequence[Any]],
    input_shape: tuple[int | None, ...],
    output_names: Sequence[str],
    source_sha256: str,
    graph_name: str,
) -> bytes:
    """The ONNX model (serialised) of ``trunk`` followed by each of ``heads``.

    ``input_shape`` is channels-last without the batch axis (``None`` for a free size); outputs
    are returned channels-last, named ``output_names``.
    """
    g = _Graph()
    x, layout = "input", CHANNELS_LAST
    for layer in trunk:
        x, layout = _layer(g, layer, x, layout)
    outputs = []
    for head, out_name in zip(heads, output_names, strict=True):
        y, y_layout = x, layout
        for layer in head:
            y, y_layout = _layer(g, layer, y, y_layout)
        outputs.append(_output(g, y, y_layout, out_name))
    return _serialise(g, graph_name, input_shape, outputs, source_sha256)


def _output(g: _Graph, y: str, layout: str, name: str) -> Any:
    """Tensor ``y`` returned channels-last as the graph output ``name``; its value info."""
    from onnx import TensorProto, helper

    y = _to_layout(g, y, layout, CHANNELS_LAST)
    g.nodes.append(helper.make_node("Identity", [y], [name], name=name))
    rank = 2 if layout == FLAT else 4
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [f"{name}_{i}" for i in range(rank)])


def _serialise(
    g: _Graph, graph_name: str, input_shape: tuple[int | None, ...], outputs: list[Any], source_sha256: str
) -> bytes:
    """The checked, deterministic bytes of the ONNX model of ``g`` (input ``input``, channels-last
    ``input_shape`` without the batch axis, ``None`` for a free size), recording its source's hash."""
    import onnx
    from onnx import TensorProto, helper

    dims = ["batch", *[d if d is not None else f"dim{i}" for i, d in enumerate(input_shape)]]
    graph = helper.make_graph(
        g.nodes,
        graph_name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)],
        outputs,
        initializer=g.weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="gerec.onnx_export")
    model.ir_version = 8
    helper.set_model_props(model, {"source_sha256": source_sha256})
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString(deterministic=True))


# Keras 3 has no public way to walk a functional graph call by call: ``Operation.input`` and
# ``.output`` give only a layer's first call, ``get_input_at`` / ``get_output_at`` were removed
# (keras-team/keras#23238, open), and the Keras author points to the private ``_inbound_nodes``
# (keras-team/keras#20267). So the walk reads what keras's own Functional model reads: a layer's
# ``_inbound_nodes``, each node's ``input_tensors`` / ``output_tensors``, and a tensor's
# ``_keras_history`` (operation, node index, tensor index). Checked with keras 3.15.1 (the
# requirements.txt lock; pyproject allows >=3.6,<4); tests/test_onnx_members.py's
# test_the_keras_internals_the_converter_reads_are_there fails, naming the one gone, if they change.
def _history_key(tensor: Any) -> tuple[int, int, int]:
    """Which layer call made a Keras tensor: (layer, call, output index)."""
    operation, node_index, tensor_index = tensor._keras_history
    return id(operation), node_index, tensor_index


def _add(g: _Graph, layer: Any, inputs: list[tuple[str, str]]) -> tuple[str, str]:
    """A Keras ``Add`` of tensors of one shape: summed in one layout (channels-first unless all are flat)."""
    layouts = {layout for _, layout in inputs}
    if PERMUTED in layouts:
        raise ValueError(f"{layer.name}: Add after a Permute is not supported")
    want = FLAT if layouts == {FLAT} else CHANNELS_FIRST
    if FLAT in layouts and want != FLAT:
        raise ValueError(f"{layer.name}: Add of a flat and a 4-d tensor is not supported")
    names = [_to_layout(g, x, layout, want) for x, layout in inputs]
    total = names[0]
    for k, other in enumerate(names[1:]):
        total = g.op("Add", [total, other], layer.name.replace("-", "_") + ("" if k == 0 else f"_{k}"))
    return total, want


def keras_to_onnx(model: Any, source_sha256: str, graph_name: str) -> bytes:
    """A single-input, single-output Keras model: a chain of layers, or a graph whose branches
    join in ``Add`` layers (residual blocks). Output ``probs``, channels-last."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"{model.name}: only one input and one output are supported")
    g = _Graph()
    tensors: dict[tuple[int, int, int], tuple[str, str]] = {_history_key(model.inputs[0]): ("input", CHANNELS_LAST)}
    for layer in getattr(model, "operations", model.layers):  # operations: also ops like ``a + b``, to refuse them
        if type(layer).__name__ == "InputLayer":
            continue
        nodes = getattr(layer, "_inbound_nodes", [])
        if len(nodes) != 1:
            raise ValueError(f"{model.name}: layer {layer.name} is called {len(nodes)} times; not supported")
        node = nodes[0]
        try:
            inputs = [tensors[_history_key(t)] for t in node.input_tensors]
        except KeyError as exc:
            raise ValueError(f"{model.name}: layer {layer.name} reads a tensor made later; not supported") from exc
        if type(layer).__name__ == "Add":
            out = _add(g, layer, inputs)
        elif len(inputs) == 1:
            out = _layer(g, layer, *inputs[0])
        else:
            raise ValueError(f"layer {layer.name} ({type(layer).__name__}) with several inputs is not supported")
        if len(node.output_tensors) != 1:
            raise ValueError(f"{model.name}: layer {layer.name} has several outputs; not supported")
        tensors[_history_key(node.output_tensors[0])] = out
    if _history_key(model.outputs[0]) not in tensors:
        raise ValueError(f"{model.name}: its output is not made by a supported layer")
    y, layout = tensors[_history_key(model.outputs[0])]
    output = _output(g, y, layout, "probs")
    return _serialise(g, graph_name, tuple(model.input_shape[1:]), [output], source_sha256)
