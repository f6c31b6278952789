"""The Analyze page's sections (streamlit calls), kept here so the page script stays a short outline.

Order of work on a photo: the verdict and the labels are drawn first; saliency, the slow part,
runs last in a fragment that recomputes only itself when another face is picked.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from gerec.classes import CLASSES, MODULES
from gerec.errors import GerecError, ImageTooLarge, InvalidImage
from gerec.types import NO_FACE, GroupPrediction, SceneEvidence
from gerec_app import (
    PAGES,
    analysis,
    analyze_inputs,
    calibration_view,
    explanations,
    handoff,
    plots,
    prediction_tables,
    render,
    report,
    report_view,
    settings,
    state,
)


def landing(s: settings.Settings) -> None:
    """Before any photo: what to do, and how far the verdicts' probabilities can be trusted.

    The diagram and table are the network's held-out figures (the Models page has them too). Shown
    here, they also let the browser load its chart and table code while the models load, instead
    of after the first photo's verdict (about 2 s of the first photo on this 2-core machine).
    """
    st.info(
        "Upload one or more photos, or pick a sample, to see each face's emotion, the scene labels and the "
        "group's verdict: bottom-up (faces), top-down (scene network) and fused."
    )
    try:
        net = state.network(s.mode)
    except GerecError as exc:  # a damaged network file: one plain line, the uploads above still work
        st.error(state.error_text(exc))
        return
    bins = calibration_view.cv_bins(net)
    if not bins:
        st.caption(f"The {s.mode} network records no held-out calibration figures (see Models).")
        return
    st.subheader("How far the verdicts' probabilities can be trusted")
    left, right = st.columns([3, 2])
    left.plotly_chart(plots.reliability_figure(bins), key="landing_reliability")
    right.caption(
        f"The {s.mode} network's verdicts on held-out folds of the GAF dev labels (nested "
        "cross-validation): for each tenth of confidence, how often the verdict was right. On the "
        "diagonal, a probability of 0.8 is right 80 % of the time. Each verdict below a photo "
        "says the same in words."
    )
    table = calibration_view.cv_table(net)
    table = table[table["network"] == "tuned (in use)"][["module", "accuracy", "ECE pooled"]]
    right.dataframe(table, hide_index=True)
    right.caption(
        "Accuracy: mean ± sd over the outer folds; ECE: the average gap to the diagonal, pooled over "
        "folds. NLL, Brier and the untuned figures: Models page."
    )


def analyse(items: list[analyze_inputs.PhotoInput], s: settings.Settings) -> list[state.PhotoResult]:
    """Each photo's cached result; a photo that fails shows one plain line and the others go on. A photo
    that cannot be read says what to do by where it came from (a sample is not uploaded again)."""
    results: list[state.PhotoResult] = []
    for photo in items:
        name, data = photo.name, photo.data
        try:
            with st.spinner(f"Analysing {name}…"):
                results.append(state.analyze_photo(state.digest(data), name, s.mode, s.chain, s.labels_file, data))
        except Exception as exc:  # noqa: BLE001 - the UI shows a plain reason, never a traceback
            unreadable = isinstance(exc, (InvalidImage, ImageTooLarge))
            st.error(state.error_text(exc, name, photo.unreadable_hint if unreadable else None))
    return results


def comparison(results: list[state.PhotoResult]) -> state.PhotoResult:
    """The comparison table of several photos, and the one picked to inspect."""
    st.subheader("Comparison")
    table = pd.DataFrame([prediction_tables.comparison_row(r.name, r.prediction) for r in results])
    shown = table[[c for c in table.columns if not c.startswith(("p_bottom_up_", "p_top_down_", "labels_"))]]
    shown = shown.assign(bottom_up=shown["bottom_up"].replace("", NO_FACE))  # the CSV keeps OUT.csv's ""
    st.dataframe(render.friendly_columns(shown), hide_index=True, key="comparison")
    st.caption("Fused probabilities shown; the CSV has every module's probabilities and the labels.")
    st.download_button("Download comparison (CSV)", analysis.to_csv(table), "gerec_comparison.csv", "text/csv")
    names = [r.name for r in results]
    index = st.selectbox(
        "Photo to inspect",
        range(len(results)),
        index=analyze_inputs.picked("inspect", names),
        format_func=lambda i: names[i],
        key="inspect",
    )
    analyze_inputs.pick("inspect", names[index])
    return results[index]


@st.fragment
def photo_view(res: state.PhotoResult, s: settings.Settings) -> None:
    """One photo: the verdict; the photo with its scene labels and their editor beside the face
    inspector (the inspector is tall, the photo short: the labels fill the photo's column; with no
    face, no inspector, the labels take the page's width under the photo); then every face's row.
    A fragment: editing the labels reruns this view only (the verdict follows the edit), not the
    uploads above it."""
    st.header(res.name)
    verdict_box = st.container()
    photo_col, face_col = st.columns([3, 2])
    with photo_col:
        photo_and_faces(res)
    with photo_col if res.prediction.faces else st.container():
        st.subheader("Scene labels")
        shown, edited = scene_labels(res, s)
    faces_table(res)
    with verdict_box:
        verdict(res, shown, edited, s)
        report_view.report_button(res, shown, s, report.photo_report)
    with face_col:
        face_inspector(res)  # saliency last, in its own fragment: everything above is already on screen


def photo_and_faces(res: state.PhotoResult) -> None:
    """The photo with numbered boxes; below it, one row per face."""
    pred = res.prediction
    w, h = res.original_size
    st.image(
        res.display,
        caption=f"{res.name}: {w}×{h} px, {render.faces_count(len(pred.faces))}"
        + (f". Box colours: {render.class_colour_legend()}" if pred.faces else ""),
    )
    if not pred.faces:
        st.warning("No face found: bottom-up is absent; top-down and fused (= top-down) are still shown.")


def faces_table(res: state.PhotoResult) -> None:
    """Every face: class, ensemble and member probabilities, detector confidence, box."""
    pred = res.prediction
    if pred.faces:
        st.markdown(f"**{render.faces_count(len(pred.faces))}** (ensemble and each member)")
        columns = {
            name: st.column_config.NumberColumn(format=shown, help=tip)
            for name, (shown, tip) in prediction_tables.faces_columns().items()
        }
        columns.update({name: st.column_config.Column(pinned=True) for name in prediction_tables.PINNED})
        columns[prediction_tables.BOX] = st.column_config.TextColumn(help=prediction_tables.BOX_HELP)
        table = prediction_tables.faces_frame(pred)
        st.dataframe(table, hide_index=True, column_config=columns, key=f"faces_{res.digest}")
        st.caption(prediction_tables.MEMBER_CELL_NOTE)


@st.fragment
def face_inspector(res: state.PhotoResult) -> None:
    """One face (the largest by default): its bars, aligned crop and saliency. Reruns alone."""
    pred = res.prediction
    if not pred.faces:
        return
    index = st.selectbox(
        "Face to inspect",
        range(len(pred.faces)),
        index=render.largest_face(pred.faces),
        format_func=lambda i: render.face_name(pred.faces[i]),
        key=f"face_{res.digest}",
    )
    face = pred.faces[index]
    st.plotly_chart(plots.face_figure(face), key=f"face_bars_{res.digest}")
    explanations.render_face_saliency(res, index)


def labeler_summary(ev: SceneEvidence) -> None:
    """What the labeler gave: its name and counts, the labels used, its notes (the offline tagger's raw
    ImageNet guesses folded away), and every label with what happened to it."""
    st.markdown(
        f"Labeler: **{ev.labeler}** · {len(ev.labels_used)} used, {len(ev.labels_mapped)} mapped, "
        f"{len(ev.labels_ignored)} ignored"
    )
    if ev.labels_used:  # in full: the editor below shows only as many chips as fit on one line
        st.caption("Used: " + ", ".join(ev.labels_used))
    guesses = [n for n in ev.notes if render.is_raw_guess(n)]
    for note in ev.notes:
        if note not in guesses:
            st.caption(f"note: {note}")
    if guesses:
        with st.expander("Raw ImageNet guesses of the offline tagger (not used as evidence)"):
            for note in guesses:
                st.caption(note)
    with st.expander("Labels used / mapped / ignored", expanded=False):
        st.dataframe(prediction_tables.evidence_frame(ev), hide_index=True)


def scene_labels(res: state.PhotoResult, s: settings.Settings) -> tuple[GroupPrediction, bool]:
    """The labels and their editor; returns the prediction with the edited labels and whether they differ."""
    pipe = state.current_pipeline()
    pred = res.prediction
    ev = pred.evidence
    labeler_summary(ev)
    key = f"{res.digest}_{s.mode}_{s.chain}"

    def _reset() -> None:  # set, not deleted: a deleted key left the browser showing the edits, unapplied
        st.session_state[f"edit_labels_{key}"] = list(ev.labels_used)
        st.session_state[f"free_labels_{key}"] = ""

    net = pipe.network
    if f"edit_labels_{key}" not in st.session_state:  # the labeler's, as _reset sets them (no default: both warn)
        st.session_state[f"edit_labels_{key}"] = list(ev.labels_used)
    chosen = st.multiselect(
        "Labels entered as evidence (add or remove)",
        sorted(set(net.labels) | set(ev.labels_used)),
        key=f"edit_labels_{key}",
    )
    free = st.text_input(
        "More labels, comma-separated (plurals and spelling variants are mapped to known labels)",
        key=f"free_labels_{key}",
    )
    st.button("Reset to the labeler's labels", on_click=_reset, key=f"reset_{key}")
    typed, notes = prediction_tables.typed_labels(net, free)
    labels = list(dict.fromkeys([*chosen, *typed.used]))
    edited = set(labels) != set(ev.labels_used)
    shown = pipe.relabel(pred, labels) if edited else pred
    for note in notes:
        st.caption(note)
    st.session_state[handoff.PHOTO_EVIDENCE] = handoff.PhotoEvidence(
        res.name, shown.evidence.labels_used, pred.bottom_up_class, len(pred.faces), pred.bottom_up_evidence
    )
    if shown.contributions:
        with st.expander(render.reasons_title(shown.contributions)):
            explanations.render_reasons(shown, key=f"contrib_{key}")
    return shown, edited


def verdict(res: state.PhotoResult, shown: GroupPrediction, edited: bool, s: settings.Settings) -> None:
    """The three answers: metrics, bars and the table of probabilities."""
    pred = res.prediction
    explanations.render_why(shown)
    cols = st.columns(3)
    explanations.render_answer(cols[0], render.MODULE_NAMES["bottom_up"], shown.bottom_up)
    edited_note = ", edited labels" if edited else ""
    explanations.render_answer(cols[1], render.MODULE_NAMES["top_down"] + edited_note, shown.top_down)
    explanations.render_answer(cols[2], render.MODULE_NAMES["fused"], shown.fused)
    sentences = calibration_view.worth(state.current_pipeline().network, shown)  # what each probability is worth
    for col, module in zip(cols, MODULES):
        if module in sentences:
            col.caption(sentences[module])
    chart, table = st.columns([1, 1])
    chart.plotly_chart(plots.verdict_figure(shown), key=f"verdict_{res.digest}")
    table.table(prediction_tables.verdict_frame(shown).set_index("module"))  # static: "absent (no face)" is not cut
    if edited:
        table.caption(f"With the labeler's labels: top-down {pred.top_down_class}, fused {pred.fused_class}.")
    table.caption(
        f"Scene network: {s.mode}. Classes in order {', '.join(CLASSES)}. Timings: "
        + ", ".join(f"{k} {v:.2f}s" for k, v in pred.timings.items())
    )
    table.page_link(PAGES["scene"], label="Open in the scene network", icon=":material/hub:")
