"""Analyze: upload photos (or pick a sample); the verdict first, then faces, labels and saliency.

The inputs live in :mod:`gerec_app.analyze_inputs`, the sections in :mod:`gerec_app.analyze_view`;
this script only lays them out. One photo's view is a fragment (editing its labels reruns only it),
and the face inspector a fragment inside it; the verdict is filled in before saliency runs, so it
shows while saliency is computed.
"""

from __future__ import annotations

import streamlit as st

from gerec_app import analyze_inputs, settings
from gerec_app import analyze_view as view

st.title("Analyze group photos")
s = settings.current()
settings.labels_file_note(s)

items = analyze_inputs.inputs()
if not items:
    view.landing(s)
    st.stop()

results = view.analyse(items, s)
if not results:
    st.stop()
res = view.comparison(results) if len(results) > 1 else results[0]

view.photo_view(res, s)
