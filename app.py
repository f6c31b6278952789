"""gerec dashboard: `streamlit run app.py` (works offline, no keys).

Pages live in app_pages/, never pages/: Streamlit would serve a pages/ folder's scripts on their
own at /<page> (a reload or a bookmark), without this script's settings, sidebar or preloading.
"""

from __future__ import annotations

import streamlit as st

from gerec_app import PAGE_TABLE, preload
from gerec_app.settings import sidebar

st.set_page_config(page_title="gerec: group emotion", page_icon="🙂", layout="wide")
loading = preload.start()  # models load in a background thread while the first page is read

page = st.navigation([st.Page(p.path, title=p.title, icon=p.icon, default=i == 0) for i, p in enumerate(PAGE_TABLE)])
sidebar()
st.sidebar.caption(
    "Group emotion (Positive / Neutral / Negative) from faces (bottom-up), scene labels "
    "(top-down, a Bayesian network) and both (fused)."
)

if loading.done.is_set():
    st.sidebar.caption(loading.summary())
else:  # says what is loaded, once a second, until the next full run finds everything loaded

    @st.fragment(run_every=1.0)
    def loading_note() -> None:
        st.caption(loading.summary())

    with st.sidebar:
        loading_note()
page.run()
