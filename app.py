"""gerec dashboard: `streamlit run app.py`. Pages live in pages/; this is the landing page."""

from __future__ import annotations

import streamlit as st

from gerec.classes import CLASSES

st.set_page_config(page_title="gerec: group emotion", layout="wide")
st.title("gerec: group emotion recognition")
st.markdown(
    f"""
Recognise the emotion of a **group** in a photo ({" / ".join(CLASSES)}) and see why:

- **Bottom-up**: faces found by MTCNN, aligned, scored by an ensemble of CNNs.
- **Top-down**: scene labels as evidence in a Bayesian network.
- **Fused**: the network's posterior with the bottom-up prediction as one more child.

Use the pages in the sidebar to analyse photos, inspect the scene network, run error
analysis on a labelled validation set, and read the model card.
"""
)
