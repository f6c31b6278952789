"""Models loaded once per process, and per-photo results cached by content hash (the sidebar's settings
are :mod:`gerec_app.settings`)."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from gerec.bn import SceneNetwork, load_scene_network
from gerec.config import samples_dir
from gerec.types import GroupPrediction
from gerec_app.render import PHOTO_FORMATS
from gerec_app.settings import NO_LABELER, current

PHOTO_SUFFIXES = tuple(suffix for suffixes in PHOTO_FORMATS.values() for suffix in suffixes)
"""The photos the dashboard offers as uploads and lists in the sample folder (a subset of
:data:`gerec.imaging.IMAGE_SUFFIXES`)."""


def error_text(exc: BaseException, name: str | None = None, hint: str | None = None) -> str:
    """One plain line: ``name: what went wrong. What to do.`` (no class names, no library wording)."""
    from gerec_app.render import plain_error

    return plain_error(exc, name, hint)


def digest(data: bytes) -> str:
    """Content hash of a photo's bytes (the cache key of its results)."""
    return hashlib.sha256(data).hexdigest()


def sample_photos() -> list[Path]:
    """Photos in the sample folder (empty when none is configured)."""
    folder = samples_dir()
    if folder is None:
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file())


# ---------------------------------------------------------------- models (once per process)
@st.cache_resource(show_spinner=False)
def network(mode: str) -> SceneNetwork:
    """The scene network of ``mode``."""
    return load_scene_network(mode)


@st.cache_resource(show_spinner=False)
def photo_network(mode: str) -> SceneNetwork:
    """The network that analyses photos (see :func:`gerec.bn.network.photo_network`)."""
    from gerec.bn.network import photo_network as for_photos
    from gerec.emotion.registry import read_registry

    return for_photos(network(mode), read_registry().face_confusion)


@st.cache_resource(show_spinner=False)
def face_models():  # -> tuple[FaceDetector, FaceEnsemble]
    """MTCNN and the CNN ensemble, loaded once per process and shared by every mode."""
    from gerec.emotion.ensemble import FaceEnsemble
    from gerec.faces.detect import DEFAULT_MIN_CONFIDENCE, DEFAULT_MIN_FACE_SIZE, FaceDetector

    return FaceDetector(DEFAULT_MIN_CONFIDENCE, DEFAULT_MIN_FACE_SIZE), FaceEnsemble.load()


@st.cache_resource(show_spinner=False)
def labeler(chain: str, labels_file: str | None):  # -> LabelerChain
    """The labeler chain: cached labels first (when a file is given), then ``chain``."""
    from gerec.scene.chain import LabelerChain
    from gerec.scene.simple import CachedLabeler
    from gerec_app.paths import confined_file

    labels_file = str(confined_file(labels_file, "labels")) if labels_file else None  # a typed path: checked
    cached = [CachedLabeler.from_file(labels_file)] if labels_file else []
    if chain == NO_LABELER:
        return LabelerChain([])
    if chain == "cached":
        return LabelerChain(cached)
    from gerec.factory import make_labeler

    config = labeler_secrets()
    if config is not None:
        config = {**config, "chain": chain}  # the sidebar's choice of chain wins; options come from secrets
    return make_labeler(Path(labels_file) if labels_file else None, None if config else chain, config)


def labeler_secrets() -> dict[str, Any] | None:
    """The ``[labelers]`` table of ``.streamlit/secrets.toml`` (GCV key or credentials file, options)."""
    try:
        section = st.secrets.get("labelers")
    except Exception:  # no secrets file: Streamlit raises its own not-found error
        return None
    return dict(section) if section else None


@st.cache_resource(show_spinner=False)
def pipeline(mode: str, chain: str, labels_file: str | None):  # -> Pipeline
    """A pipeline per (mode, labeler); the face models are shared."""
    from gerec.pipeline import Pipeline, PipelineConfig

    detector, ensemble = face_models()
    return Pipeline(
        PipelineConfig(mode=mode),
        labeler=labeler(chain, labels_file),
        network=network(mode),
        detector=detector,
        ensemble=ensemble,
    )


def current_pipeline():  # -> Pipeline
    """The pipeline for the current settings."""
    s = current()
    return pipeline(s.mode, s.chain, s.labels_file)


@st.cache_resource(show_spinner=False)
def explainer():  # -> SaliencyExplainer
    """The saliency explainer (the default method) over every ensemble member."""
    from gerec.explain import SaliencyExplainer

    ensemble = face_models()[1]
    return SaliencyExplainer(ensemble.members, ensemble.weights)


# ---------------------------------------------------------------- per-photo results
@dataclass(frozen=True, eq=False)
class PhotoResult:
    """One analysed photo: the prediction, aligned crops and an annotated display image."""

    digest: str
    name: str
    prediction: GroupPrediction
    crops: np.ndarray
    display: np.ndarray
    original_size: tuple[int, int]


class _Busy:
    """Counts photo analyses in progress, so background work can wait for them (``idle``)."""

    def __init__(self) -> None:
        self._count = 0
        self.started = 0
        """Analyses started since the process began."""
        self._lock = threading.Condition()

    def __enter__(self) -> None:
        with self._lock:
            self._count += 1
            self.started += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._count -= 1
            self._lock.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no photo is being analysed (at most ``timeout`` seconds); whether it is idle."""
        with self._lock:
            return self._lock.wait_for(lambda: self._count == 0, timeout)


_analysing = _Busy()


def wait_until_no_photo_is_analysed(timeout: float = 60.0) -> bool:
    """Let a photo's verdict go first: background warm-up calls this before its slow steps."""
    return _analysing.wait_idle(timeout)


def analyses_started() -> int:
    """Photo analyses started in this process (cache hits not counted)."""
    return _analysing.started


def a_photo_came() -> bool:
    """Whether any photo has been analysed (or is being analysed) in this process."""
    return analyses_started() > 0


@st.cache_data(max_entries=48, show_spinner=False)
def analyze_photo(key: str, name: str, mode: str, chain: str, labels_file: str | None, _data: bytes) -> PhotoResult:
    """Analyse a photo (cached by content hash ``key`` and settings). Raises ``GerecError``."""
    from gerec.imaging import load_image
    from gerec_app.render import annotate

    with _analysing:
        pipe = pipeline(mode, chain, labels_file)
        photo = load_image(_data, name, pipe.config.max_side)
        pred, crops = pipe.analyze_with_crops(photo)
        return PhotoResult(key, name, pred, crops, annotate(photo.pixels, pred.faces), photo.original_size)


_SALIENCY_LOCK = threading.Lock()


def saliency_maps(crop: np.ndarray):  # -> FaceSaliency
    """Saliency of one aligned face crop: the verdict's map and every member's (the one call the page
    and the warm-up make).

    One at a time: the explainer is shared by every session and the background warm-up.
    """
    with _SALIENCY_LOCK:
        return explainer().explain(crop)


@st.cache_data(max_entries=256, show_spinner=False)
def saliency(key: str, index: int, _crop: np.ndarray):  # -> FaceSaliency
    """Saliency of face ``index`` of photo ``key``: the verdict's map and each member's (cached)."""
    return saliency_maps(_crop)


def explained_views(crops: np.ndarray) -> list[np.ndarray]:
    """The ensemble's probabilities on the view the maps explain, per crop (under the saliency lock)."""
    with _SALIENCY_LOCK:
        return [explainer().explained(crop) for crop in crops]


def model_files() -> list[dict[str, object]]:
    """Version of every model file (models/ and packaged weights): sha256 prefix, size, time."""
    from gerec.versions import model_file_versions

    return [
        {"file": name, "sha256": v["sha256"][:12], "bytes": v["bytes"], "modified (UTC)": v["modified"]}
        for name, v in model_file_versions().items()
    ]
