"""Shared fixtures: the shared data folder (tests skip clearly without it) and loaded models."""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

import pytest

from gerec.config import FER_FOLDER, data_dir
from gerec.tf_quiet import quiet_tensorflow

# TensorFlow gets gerec's settings (oneDNN off) whichever test file imports it first: a test
# that imported keras directly used to start TensorFlow with oneDNN on, which crashed training.
quiet_tensorflow()

# In-process dashboard tests (AppTest) would start the background model loading, still importing
# TensorFlow when pytest exits (an abort or a hang). It is off here; tests/test_preload.py turns
# it on, and the browser test's server is started with it on, as a user's is.
os.environ.setdefault("GEREC_PRELOAD", "0")

DATA = data_dir()
GAF = DATA / "gaf3"
PHOTOS = DATA / "group_photos"
FER = DATA / FER_FOLDER


def need(path: Path) -> Path:
    """Skip the test with a clear reason when shared data is absent."""
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (set GEREC_DATA to the shared data folder)")
    return path


@pytest.fixture(scope="session")
def gaf_dir() -> Path:
    return need(GAF)


@pytest.fixture(scope="session")
def photos_dir() -> Path:
    return need(PHOTOS)


@pytest.fixture(scope="session")
def fer_dir() -> Path:
    return need(FER)


@pytest.fixture(scope="session")
def pipeline():
    """One pipeline with real models (MTCNN and the ensemble), loaded once for the session."""
    from gerec.pipeline import Pipeline

    return Pipeline()


@pytest.fixture()
def gcv_fallback_photos(tmp_path, monkeypatch):
    """Four generated photos in ``tmp_path/photos`` (Positive and Negative, two each) and the pipeline
    ``gerec evaluate`` builds for them (``PipelineSpec.build`` patched): gcv unavailable ('no
    credentials configured') so manual answers, and a detector that finds no face. Returns both."""
    from PIL import Image

    from gerec.faces.detect import FaceDetector
    from gerec.pipeline import Pipeline, PipelineConfig
    from gerec.scene.chain import LabelerChain
    from gerec.scene.config import UnavailableLabeler
    from gerec.scene.simple import ManualLabeler

    class NoFaces:
        def detect(self, image):
            return []

    photos = tmp_path / "photos"
    for cls in ("Positive", "Negative"):
        (photos / cls).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (64, 48), (40 * i, 90, 160)).save(photos / cls / f"{i}.png")
    chain = LabelerChain([UnavailableLabeler("gcv", "no credentials configured"), ManualLabeler(["party"])])
    # a stand-in for the MTCNN detector: the pipeline only calls its detect
    pipeline = Pipeline(PipelineConfig(mode="reference"), labeler=chain, detector=cast(FaceDetector, NoFaces()))
    monkeypatch.setattr("gerec.cli.evaluate.PipelineSpec.build", lambda spec: pipeline)
    return photos, pipeline


# ------------------------------------------------------------------ test tiers
SLOW_FIXTURES = frozenset({"pipeline", "server", "fer_dir", "photos_dir"})
"""Fixtures that load real models, real photos through them, or a browser: their tests are slow."""


@pytest.fixture()
def clean_env(monkeypatch, tmp_path):
    """No labeler settings from the environment, no Cloud Vision credentials."""
    for var in ("GEREC_LABELER_CONFIG", "GEREC_LABELERS", "GEREC_LABELS_FILE", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("GEREC_GCV_API_KEY", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))


def pytest_collection_modifyitems(config, items) -> None:
    """Mark ``slow`` every test that uses a slow fixture or lives in a module that spawns
    processes, so ``make test-fast`` (``-m "not slow"``) is the quick tier without hand marks."""
    for item in items:
        spawns = getattr(item.module, "subprocess", None) is not None
        if spawns or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
