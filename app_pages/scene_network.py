"""Scene network: the Bayesian network as a graph, with what-if label and CNN evidence."""

from __future__ import annotations

import streamlit as st

from gerec.classes import CLASSES
from gerec.errors import GerecError
from gerec_app import explanations, handoff, network_plot, plots, prediction_tables, settings, state

st.title("Scene network")
s = settings.current()
try:
    net = state.network(s.mode)
    photo_net = state.photo_network(s.mode)
except GerecError as exc:
    st.error(state.error_text(exc))
    st.stop()

photo: handoff.PhotoEvidence | None = st.session_state.get(handoff.PHOTO_EVIDENCE)
sources = (["photo"] if photo else []) + ["hand"]
source = st.radio(
    "Evidence from",
    sources,
    horizontal=True,
    key="scene_source",
    format_func=lambda v: (
        f"the photo from Analyze ({photo.image})" if v == "photo" and photo else "a hand-made label set"
    ),
)
FACES = "faces"  # the photo's faces as Analyze fused them (soft evidence in photo mode)
faces = photo.evidence if source == "photo" and photo else None
if source == "photo" and photo:
    start_labels = [lab for lab in photo.labels if lab in net.vocabulary]
    start_cnn = FACES if faces is not None else photo.cnn
    tag = f"photo_{photo.image}"
else:
    start_labels, start_cnn, tag = ["people", "smile", "fun"], None, "hand"
    start_labels = [lab for lab in start_labels if lab in net.vocabulary]

cnn_options = ([FACES] if faces is not None else []) + ["none", *CLASSES]
left, right = st.columns([3, 1])
labels = left.multiselect(
    "Labels present (toggle to see the posterior change)",
    sorted(net.labels),
    default=start_labels,
    key=f"what_if_labels_{tag}_{s.mode}",
)
cnn_choice = right.selectbox(
    "CNN evidence (bottom-up)",
    cnn_options,
    index=cnn_options.index(start_cnn) if start_cnn in cnn_options else cnn_options.index("none"),
    key=f"what_if_cnn_{tag}",
    format_func=lambda v: "the faces" if v == FACES else v,  # 'the photo's faces' was cut at 1024 px
    help="the faces: the photo's faces, their probabilities as Analyze fuses them, so the posterior is its fused "
    "answer; a class: that class as the CNN's prediction (hard evidence); none: the network runs "
    "without the CNN node",
)
free = left.text_input(
    "Add labels by text (comma-separated; plurals and spelling variants are mapped)", key=f"what_if_free_{tag}"
)
if free:
    extra, notes = prediction_tables.typed_labels(net, free)
    labels = list(dict.fromkeys([*labels, *extra.used]))
    for note in notes:
        left.caption(note)
cnn = faces if cnn_choice == FACES else None if cnn_choice == "none" else cnn_choice
# with CNN evidence the network's CNN node holds the face ensemble's confusion table (as in Analyze)
active = photo_net if cnn is not None else net
top_down = net.posterior(labels)
posterior = active.posterior(labels, cnn)

cols = st.columns(3)
graph, bars = st.columns([3, 2])
top_absent = bars.slider("Absent labels shown", 0, 20, network_plot.TOP_ABSENT, key="top_absent")
rows = active.contributions(labels, cnn, top_absent=top_absent)
absent_all = sum(r.count for r in rows if r.kind in ("absent", "absent-rest"))
explanations.render_answer(cols[0], "Top-down (labels only)", top_down)
with_cnn = {FACES: "Fused (as on Analyze)", "none": "Posterior (no CNN evidence)"}
explanations.render_answer(cols[1], with_cnn.get(cnn_choice, "With CNN evidence"), posterior)
added = {FACES: " (+ the faces)", "none": ""}.get(cnn_choice, f" (+ CNN {cnn_choice})")
# the absent labels are evidence too (the caption under the contributions says so)
explanations.render_metric(cols[2], "Evidence" + added, f"{len(labels)} present", f"{absent_all} absent")

graph.plotly_chart(network_plot.network_figure(active, labels, cnn, posterior, top_absent=top_absent), key="bn_graph")
graph.caption(
    "Node size: how strongly a label moves the posterior; colour: the class it pushes towards; "
    "filled: present, open: absent (entered as evidence). Hover for per-class log-likelihoods."
)
bars.plotly_chart(
    plots.probs_figure({"prior": tuple(net.prior), "top-down": top_down, "posterior": posterior}, "prior → posterior"),
    key="bn_bars",
)
with st.expander("Contributions: every term of the posterior (centred log-likelihood per class)", expanded=True):
    explanations.render_rows(rows, "bn_contrib", 25)
    st.caption(
        f"{len(labels)} present labels; {absent_all} absent labels are evidence "
        f"({len(net.labels)} labels in the network, mode {s.mode})."
    )
