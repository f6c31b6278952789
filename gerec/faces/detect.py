"""Face detection with MTCNN: its ONNX exports run by ONNX Runtime (the default, no TensorFlow),
or the ``mtcnn`` package's own Keras networks (weights packaged inside the ``mtcnn`` wheel)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from gerec.config import RUNTIMES, models_dir, runtime_override
from gerec.errors import ModelFileMissing
from gerec.tf_graph import traced_inference
from gerec.tf_quiet import quiet_tensorflow
from gerec.types import Face

DEFAULT_MIN_CONFIDENCE = 0.90
DEFAULT_MIN_FACE_SIZE = 20
DEFAULT_RUNTIME = "onnx"
"""MTCNN's runtime unless ``$GEREC_RUNTIME`` or the caller chooses: the ONNX exports in models/."""
KEYPOINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def clip_box(x: float, y: float, w: float, h: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Clip an (x, y, w, h) box to an image of ``width`` x ``height``; may return w or h 0."""
    x0 = int(round(min(max(x, 0.0), width)))
    y0 = int(round(min(max(y, 0.0), height)))
    x1 = int(round(min(max(x + w, 0.0), width)))
    y1 = int(round(min(max(y + h, 0.0), height)))
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


# The mtcnn release whose private ``stage._model`` attribute the traced graphs replace.
PATCHED_MTCNN = "1.0.0"

# Input shapes of MTCNN's three networks: P-Net sees whole pyramid levels, R-Net and O-Net crops.
STAGE_INPUT_SHAPES = ((None, None, None, 3), (None, 24, 24, 3), (None, 48, 48, 3))


class GraphNetwork:
    """One of MTCNN's Keras networks run as a single traced TensorFlow graph.

    mtcnn calls its networks eagerly, layer by layer, once per pyramid level; tracing each
    network once with a shape-relaxed signature gives the same numbers at about half the cost.
    An empty batch goes to the eager network, whose error mtcnn reads as "no faces".
    """

    def __init__(self, network: Any, input_shape: tuple[int | None, ...]) -> None:
        self.network = network
        self._graph = traced_inference(network, input_shape)

    def __call__(self, batch: Any, *args: Any, **kwargs: Any) -> Any:
        import tensorflow as tf

        batch = tf.convert_to_tensor(batch, tf.float32)
        if batch.shape[0] == 0:
            return self.network(batch)
        return self._graph(batch)


def can_patch(detector: Any, version: str | None = None) -> bool:
    """Whether mtcnn is the release the traced-graph patch was written for, with the attributes it
    replaces. Any other release keeps mtcnn's own eager calls (same boxes, slower), with a warning."""
    import warnings
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    if version is None:
        try:
            version = installed("mtcnn")
        except PackageNotFoundError:
            version = "unknown"
    stages = getattr(detector, "stages", ())
    shaped = len(stages) == len(STAGE_INPUT_SHAPES) and all(
        hasattr(s, "_model") and hasattr(s, "model") for s in stages
    )
    if version == PATCHED_MTCNN and shaped:
        return True
    warnings.warn(
        f"mtcnn {version} is not the release gerec's traced detection was written for "
        f"({PATCHED_MTCNN}): detection runs mtcnn's own eager networks",
        RuntimeWarning,
        stacklevel=3,
    )
    return False


def keras_mtcnn(compile_graphs: bool = True) -> Any:
    """The ``mtcnn`` package's detector (imports TensorFlow), its networks traced when it is the
    release the patch was written for and ``compile_graphs`` is on."""
    quiet_tensorflow()
    try:
        from mtcnn import MTCNN
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModelFileMissing(f"the mtcnn package is not installed: {exc}") from exc
    try:
        detector = MTCNN(device="CPU:0")
    except (OSError, FileNotFoundError) as exc:
        raise ModelFileMissing(f"mtcnn's packaged weights could not be loaded: {exc}") from exc
    if compile_graphs and can_patch(detector):
        for stage, shape in zip(detector.stages, STAGE_INPUT_SHAPES, strict=True):
            stage._model = GraphNetwork(stage.model, shape)
    return detector


class FaceDetector:
    """MTCNN face detector. Loads its three networks once; ``detect`` is thread-compatible."""

    def __init__(
        self,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        min_face_size: int = DEFAULT_MIN_FACE_SIZE,
        compile_graphs: bool = True,
        runtime: str | None = None,
    ) -> None:
        """``runtime`` is ``"onnx"`` (:class:`~gerec.faces.mtcnn_onnx.OnnxMTCNN` on the exports in
        models/, no TensorFlow) or ``"keras"`` (the ``mtcnn`` package); unset: ``$GEREC_RUNTIME``,
        else ``"onnx"``, which falls back to ``"keras"`` with a warning when its exports (or onnxruntime)
        are missing. ``compile_graphs=False`` keeps mtcnn's own eager calls (keras only; same
        boxes, slower)."""
        chosen = runtime or runtime_override()
        self.runtime = chosen or DEFAULT_RUNTIME
        if self.runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, not {self.runtime!r}")
        self._mtcnn: Any = None
        if self.runtime == "onnx":
            from gerec.faces.mtcnn_onnx import OnnxMTCNN

            try:
                self._mtcnn = OnnxMTCNN(models_dir())
            except ModelFileMissing as exc:  # missing or stale exports, or no onnxruntime
                if chosen:  # asked for by name: say so rather than run something else
                    raise
                warnings.warn(f"{exc}; detecting with the mtcnn package instead (slower)", RuntimeWarning, stacklevel=2)
                self.runtime = "keras"
        if self._mtcnn is None:
            self._mtcnn = keras_mtcnn(compile_graphs)
        self.min_confidence = min_confidence
        self.min_face_size = min_face_size

    def warm_up(self) -> None:
        """Run each of the three networks once on a dummy batch, so the first photo pays no tracing."""
        if self.runtime == "onnx":
            self._mtcnn.warm_up()
            return
        for stage, shape in zip(self._mtcnn.stages, STAGE_INPUT_SHAPES, strict=True):
            side = shape[1] or 48
            stage.model(np.zeros((1, side, side, 3), dtype=np.float32))

    def detect(self, pixels: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 image, numbered from 1 left to right, boxes clipped to the image."""
        height, width = pixels.shape[:2]
        if min(height, width) < 12:
            return []
        raw: list[dict[str, Any]] = self._mtcnn.detect_faces(
            pixels, min_face_size=self.min_face_size, threshold_onet=self.min_confidence
        )
        faces: list[Face] = []
        for item in raw:
            confidence = float(item.get("confidence", 0.0))
            if confidence < self.min_confidence:
                continue
            bx, by, bw, bh = (float(v) for v in item["box"])
            box = clip_box(bx, by, bw, bh, width, height)
            if box[2] < 2 or box[3] < 2:
                continue
            points = {k: (float(v[0]), float(v[1])) for k, v in item.get("keypoints", {}).items() if k in KEYPOINTS}
            faces.append(Face(index=0, box=box, confidence=confidence, keypoints=points))
        faces.sort(key=lambda f: (f.box[0], f.box[1]))
        return [Face(i + 1, f.box, f.confidence, f.keypoints) for i, f in enumerate(faces)]
