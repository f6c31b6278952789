"""Analyze: upload photos (or pick a sample); the verdict first, then faces, labels and saliency.

The sections live in :mod:`gerec_app.analyze_view`; this script only lays them out. The verdict
is filled in before the saliency fragment runs, so it shows while saliency is computed.
"""

from __future__ import annotations

import streamlit as st

from gerec_app import analyze_view as view
from gerec_app import report, state

st.title("Analyze group photos")
s = state.settings()
state.labels_file_note(s)

items = view.inputs()
if not items:
    view.landing(s)
    st.stop()

results = view.analyse(items, s)
if not results:
    st.stop()
res = view.comparison(results) if len(results) > 1 else results[0]

st.header(res.name)
verdict_box = st.container()
photo_col, face_col = st.columns([3, 2])
with photo_col:
    view.photo_and_faces(res)
view.faces_table(res)
st.subheader("Scene labels")
shown, edited = view.scene_labels(res, s)
with verdict_box:
    view.verdict(res, shown, edited, s)
    view.report_button(res, shown, s, report.photo_report)
with face_col:
    view.face_inspector(res)  # saliency last: everything above is already on screen
