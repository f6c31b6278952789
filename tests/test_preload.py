"""The first photo: models load in a background thread started once per server process."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_preload_fills_the_pages_caches_and_warms_saliency(photos_dir, monkeypatch):
    from gerec_app import preload, state

    monkeypatch.setenv(preload.PRELOAD_ENV, "1")
    preload.start.clear()
    loading = preload.start()
    assert loading.done.wait(600), loading.summary()
    assert loading.error is None, loading.error
    assert list(loading.steps) == ["face models", "face detector", "face ensemble", "scene network",
                                   "scene labeler", "saliency"]
    assert loading.summary().startswith("models ready")
    assert preload.start() is loading  # once per process
    # the page's own calls now find everything loaded: the same objects, no second load
    detector, ensemble = state.face_models()
    assert state.explainer().evaluations > 0  # the saliency explainer has run once
    assert state.pipeline("tuned", "default", state.default_labels_file()).ensemble is ensemble


def test_preload_off(monkeypatch):
    from gerec_app import preload

    monkeypatch.setenv(preload.PRELOAD_ENV, "0")
    preload.start.clear()
    loading = preload.start()
    assert not loading.enabled and loading.done.is_set() and not loading.steps
    assert "preloading is off" in loading.summary()
    preload.start.clear()
