"""Ensemble members (Keras models, run by Keras or from their ONNX export; ONNX graphs) and their weighted ensemble.

All faces of a photo go through each member in one batched call. A member's raw class
probabilities are tempered by its calibrated temperature (registry ``temperature``, fitted by
``fit-ensemble``), mapped to the group classes (dropped classes are renormalised away), and the
ensemble is the weighted mean of the members' 3-class probabilities.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gerec.calibration import tempered
from gerec.config import runtime_override
from gerec.emotion.registry import BACKENDS, EnsembleSpec, MemberSpec, read_registry, resolve_weights
from gerec.emotion.views import TTA_MODES, make_views, split_views
from gerec.errors import InvalidModelFile, ModelFileMissing
from gerec.onnx_runtime import OnnxNetwork
from gerec.tf_graph import traced_inference
from gerec.tf_quiet import quiet_tensorflow


def to_member_input(crops: np.ndarray, size: int, colour: str, preprocess: str) -> np.ndarray:
    """Resize uint8 crops (n, H, W, 3) or (n, H, W) to a member's input tensor (float32)."""
    if crops.ndim == 3:
        crops = crops[..., None]
    out = []
    for crop in crops:
        img = crop
        if colour == "gray" and img.shape[-1] == 3:
            img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        elif colour == "rgb" and img.shape[-1] == 1:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
        img = np.squeeze(img) if colour == "gray" else img
        if img.shape[0] != size or img.shape[1] != size:
            interp = cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_LINEAR
            img = cv2.resize(img, (size, size), interpolation=interp)
        out.append(img)
    x = np.stack(out).astype(np.float32)
    if colour == "gray":
        x = x[..., None]
    if preprocess == "minus1_1":
        return x / 127.5 - 1.0
    if preprocess == "unit":
        return x / 255.0
    return x


def group_probabilities(raw: np.ndarray, mapping: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """(n, 3) group probabilities from member-class ones: tempered (:func:`gerec.calibration.tempered`),
    summed by ``mapping`` ((n_member_classes, 3), 0/1) and renormalised (a class mapped nowhere drops out)."""
    grouped = tempered(raw, temperature) @ mapping
    return grouped / np.clip(grouped.sum(axis=1, keepdims=True), 1e-12, None)


class Member:
    """One classifier with its mapping to the group classes; subclasses say how its network runs."""

    def __init__(self, spec: MemberSpec, weights_path: Path) -> None:
        self.spec = spec
        self.weights_path = weights_path
        self._mapping = spec.mapping_matrix()

    def _check_outputs(self, n_out: int) -> None:
        if n_out != len(self.spec.classes):
            raise InvalidModelFile(
                f"{self.spec.name}: model has {n_out} outputs, registry lists {len(self.spec.classes)}"
            )

    def _run(self, x: np.ndarray) -> np.ndarray:
        """The network on one input batch: (n, n_member_classes) float64 probabilities."""
        raise NotImplementedError

    def prepare(self, crops: np.ndarray) -> np.ndarray:
        """The member's input tensor for aligned uint8 crops."""
        return to_member_input(crops, self.spec.input_size, self.spec.colour, self.spec.preprocess)

    def predict_views(self, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The member's own class probabilities on each test-time view, (n_views, n, n_member_classes).

        ``batch_size`` caps the network inputs per call, faces times views (at least one face): the
        memory a call takes grows with its inputs, and a mode of 14 views would otherwise multiply it by 14."""
        mode = self.spec.tta
        n_views = len(TTA_MODES[mode])
        if len(crops) == 0:
            return np.zeros((n_views, 0, len(self.spec.classes)), dtype=np.float64)
        step = max(1, batch_size // n_views)
        parts = []
        for start in range(0, len(crops), step):
            x = self.prepare(crops[start : start + step])
            parts.append(split_views(self._run(make_views(x, mode)), mode))  # one call on all views
        return np.concatenate(parts, axis=1)

    def predict_raw(self, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The member's own class probabilities, (n, n_member_classes): the mean over its views
        (``batch_size``: network inputs per call, as in :meth:`predict_views`)."""
        return self.predict_views(crops, batch_size).mean(axis=0)

    def to_group(self, raw: np.ndarray) -> np.ndarray:
        """Map member-class probabilities to (n, 3) group probabilities, tempered by the member's temperature."""
        return group_probabilities(raw, self._mapping, self.spec.temperature)

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        """(n, 3) group-class probabilities."""
        return self.to_group(self.predict_raw(crops))


class KerasMember(Member):
    """A member run by Keras (TensorFlow): the weight file itself, loaded once."""

    def __init__(self, spec: MemberSpec, weights_path: Path) -> None:
        super().__init__(spec, weights_path)
        quiet_tensorflow()
        import keras

        try:
            self.model = keras.models.load_model(str(weights_path), compile=False)
        except Exception as exc:  # noqa: BLE001 - keras raises many types for a damaged file
            raise InvalidModelFile(
                f"{spec.name}: {weights_path} exists but is not a readable Keras model "
                f"({type(exc).__name__}; damaged or truncated? rebuild it with train-faces)"
            ) from exc
        self._check_outputs(int(self.model.output_shape[-1]))
        self._forward: Any = None  # the model's inference as one traced graph, built on first use

    def _run(self, x: np.ndarray) -> np.ndarray:
        """The model on one input batch, through a traced graph (eager calls cost ~3x more)."""
        if self._forward is None:
            self._forward = traced_inference(self.model, (None, *self.model.input_shape[1:]))
        return np.asarray(self._forward(x), dtype=np.float64)


class OnnxMember(Member):
    """A member run by ONNX Runtime (no TensorFlow): from the ONNX export of its Keras weight file,
    or from its weights themselves when they are an ONNX graph (:attr:`MemberSpec.is_graph`).

    An export (``<weights stem>.onnx`` beside the weights, written by ``tools/export_onnx.py``)
    records the SHA-256 of the file it came from; a missing or stale export raises
    :class:`~gerec.errors.StaleExport`, and :func:`load_member` then runs the Keras file instead.
    """

    def __init__(self, spec: MemberSpec, weights_path: Path) -> None:
        super().__init__(spec, weights_path)
        if spec.is_graph:
            self.onnx_path = weights_path
            self.network = OnnxNetwork(weights_path)
        else:
            self.onnx_path = onnx_export_path(weights_path)
            self.network = OnnxNetwork(self.onnx_path, expect_source=weights_path)
        self._check_outputs(self.network.output_size(0))

    def _run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.network(np.asarray(x, dtype=np.float32))[0], dtype=np.float64)


def onnx_export_path(weights_path: Path) -> Path:
    """Where a Keras weight file's ONNX export lives: beside it, same stem."""
    return weights_path.with_suffix(".onnx")


def load_member(spec: MemberSpec, weights_path: Path, backend: str | None = None) -> Member:
    """The member run by ``backend`` (default: the registry's). An ONNX member whose export is
    missing or stale (or without onnxruntime) runs its Keras file instead, with a warning saying why
    and what to run. A member whose weights are an ONNX graph has no Keras file: it always runs
    that graph."""
    backend = backend or spec.backend
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if spec.is_graph:
        return OnnxMember(spec, weights_path)
    if backend == "onnx":
        try:
            return OnnxMember(spec, weights_path)
        except ModelFileMissing as exc:  # a missing or stale export, or no onnxruntime
            warnings.warn(f"{exc}; running the Keras file instead (slower to load)", RuntimeWarning, stacklevel=2)
    return KerasMember(spec, weights_path)


@dataclass(frozen=True, eq=False)
class EnsembleOutput:
    """Per-member and ensemble probabilities for a batch of faces."""

    members: dict[str, np.ndarray]
    ensemble: np.ndarray


class FaceEnsemble:
    """The weighted mean of its members' 3-class probabilities (each member's first tempered by its
    temperature, over its test-time views), the members and weights of ``models/ensemble.json``.

    >>> import numpy as np
    >>> ensemble = FaceEnsemble.load()  # the enabled members of models/ensemble.json
    >>> len(ensemble.names) == len(ensemble.weights), round(float(ensemble.weights.sum()), 6)
    (True, 1.0)
    >>> faces = np.full((2, 48, 48), 128, np.uint8)  # grey faces, any size: each member resizes
    >>> probs = ensemble.predict_proba(faces)  # one row per face: Positive, Neutral, Negative
    >>> probs.shape, np.allclose(probs.sum(axis=1), 1.0)
    ((2, 3), True)
    """

    def __init__(self, spec: EnsembleSpec, backend: str | None = None) -> None:
        """``backend`` runs every member with it (``"keras"`` or ``"onnx"``); default: ``$GEREC_RUNTIME``,
        else each member's own (:func:`gerec.config.runtime_override`)."""
        backend = backend or runtime_override()
        self.spec = spec
        self.members = [load_member(m, resolve_weights(m, spec.directory), backend) for m in spec.members]
        weights = np.array([m.weight for m in spec.members], dtype=float)
        if (weights < 0).any() or weights.sum() <= 0:
            raise InvalidModelFile("ensemble weights must be non-negative with a positive sum")
        self.weights = weights / weights.sum()

    @classmethod
    def load(cls, registry: Path | None = None, backend: str | None = None) -> FaceEnsemble:
        """Load every enabled member of ``models/ensemble.json``."""
        return cls(read_registry(registry), backend)

    @property
    def names(self) -> list[str]:
        """Member names in registry order."""
        return [m.spec.name for m in self.members]

    def predict(self, crops: np.ndarray) -> EnsembleOutput:
        """Score aligned crops with every member (one batched call each) and combine."""
        per_member = {m.spec.name: m.predict_proba(crops) for m in self.members}
        stacked = np.stack(list(per_member.values())) if per_member else np.zeros((0, len(crops), 3))
        ensemble = np.tensordot(self.weights, stacked, axes=1) if len(crops) else np.zeros((0, 3))
        return EnsembleOutput(per_member, ensemble)

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        """(n, 3) ensemble probabilities."""
        return self.predict(crops).ensemble
