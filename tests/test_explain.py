"""Face saliency: the verdict's map, one path for the ensemble or one per member, what a map explains, sanity."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from gerec.classes import CLASSES, class_index
from gerec.config import FER_TEST_FILE, FER_TRAIN_FILE
from gerec.emotion.views import TTA_MODES, view
from gerec.errors import InvalidImage, NoFaceDetected
from gerec.explain import METHODS, SaliencyExplainer, explain_face
from gerec.occlusion import EYE_ROWS, MOUTH_ROWS, resolution
from gerec.saliency import crop_key, explained_views, overlay, spread, to_grey


def grey_faces(crops: np.ndarray) -> np.ndarray:
    crops = np.asarray(crops, dtype=float)
    return crops.mean(axis=-1) if crops.ndim == 4 else crops


class QuadrantMember:
    """A numpy 'model': P(Positive) rises with the brightness of the face's top-left quarter."""

    def __init__(self, name: str, sharpness: float = 12.0, quarter: tuple[int, int] = (0, 0)) -> None:
        self.spec = SimpleNamespace(name=name)
        self.sharpness = sharpness
        self.quarter = quarter
        self.calls = 0

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        self.calls += 1
        faces = grey_faces(crops)
        h, w = faces.shape[1:3]
        r, c = self.quarter
        bright = faces[:, r * h // 2 : (r + 1) * h // 2, c * w // 2 : (c + 1) * w // 2].mean(axis=(1, 2)) / 255.0
        pos = 1 / (1 + np.exp(-self.sharpness * (bright - 0.5)))
        return np.stack([pos, (1 - pos) * 0.5, (1 - pos) * 0.5], axis=1)


class ViewMember(QuadrantMember):
    """Its single view (``_run``) says Negative, its test-time views (``predict_proba``) Positive."""

    def prepare(self, faces: np.ndarray) -> np.ndarray:
        return grey_faces(faces)

    def _run(self, x: np.ndarray) -> np.ndarray:
        p = super().predict_proba(x)
        return p[:, ::-1].copy()

    def to_group(self, raw: np.ndarray) -> np.ndarray:
        return raw


def face() -> np.ndarray:
    crop = np.full((128, 128, 3), 40, dtype=np.uint8)
    crop[:64, :64] = 230  # bright top-left: Positive
    rng = np.random.default_rng(1)
    return np.clip(crop + rng.integers(0, 20, crop.shape), 0, 255).astype(np.uint8)


def test_verdict_map_shape_additive_and_where_it_points():
    members = [QuadrantMember("a"), QuadrantMember("b", sharpness=6.0)]
    explainer = SaliencyExplainer(members, weights=[3, 1], max_evals=96)
    result = explainer.explain(face())
    assert result.target == "Positive" and result.agrees and result.values.shape == (48, 48)
    assert [m.member for m in result.members] == ["a", "b"]
    for m in result.members:
        assert m.target == "Positive" and np.isfinite(m.values).all() and m.regions >= 4
        # values add up: the face's probability minus the baselines' (mean of grey and blur)
        assert m.total == pytest.approx(m.probability - m.base_value, abs=1e-6)
        assert m.values[:24, :24].sum() > 5 * abs(m.values[24:, 24:].sum())
    np.testing.assert_allclose(result.values, 0.75 * result.members[0].values + 0.25 * result.members[1].values)
    assert result.probability == pytest.approx(
        0.75 * result.members[0].probability + 0.25 * result.members[1].probability
    )
    negative = explainer.explain(face(), target="Negative")
    assert negative.target == "Negative" and negative.values[:24, :24].sum() < 0


class MouthMember(QuadrantMember):
    """P(Positive) rises with the brightness of a small spot in the mouth rows; the eyes do nothing."""

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        self.calls += 1
        faces = grey_faces(crops)
        s = faces.shape[1] / 48
        spot = faces[:, int(34 * s) : int(40 * s), int(20 * s) : int(28 * s)].mean(axis=(1, 2)) / 255.0
        pos = 1 / (1 + np.exp(-self.sharpness * (spot - 0.5)))
        return np.stack([pos, (1 - pos) * 0.5, (1 - pos) * 0.5], axis=1)


def test_occlusion_refines_the_map_eyes_apart_from_mouth():
    crop = np.full((48, 48), 60, dtype=np.uint8)
    crop[EYE_ROWS[0] : EYE_ROWS[1], 8:40] = 230  # bright eyes, ignored by the member
    crop[MOUTH_ROWS[0] : MOUTH_ROWS[1], 14:34] = 230  # bright mouth, what the member reads
    shap_only = SaliencyExplainer([MouthMember("m")], max_evals=32, scales=(), method="shap").explain(crop, "Positive")
    refined = SaliencyExplainer([MouthMember("m")], max_evals=32, method="shap").explain(crop, "Positive")
    coarse, fine = shap_only.members[0], refined.members[0]
    assert fine.total == pytest.approx(coarse.total, abs=1e-9)  # the occlusion pass keeps the total
    assert fine.regions > 4 * coarse.regions and resolution(refined.partition)[1] <= 36
    assert resolution(refined.partition)[2]
    eyes = refined.values[EYE_ROWS[0] : EYE_ROWS[1]].mean()
    mouth = refined.values[34:40, 20:28].mean()
    assert mouth > 0 and mouth > 10 * abs(eyes)
    # the most salient 5 % of pixels lie on the spot the member reads
    top = np.argsort(-refined.values.ravel())[: 48 * 48 // 20]
    rows, cols = np.unravel_index(top, (48, 48))
    assert np.mean((rows >= 31) & (rows < 43) & (cols >= 17) & (cols < 31)) > 0.9


def test_deletion_map_finds_the_mouth_and_adds_up():
    crop = np.full((48, 48), 60, dtype=np.uint8)
    crop[EYE_ROWS[0] : EYE_ROWS[1], 8:40] = 230  # bright eyes, ignored by the member
    crop[MOUTH_ROWS[0] : MOUTH_ROWS[1], 14:34] = 230  # bright mouth, what the member reads
    result = SaliencyExplainer([MouthMember("m")]).explain(crop, "Positive")
    member = result.members[0]
    assert member.total == pytest.approx(member.probability - member.base_value, abs=1e-9)
    assert member.regions == 64 and resolution(result.partition) == (64, 36, True)
    # the most salient 5 % of pixels lie in the 6 px cells over the spot the member reads
    top = np.argsort(-result.values.ravel())[: 48 * 48 // 20]
    rows, cols = np.unravel_index(top, (48, 48))
    assert ((rows >= 30) & (rows < 42) & (cols >= 18) & (cols < 30)).all()
    assert abs(result.values[EYE_ROWS[0] : EYE_ROWS[1]].mean()) < 0.01 * result.values[34:40, 20:28].mean()


def test_methods_by_name():
    crop = face()
    for method in METHODS:
        result = SaliencyExplainer([QuadrantMember("a")], max_evals=32, method=method).explain(crop)
        assert result.target == "Positive" and result.values[:24, :24].sum() > 0
    with pytest.raises(ValueError, match="unknown saliency method"):
        SaliencyExplainer([QuadrantMember("a")], method="lime")


def test_own_paths_explain_members_independently():
    a, b, c = QuadrantMember("a"), QuadrantMember("b", 4.0, (1, 1)), QuadrantMember("c", 30.0, (0, 1))
    first = SaliencyExplainer([a, b], max_evals=96, method="deletion").explain(face(), "Positive")
    second = SaliencyExplainer([a, c], max_evals=96, method="deletion").explain(face(), "Positive")
    np.testing.assert_array_equal(first.members[0].values, second.members[0].values)
    assert not np.allclose(first.members[1].values, second.members[1].values)


def test_ensemble_path_member_maps_add_up_to_the_ensemble():
    crop = face()
    crop[64:, 64:] = crop[:64, :64]  # the same bright quarter bottom-right, which member b reads
    a, b = QuadrantMember("a"), QuadrantMember("b", quarter=(1, 1))
    explainer = SaliencyExplainer([a, b], weights=[3, 1])
    assert explainer.method == "ensemble-deletion"
    result = explainer.explain(crop, "Positive")
    for m in result.members:  # each member's map adds up to its own probability minus the baselines'
        assert m.total == pytest.approx(m.probability - m.base_value, abs=1e-6)
        assert m.regions == 64
    np.testing.assert_allclose(result.values, 0.75 * result.members[0].values + 0.25 * result.members[1].values)
    # one path for both: the ensemble map's most salient pixels are where the heavier member reads
    top = np.argsort(-result.values.ravel())[: 48 * 48 // 10]
    rows, cols = np.unravel_index(top, (48, 48))
    assert ((rows < 24) & (cols < 24)).all()
    # member b's map is what that path's deletions took from b: its own quarter still counts for it
    assert result.members[1].values[24:, 24:].sum() > 0.5 * result.members[1].total
    # the weighted map ranks cells as the path deleted them, whatever each member's own ranking
    own = SaliencyExplainer([a, b], weights=[3, 1], method="deletion").explain(crop, "Positive")
    assert not np.allclose(own.members[1].values, result.members[1].values)


def test_flags_when_the_explained_view_disagrees():
    result = SaliencyExplainer([ViewMember("v")], max_evals=64).explain(face())
    assert result.target == "Positive" and result.verdict_probability > 0.5  # the bars: test-time views
    assert result.explained_class == "Negative" and not result.agrees
    assert result.probability == pytest.approx(result.explained[0])


def test_cache_and_bad_inputs():
    member = QuadrantMember("a")
    explainer = SaliencyExplainer([member], max_evals=64)
    first = explainer.explain(face())
    calls = member.calls
    again = explainer.explain(face().copy())  # same content: the member's map is cached
    assert again.members[0] is first.members[0] and member.calls - calls <= 2  # only the two probability calls
    with pytest.raises(ValueError):
        explainer.explain(face(), target="Happy")
    assert crop_key(face()) != crop_key(face()[::-1].copy())
    with pytest.raises(InvalidImage):
        explainer.explain(np.zeros((10, 10, 4), dtype=np.uint8))
    with pytest.raises(NoFaceDetected):
        explain_face(explainer, np.zeros((0, 128, 128, 3), dtype=np.uint8), 0)
    with pytest.raises(ValueError):
        SaliencyExplainer([])
    assert to_grey(face(), 48).shape == (48, 48)


def test_spread_keeps_each_region_total():
    values = np.zeros((4, 4))
    values[:2] = 1.0
    change = np.arange(16, dtype=float).reshape(4, 4)
    out = spread(values, change)
    assert out[:2].sum() == pytest.approx(8.0) and out[2:].sum() == 0
    assert out[1, 3] > out[0, 0]  # the pixel the baseline changes more gets more


def test_overlay():
    values = np.zeros((48, 48))
    values[:8, :8] = 1.0
    values[-8:, -8:] = -1.0
    out = overlay(face(), values)
    assert out.shape == (128, 128, 3) and out.dtype == np.uint8
    assert out[5, 5, 0] > out[5, 5, 2]  # positive: red
    assert out[-5, -5, 2] > out[-5, -5, 0]  # negative: blue


@pytest.mark.slow
def test_sanity_randomised_top_layer(pipeline, fer_dir, tmp_path):
    """Each weighted member in turn gets a random class head: its map must change (docs/explanations.md)."""
    ensemble = pipeline.ensemble
    faces = np.load(fer_dir / FER_TEST_FILE)["images"][:3]
    weighted = [k for k, w in enumerate(ensemble.weights) if w > 0]  # every member the verdict reads
    assert weighted
    for k in weighted:
        _check_randomised_member(ensemble, faces, k, tmp_path / str(k))


def _check_randomised_member(ensemble, faces, k, folder):
    from gerec.sanity import PASS_BELOW, compare_maps, randomised_top

    folder.mkdir()
    members = list(ensemble.members)
    members[k] = randomised_top(members[k], folder)
    for method in ("ensemble-deletion", "deletion"):  # the dashboard's one path, and round 4's own paths
        for change in compare_maps(ensemble.members, members, ensemble.weights, k, faces, method):
            before, after = change.before, change.after
            assert change.rho < PASS_BELOW, (ensemble.names[k], method, change.rho)
            for i, (b, a) in enumerate(zip(before.members, after.members)):
                assert a.total == pytest.approx(a.probability - a.base_value, abs=1e-6)
                if i != k and method == "deletion":
                    np.testing.assert_array_equal(b.values, a.values)  # own paths: the others unchanged
                elif i != k:  # one path: the others' own probabilities are unchanged, their maps follow the path
                    assert a.probability == pytest.approx(b.probability, abs=1e-9)


def test_sanity_figures_count_the_maps_that_changed():
    from gerec.sanity import PASS_BELOW, SanityFigures, sample_faces

    figures = SanityFigures(faces=20, changed=19, median_rho=0.12)
    assert not figures.passed and SanityFigures(3, 3, -0.1).passed
    record = figures.record()
    assert record["maps_changed"] == 19 and record["changed_below"] == PASS_BELOW and record["faces"] == 20
    images = np.arange(50)
    picked = sample_faces(images, 20, seed=4)
    assert len(set(picked)) == 20 and np.array_equal(picked, sample_faces(images, 20, seed=4))
    assert len(sample_faces(images[:5], 20)) == 5  # fewer faces than asked: all of them


@pytest.mark.slow
def test_real_ensemble_on_real_face(pipeline, photos_dir):
    _, crops = pipeline.analyze_with_crops(photos_dir / "image_happy_1.jpg", labels=[])
    explainer = SaliencyExplainer(pipeline.ensemble.members, pipeline.ensemble.weights)
    result = explain_face(explainer, crops, 0)
    verdict = pipeline.ensemble.predict(crops[:1]).ensemble[0]
    assert result.target == CLASSES[int(np.argmax(verdict))]
    assert result.verdict_probability == pytest.approx(float(verdict.max()), abs=1e-6)
    assert [m.member for m in result.members] == pipeline.ensemble.names
    assert np.isfinite(result.values).all() and np.abs(result.values).sum() > 0
    # each member's map explains its first and last test-time views: their mean is what is shown
    face = to_grey(crops[0], explainer.size)
    batch = np.clip(face, 0, 255).round().astype(np.uint8)[None]
    for member, shown in zip(pipeline.ensemble.members, result.members, strict=True):
        names = explained_views(member)
        assert names == (TTA_MODES[member.spec.tta][0], TTA_MODES[member.spec.tta][-1])
        own = np.mean([member.to_group(member._run(view(member.prepare(batch), n)))[0] for n in names], axis=0)
        assert shown.probability == pytest.approx(float(own[class_index(result.target)]), abs=1e-5)


@pytest.mark.slow
def test_explain_faces_command(fer_dir, tmp_path):
    data = np.load(fer_dir / FER_TRAIN_FILE)  # training faces: test.npz is measured once, by hand
    small = tmp_path / "small.npz"
    np.savez(
        small,
        images=data["images"][:3],
        labels=data["labels"][:3],
        classes=data["classes"],
        ids=np.array(["a", b"b" * 300, "c"], dtype=object),
    )
    out = tmp_path / "maps.npz"
    run = subprocess.run(
        [sys.executable, "-m", "gerec", "explain-faces", str(small), "--out", str(out), "--limit", "2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert "explaining faces" in run.stderr  # the progress bar
    maps = np.load(out)
    assert list(maps["ids"]) == ["a", "b" * 300] and set(maps["predicted"]) <= set(CLASSES)
    assert maps["saliency"].dtype == np.float32 and maps["saliency"].shape == (2, 48, 48)
    assert maps["complete"]  # every face asked for (--limit 2) is there
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    run = subprocess.run(
        [sys.executable, "-m", "gerec", "explain-faces", str(bad), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 2 and run.stderr.strip().startswith("error: InvalidDataset")


def test_one_path_maps_survive_a_cache_smaller_than_the_ensemble():
    members = [QuadrantMember("a"), QuadrantMember("b", quarter=(1, 1)), QuadrantMember("c", quarter=(0, 1))]
    result = SaliencyExplainer(members, cache_size=1).explain(face(), "Positive")
    assert [m.member for m in result.members] == ["a", "b", "c"]


def test_the_method_lines_state_the_deletion_settings_in_use():
    """The one-line descriptions the benchmarks and pages print follow gerec.deletion's constants."""
    from gerec import deletion
    from gerec.explain import METHODS, PRIOR_SCALES

    for name in ("ensemble-deletion", "deletion"):
        line = METHODS[name]
        assert f"{deletion.CELL} px cells removed {deletion.PER_STEP} at a time" in line
        assert f"among {deletion.CANDIDATES} ranked by a {PRIOR_SCALES[0][0]} px occlusion pass" in line
