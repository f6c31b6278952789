"""ONNX graphs run by ONNX Runtime on the CPU: inference without TensorFlow.

gerec's ONNX files are exports of Keras networks (:mod:`gerec.onnx_export`) and record the
SHA-256 of their source (metadata ``source_sha256``). :class:`OnnxNetwork` checks it against the
source file when asked, so a network retrained since its export is never run from the old graph.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from gerec.errors import InvalidModelFile, ModelFileMissing, StaleExport
from gerec.versions import file_sha256

EXPORT_COMMAND = "python tools/export_onnx.py"
"""The command that (re)writes every ONNX export in models/."""
THREADS = 2
"""Threads per network (the machine gerec is built for has two cores)."""


def _options() -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # idle worker threads sleep instead of spinning: a spinning thread takes a core from the numpy
    # work between runs (MTCNN's steps, saliency's masks); measured 1.2 to 2x faster end to end
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def inferred_widths(path: Path) -> dict[str, int]:
    """Each output's last dimension that ONNX's shape inference (with data propagation) finds
    fixed, by output name; empty when onnx is not installed or cannot infer the graph."""
    try:
        import onnx
    except ImportError:
        return {}
    try:
        model = onnx.shape_inference.infer_shapes(onnx.load(str(path)), data_prop=True)
    except Exception:  # noqa: BLE001 - onnx raises its own types (and ValueError) for a graph it cannot infer
        return {}
    widths: dict[str, int] = {}
    for output in model.graph.output:
        dims = output.type.tensor_type.shape.dim
        if dims and dims[-1].HasField("dim_value"):
            widths[output.name] = int(dims[-1].dim_value)
    return widths


class OnnxNetwork:
    """One ONNX graph, loaded once; calling it runs every output on a float32 batch.

    ``expect_source`` (the file the graph was exported from) makes a missing export or one made
    from another version of that file raise :class:`~gerec.errors.StaleExport`.
    """

    def __init__(self, path: Path, expect_source: Path | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # an environment set up before gerec needed it
            raise ModelFileMissing(
                f"the onnxruntime package is not installed ({exc}): run `make install` "
                "(or pip install -r requirements.txt)"
            ) from exc
        self.path = path
        if not path.is_file():
            raise StaleExport(f"{path.name} not found in {path.parent}: run `{EXPORT_COMMAND}`")
        try:
            self._session = ort.InferenceSession(str(path), _options(), providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for a damaged file
            raise InvalidModelFile(
                f"{path} is not a readable ONNX graph ({type(exc).__name__}); rebuild it: `{EXPORT_COMMAND}`"
            ) from exc
        self.source_sha256 = self._session.get_modelmeta().custom_metadata_map.get("source_sha256", "")
        if expect_source is not None and self.source_sha256 != file_sha256(expect_source):
            raise StaleExport(
                f"{path.name} was exported from another version of {expect_source.name}: run `{EXPORT_COMMAND}`"
            )
        self._input = self._session.get_inputs()[0].name
        self._outputs = [o.name for o in self._session.get_outputs()]
        self._lock = threading.Lock()  # one run at a time: the two cores are already shared by its threads
        self._sizes: dict[int, int] = {}  # output_size's answers

    def output_size(self, k: int) -> int:
        """The last dimension of output ``k`` (its number of classes or values), read from the
        graph: ONNX Runtime's shapes, else ONNX's shape inference with data propagation (which
        resolves some that ONNX Runtime leaves free). A width neither gives (one that follows a
        free input size) is found by running a zero batch, once per network."""
        if k not in self._sizes:
            dim = self._session.get_outputs()[k].shape[-1]
            if not isinstance(dim, int):
                dim = inferred_widths(self.path).get(self._outputs[k])
            if dim is None:
                probe = np.zeros((1, *self.input_shape()), dtype=np.float32)
                dim = int(self(probe)[k].shape[-1])
            self._sizes[k] = dim
        return self._sizes[k]

    def input_shape(self) -> tuple[int, ...]:
        """The input's shape without the batch axis (free sizes read as 48)."""
        dims = self._session.get_inputs()[0].shape[1:]
        return tuple(d if isinstance(d, int) else 48 for d in dims)

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        """Every output for a float32 batch (channels-last, as the Keras network took it)."""
        x = np.ascontiguousarray(batch, dtype=np.float32)
        with self._lock:
            return list(self._session.run(self._outputs, {self._input: x}))
