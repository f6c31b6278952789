"""The Analyze page's inputs: uploads, a sample photo, a drill-down from Error analysis.

Streamlit forgets a widget's value when another page runs, so what was uploaded and picked is kept in
``st.session_state`` (:mod:`gerec_app.handoff`) and shown again on the way back to Analyze.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from gerec.errors import PathNotAllowed
from gerec_app import handoff, paths, render, state

UPLOAD_TYPES = [suffix.removeprefix(".") for suffix in state.PHOTO_SUFFIXES]


@dataclass(frozen=True)
class PhotoInput:
    """A photo the page was given to analyse, before decoding (not :class:`gerec.imaging.Photo`, its
    pixels): its name, its bytes, and what to do if it cannot be read (``None``: the error's own hint,
    which asks for an upload; a sample or a drill-down was not uploaded)."""

    name: str
    data: bytes
    unreadable_hint: str | None = None


def _keep_uploads() -> None:
    """The uploader's on_change: what the user uploaded, or removed (down to none), is what is kept."""
    st.session_state[handoff.ANALYZE_UPLOADS] = tuple((u.name, u.getvalue()) for u in st.session_state["uploads"] or [])


def _forget_uploads() -> None:
    st.session_state.pop(handoff.ANALYZE_UPLOADS, None)


def picked(what: str, options: list[str]) -> int:
    """The index of the option picked for ``what`` on an earlier visit (Streamlit forgets a widget's
    value when another page is opened); 0 when none was, or it is no longer offered."""
    earlier = st.session_state.get(handoff.ANALYZE_PICKS, {}).get(what)
    return options.index(earlier) if earlier in options else 0


def pick(what: str, option: str) -> None:
    st.session_state.setdefault(handoff.ANALYZE_PICKS, {})[what] = option


def uploaded(left: DeltaGenerator) -> list[tuple[str, bytes]]:
    """The uploader's photos; on the way back from another page, which empties the uploader, the ones
    uploaded before (kept in the session until replaced or forgotten), named in a caption with a
    button to forget them."""
    uploads = left.file_uploader(
        f"Upload photos ({', '.join(render.PHOTO_FORMATS)})",
        type=UPLOAD_TYPES,
        accept_multiple_files=True,
        key="uploads",
        on_change=_keep_uploads,
    )
    if uploads:  # kept for the way back by the uploader's on_change (_keep_uploads), once per change
        return [(u.name, u.getvalue()) for u in uploads]
    kept = list(st.session_state.get(handoff.ANALYZE_UPLOADS, ()))
    if kept:
        left.caption(
            f"Still showing the {len(kept)} photo{'s' if len(kept) != 1 else ''} uploaded before another page "
            f"was opened: {', '.join(name for name, _ in kept)}. Upload again to replace them."
        )
        left.button("Forget them", on_click=_forget_uploads, key="forget_uploads")
    return kept


def inputs() -> list[PhotoInput]:
    """Uploaded photos, the picked sample and a drill-down from Error analysis."""
    left, right = st.columns([3, 2])
    accepted, refused = paths.accept_uploads(uploaded(left))  # by content, budget
    items = [PhotoInput(name, data) for name, data in accepted]
    for name, error in refused:
        st.error(state.error_text(error, name))
    samples = {p.name: p for p in state.sample_photos()}
    if samples:
        options = ["(none)", *samples]
        choice = right.selectbox("…or pick a sample photo", options, index=picked("sample", options), key="sample")
        pick("sample", choice)
        if choice != "(none)":
            data = samples[choice].read_bytes()
            hint = render.SAMPLE_HINT.format(folder=samples[choice].parent)
            # checked as an upload is: the folder lists the uploader's formats, so its line names them
            if (not_a_photo := paths.not_a_photo(choice, data)) is not None:
                st.error(state.error_text(not_a_photo, choice, hint))
            else:
                items.append(PhotoInput(choice, data, hint))
    else:
        right.caption("No sample folder configured (set GEREC_SAMPLES to a folder of photos).")
    requested = st.session_state.get(handoff.ANALYZE_PATH)  # drill-down from Error analysis
    if requested:
        path = Path(requested)
        c1, c2 = st.columns([5, 1])
        c1.info(f"From error analysis: {path.name}")
        if c2.button("Clear", key="clear_request"):
            del st.session_state[handoff.ANALYZE_PATH]
            st.rerun()
        try:
            data = paths.confined_file(requested, "photo").read_bytes()
            items.append(PhotoInput(path.name, data, render.DRILL_DOWN_HINT))
        except (OSError, PathNotAllowed):
            st.error(f"{path.name}: cannot be read at {path.parent}. {render.DRILL_DOWN_HINT}")
    return items
