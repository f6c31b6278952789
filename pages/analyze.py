"""Analyze: upload photos (or pick a sample); faces, three predictions, saliency and label edits."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from gerec.classes import CLASSES, MODULES
from gerec.errors import GerecError
from gerec_app import analysis, calibration_view, plots, render, state

st.title("Analyze group photos")
s = state.settings()

# ---------------------------------------------------------------- inputs
items: list[tuple[str, bytes]] = []
left, right = st.columns([3, 2])
uploads = left.file_uploader("Upload photos (JPEG, PNG, WebP)", type=["jpg", "jpeg", "png", "webp"],
                             accept_multiple_files=True, key="uploads")
for upload in uploads or []:
    items.append((upload.name, upload.getvalue()))
samples = state.sample_photos()
if samples:
    choice = right.selectbox("…or pick a sample photo", ["(none)"] + [p.name for p in samples], key="sample")
    if choice != "(none)":
        items.append((choice, (samples[[p.name for p in samples].index(choice)]).read_bytes()))
else:
    right.caption("No sample folder configured (set GEREC_SAMPLES to a folder of photos).")
requested = st.session_state.get("analyze_path")  # drill-down from Error analysis
if requested:
    path = Path(requested)
    c1, c2 = st.columns([5, 1])
    c1.info(f"From error analysis: {path.name}")
    if c2.button("Clear", key="clear_request"):
        del st.session_state["analyze_path"]
        st.rerun()
    try:
        items.append((path.name, path.read_bytes()))
    except OSError as exc:
        st.error(f"{path.name}: InvalidImage: cannot read {path}: {exc}")

if not items:
    st.info("Upload one or more photos, or pick a sample, to see each face's emotion, the scene labels and the "
            "group's verdict: bottom-up (faces), top-down (scene network) and fused.")
    st.stop()

# ---------------------------------------------------------------- analysis (cached per content)
results: list[state.PhotoResult] = []
for name, data in items:
    try:
        with st.spinner(f"Analysing {name} (the first photo also loads the face models)…"):
            results.append(state.analyze_photo(state.digest(data), name, s.mode, s.chain, s.labels_file, data))
    except GerecError as exc:
        st.error(f"{name}: {state.error_text(exc)}")
    except Exception as exc:  # noqa: BLE001 - the UI shows a named reason, never a traceback
        st.error(f"{name}: unexpected {state.error_text(exc)}")
if not results:
    st.stop()

if len(results) > 1:
    st.subheader("Comparison")
    table = pd.DataFrame([render.comparison_row(r.name, r.prediction) for r in results])
    st.dataframe(table, hide_index=True, key="comparison")
    st.download_button("Download comparison (CSV)", analysis.to_csv(table), "gerec_comparison.csv", "text/csv")
    names = [r.name for r in results]
    res = results[st.selectbox("Photo to inspect", range(len(results)), format_func=lambda i: names[i],
                               key="inspect")]
else:
    res = results[0]

pipe = state.current_pipeline()
pred = res.prediction
st.header(res.name)
verdict_box = st.container()

# ---------------------------------------------------------------- faces
photo_col, faces_col = st.columns([3, 2])
w, h = res.original_size
photo_col.image(res.display, caption=f"{res.name}: {w}×{h} px, {len(pred.faces)} faces "
                f"(boxes coloured by class: green Positive, grey Neutral, red Negative)")
with faces_col:
    if not pred.faces:
        st.warning("No face found: bottom-up is absent; top-down and fused (= top-down) are still shown.")
    else:
        st.markdown(f"**{len(pred.faces)} faces** (ensemble and each member)")
        st.dataframe(render.faces_frame(pred), hide_index=True, key=f"faces_{res.digest}")
        index = st.selectbox("Face", range(len(pred.faces)), format_func=lambda i: f"face {pred.faces[i].index}",
                             key=f"face_{res.digest}")
        st.plotly_chart(plots.face_figure(pred.faces[index]), key=f"face_bars_{res.digest}")

if pred.faces:
    st.subheader(f"Face {pred.faces[index].index}: aligned crop and SHAP saliency")
    show = st.toggle("SHAP saliency for the predicted class of every ensemble member", value=True, key="shap_on")
    cols = st.columns(1 + len(pred.faces[index].scores.members if pred.faces[index].scores else {}))
    cols[0].image(res.crops[index], caption="aligned crop", width=160)
    if show:
        try:
            with st.spinner("Computing SHAP saliency (the first face also compiles the explainer)…"):
                maps = state.saliency(res.digest, index, res.crops[index])
            from gerec.explain import overlay

            scale = max(float(abs(m.values).max()) for m in maps) or None
            for col, m in zip(cols[1:], maps):
                col.image(overlay(res.crops[index], m.values, scale=scale), width=160,
                          caption=f"{m.member}: {m.target} (p={m.probability:.2f})")
            st.caption("Red regions push the member towards the class shown, blue away from it (Partition SHAP, "
                       "blurred regions as the masked value, log-odds; one colour scale for all members).")
        except GerecError as exc:
            st.error(state.error_text(exc))

# ---------------------------------------------------------------- scene labels (editable)
st.subheader("Scene labels")
ev = pred.evidence
st.markdown(f"Labeler: **{ev.labeler}** · {len(ev.labels_used)} used, {len(ev.labels_mapped)} mapped, "
            f"{len(ev.labels_ignored)} ignored")
for note in ev.notes:
    st.caption(f"note: {note}")
with st.expander("Labels used / mapped / ignored", expanded=False):
    st.dataframe(render.evidence_frame(ev), hide_index=True)
net = pipe.network
key = f"{res.digest}_{s.mode}_{s.chain}"


def _reset_labels() -> None:
    for prefix in ("edit_labels_", "free_labels_"):
        st.session_state.pop(prefix + key, None)


vocabulary = sorted(set(net.labels) | set(ev.labels_used))
chosen = st.multiselect("Labels entered as evidence (add or remove)", vocabulary, default=list(ev.labels_used),
                        key=f"edit_labels_{key}")
free = st.text_input("More labels, comma-separated (mapped to the network's vocabulary when possible)",
                     key=f"free_labels_{key}")
st.button("Reset to the labeler's labels", on_click=_reset_labels, key=f"reset_{key}")
labels = list(dict.fromkeys([*chosen, *render.parse_free_labels(free)]))
edited = set(labels) != set(ev.labels_used)
shown = pipe.relabel(pred, labels) if edited else pred
if edited:
    st.caption(f"Edited: {len(shown.evidence.labels_used)} labels used, ignored: "
               f"{', '.join(shown.evidence.labels_ignored) or 'none'}")
st.session_state["scene_from_photo"] = {"image": res.name, "labels": list(shown.evidence.labels_used),
                                        "cnn": pred.bottom_up_class, "faces": len(pred.faces)}
if shown.contributions:
    with st.expander("How each label moves the scene network (strongest first)"):
        st.plotly_chart(plots.contributions_figure(shown.contributions[:20]), key=f"contrib_{key}")

# ---------------------------------------------------------------- verdict (top of the page)
with verdict_box:
    cols = st.columns(3)
    cols[0].metric("Bottom-up (faces)", "absent (no face)" if shown.bottom_up is None
                   else f"{shown.bottom_up_class} · {max(shown.bottom_up):.2f}")
    cols[1].metric("Top-down (scene)" + (", edited labels" if edited else ""),
                   f"{shown.top_down_class} · {max(shown.top_down):.2f}")
    cols[2].metric("Fused", f"{shown.fused_class} · {max(shown.fused):.2f}")
    sentences = calibration_view.worth(net, shown)
    for col, module in zip(cols, MODULES):
        if module in sentences:
            col.caption(sentences[module])
    chart, table = st.columns([3, 2])
    chart.plotly_chart(plots.verdict_figure(shown), key=f"verdict_{key}")
    table.dataframe(render.verdict_frame(shown), hide_index=True, key=f"verdict_table_{key}")
    if edited:
        table.caption(f"With the labeler's labels: top-down {pred.top_down_class}, fused {pred.fused_class}.")
    table.caption(f"Scene network: {s.mode}. Classes in order {', '.join(CLASSES)}. Timings: "
                  + ", ".join(f"{k} {v:.2f}s" for k, v in pred.timings.items()))
    table.page_link("pages/scene_network.py", label="Open in the scene network", icon=":material/hub:")
