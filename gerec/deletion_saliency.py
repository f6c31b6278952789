"""The greedy deletion methods: each member along its own path (``"deletion"``, round 4), or every
member along the ensemble's one path (``"ensemble-deletion"``, round 6); the paths and maps
themselves: :mod:`gerec.deletion`. A mixin of :class:`gerec.explain.SaliencyExplainer`. This module
never imports streamlit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from gerec import deletion, occlusion
from gerec.classes import CLASSES
from gerec.member_reader import BASELINES, MemberReader
from gerec.saliency import MemberSaliency, crop_key, to_grey

PRIOR_SCALES: tuple[tuple[int, int], ...] = ((12, 6),)
"""(patch, stride) of the occlusion pass that ranks the cells the deletion method tries."""


class DeletionSaliency(MemberReader):
    """Members' maps from greedy deletion paths, with a grey and a blurred baseline."""

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
