"""SHAP saliency of a face crop for every ensemble member, in one shared masked pass.

:class:`SaliencyExplainer` runs shap's Partition explainer (Owen values over a hierarchical
partition of the image, masked regions blurred) on a face crop downscaled to ``size`` pixels.
The function it explains runs **all** members on each batch of masked faces and returns their
3-class probabilities side by side, so one recursion (one set of masks, a few large batches)
yields every member's saliency for every class. Members whose Keras model is reachable run
through a compiled ``tf.function``. Results are cached per crop content and target.

Values are in log-odds units of the explained class (``link="logit"``): a positive pixel pushes
the member towards that class. This module never imports streamlit.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from gerec.classes import CLASSES, class_index
from gerec.errors import InvalidImage, NoFaceDetected

DEFAULT_SIZE = 64
"""Side, in pixels, of the face the saliency is computed on (members resize it themselves)."""
DEFAULT_MAX_EVALS = 256
"""Masked faces evaluated per explanation (shared by all members)."""
DEFAULT_BLUR = 8
"""Blur kernel (pixels at ``size``) that stands in for a masked region."""


class MemberLike(Protocol):
    """What saliency needs of an ensemble member: a name and 3-class probabilities."""

    @property
    def spec(self) -> Any: ...

    def predict_proba(self, crops: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)
class MemberSaliency:
    """One member's saliency map for one class on one face."""

    member: str
    target: str
    probability: float
    values: np.ndarray
    """(size, size) float SHAP values, summed over colour channels (log-odds units)."""
    base_value: float
    """The member's log-odds of ``target`` with the whole face blurred."""

    @property
    def total(self) -> float:
        """Sum of the values: the log-odds the face adds over the blurred face."""
        return float(self.values.sum())


def crop_key(crop: np.ndarray) -> str:
    """A content hash of a crop (shape, dtype and pixels): the cache key of its saliency."""
    digest = hashlib.sha1(repr((crop.shape, str(crop.dtype))).encode())
    digest.update(np.ascontiguousarray(crop).tobytes())
    return digest.hexdigest()


def _compiled_forward(member: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """A compiled ``crops -> (n, 3)`` function for Keras members, or ``None`` for others."""
    model = getattr(member, "model", None)
    if model is None or not all(hasattr(member, a) for a in ("prepare", "to_group")):
        return None
    try:
        import tensorflow as tf

        shape = tuple(int(d) for d in model.input_shape[1:])
        fn = tf.function(lambda x: model(x, training=False),
                         input_signature=[tf.TensorSpec((None, *shape), tf.float32)])
    except Exception:  # noqa: BLE001 - any non-Keras object falls back to predict_proba
        return None

    # Saliency explains each member's single-view prediction: a member's test-time views (mirror
    # images, zooms) would blend left and right, and zoomed pixels, in the map and multiply the
    # cost, so the explained function leaves them out.

    def forward(crops: np.ndarray) -> np.ndarray:
        raw = np.asarray(fn(member.prepare(crops)), dtype=np.float64)
        return np.asarray(member.to_group(raw), dtype=np.float64)

    return forward


class SaliencyExplainer:
    """Partition-SHAP saliency of face crops for all members at once, cached per crop."""

    def __init__(self, members: Sequence[MemberLike], size: int = DEFAULT_SIZE,
                 max_evals: int = DEFAULT_MAX_EVALS, blur: int = DEFAULT_BLUR,
                 link: str = "logit", cache_size: int = 128, compile_members: bool = True) -> None:
        if not members:
            raise ValueError("saliency needs at least one ensemble member")
        if link not in ("logit", "identity"):
            raise ValueError("link must be 'logit' or 'identity'")
        self.members = list(members)
        self.names = [str(m.spec.name) for m in self.members]
        self.size = int(size)
        self.max_evals = int(max_evals)
        self.blur = int(blur)
        self.link = link
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str | None], tuple[MemberSaliency, ...]] = OrderedDict()
        compiled = [_compiled_forward(m) if compile_members else None for m in self.members]
        self._forwards: list[Callable[[np.ndarray], np.ndarray]] = [
            c if c is not None else m.predict_proba for c, m in zip(compiled, self.members)]
        self._explainer: Any = None
        self.evaluations = 0
        """Masked faces evaluated so far (each through every member)."""

    # ------------------------------------------------------------------ model
    def probabilities(self, faces: np.ndarray) -> np.ndarray:
        """(n, members, 3) probabilities of every member for uint8-convertible faces."""
        batch = np.clip(np.asarray(faces, dtype=np.float32), 0, 255).round().astype(np.uint8)
        return np.stack([f(batch) for f in self._forwards], axis=1)

    def _joint(self, faces: np.ndarray) -> np.ndarray:
        """The explained function: every member's 3 probabilities side by side, (n, members*3)."""
        self.evaluations += len(faces)
        probs = self.probabilities(faces).reshape(len(faces), -1)
        return np.clip(probs, 1e-6, 1 - 1e-6)

    def _shap(self) -> Any:
        if self._explainer is None:
            from gerec.jit_cache import cache_shap_jit

            cache_shap_jit()  # shap's numba code from disk after the first process compiled it
            import shap

            masker = shap.maskers.Image(f"blur({self.blur},{self.blur})", (self.size, self.size, 3))
            link = shap.links.logit if self.link == "logit" else shap.links.identity
            # linearize_link only matters with several background rows; shap 0.51's full-mask
            # path also fails with it on (zero_index is not passed), so it stays off.
            self._explainer = shap.PartitionExplainer(self._joint, masker, link=link, linearize_link=False)
        return self._explainer

    # ------------------------------------------------------------------ public
    def prepare(self, crop: np.ndarray) -> np.ndarray:
        """The (size, size, 3) uint8 face the saliency is computed on."""
        arr = np.asarray(crop)
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        if arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
            raise InvalidImage(f"a face crop must be (H, W, 3); got shape {arr.shape}")
        arr = np.clip(arr, 0, 255).astype(np.uint8)
        if arr.shape[:2] != (self.size, self.size):
            interp = cv2.INTER_AREA if arr.shape[0] > self.size else cv2.INTER_LINEAR
            arr = cv2.resize(arr, (self.size, self.size), interpolation=interp)
        return arr

    def explain(self, crop: np.ndarray, target: str | None = None) -> tuple[MemberSaliency, ...]:
        """Saliency of every member for ``target`` (default: each member's predicted class)."""
        if target is not None:
            class_index(target)  # validates the name
        key = (crop_key(np.asarray(crop)), target)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        result = self._explain(self.prepare(crop), target)
        self._cache[key] = result
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return result

    def _explain(self, face: np.ndarray, target: str | None) -> tuple[MemberSaliency, ...]:
        explainer = self._shap()
        state = np.random.get_state()  # shap breaks ties with the global RNG: keep it repeatable
        np.random.seed(0)
        try:
            out = explainer(face[None].astype(np.float32), max_evals=self.max_evals,
                            batch_size=self.max_evals, silent=True)
        finally:
            np.random.set_state(state)
        values = np.asarray(out.values[0], dtype=np.float64)  # (size, size, 3, members*3)
        base = np.asarray(out.base_values[0], dtype=np.float64).reshape(-1)
        probs = self.probabilities(face[None])[0]  # (members, 3)
        result = []
        for m, name in enumerate(self.names):
            cls = class_index(target) if target is not None else int(np.argmax(probs[m]))
            column = m * len(CLASSES) + cls
            result.append(MemberSaliency(name, CLASSES[cls], float(probs[m, cls]),
                                         values[..., column].sum(axis=2), float(base[column])))
        return tuple(result)


def explain_face(explainer: SaliencyExplainer, crops: np.ndarray, index: int,
                 target: str | None = None) -> tuple[MemberSaliency, ...]:
    """Saliency of face ``index`` among a photo's aligned ``crops``."""
    if not 0 <= index < len(crops):
        raise NoFaceDetected(f"no face {index} in this photo ({len(crops)} faces)")
    return explainer.explain(crops[index], target)


def overlay(crop: np.ndarray, values: np.ndarray, alpha: float = 0.55,
            scale: float | None = None) -> np.ndarray:
    """The crop (grey) with the saliency on top: red pushes towards the class, blue away.

    ``scale`` is the value shown at full colour (default: the map's largest magnitude), so
    several members can share one scale.
    """
    base = np.asarray(crop, dtype=np.uint8)
    if base.ndim == 2:
        base = np.stack([base] * 3, axis=-1)
    h, w = base.shape[:2]
    vals = cv2.resize(np.asarray(values, dtype=np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    top = float(scale) if scale else float(np.abs(vals).max())
    norm = np.clip(vals / top, -1.0, 1.0) if top > 0 else np.zeros_like(vals)
    grey = cv2.cvtColor(cv2.cvtColor(base, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB).astype(np.float32)
    colour = np.zeros((h, w, 3), dtype=np.float32)
    colour[..., 0] = 255.0 * np.clip(norm, 0, 1)
    colour[..., 2] = 255.0 * np.clip(-norm, 0, 1)
    weight = (alpha * np.abs(norm))[..., None]
    return np.clip(grey * (1 - weight) + colour * weight, 0, 255).astype(np.uint8)
