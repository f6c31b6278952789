"""The labeler chain comes from a config file (or the dashboard's secrets) and records fallbacks."""

from __future__ import annotations

import pytest

from gerec.factory import make_labeler
from gerec.scene.base import LabelerInput


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
