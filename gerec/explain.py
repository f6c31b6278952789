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

Which probability a map explains (the explained views), and the maps it returns: :mod:`gerec.saliency`.
This module never imports streamlit.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gerec import deletion, occlusion
from gerec.classes import CLASSES, class_index
from gerec.emotion.views import view
from gerec.errors import NoFaceDetected
from gerec.saliency import (
    DEFAULT_BLUR,
    FaceSaliency,
    MemberLike,
    MemberSaliency,
    as_faces,
    blurred,
    crop_key,
    explained_views,
    regions_of,
    spread,
    to_grey,
    traced,
    view_forward,
)

DEFAULT_SIZE = 48
"""Side, in pixels, of the grey face the saliency is computed on (the members' own input)."""
DEFAULT_MAX_EVALS = 96
"""Masked faces evaluated per member and baseline by the Partition explainer."""
DEFAULT_SCALES = occlusion.SCALES
"""(patch, stride) of the occlusion pass that refines each member's map (empty: SHAP alone)."""
GREY = 128.0
"""Pixel value of the grey baseline."""
BASELINES = ("grey", "blur")
VIEW_NOTE = (
    "The map explains two of each member's test-time views (its first, and its last: mirrored and "
    "zoomed out); the bars average all of its views, so the two probabilities can differ."
)
PRIOR_SCALES: tuple[tuple[int, int], ...] = ((12, 6),)
"""(patch, stride) of the occlusion pass that ranks the cells the deletion method tries."""
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


class SaliencyExplainer:
    """Per-member saliency (greedy deletion, or Partition SHAP refined by occlusion), two baselines, cached per crop.

    ``method="deletion"`` (the default) draws each member's map from its greedy deletion path
    (:mod:`gerec.deletion`); ``method="shap"`` is round 3's Partition SHAP refined by occlusion, where
    ``scales=()`` gives SHAP alone. Both add up and explain the same views.
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
        self.method = method
        self.members = list(members)
        self.names = [str(m.spec.name) for m in self.members]
        w = np.ones(len(self.members)) if weights is None else np.asarray(weights, dtype=float)
        self.weights = w / w.sum()
        self.size, self.max_evals, self.blur = int(size), int(max_evals), int(blur)
        self.scales = tuple((int(p), int(s)) for p, s in scales)
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, int, str], MemberSaliency] = OrderedDict()
        self._explained: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self.views = [explained_views(m) for m in self.members]
        """Per member, the view explained with each baseline (BASELINES order)."""
        self._forwards = [tuple(view_forward(m, name) for name in v) for m, v in zip(self.members, self.views)]
        self._explainers: dict[tuple[int, str], Any] = {}
        self.evaluations = 0
        """Masked and occluded faces evaluated so far (each by one member)."""

    # ------------------------------------------------------------------ model
    def view_probabilities(self, m: int, k: int, faces: np.ndarray) -> np.ndarray:
        """(n, 3) probabilities of member ``m`` on its ``k``-th explained view of (n, size, size) float faces."""
        return self._forwards[m][k](as_faces(faces, self.size))

    def read_views(self, m: int, cls: int, batches: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Member ``m``'s probability of class ``cls`` on batch ``k`` read through explained view ``k``.

        A Keras member reads all the batches in one model call.
        """
        member: Any = self.members[m]
        sizes = [len(b) for b in batches]
        self.evaluations += sum(sizes)
        if not traced(member):
            return [self.view_probabilities(m, k, b)[:, cls] for k, b in enumerate(batches)]
        faces = [as_faces(b, self.size) for b in batches]
        x = np.concatenate([view(member.prepare(f), name) for f, name in zip(faces, self.views[m])])
        p = np.asarray(member.to_group(member._run(x)), dtype=np.float64)[:, cls]
        return np.split(p, np.cumsum(sizes)[:-1])

    def member_probabilities(self, m: int, faces: np.ndarray) -> np.ndarray:
        """(n, 3) probabilities of member ``m`` on its explained views (their mean)."""
        distinct = dict.fromkeys(self.views[m])  # a view explained with both baselines is run once
        k = [self.views[m].index(name) for name in distinct]
        return np.mean([self.view_probabilities(m, i, faces) for i in k], axis=0)

    def verdict(self, crop: np.ndarray) -> np.ndarray:
        """The ensemble's probabilities as the bars show them (each member's test-time views)."""
        crops = np.asarray(crop)[None]
        return np.tensordot(self.weights, np.stack([m.predict_proba(crops)[0] for m in self.members]), axes=1)

    def member_explained(self, crop: np.ndarray, m: int) -> np.ndarray:
        """(3,) probabilities of member ``m`` on its explained views of a crop (cached per crop)."""
        key = (crop_key(np.asarray(crop)), m)
        if key not in self._explained:
            self._explained[key] = self.member_probabilities(m, to_grey(crop, self.size)[None])[0]
            while len(self._explained) > self.cache_size:
                self._explained.popitem(last=False)
        return self._explained[key]

    def explained(self, crop: np.ndarray) -> np.ndarray:
        """The ensemble's probabilities on the views the maps explain (each member's two, 48 px)."""
        return np.tensordot(
            self.weights, np.stack([self.member_explained(crop, m) for m in range(len(self.members))]), axes=1
        )

    def _explainer(self, m: int, baseline: str, face: np.ndarray) -> Any:
        from gerec.jit_cache import cache_shap_jit

        cache_shap_jit()  # shap's numba code from disk after the first process compiled it
        import shap

        k = BASELINES.index(baseline)

        def model(x: np.ndarray) -> np.ndarray:
            self.evaluations += len(x)
            return self.view_probabilities(m, k, x)

        shape = (self.size, self.size, 1)
        if baseline == "blur":
            return shap.PartitionExplainer(
                model,
                shap.maskers.Image(blurred(face, self.blur)[..., None], shape),
                link=shap.links.identity,
                linearize_link=False,
            )
        key = (m, baseline)
        if key not in self._explainers:
            masker = shap.maskers.Image(np.full(shape, GREY, dtype=np.float32), shape)
            self._explainers[key] = shap.PartitionExplainer(
                model, masker, link=shap.links.identity, linearize_link=False
            )
        return self._explainers[key]

    def baseline(self, name: str, face: np.ndarray) -> np.ndarray:
        """The grey or the blurred baseline of a (size, size) float face."""
        return np.full(face.shape, GREY, dtype=np.float32) if name == "grey" else blurred(face, self.blur)

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

    def _remember(self, maps: dict[tuple[str, int, str], MemberSaliency]) -> None:
        """Cache ``maps``, then drop the least recently used entries beyond ``cache_size``."""
        self._cache.update(maps)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _reader(self, m: int, k: int, cls: int) -> Callable[[np.ndarray], np.ndarray]:
        def probability(x: np.ndarray) -> np.ndarray:
            self.evaluations += len(x)
            return self.view_probabilities(m, k, x)[:, cls]

        return probability

    def _deletion(self, face: np.ndarray, m: int, cls: int) -> tuple[np.ndarray, float, np.ndarray]:
        """Member ``m``'s greedy deletion map: (values, probability on the baselines, cell labels)."""
        fills = [self.baseline(b, face) for b in BASELINES]
        readers = [self._reader(m, k, cls) for k in range(len(BASELINES))]
        prior = occlusion.occlusion_map(readers, face, fills, PRIOR_SCALES)
        path = deletion.greedy_path(lambda batches: self.read_views(m, cls, batches), face, fills, prior)
        return deletion.deletion_map(path), path.end, path.cells

    def _joint(self, crop: np.ndarray, cls: int) -> list[MemberSaliency]:
        """Every member's map of class ``cls`` along the ensemble's greedy deletion path (cached together)."""
        face = to_grey(crop, self.size)
        fills = [self.baseline(b, face) for b in BASELINES]
        members = range(len(self.members))

        def ensemble_reader(k: int) -> Callable[[np.ndarray], np.ndarray]:
            readers = [self._reader(m, k, cls) for m in members]
            return lambda x: np.tensordot(self.weights, np.stack([r(x) for r in readers]), axes=1)

        def read(batches: Sequence[np.ndarray]) -> list[np.ndarray]:
            per_member = [self.read_views(m, cls, batches) for m in members]
            return [np.stack([p[k] for p in per_member], axis=1) for k in range(len(batches))]

        prior = occlusion.occlusion_map([ensemble_reader(k) for k in range(len(BASELINES))], face, fills, PRIOR_SCALES)
        path = deletion.greedy_path(read, face, fills, prior, weights=self.weights)
        key, cells = crop_key(np.asarray(crop)), int(path.cells.max()) + 1
        maps = [
            MemberSaliency(
                self.names[m],
                CLASSES[cls],
                float(self.member_explained(crop, m)[cls]),
                values,
                float(path.member_end[m]),
                cells,
                path.cells,
            )
            for m, values in zip(members, deletion.member_maps(path))
        ]
        self._remember({(key, m, CLASSES[cls]): saliency for m, saliency in enumerate(maps)})
        return maps

    def _shap(self, face: np.ndarray, m: int, cls: int) -> tuple[np.ndarray, float, np.ndarray]:
        """Member ``m``'s SHAP map refined by occlusion: (values, probability on the baselines, regions)."""
        total, bases, labels = np.zeros(face.shape), [], []
        for baseline in BASELINES:
            state = np.random.get_state()  # shap breaks ties with the global RNG: keep it repeatable
            np.random.seed(0)
            try:
                out = self._explainer(m, baseline, face)(
                    face[None, ..., None],
                    max_evals=self.max_evals,
                    batch_size=self.max_evals,
                    outputs=[cls],
                    silent=True,
                )
            finally:
                np.random.set_state(state)
            values = np.asarray(out.values[0], dtype=np.float64)[..., 0, 0]
            labels.append(regions_of(values))
            total += spread(values, face - self.baseline(baseline, face)) / len(BASELINES)
            bases.append(float(np.asarray(out.base_values[0]).reshape(-1)[0]))
        if self.scales:
            fills = [self.baseline(b, face) for b in BASELINES]
            readers = [self._reader(m, k, cls) for k in range(len(BASELINES))]
            total = occlusion.refine(total, occlusion.occlusion_map(readers, face, fills, self.scales))
            labels.append(occlusion.cells(self.size, self.scales))
        return total, float(np.mean(bases)), occlusion.intersect(*labels)

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
