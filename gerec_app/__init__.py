"""UI helpers shared by the Streamlit pages (the ``gerec`` package never imports streamlit).

- :mod:`gerec_app.state`: settings, cached models (once per process) and cached per-photo results.
- :mod:`gerec_app.render`: drawing face boxes; the names, colours and number formats every page shares.
- :mod:`gerec_app.prediction_tables`: a photo's prediction as tables (faces, verdicts, scene evidence).
- :mod:`gerec_app.ensemble_tables`: the face ensemble and its members in words and tables (Models page).
- :mod:`gerec_app.plots`: plotly figures.
- :mod:`gerec_app.analysis`: error analysis over OUT.csv-shaped tables (pandas, no streamlit).
- :mod:`gerec_app.analyze_view`: the Analyze page's sections (the page script only lays them out).
- :mod:`gerec_app.analyze_inputs`: the Analyze page's uploads and picks, kept when another page is opened.
- :mod:`gerec_app.errors_sources`, :mod:`gerec_app.errors_view`: the Error analysis page's sources of
  results and its sections.
- :mod:`gerec_app.preload`: models loaded in a background thread from the first page view.
- :mod:`gerec_app.report`: a photo's self-contained HTML report (``build_report`` has no streamlit calls).
- :mod:`gerec_app.report_view`: the Analyze page's report button, built with its progress face by face.
- :mod:`gerec_app.handoff`: what a page keeps in ``st.session_state`` for another page, as frozen dataclasses.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    """One dashboard page: its file (relative to app.py), title and icon in the navigation."""

    key: str
    path: str
    title: str
    icon: str


PAGE_TABLE = (
    PageSpec("analyze", "app_pages/analyze.py", "Analyze", ":material/photo_camera:"),
    PageSpec("scene", "app_pages/scene_network.py", "Scene network", ":material/hub:"),
    PageSpec("errors", "app_pages/error_analysis.py", "Error analysis", ":material/rule:"),
    PageSpec("models", "app_pages/models.py", "Models", ":material/inventory_2:"),
)
"""The pages in navigation order (the first is the landing page): adding a page is its script and one line here."""

PAGES = {p.key: p.path for p in PAGE_TABLE}
"""Page files by key, relative to app.py (for st.switch_page and st.page_link)."""
