"""The ensemble's members as saliency reads them: each member's probabilities on its explained
views of a grey face, the grey and the blurred baselines, the faces evaluated, and the maps and
probabilities cached per crop.

:class:`MemberReader` is what every saliency method of :class:`gerec.explain.SaliencyExplainer`
shares (:mod:`gerec.deletion_saliency`, :mod:`gerec.shap_saliency`). Which views are explained:
:mod:`gerec.saliency`. This module never imports streamlit.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gerec.emotion.views import view
from gerec.saliency import (
    MemberLike,
    MemberSaliency,
    as_faces,
    blurred,
    crop_key,
    explained_views,
    to_grey,
    traced,
    view_forward,
)

GREY = 128.0
"""Pixel value of the grey baseline."""
BASELINES = ("grey", "blur")


class MemberReader:
    """At least one ensemble member, read through its explained views on (size, size) grey faces;
    ``weights`` (default: equal) are normalised to add up to 1. Maps of up to ``cache_size`` crops
    are kept, least recently used dropped first."""

    def __init__(
        self, members: Sequence[MemberLike], weights: Sequence[float] | None, size: int, blur: int, cache_size: int
    ) -> None:
        self.members = list(members)
        self.names = [str(m.spec.name) for m in self.members]
        w = np.ones(len(self.members)) if weights is None else np.asarray(weights, dtype=float)
        self.weights = w / w.sum()
        self.size, self.blur = int(size), int(blur)
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, int, str], MemberSaliency] = OrderedDict()
        self._explained: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self.views = [explained_views(m) for m in self.members]
        """Per member, the view explained with each baseline (BASELINES order)."""
        self._forwards = [tuple(view_forward(m, name) for name in v) for m, v in zip(self.members, self.views)]
        self.evaluations = 0
        """Masked and occluded faces evaluated so far (each by one member)."""

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

    def baseline(self, name: str, face: np.ndarray) -> np.ndarray:
        """The grey or the blurred baseline of a (size, size) float face."""
        return np.full(face.shape, GREY, dtype=np.float32) if name == "grey" else blurred(face, self.blur)

    def _reader(self, m: int, k: int, cls: int) -> Callable[[np.ndarray], np.ndarray]:
        def probability(x: np.ndarray) -> np.ndarray:
            self.evaluations += len(x)
            return self.view_probabilities(m, k, x)[:, cls]

        return probability

    def _remember(self, maps: dict[tuple[str, int, str], MemberSaliency]) -> None:
        """Cache ``maps``, then drop the least recently used entries beyond ``cache_size``."""
        self._cache.update(maps)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
