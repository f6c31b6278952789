"""The Analyze page's report button (streamlit calls): 'Build report (HTML)', its progress face by
face, then 'Download report (HTML)'. The report itself is :mod:`gerec_app.report`'s."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from gerec.types import GroupPrediction
from gerec_app import settings, state

REPORT_BUILT = "report_built"
"""Session key of the last report built per photo: ``{digest: (what it was made from, html)}``."""
REPORT_ASKED = "report_asked"
"""Session key of the photo whose report the button asked for (set by its callback, before the run)."""


def report_progress_text(done: int, total: int) -> str:
    """What the report's progress bar says when ``done`` of ``total`` faces have their saliency.

    >>> report_progress_text(2, 15), report_progress_text(15, 15)
    ('Report: saliency of face 3 of 15…', 'Report: writing the file…')
    """
    return f"Report: saliency of face {done + 1} of {total}…" if done < total else "Report: writing the file…"


def _ask_for_report(digest: str) -> None:
    st.session_state[REPORT_ASKED] = digest


@st.fragment
def report_button(
    res: state.PhotoResult, shown: GroupPrediction, s: settings.Settings, build: Callable[..., str]
) -> None:
    """'Build report (HTML)', its progress face by face, then 'Download report (HTML)': one self-contained file.

    Built in a run of its own (a fragment: the photo's view is not redrawn), not as the download
    button's deferred data: Streamlit ignores calls made while deferred data is made, so a photo of 15
    faces showed only the button's spinner. The button stays, greyed, above the progress bar while it
    builds. The report is kept for the photo until the labels or settings it was made with change.
    """
    made = (s.mode, s.chain, s.labels_file, shown.evidence.labels_used, shown is res.prediction)
    built: dict[str, tuple[tuple, str]] = st.session_state.setdefault(REPORT_BUILT, {})
    slot, bar_slot = st.empty(), st.empty()
    if built.get(res.digest, ((), ""))[0] != made:
        asked = st.session_state.pop(REPORT_ASKED, None) == res.digest
        slot.button(
            "Build report (HTML)",
            key=f"build_report_{res.digest}",
            icon=":material/description:",
            disabled=asked,
            on_click=_ask_for_report,
            args=(res.digest,),
        )
        if not asked:
            return
        bar = bar_slot.progress(0.0, text=report_progress_text(0, len(res.crops)))

        def progress(done: int, total: int) -> None:
            bar.progress(done / total if total else 1.0, text=report_progress_text(done, total))

        try:
            built[res.digest] = (made, build(res, shown, s, progress=progress))
        except Exception as exc:  # noqa: BLE001 - one plain line, never a traceback; the button comes back
            bar_slot.error(state.error_text(exc, res.name))
            return
        bar_slot.empty()
    slot.download_button(
        "Download report (HTML)",
        built[res.digest][1],
        f"gerec_report_{Path(res.name).stem}.html",
        "text/html",
        key=f"report_{res.digest}",
        icon=":material/download:",
    )
