"""Error analysis on a labelled set: run a label-only evaluation, open a saved OUT.csv or a stored run.

The sources live in :mod:`gerec_app.errors_sources`, the sections in :mod:`gerec_app.errors_view`;
this script only lays them out.
"""

from __future__ import annotations

import streamlit as st

from gerec_app import analysis, errors_sources, settings
from gerec_app import errors_view as view

st.title("Error analysis")
s = settings.current()

results = errors_sources.load_results(s)
if not results:
    st.info("Run an evaluation or open a saved OUT.csv to see accuracy, confusion, disagreements and label errors.")
    st.stop()

modules = analysis.present_modules(results.frame)
view.accuracy(results, modules)
view.calibration(results.frame)
images_dir = view.confusion(results.frame, modules)
view.disagreement(results.frame)
view.label_errors(results, modules)
view.images(results.frame, modules, images_dir)
