"""Explanations on the dashboard: the plain-words why, the reasons chart, and face saliency."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from gerec.bn.contributions import fit_rows
from gerec.types import GroupPrediction, LabelContribution
from gerec_app import plots, render, state

CHART_ROWS = 20
"""Rows a reasons chart shows; the rest are summed into 'N other ... labels' rows."""


def render_why(pred: GroupPrediction) -> None:
    """Two or three sentences on why the photo got its verdict (from :mod:`gerec.why`)."""
    from gerec.why import why_text

    st.markdown(f"**Why:** {why_text(pred)}")


def render_metric(container, label: str, value: str, detail: str) -> None:
    """A metric with its detail on a smaller grey line (a delta without colour or arrow), so the value
    stays short enough to be read whole in a narrow column."""
    container.metric(label, value, detail, delta_color="off", delta_arrow="off")


def render_answer(container, label: str, probs: Sequence[float] | None) -> None:
    """A module's answer: its class, and its probability below (:func:`gerec_app.render.answer`)."""
    render_metric(container, label, *render.answer(probs))


def render_reasons(pred: GroupPrediction, key: str, max_rows: int = CHART_ROWS) -> None:
    """Every term of the fused verdict as a bar group; rows that do not fit are summed, not dropped."""
    render_rows(pred.contributions, key, max_rows)


def render_rows(rows: Sequence[LabelContribution], key: str, max_rows: int = CHART_ROWS) -> None:
    """Contribution rows as a chart of at most about ``max_rows`` rows, and how they add up."""
    shown = fit_rows(rows, max_rows)
    st.plotly_chart(plots.contributions_figure(shown), key=key)
    st.caption(reasons_caption(rows, shown))


def reasons_caption(rows: Sequence[LabelContribution], shown: Sequence[LabelContribution]) -> str:
    """What the reasons chart holds and how it adds up."""
    terms = sum(r.count for r in rows)
    summed = [r for r in shown if r.kind.endswith("-rest")]
    rest = (
        f"; {sum(r.count for r in summed)} weaker ones summed into {len(summed)} row{'s' if len(summed) > 1 else ''}"
        if summed
        else ""
    )
    bottom_up = any(r.kind == "bottom-up" for r in rows)
    return (
        f"{len(shown)} rows for {terms} terms{rest}. Each row is one term of the network's log-odds, centred "
        "over the classes: the softmax of all rows added up is the "
        + ("fused posterior; without the faces (bottom-up) row, the top-down one." if bottom_up else "posterior.")
    )


def disagreeing_faces(crops: np.ndarray, pred: GroupPrediction) -> list[tuple[int, str]]:
    """Faces whose explained views give another class than their verdict: (face, that class)."""
    from gerec.classes import CLASSES

    explained = state.explained_views(crops)
    return [
        (face.index, CLASSES[int(np.argmax(p))])
        for face, p in zip(pred.faces, explained)
        if face.scores is not None and CLASSES[int(np.argmax(p))] != face.scores.predicted
    ]


def render_face_saliency(res: state.PhotoResult, index: int) -> None:
    """The ensemble's map for the face's verdict, its members' maps on demand, and what it explains."""
    from gerec.explain import METHOD, VIEW_NOTE

    show = st.toggle("Saliency of the verdict", value=True, key="shap_on")
    members = st.toggle("Each member's map too", value=False, key="members_on")
    if not show:
        st.image(res.crops[index], caption="aligned crop", width=120)
        return
    try:
        with st.spinner("Computing saliency…"):
            result = state.saliency(res.digest, index, res.crops[index])
            flagged = disagreeing_faces(res.crops, res.prediction)
    except Exception as exc:  # noqa: BLE001 - plain reason, never a traceback
        st.error(state.error_text(exc))
        return
    images, captions = render.saliency_images(res.crops[index], result, members)
    tiles = [(res.crops[index], "aligned crop"), *zip(images, captions)]
    for start in range(0, len(tiles), 2):  # two to a row: the inspector's column is narrow
        for col, (image, caption) in zip(st.columns(2), tiles[start : start + 2]):
            # the column's width: a fixed 120 px ran 19 px past the page's column in a 1024 px window
            col.image(image, width="stretch", caption=caption)
    if not result.agrees:
        st.warning(
            f"The explained views alone say {result.explained_class} "
            f"({max(result.explained):.2f}), not {result.target}: the verdict rests on the test-time views."
        )
    if flagged:
        st.caption(
            "Faces whose explained views give another class than their verdict: "
            + ", ".join(f"face {i} ({cls})" for i, cls in flagged)
            + "."
        )
    st.caption(
        f"Red pushes towards {result.target}, blue away (one colour scale for every map, full colour at "
        "its 99th percentile)."
    )
    with st.expander("How the map is made"):  # 12 lines under the maps in a 1024 px window's narrow column
        st.caption(f"{VIEW_NOTE} Method: {METHOD}. The face's map is the members' maps weighted.")
