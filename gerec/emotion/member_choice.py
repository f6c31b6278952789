"""A member's own choices on the fitting faces: its test-time views and its temperature.

:func:`score_member` runs a member once over every view of the TTA modes on offer
(:data:`gerec.emotion.views.FIT_TTA_MODES` unless told); :meth:`ScoredMember.choose` then picks its TTA mode
and temperature on any subset of those faces without running it again. ``fit-ensemble`` calls it
on the whole validation split for the registry, and on each cross-validation half for the held-out
figures, so those figures never score a face that chose a view, a temperature or a weight.
:func:`choose_members` makes those choices for every listed member and writes them into its registry
item; :func:`nested_refit` makes them again on each half.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from gerec.calibration import ece, fit_temperature
from gerec.emotion.data import FaceSet
from gerec.emotion.ensemble import group_probabilities, load_member
from gerec.emotion.registry import member_from_json, resolve_weights
from gerec.emotion.views import FIT_TTA_MODES, TTA_MODES, covering_mode
from gerec.emotion.weighting import Refit, SevenClass
from gerec.formatting import percent


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


def member_metrics(member: ScoredMember, choice: MemberChoice, faces: FaceSet, clean: np.ndarray) -> dict[str, Any]:
    """The member's validation figures on the ``clean`` faces under ``choice``: 3-class accuracy,
    3-class ECE untempered and tempered, and 7-class accuracy when it has the faces' classes."""
    truth3 = faces.group_labels()[clean]
    raw = member.raw(choice.tta)[clean]
    group = member.group(choice)[clean]
    kept = truth3 >= 0
    metrics: dict[str, Any] = {
        "val_accuracy3": round(float(np.mean(group[kept].argmax(1) == truth3[kept])), 4),
        "val_ece3_untempered": round(ece(group_probabilities(raw, member.mapping), truth3), 4),
        "val_ece3": round(ece(group, truth3), 4),
    }
    if member.seven:
        metrics["val_accuracy7"] = round(float(np.mean(raw.argmax(1) == faces.labels[clean])), 4)
    return metrics


def choose_members(
    members: list[dict[str, Any]], scored: list[ScoredMember], fit_on: FaceSet, n_clean: int
) -> tuple[list[np.ndarray], SevenClass | None]:
    """Every listed member's TTA mode, temperature and validation metrics, chosen on all of
    ``fit_on`` (temperature: its first ``n_clean`` faces) and written into its item; their 3-class
    probabilities, and their 7-class ones when every member has ``fit_on``'s classes (members left
    out of the search, ``val_in_training``, need not)."""
    truth3 = fit_on.group_labels()
    clean = np.arange(len(truth3)) < n_clean
    probs = []
    for item, member in zip(members, scored):
        choice = member.choose(truth3, np.ones(len(truth3), dtype=bool), clean)
        for tta, acc3 in choice.accuracy3.items():
            print(f"  {member.name:<24} tta={tta:<9} val 3-class {percent(acc3)}")
        metrics = member_metrics(member, choice, fit_on, clean)
        print(
            f"  {member.name:<24} temperature {choice.temperature:.3f}: val 3-class ECE "
            f"{metrics['val_ece3_untempered']} -> {metrics['val_ece3']}"
        )
        item.pop("tta_flip", None)  # the older boolean form
        item["tta"] = choice.tta
        item["temperature"] = choice.temperature
        item["metrics"] = {k: v for k, v in item.get("metrics", {}).items() if not k.startswith("val_")} | metrics
        probs.append(member.group(choice))
    free = [m for m in scored if not m.val_in_training]
    if not all(m.seven for m in free):
        return probs, None
    placeholder = np.zeros((len(fit_on.labels), 1))  # a left-out member without the 7 classes: never mixed
    raws = [member.raw(item["tta"]) if member.seven else placeholder for item, member in zip(members, scored)]
    return probs, SevenClass(tuple(raws), fit_on.labels)


def nested_refit(members: list[ScoredMember], fit_on: FaceSet, n_clean: int) -> Refit:
    """:data:`gerec.emotion.weighting.Refit` for ``members``: on each cross-validation half their
    views and temperatures are chosen again on that half's fitting faces, as :func:`fit` chooses
    them on the whole split, so a held-out face has chosen nothing."""
    truth3 = fit_on.group_labels()
    clean = np.arange(len(truth3)) < n_clean
    has_seven = all(m.seven for m in members)

    def refit(on: np.ndarray) -> tuple[list[np.ndarray], SevenClass | None]:
        choices = [m.choose(truth3, on, clean) for m in members]
        probs = [m.group(c) for m, c in zip(members, choices)]
        if not has_seven:
            return probs, None
        return probs, SevenClass(tuple(m.raw(c.tta) for m, c in zip(members, choices)), fit_on.labels)

    return refit
