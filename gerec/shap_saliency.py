"""Round 3's saliency method (``"shap"``): per member and baseline, the Owen values of shap's
Partition explainer, spread over each region's pixels by how much the baseline changes them,
refined by a sliding occlusion pass (:mod:`gerec.occlusion`). A mixin of
:class:`gerec.explain.SaliencyExplainer`. This module never imports streamlit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gerec import occlusion
from gerec.member_reader import BASELINES, GREY, MemberReader
from gerec.saliency import blurred, regions_of, spread

DEFAULT_MAX_EVALS = 96
"""Masked faces evaluated per member and baseline by the Partition explainer."""
DEFAULT_SCALES = occlusion.SCALES
"""(patch, stride) of the occlusion pass that refines each member's map (empty: SHAP alone)."""


class ShapSaliency(MemberReader):
    """A member's SHAP map refined by occlusion; its settings are set by :class:`gerec.explain.SaliencyExplainer`."""

    max_evals: int  # as DEFAULT_MAX_EVALS
    scales: tuple[tuple[int, int], ...]  # as DEFAULT_SCALES
    _explainers: dict[tuple[int, str], Any]  # the grey baseline's explainer per member (a blurred one is per face)

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
