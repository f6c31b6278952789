"""The saliency sanity check (Adebayo et al. 2018, model randomisation) for ensemble members.

A member's map should depend on what its class head reads: with the head's weights randomised,
the map of the same face for the same class should change. :func:`randomised_top` builds that
randomised copy of a member (a Keras member's last layer with weights, or an ONNX graph's last
Gemm or MatMul); :func:`compare_maps` explains faces with both and compares the maps, face by
face, and :func:`map_rank_correlations` does both steps for the default method.
:func:`check_member` sums one member's correlations up as :class:`SanityFigures`, which
``fit-ensemble`` stores for every weighted member (registry ``metrics.val_saliency_sanity``, shown
on the Models page). The test ``tests/test_explain.py::test_sanity_randomised_top_layer`` and
``tools/saliency_sanity.py`` use them too.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gerec.emotion.ensemble import KerasMember, Member, OnnxMember
from gerec.explain import DEFAULT_METHOD, SaliencyExplainer
from gerec.saliency import FaceSaliency

PASS_BELOW = 0.5
"""A map whose Spearman rank correlation with its randomised-head map is below this has changed."""

SANITY_FACES = 20
"""How many validation faces ``fit-ensemble`` checks each weighted member on (``--sanity-faces``)."""

SANITY_SEED = 0
"""The seed that draws those faces (no labels are used)."""


def sample_faces(images: np.ndarray, n: int, seed: int = SANITY_SEED) -> np.ndarray:
    """``n`` images (or all, if fewer) drawn without replacement with ``seed``: the faces a check explains."""
    pick = np.random.default_rng(seed).choice(len(images), min(n, len(images)), replace=False)
    return images[pick]


def randomised_top(member: Member, folder: Path, seed: int = 0) -> Member:
    """Another instance of ``member``, loaded from its file, whose class head has random weights
    (normal, with each weight array's own spread). A graph member's changed copy is written into ``folder``."""
    rng = np.random.default_rng(seed)

    def noise(w: np.ndarray) -> np.ndarray:
        return rng.normal(0, float(np.std(w)) or 0.05, w.shape).astype(w.dtype)

    if member.spec.is_graph:
        import onnx
        from onnx import numpy_helper

        graph = onnx.load(str(member.weights_path))
        weights = {t.name: t for t in graph.graph.initializer}
        top = next((n for n in reversed(graph.graph.node) if n.op_type in ("Gemm", "MatMul")), None)
        changed = [name for name in (top.input if top is not None else []) if name in weights]
        if not changed:
            raise ValueError(f"{member.spec.name}: no Gemm or MatMul with weights to randomise")
        for name in changed:
            weights[name].CopyFrom(numpy_helper.from_array(noise(numpy_helper.to_array(weights[name])), name))
        path = folder / member.weights_path.name
        onnx.save(graph, str(path))
        return OnnxMember(member.spec, path)
    clone = KerasMember(member.spec, member.weights_path)
    top_layer: Any = clone.model.layers[-1]
    while not top_layer.get_weights():
        top_layer = clone.model.layers[clone.model.layers.index(top_layer) - 1]
    top_layer.set_weights([noise(w) for w in top_layer.get_weights()])
    return clone


@dataclass(frozen=True, eq=False)
class MapChange:
    """One face explained by the original members and by the members with member ``k``'s head
    randomised (for the class the original verdict names), and member ``k``'s rank correlation."""

    before: FaceSaliency
    after: FaceSaliency
    rho: float


def compare_maps(
    original: Sequence[Member],
    changed: Sequence[Member],
    weights: Sequence[float],
    k: int,
    faces: np.ndarray,
    method: str = DEFAULT_METHOD,
) -> list[MapChange]:
    """Per face, both explanations (``method``) and the Spearman correlation of member ``k``'s map
    before and after (``changed``: ``original`` with member ``k`` replaced, e.g. by :func:`randomised_top`)."""
    from scipy.stats import spearmanr

    before_explainer = SaliencyExplainer(original, weights, method=method)
    after_explainer = SaliencyExplainer(changed, weights, method=method)
    out = []
    for crop in faces:
        before = before_explainer.explain(crop)
        after = after_explainer.explain(crop, before.target)
        rho = float(spearmanr(before.members[k].values.ravel(), after.members[k].values.ravel())[0])
        out.append(MapChange(before, after, rho))
    return out


def map_rank_correlations(
    members: Sequence[Member], weights: Sequence[float], k: int, faces: np.ndarray, folder: Path
) -> np.ndarray:
    """Per face, the Spearman correlation of member ``k``'s map before and after its head is
    randomised (the map of the ensemble's verdict class, the same class after; the default method)."""
    changed = list(members)
    changed[k] = randomised_top(members[k], folder)
    return np.asarray([c.rho for c in compare_maps(members, changed, weights, k, faces)])


@dataclass(frozen=True)
class SanityFigures:
    """One member's sanity check: on how many faces its map changed (rank correlation below
    :data:`PASS_BELOW`) when its class head was randomised, and the median correlation."""

    faces: int
    changed: int
    median_rho: float

    @classmethod
    def of(cls, rho: np.ndarray) -> SanityFigures:
        """The figures of per-face correlations ``rho`` (e.g. :func:`map_rank_correlations`)."""
        return cls(len(rho), int((rho < PASS_BELOW).sum()), float(np.median(rho)))

    @property
    def passed(self) -> bool:
        """Every face's map changed."""
        return self.changed == self.faces

    def record(self, seed: int = SANITY_SEED) -> dict[str, object]:
        """The registry's form of these figures, with how they were made."""
        return {
            "faces": self.faces,
            "maps_changed": self.changed,
            "median_rho": round(self.median_rho, 3),
            "changed_below": PASS_BELOW,
            "seed": seed,
            "method": DEFAULT_METHOD,
        }


def check_member(members: Sequence[Member], weights: Sequence[float], k: int, faces: np.ndarray) -> SanityFigures:
    """Member ``k``'s sanity check on ``faces`` (its randomised copy lives in a temporary folder)."""
    with tempfile.TemporaryDirectory() as folder:
        rho = map_rank_correlations(members, weights, k, faces, Path(folder))
    return SanityFigures.of(rho)
