"""SHAP saliency: shape, finiteness, where it points, caching, and the real ensemble."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from gerec.errors import InvalidImage, NoFaceDetected
from gerec.explain import SaliencyExplainer, crop_key, explain_face, overlay


class QuadrantMember:
    """A numpy 'model': P(Positive) rises with the brightness of the face's top-left quarter."""

    def __init__(self, name: str, sharpness: float = 12.0) -> None:
        self.spec = SimpleNamespace(name=name)
        self.sharpness = sharpness
        self.calls = 0

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        self.calls += 1
        h, w = crops.shape[1:3]
        bright = crops[:, : h // 2, : w // 2].mean(axis=(1, 2, 3)) / 255.0
        pos = 1 / (1 + np.exp(-self.sharpness * (bright - 0.5)))
        return np.stack([pos, (1 - pos) * 0.5, (1 - pos) * 0.5], axis=1)


def face() -> np.ndarray:
    crop = np.full((128, 128, 3), 40, dtype=np.uint8)
    crop[:64, :64] = 230  # bright top-left: Positive
    rng = np.random.default_rng(1)
    return np.clip(crop + rng.integers(0, 20, crop.shape), 0, 255).astype(np.uint8)


def test_saliency_shape_finite_and_additive():
    members = [QuadrantMember("a"), QuadrantMember("b", sharpness=6.0)]
    explainer = SaliencyExplainer(members, max_evals=128)
    result = explainer.explain(face())
    assert [r.member for r in result] == ["a", "b"]
    for r in result:
        assert r.target == "Positive" and r.probability > 0.5
        assert r.values.shape == (64, 64) and np.isfinite(r.values).all()
        # Owen values add up: blurred-face log-odds + sum = the face's log-odds
        assert r.base_value + r.total == pytest.approx(np.log(r.probability / (1 - r.probability)), abs=1e-3)
        top_left = r.values[:32, :32].sum()
        assert top_left > 0 and top_left > 5 * abs(r.values[32:, 32:].sum())


def test_all_members_share_one_masked_pass():
    members = [QuadrantMember("a"), QuadrantMember("b"), QuadrantMember("c")]
    explainer = SaliencyExplainer(members, max_evals=128)
    explainer.explain(face())
    # every member saw the same few batches; the masked faces are evaluated once for all
    assert members[0].calls == members[1].calls == members[2].calls <= 12
    assert 128 <= explainer.evaluations <= 140


def test_target_and_cache():
    member = QuadrantMember("a")
    explainer = SaliencyExplainer([member], max_evals=64)
    first = explainer.explain(face())
    calls = member.calls
    assert explainer.explain(face().copy()) is first  # same content: cached
    assert member.calls == calls
    negative = explainer.explain(face(), target="Negative")
    assert negative[0].target == "Negative" and negative[0].values[:32, :32].sum() < 0
    with pytest.raises(ValueError):
        explainer.explain(face(), target="Happy")
    assert crop_key(face()) != crop_key(face()[::-1].copy())


def test_bad_inputs():
    explainer = SaliencyExplainer([QuadrantMember("a")], max_evals=32)
    with pytest.raises(InvalidImage):
        explainer.explain(np.zeros((10, 10, 4), dtype=np.uint8))
    with pytest.raises(NoFaceDetected):
        explain_face(explainer, np.zeros((0, 128, 128, 3), dtype=np.uint8), 0)
    with pytest.raises(ValueError):
        SaliencyExplainer([])


def test_overlay():
    values = np.zeros((64, 64))
    values[:10, :10] = 1.0
    values[-10:, -10:] = -1.0
    out = overlay(face(), values)
    assert out.shape == (128, 128, 3) and out.dtype == np.uint8
    assert out[5, 5, 0] > out[5, 5, 2]  # positive: red
    assert out[-5, -5, 2] > out[-5, -5, 0]  # negative: blue
    assert overlay(face(), np.zeros((64, 64))).shape == (128, 128, 3)


@pytest.mark.slow
def test_real_ensemble_on_real_face(pipeline, photos_dir):
    _, crops = pipeline.analyze_with_crops(photos_dir / "image_happy_1.jpg", labels=[])
    assert len(crops)
    explainer = SaliencyExplainer(pipeline.ensemble.members)
    result = explain_face(explainer, crops, 0)
    assert [r.member for r in result] == pipeline.ensemble.names
    probs = pipeline.ensemble.predict(crops[:1]).members
    for r in result:
        assert r.values.shape == (64, 64) and np.isfinite(r.values).all() and np.abs(r.values).sum() > 0
        # the 64 px face the saliency is computed on gives (nearly) the member's own prediction
        assert r.probability == pytest.approx(float(probs[r.member][0].max()), abs=0.05)
    assert explain_face(explainer, crops, 0) is result
