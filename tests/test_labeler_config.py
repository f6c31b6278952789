"""The labeler chain comes from a config file (or the dashboard's secrets) and records fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from gerec.factory import make_labeler
from gerec.scene.base import LabelerInput

ROOT = Path(__file__).resolve().parents[1]


def test_chain_from_a_toml_config(tmp_path, monkeypatch):
    labels = tmp_path / "labels.json"
    labels.write_text('{"pos_1.jpg": ["Smile", "party"]}')
    config = tmp_path / "labelers.toml"
    config.write_text(
        f'[labelers]\nchain = "gcv, offline"\nlabels_file = "{labels}"\n'
        '[labelers.gcv]\ncredentials_file = "/nonexistent/key.json"\n'
    )
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("GEREC_LABELER_CONFIG", str(config))
    chain = make_labeler(None)
    assert [lab.name for lab in chain.labelers] == ["cached", "gcv", "offline"]
    cached = chain.label(LabelerInput("pos_1.jpg"))
    assert cached.labeler == "cached" and cached.labels == ("smile", "party")
    # a photo the cache does not know: GCV has no usable credentials, the offline labeler speaks
    import numpy as np

    pixels = np.full((120, 160, 3), 127, dtype=np.uint8)
    result = chain.label(LabelerInput("other.jpg", pixels=pixels, face_count=0))
    assert result.labeler == "offline"
    assert any(note.startswith("cached unavailable") for note in result.notes)
    assert any(note.startswith("gcv unavailable") for note in result.notes)


def test_explicit_chain_wins_and_labels_come_first(tmp_path, monkeypatch):
    monkeypatch.delenv("GEREC_LABELER_CONFIG", raising=False)
    monkeypatch.setenv("GEREC_LABELERS", "offline")
    assert [lab.name for lab in make_labeler(None).labelers] == ["offline"]
    labels = tmp_path / "l.json"
    labels.write_text("{}")
    assert [lab.name for lab in make_labeler(labels, "offline").labelers] == ["cached", "offline"]


def test_a_labeler_registered_by_name_is_usable_everywhere(monkeypatch, tmp_path):
    from gerec.scene import config
    from gerec.scene.base import LabelResult

    class Constant:
        name = "constant"

        def __init__(self, labels):
            self.labels = tuple(labels)

        def label(self, item):
            return LabelResult(self.labels, self.name)

    registration = config.Registration(lambda s: Constant(s.of("constant").get("labels", ["crowd"])), "fixed labels")
    monkeypatch.setitem(config.LABELERS, "constant", registration)
    toml = tmp_path / "labelers.toml"
    toml.write_text('[labelers]\nchain = ["constant"]\n[labelers.constant]\nlabels = ["protest", "crowd"]\n')
    chain = make_labeler(None, config=toml)
    assert [type(lab).__name__ for lab in chain.labelers] == ["Constant"]
    assert chain.labelers[0].labels == ("protest", "crowd")
    assert type(config.build_chain("constant").labelers[0]).__name__ == "Constant"
    with pytest.raises(ValueError, match="unknown labeler"):
        config.build_chain("nonesuch")


def test_a_registered_labeler_is_offered_in_the_dashboard_sidebar(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from gerec.scene import config
    from gerec.scene.base import LabelResult
    from gerec_app import PAGES, state
    from gerec_app.preload import PRELOAD_ENV

    class Constant:
        name = "constant"

        def label(self, item):
            return LabelResult(("crowd",), self.name)

    monkeypatch.setitem(config.LABELERS, "constant", config.Registration(lambda s: Constant(), "fixed labels"))
    monkeypatch.setenv(PRELOAD_ENV, "0")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    choice = at.sidebar.selectbox(key="chain")
    assert choice.options[0].startswith("default: ") and choice.options[-1].startswith("none: ")
    names = [option.split(":")[0] for option in choice.options]
    assert set(config.LABELERS) - {"manual"} <= set(names) and "manual" not in names
    assert "constant: fixed labels" in choice.options
    choice.set_value("constant").run()
    assert not at.exception and at.session_state["chain"] == "constant"
    assert [type(lab).__name__ for lab in state.labeler("constant", None).labelers] == ["Constant"]
    at.switch_page(PAGES["models"])  # AppTest runs the page alone: the sidebar's choice is handed over
    at.session_state["chain"] = "constant"
    at.run()
    assert not at.exception, at.exception
    in_use = [m.value for m in at.markdown if m.value.startswith("Chain in use:")]
    assert len(in_use) == 1 and "constant** (setting `constant`: fixed labels)" in in_use[0]  # after cached labels
