"""The sidebar's shared settings (network mode, labeler chain, cached labels file) and the current ones
on every page (:func:`current`), a typed cached-labels path checked before it is used."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from gerec.bn import DEFAULT_MODE, MODES
from gerec.config import folder_labels_file, samples_dir

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


def current() -> Settings:
    """The current settings (the sidebar's values, or defaults before it ran)."""
    s = st.session_state
    labels = s.get("labels_file", default_labels_file() or "")
    return Settings(s.get("mode", DEFAULT_MODE), s.get("chain", DEFAULT_CHAIN), *usable_labels_file(labels))
