"""Saliency maps and what they are computed on: the results, a member's explained views, the face's pixels.

:class:`MemberSaliency` and :class:`FaceSaliency` are what :class:`gerec.explain.SaliencyExplainer`
returns; :func:`overlay` draws a map on its face.

**Which probability a map explains.** Each member is explained on two of its own test-time views
(:func:`explained_views`), one per baseline: its first (the face as it is, or zoomed in 10 % for
a member whose views are all crops or zooms) with the grey baseline, and its last (mirrored, and
zoomed out or cut at a corner) with the blurred one, in every pass. A map therefore
explains the mean of the member's probabilities on those two views (``explained``), at the cost
of one view; explaining every view would cost four to six times more. The two views are more
faithful to the bars than the plain face (docs/explanations.md, round 3). The verdict and the
bars average every view (``verdict_probability``); :attr:`FaceSaliency.agrees` says whether the
explained views give the verdict class. This module never imports streamlit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from gerec import occlusion
from gerec.classes import CLASSES
from gerec.emotion.views import TTA_MODES, view
from gerec.errors import InvalidImage

DEFAULT_BLUR = 7
"""Box-blur kernel (pixels at ``size``) of the blurred baseline."""


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
    """The member's probability of ``target`` on its explained views (their mean)."""
    values: np.ndarray
    """(size, size) float, probability units: positive pixels support ``target``."""
    base_value: float
    """The member's probability of ``target`` with the face replaced by the baselines (mean)."""
    regions: int
    """Regions of constant evidence: the deletion cells, or (``"shap"``) the Owen regions cut by the occlusion cells."""
    partition: np.ndarray
    """(size, size) int labels of those regions."""

    @property
    def total(self) -> float:
        """Sum of the values: the probability the face adds over the baselines."""
        return float(self.values.sum())


@dataclass(frozen=True, eq=False)
class FaceSaliency:
    """The ensemble's map for one class on one face, with its members' maps."""

    target: str
    values: np.ndarray
    """(size, size): the weighted sum of the members' maps."""
    probability: float
    """The ensemble's probability of ``target`` on the explained views."""
    explained: tuple[float, float, float]
    """The ensemble's probabilities on the explained views, in CLASSES order."""
    verdict_probability: float
    """The ensemble's probability of ``target`` as the bars show it (each member's views)."""
    members: tuple[MemberSaliency, ...]

    @property
    def partition(self) -> np.ndarray:
        """Labels of the regions on which every member's evidence is constant."""
        return occlusion.intersect(*(m.partition for m in self.members))

    @property
    def explained_class(self) -> str:
        """The class the explained views alone give."""
        return CLASSES[int(np.argmax(self.explained))]

    @property
    def agrees(self) -> bool:
        """Whether the explained views give the class the map explains."""
        return self.explained_class == self.target


def crop_key(crop: np.ndarray) -> str:
    """A content hash of a crop (shape, dtype and pixels): the cache key of its saliency."""
    digest = hashlib.sha1(repr((crop.shape, str(crop.dtype))).encode())
    digest.update(np.ascontiguousarray(crop).tobytes())
    return digest.hexdigest()


def explained_views(member: Any) -> tuple[str, str]:
    """The views a member's map explains, one per baseline (grey, blur): its first and last test-time views.

    ``("identity", "identity")`` for a member without test-time views.
    """
    tta = getattr(getattr(member, "spec", None), "tta", "none")
    views = TTA_MODES.get(tta, ("identity",))
    return views[0], views[-1]


def traced(member: Any) -> bool:
    """Whether a member exposes its network (``prepare``, ``_run``, ``to_group``: a traced Keras graph or an
    ONNX graph) to read views directly."""
    return all(hasattr(member, a) for a in ("_run", "prepare", "to_group"))


def as_faces(faces: np.ndarray, size: int) -> np.ndarray:
    """(n, size, size) uint8 faces from float faces (clipped and rounded), as the members read them."""
    batch = np.clip(np.asarray(faces, dtype=np.float32), 0, 255).round().astype(np.uint8)
    return batch.reshape(len(batch), size, size)


def view_forward(member: Any, name: str) -> Callable[[np.ndarray], np.ndarray]:
    """``faces -> (n, 3)`` on one view: the member's network, else ``predict_proba``."""
    if traced(member):
        return lambda faces: np.asarray(member.to_group(member._run(view(member.prepare(faces), name))), np.float64)
    return lambda faces: np.asarray(member.predict_proba(faces), dtype=np.float64)


def blurred(face: np.ndarray, kernel: int = DEFAULT_BLUR) -> np.ndarray:
    """The blurred baseline of a (size, size) float face."""
    return cv2.blur(np.asarray(face, dtype=np.float32), (kernel, kernel))


def regions_of(values: np.ndarray) -> np.ndarray:
    """Labels of a map's regions: pixels sharing one value (to 12 decimals)."""
    _, region = np.unique(np.round(values, 12), return_inverse=True)
    return np.asarray(region).reshape(values.shape)


def spread(values: np.ndarray, change: np.ndarray) -> np.ndarray:
    """Each region's value (pixels sharing one value) spread in proportion to ``change`` + 1."""
    weight = np.abs(change) + 1.0
    region = regions_of(values)
    mean = np.bincount(region.ravel(), weight.ravel()) / np.bincount(region.ravel())
    return values * weight / mean[region]


def to_grey(crop: np.ndarray, size: int) -> np.ndarray:
    """The (size, size) float32 grey face a crop becomes (as a grey member reads it)."""
    arr = np.asarray(crop)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = cv2.cvtColor(np.clip(arr, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise InvalidImage(f"a face crop must be (H, W), (H, W, 1) or (H, W, 3); got shape {np.shape(crop)}")
    arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.shape != (size, size):
        interp = cv2.INTER_AREA if arr.shape[0] > size else cv2.INTER_LINEAR
        arr = cv2.resize(arr, (size, size), interpolation=interp)
    return arr.astype(np.float32)


def overlay(crop: np.ndarray, values: np.ndarray, alpha: float = 0.55, scale: float | None = None) -> np.ndarray:
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
