"""OnnxNetwork reads an output's width from the graph, and runs it to find one only when it must."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from gerec.onnx_runtime import OnnxNetwork, inferred_widths


def _save(path: Path, nodes: list, initialisers: list, x_shape: list, y_shape: list | None) -> Path:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
        initialisers,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _ints(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, np.int64), name)


def _counting_runs(monkeypatch) -> list[int]:
    runs: list[int] = []
    call = OnnxNetwork.__call__

    def counted(self, batch):
        runs.append(len(batch))
        return call(self, batch)

    monkeypatch.setattr(OnnxNetwork, "__call__", counted)
    return runs


def test_a_width_only_shape_inference_finds_is_read_without_running_the_graph(tmp_path, monkeypatch):
    """ConstantOfShape(Shape(x) + [0, 3]): ONNX Runtime leaves the width free, ONNX's data
    propagation finds 4 + 3 = 7."""
    path = _save(
        tmp_path / "cos.onnx",
        [
            helper.make_node("Shape", ["x"], ["s"]),
            helper.make_node("Add", ["s", "three"], ["s3"]),
            helper.make_node(
                "ConstantOfShape", ["s3"], ["y"], value=numpy_helper.from_array(np.array([0], np.float32))
            ),
        ],
        [_ints("three", [0, 3])],
        ["n", 4],
        None,
    )
    runs = _counting_runs(monkeypatch)
    network = OnnxNetwork(path)
    assert not isinstance(network._session.get_outputs()[0].shape[-1], int)  # the case this is about
    assert inferred_widths(path) == {"y": 7}
    assert network.output_size(0) == 7
    assert runs == []
    assert network(np.zeros((1, 4)))[0].shape[-1] == 7  # what a run gives


def test_a_width_that_follows_a_free_input_size_is_probed_once(tmp_path, monkeypatch):
    """Flatten of (n, h, 4): the width is h x 4, known only by running (h read as 48)."""
    path = _save(tmp_path / "flat.onnx", [helper.make_node("Flatten", ["x"], ["y"], axis=1)], [], ["n", "h", 4], None)
    runs = _counting_runs(monkeypatch)
    network = OnnxNetwork(path)
    assert inferred_widths(path) == {}
    assert network.output_size(0) == 48 * 4
    assert network.output_size(0) == 48 * 4
    assert runs == [1]


def test_a_fixed_width_is_read_from_the_session(tmp_path, monkeypatch):
    path = _save(
        tmp_path / "dense.onnx",
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        [numpy_helper.from_array(np.ones((4, 7), np.float32), "w")],
        ["n", 4],
        ["n", 7],
    )
    runs = _counting_runs(monkeypatch)
    monkeypatch.setattr("gerec.onnx_runtime.inferred_widths", lambda path: pytest.fail("inferred a fixed width"))
    assert OnnxNetwork(path).output_size(0) == 7
    assert runs == []


def test_a_graph_onnx_cannot_infer_gives_no_widths(tmp_path):
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(b"not a graph")
    assert inferred_widths(damaged) == {}
