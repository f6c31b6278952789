"""UI helpers shared by the Streamlit pages (the ``gerec`` package never imports streamlit).

- :mod:`gerec_app.state`: settings, cached models (once per process) and cached per-photo results.
- :mod:`gerec_app.render`: drawing face boxes and building tables from gerec results.
- :mod:`gerec_app.plots`: plotly figures.
- :mod:`gerec_app.analysis`: error analysis over OUT.csv-shaped tables (pandas, no streamlit).
- :mod:`gerec_app.analyze_view`: the Analyze page's sections (the page script only lays them out).
- :mod:`gerec_app.preload`: models loaded in a background thread from the first page view.
- :mod:`gerec_app.report`: a photo's self-contained HTML report (``build_report`` has no streamlit calls).
- :mod:`gerec_app.handoff`: what a page keeps in ``st.session_state`` for another page, as frozen dataclasses.
"""

PAGES = {
    "analyze": "pages/analyze.py",
    "scene": "pages/scene_network.py",
    "errors": "pages/error_analysis.py",
    "models": "pages/models.py",
}
"""Page files, relative to app.py (for st.switch_page)."""
