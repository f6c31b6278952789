"""Face saliency that explains the ensemble's verdict, faithful with a grey and a blurred baseline.

:class:`SaliencyExplainer` explains one face for one class (default: the ensemble's verdict).
The default method (``"ensemble-deletion"``, :mod:`gerec.deletion`) deletes the face's 6 px cells
greedily, six at a time among the 24 a 12 px occlusion pass ranks highest, with a grey and a
blurred baseline, along **one path for the whole ensemble**: each step deletes the cells that lower
the ensemble's probability most. Every member's map is what those deletions took from its own
probability, averaged over the runs of cells that keep the ensemble's map in deletion order; so
each member's map adds up to its probability, and the ensemble's map (their weighted sum) to the
ensemble's, ordered as the path (docs/explanations.md, round 6). Round 4's method (``"deletion"``)
gives each member its own path, so a member's map never depends on another member, but their
weighted sum follows no path. Round 3's method (``"shap"``) stays available: per baseline, the Owen
values of shap's Partition explainer, spread over each region's pixels by how much the baseline
changes them, refined by a sliding occlusion pass (:mod:`gerec.occlusion`). Every method's maps are
in probability units and add up; the ensemble's map is the weighted sum of its members' maps.

Which probability a map explains (the explained views), and the maps it returns: :mod:`gerec.saliency`;
the members as every method reads them: :mod:`gerec.member_reader`; the methods:
:mod:`gerec.deletion_saliency` and :mod:`gerec.shap_saliency`.
This module never imports streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gerec import deletion
from gerec.classes import CLASSES, class_index
from gerec.deletion_saliency import PRIOR_SCALES, DeletionSaliency
from gerec.errors import NoFaceDetected
from gerec.member_reader import BASELINES, GREY
from gerec.saliency import DEFAULT_BLUR, FaceSaliency, MemberLike, MemberSaliency, crop_key, to_grey
from gerec.shap_saliency import DEFAULT_MAX_EVALS, DEFAULT_SCALES, ShapSaliency

__all__ = [
    "BASELINES",
    "DEFAULT_MAX_EVALS",
    "DEFAULT_METHOD",
    "DEFAULT_SCALES",
    "DEFAULT_SIZE",
    "GREY",
    "METHOD",
    "METHODS",
    "PRIOR_SCALES",
    "VIEW_NOTE",
    "SaliencyExplainer",
    "explain_face",
]

DEFAULT_SIZE = 48
"""Side, in pixels, of the grey face the saliency is computed on (the members' own input)."""
VIEW_NOTE = (
    "The map explains two of each member's test-time views (its first, and its last: mirrored and "
    "zoomed out); the bars average all of its views, so the two probabilities can differ."
)
_DELETION_STEP = (
    f"{deletion.CELL} px cells removed {deletion.PER_STEP} at a time, the ones that lower the {{what}} most "
    f"(among {deletion.CANDIDATES} ranked by a {PRIOR_SCALES[0][0]} px occlusion pass), grey and blurred baselines"
)
METHODS = {
    "ensemble-deletion": (
        "greedy deletion along one path for the ensemble: "
        + _DELETION_STEP.format(what="ensemble's probability")
        + "; each member's map is what those deletions took from it"
    ),
    "deletion": "greedy deletion per member: " + _DELETION_STEP.format(what="probability"),
    "shap": "Partition SHAP per member refined by sliding occlusion (8 and 12 px patches), grey and blurred baselines",
}
"""Saliency methods by name: what each computes, in one line (the deletion settings read from :mod:`gerec.deletion`)."""
DEFAULT_METHOD = "ensemble-deletion"
"""The method the dashboard and ``explain-faces`` use (docs/explanations.md, round 6)."""
METHOD = METHODS[DEFAULT_METHOD]


class SaliencyExplainer(DeletionSaliency, ShapSaliency):
    """Per-member saliency (greedy deletion, or Partition SHAP refined by occlusion), two baselines, cached per crop.

    ``method="ensemble-deletion"`` (the default) draws every member's map along the ensemble's greedy
    deletion path, ``"deletion"`` along the member's own (:mod:`gerec.deletion_saliency`);
    ``method="shap"`` is round 3's Partition SHAP refined by occlusion (:mod:`gerec.shap_saliency`),
    where ``scales=()`` gives SHAP alone. All add up and explain the same views.
    """

    def __init__(
        self,
        members: Sequence[MemberLike],
        weights: Sequence[float] | None = None,
        size: int = DEFAULT_SIZE,
        max_evals: int = DEFAULT_MAX_EVALS,
        blur: int = DEFAULT_BLUR,
        cache_size: int = 512,
        scales: Sequence[tuple[int, int]] = DEFAULT_SCALES,
        method: str = DEFAULT_METHOD,
    ) -> None:
        if not members:
            raise ValueError("saliency needs at least one ensemble member")
        if method not in METHODS:
            raise ValueError(f"unknown saliency method {method!r}; known: {', '.join(METHODS)}")
        super().__init__(members, weights, size, blur, cache_size)
        self.method = method
        self.max_evals = int(max_evals)
        self.scales = tuple((int(p), int(s)) for p, s in scales)
        self._explainers = {}

    # ------------------------------------------------------------------ public
    def member_saliency(self, crop: np.ndarray, m: int, target: str) -> MemberSaliency:
        """Member ``m``'s map of ``target`` on a crop, from its own masks only (cached)."""
        cls = class_index(target)
        key = (crop_key(np.asarray(crop)), m, CLASSES[cls])
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if self.method == "ensemble-deletion":
            return self._joint(crop, cls)[m]
        face = to_grey(crop, self.size)
        if self.method == "deletion":
            values, base_value, partition = self._deletion(face, m, cls)
        else:
            values, base_value, partition = self._shap(face, m, cls)
        prob = float(self.member_explained(crop, m)[cls])
        result = MemberSaliency(
            self.names[m], CLASSES[cls], prob, values, base_value, int(partition.max()) + 1, partition
        )
        self._remember({key: result})
        return result

    def explain(self, crop: np.ndarray, target: str | None = None) -> FaceSaliency:
        """The ensemble's map of ``target`` (default: its verdict on this crop) and its members' maps."""
        verdict = self.verdict(crop)
        cls = CLASSES[int(np.argmax(verdict))] if target is None else CLASSES[class_index(target)]
        maps = tuple(self.member_saliency(crop, m, cls) for m in range(len(self.members)))
        values = np.tensordot(self.weights, np.stack([s.values for s in maps]), axes=1)
        explained = self.explained(crop)
        probs = (float(explained[0]), float(explained[1]), float(explained[2]))
        return FaceSaliency(cls, values, probs[class_index(cls)], probs, float(verdict[class_index(cls)]), maps)


def explain_face(
    explainer: SaliencyExplainer, crops: np.ndarray, index: int, target: str | None = None
) -> FaceSaliency:
    """Saliency of face ``index`` among a photo's aligned ``crops``."""
    if not 0 <= index < len(crops):
        raise NoFaceDetected(f"no face {index} in this photo ({len(crops)} faces)")
    return explainer.explain(crops[index], target)
