"""Settings, models loaded once per process, and per-photo results cached by content hash."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from gerec.bn import DEFAULT_MODE, MODES, SceneNetwork, load_scene_network
from gerec.config import folder_labels_file, samples_dir
from gerec.types import GroupPrediction
from gerec_app.render import PHOTO_FORMATS

DEFAULT_CHAIN = "default"
NO_LABELER = "none"
NOT_OFFERED = frozenset({"manual"})
"""Registered labelers the sidebar leaves out: typed labels are the Analyze page's label editor."""


def chains() -> dict[str, str]:
    """The labeler chains the sidebar offers, name -> description: ``default``, every labeler of
    the registry (:data:`gerec.scene.config.LABELERS`) alone, and ``none``."""
    from gerec.scene.config import LABELERS

    return {
        DEFAULT_CHAIN: "cached → Cloud Vision (when keys are set) → offline",
        **{name: entry.description for name, entry in LABELERS.items() if name not in NOT_OFFERED},
        NO_LABELER: "none (type labels by hand)",
    }


PHOTO_SUFFIXES = tuple(suffix for suffixes in PHOTO_FORMATS.values() for suffix in suffixes)
"""The photos the dashboard offers as uploads and lists in the sample folder (a subset of
:data:`gerec.imaging.IMAGE_SUFFIXES`)."""


@dataclass(frozen=True)
class Settings:
    """What the sidebar chose: network mode, labeler chain, cached labels file (``None`` when unusable)."""

    mode: str = DEFAULT_MODE
    chain: str = DEFAULT_CHAIN
    labels_file: str | None = None
    labels_note: str | None = None
    """Why the typed cached-labels file is not used (missing, unreadable), shown on the pages."""


def default_labels_file() -> str | None:
    """The sample folder's ``labels.json`` (recorded Cloud Vision labels): the CLI's default too."""
    path = folder_labels_file(samples_dir())
    return str(path) if path else None


@st.cache_data(show_spinner=False, max_entries=16)
def _labels_file_problem(path: str, modified: float) -> str | None:
    from gerec.errors import GerecError
    from gerec.scene.simple import read_label_file

    try:
        read_label_file(path)
    except GerecError:
        return "it is not a JSON object of image name → list of labels"
    return None


def usable_labels_file(text: str | None) -> tuple[str | None, str | None]:
    """(the cached-labels path to use or ``None``, a note saying why a typed path is not used)."""
    text = (text or "").strip()
    if not text:
        return None, None
    from gerec.errors import PathNotAllowed
    from gerec_app.paths import confined_file

    if not Path(text).expanduser().is_file():
        return None, (
            f"Cached labels file not found: {text}. Photos are labelled by the next labelers in the "
            "chain; correct the path in the sidebar to use it."
        )
    try:
        path = confined_file(text, "labels")  # a typed path is read only inside the allowed folders
    except PathNotAllowed as exc:
        return None, f"Cached labels file not used: {exc}. Photos are labelled by the next labelers in the chain."
    problem = _labels_file_problem(str(path), path.stat().st_mtime)
    if problem:
        return None, (
            f"Cached labels file {path.name} is not used: {problem}. Photos are labelled by the next "
            "labelers in the chain."
        )
    return str(path), None


def labels_file_note(s: Settings) -> None:
    """The visible note when the cached-labels file was not usable."""
    if s.labels_note:
        st.warning(s.labels_note, icon=":material/info:")


def sidebar() -> Settings:
    """Render the shared settings in the sidebar and return them."""
    with st.sidebar:
        st.subheader("Settings")
        mode = st.selectbox(
            "Scene network",
            MODES,
            index=MODES.index(DEFAULT_MODE),
            key="mode",
            help="reference: the paper's network; tuned: cross-validated hyperparameters",
        )
        offered = chains()
        # the box names the chain, the line under it says what it does: 'default: cached → Cloud Vision
        # (when keys are set) → offline' in the box was cut in a 1024 px window
        chain = st.selectbox(
            "Scene labeler",
            list(offered),
            key="chain",
            help="Works offline without keys; Cloud Vision only with credentials.\n\n"
            + "\n".join(f"- **{name}**: {text}" for name, text in offered.items()),
        )
        st.caption(offered[str(chain)])
        labels = st.text_input(
            "Cached labels (JSON)",
            value=default_labels_file() or "",
            key="labels_file",
            help="{image name: [labels]}; used first for photos it names",
        )
    return Settings(str(mode), str(chain), *usable_labels_file(labels))


def settings() -> Settings:
    """The current settings (the sidebar's values, or defaults before it ran)."""
    s = st.session_state
    labels = s.get("labels_file", default_labels_file() or "")
    return Settings(s.get("mode", DEFAULT_MODE), s.get("chain", DEFAULT_CHAIN), *usable_labels_file(labels))


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
    s = settings()
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
