"""The first photo: models load in a background thread started once per server process."""

from __future__ import annotations

import pytest
from keras_member import make_keras_member

from gerec.config import models_dir
from gerec.emotion.registry import REGISTRY_FILE

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("runtime", ["onnx", "keras"])
def test_preload_fills_the_pages_caches(photos_dir, monkeypatch, tmp_path, runtime):
    """Everything the first photo needs is loaded; saliency is warmed only where there is something to
    trace (Keras members): with ONNX members a first map costs what any other does. With the keras
    runtime the ensemble is a Keras member (models/ ships none since issue 19's round 16: its members
    are ONNX graphs, which run from ONNX whatever the runtime), beside the committed model files."""
    from gerec_app import preload, settings, state

    monkeypatch.setenv(preload.PRELOAD_ENV, "1")
    monkeypatch.setenv("GEREC_RUNTIME", runtime)
    if runtime == "keras":
        for path in models_dir().iterdir():
            if path.name != REGISTRY_FILE:
                (tmp_path / path.name).symlink_to(path.resolve())
        make_keras_member(tmp_path)
        monkeypatch.setenv("GEREC_MODELS", str(tmp_path))
    for cached in (state.face_models, state.explainer, state.pipeline):
        cached.clear()
    monkeypatch.setattr(state, "a_photo_came", lambda: False)  # whatever other tests analysed before
    preload.start.clear()
    loading = preload.start()
    assert loading.done.wait(600), loading.summary()
    assert loading.error is None, loading.error
    assert list(loading.steps) == [
        "face models",
        "face detector",
        "face ensemble",
        "scene network",
        "scene labeler",
        *(["saliency"] if runtime == "keras" else []),  # no "saliency code": greedy deletion needs no shap
    ]
    assert loading.summary().startswith("models ready")
    assert preload.start() is loading  # once per process
    # the page's own calls now find everything loaded: the same objects, no second load
    detector, ensemble = state.face_models()
    from gerec.emotion.ensemble import KerasMember, OnnxMember

    member = OnnxMember if runtime == "onnx" else KerasMember
    assert detector.runtime == runtime and {type(m) for m in ensemble.members} == {member}
    assert (state.explainer().evaluations > 0) == (runtime == "keras")  # warmed: the explainer has run once
    assert state.pipeline("tuned", "default", settings.default_labels_file()).ensemble is ensemble
    for cached in (state.face_models, state.explainer, state.pipeline, preload.start):
        cached.clear()  # the next tests get the default runtime


def test_preload_leaves_the_warm_ups_to_a_photo_that_came_first(photos_dir, monkeypatch):
    """A photo picked before the warm-ups warms the models itself: no dummy input competes with it,
    and no dummy face holds the explainer's lock while the page wants that photo's map."""
    from gerec_app import preload, state

    monkeypatch.setenv(preload.PRELOAD_ENV, "1")
    monkeypatch.setattr(state, "a_photo_came", lambda: True)
    monkeypatch.setattr(state, "saliency_maps", lambda crop: pytest.fail("warmed on a dummy face"))
    preload.start.clear()
    loading = preload.start()
    assert loading.done.wait(600), loading.summary()
    assert loading.error is None, loading.error
    assert list(loading.steps) == ["face models", "scene network"]  # loading, no warm-up
    assert list(loading.skipped) == ["face detector", "face ensemble", "scene labeler"]
    assert "not warmed, a photo came first: face detector, face ensemble, scene labeler" in loading.summary()
    preload.start.clear()


def test_a_photo_came_counts_analyses(photos_dir):
    from gerec_app import state

    before = state.analyses_started()
    data = next(p for p in state.sample_photos()).read_bytes()
    state.analyze_photo("test-a-photo-came", "photo.jpg", "tuned", "none", None, data)
    assert state.a_photo_came() and state.analyses_started() == before + 1


def test_preload_off(monkeypatch):
    from gerec_app import preload

    monkeypatch.setenv(preload.PRELOAD_ENV, "0")
    preload.start.clear()
    loading = preload.start()
    assert not loading.enabled and loading.done.is_set() and not loading.steps
    assert "preloading is off" in loading.summary()
    preload.start.clear()
