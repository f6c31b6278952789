"""gerec dashboard: `streamlit run app.py` (works offline, no keys). Pages live in pages/."""

from __future__ import annotations

import streamlit as st

from gerec_app import PAGE_TABLE, preload
from gerec_app.state import sidebar

st.set_page_config(page_title="gerec: group emotion", page_icon="🙂", layout="wide")
loading = preload.start()  # models load in a background thread while the first page is read

page = st.navigation([st.Page(p.path, title=p.title, icon=p.icon, default=i == 0) for i, p in enumerate(PAGE_TABLE)])
sidebar()
st.sidebar.caption(
    "Group emotion (Positive / Neutral / Negative) from faces (bottom-up), scene labels "
    "(top-down, a Bayesian network) and both (fused)."
)

note = st.sidebar.empty()
note.caption(loading.summary())
try:
    page.run()
finally:  # what had loaded by the end of the page (after st.stop, no element can be added: the first note stays)
    note.caption(loading.summary())
