"""A member's own choices on the fitting faces: its test-time views and its temperature.

:func:`score_member` runs a member once over every view of the TTA modes on offer
(:data:`gerec.emotion.views.FIT_TTA_MODES` unless told); :meth:`ScoredMember.choose` then picks its TTA mode
and temperature on any subset of those faces without running it again. ``fit-ensemble`` calls it
on the whole validation split for the registry, and on each cross-validation half for the held-out
figures, so those figures never score a face that chose a view, a temperature or a weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from gerec.calibration import fit_temperature
from gerec.emotion.data import FaceSet
from gerec.emotion.ensemble import group_probabilities, load_member
from gerec.emotion.registry import member_from_json, resolve_weights
from gerec.emotion.views import FIT_TTA_MODES, TTA_MODES, covering_mode


@dataclass(frozen=True)
class MemberChoice:
    """A member's TTA mode, its temperature, and its 3-class accuracy under each mode on the faces that chose them."""

    tta: str
    temperature: float
    accuracy3: dict[str, float]


@dataclass(frozen=True)
class ScoredMember:
    """One member's own-class probabilities on the fitting faces under every view, and how they group.

    ``views``: view name -> (faces, member classes); ``seven``: its classes are the faces' classes
    (FER's 7), so its raw probabilities can be scored against the 7-class truth; ``modes``: the TTA
    modes it may choose among, in order of cost (``views`` holds each of their views)."""

    name: str
    views: dict[str, np.ndarray]
    mapping: np.ndarray
    val_in_training: bool
    seven: bool
    modes: tuple[str, ...] = field(default=FIT_TTA_MODES)

    def raw(self, tta: str) -> np.ndarray:
        """The member's own-class probabilities under TTA mode ``tta``: the mean over its views."""
        return np.mean([self.views[v] for v in TTA_MODES[tta]], axis=0)

    def group(self, choice: MemberChoice) -> np.ndarray:
        """The 3-class probabilities under ``choice``'s mode and temperature."""
        return group_probabilities(self.raw(choice.tta), self.mapping, choice.temperature)

    def choose(self, truth3: np.ndarray, on: np.ndarray, clean: np.ndarray) -> MemberChoice:
        """The cheapest TTA mode with the best 3-class accuracy on the faces ``on`` (bool mask), then
        the temperature with the lowest 3-class NLL on the faces ``on & clean`` (1 for a member
        marked ``val_in_training``: its figures there are in-sample)."""
        scored = on & (truth3 >= 0)
        accuracy = {}
        for tta in self.modes:  # in order of cost; a costlier mode must win strictly
            grouped = group_probabilities(self.raw(tta)[scored], self.mapping)
            accuracy[tta] = float(np.mean(grouped.argmax(1) == truth3[scored]))
        tta = max(self.modes, key=lambda m: (accuracy[m], -self.modes.index(m)))
        temperature = 1.0
        if not self.val_in_training:
            rows = on & clean
            fitted = fit_temperature(self.raw(tta)[rows], lambda p: group_probabilities(p, self.mapping), truth3[rows])
            temperature = round(fitted, 4)  # as the registry stores it
        return MemberChoice(tta, temperature, accuracy)


def score_member(
    item: dict[str, Any], directory: Path, faces: FaceSet, modes: tuple[str, ...] = FIT_TTA_MODES
) -> ScoredMember:
    """Run the registry member ``item`` once over every view of ``modes`` on ``faces`` (untempered)."""
    spec = member_from_json(item, "registry")
    modes = tuple(m for m in TTA_MODES if m in modes)  # in order of cost
    run = covering_mode(modes)
    member = load_member(replace(spec, tta=run, temperature=1.0), resolve_weights(spec, directory), backend="keras")
    views = dict(zip(TTA_MODES[run], member.predict_views(faces.images, 512)))  # each view once
    return ScoredMember(
        spec.name, views, spec.mapping_matrix(), spec.val_in_training, spec.classes == faces.classes, modes
    )
