"""The labeler chain comes from a config file (or the dashboard's secrets) and records fallbacks."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gerec.errors import InvalidDataset
from gerec.factory import make_labeler
from gerec.scene.base import LabelerInput
from gerec.scene.offline import OfflineLabeler

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
    constant = chain.labelers[0]
    assert isinstance(constant, Constant) and constant.labels == ("protest", "crowd")
    assert type(config.build_chain("constant").labelers[0]).__name__ == "Constant"
    with pytest.raises(InvalidDataset, match="unknown labeler"):
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
    names = choice.options
    assert names[0] == "default" and names[-1] == "none"
    assert set(config.LABELERS) - {"manual"} <= set(names) and "manual" not in names
    assert "- **constant**: fixed labels" in choice.help
    choice.set_value("constant").run()
    assert not at.exception and at.session_state["chain"] == "constant"
    assert "fixed labels" in [c.value for c in at.sidebar.caption]  # what the chosen chain does, under its box
    assert [type(lab).__name__ for lab in state.labeler("constant", None).labelers] == ["Constant"]
    at.switch_page(PAGES["models"])  # AppTest runs the page alone: the sidebar's choice is handed over
    at.session_state["chain"] = "constant"
    at.run()
    assert not at.exception, at.exception
    in_use = [m.value for m in at.markdown if m.value.startswith("Chain in use:")]
    assert len(in_use) == 1 and "constant** (setting `constant`: fixed labels)" in in_use[0]  # after cached labels


def test_a_labels_file_the_user_named_is_never_replaced_by_a_fallback(tmp_path, monkeypatch, clean_env):
    from gerec.scene.config import build_chain

    missing, damaged = tmp_path / "nope.json", tmp_path / "damaged.json"
    damaged.write_text('{"a.jpg": ["smile"')
    for bad in (missing, damaged):
        for setting in (None, "default", "offline"):  # the default chain no longer turns it into a note
            with pytest.raises(InvalidDataset, match=f"labels file {bad}"):
                make_labeler(bad, setting)
        with pytest.raises(InvalidDataset, match=f"labels file {bad}"):
            build_chain("default", labels_file=bad)
        config = tmp_path / "labelers.toml"
        config.write_text(f'[labelers]\nchain = "default"\nlabels_file = "{bad}"\n')
        with pytest.raises(InvalidDataset, match=f"labels file {bad}"):
            make_labeler(None, config=config)
        monkeypatch.setenv("GEREC_LABELS_FILE", str(bad))
        with pytest.raises(InvalidDataset, match=f"labels file {bad}"):
            build_chain("default")
        monkeypatch.delenv("GEREC_LABELS_FILE")
    # what "default" adds on its own still falls back: GCV with a key file that is not there
    good = tmp_path / "labels.json"
    good.write_text('{"a.jpg": ["smile"]}')
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-key.json"))
    chain = make_labeler(good, "default")
    assert chain.name == "cached -> gcv -> offline"
    result = chain.label(LabelerInput("b.jpg", pixels=np.zeros((32, 32, 3), np.uint8)))
    assert result.labeler == "offline" and any(n.startswith("gcv unavailable") for n in result.notes)


BAD_CONFIGS = [  # (config file content, words the message must hold besides the file's name)
    ("[labelers]\nchain = 5\n", "chain must be text"),
    ('[labelers]\nchain = "offline, bogus"\n', "chain: unknown labeler 'bogus'"),
    ('[labelers]\nchian = "offline"\n', "unknown key 'chian' (did you mean 'chain'?)"),
    ("[labelers]\nlabels_file = 5\n", "labels_file must be a path"),
    ('[labelers]\nmanual = "crowd"\nchain = "manual"\n', "manual must be a list of labels"),
    ("[labelers]\nmanual = [1, 2]\n", "manual must be a list of labels"),
    ("labelers = 3\n", "[labelers] must be a table"),
    ('[labelers]\ngcv = "fast"\n', "[labelers.gcv] must be a table"),
    ('[labelers]\nchain = "gcv"\n[labelers.gcv]\ntimeout = "5"\n', "[labelers.gcv] timeout must be a number, got '5'"),
    ('[labelers]\nchain = "gcv"\n[labelers.gcv]\ntimeot = 5\n', "no option 'timeot' (did you mean 'timeout'?)"),
    (
        '[labelers]\nchain = "gcv"\n[labelers.gcv]\nuse_metadata_server = 1\n',
        "use_metadata_server must be true or false",
    ),
    ('[labelers]\nchain = "gcv"\n[labelers.gcv]\ntimeout = 0\n', "[labelers.gcv] timeout must be > 0"),
    (
        '[labelers]\nchain = "offline"\n[labelers.offline]\ntop_k = -1\n',
        "[labelers.offline] top_k must be within 1..1000",
    ),
    ('[labelers]\nchain = "offline"\n[labelers.offline]\ntop_k = true\n', "top_k must be a whole number, got True"),
    ("[labelers.cached]\nfile = 'x.json'\n", "[labelers.cached] has no option 'file'"),
    # face_labels entries were not checked: [2] or a text count failed at the first photo, as a bug
    ('[labelers]\nchain = "offline"\n[labelers.offline]\nface_labels = [[2]]\n', "face_labels: [2] is not"),
    (
        '[labelers]\nchain = "offline"\n[labelers.offline]\nface_labels = [["2", "crowd"]]\n',
        "face_labels: ['2', 'crowd'] is not [fewest faces, most faces, label] or [fewest faces, label]",
    ),
    ('[labelers]\nchain = "offline"\n[labelers.offline]\nface_labels = [[8, 2, "crowd"]]\n', "fewest <= most"),
]


@pytest.mark.parametrize(("content", "words"), BAD_CONFIGS)
def test_labeler_config_mistakes_are_named_errors(tmp_path, monkeypatch, clean_env, content, words):

    config = tmp_path / "labelers.toml"
    config.write_text(content)
    monkeypatch.setenv("GEREC_LABELER_CONFIG", str(config))
    with pytest.raises(InvalidDataset) as caught:
        make_labeler(None)
    assert str(caught.value).startswith(f"labeler config {config}: ") and words in str(caught.value)


def test_other_labeler_setting_mistakes_are_named_errors(tmp_path, monkeypatch, clean_env):
    from gerec.scene.config import build_chain

    config = tmp_path / "labelers.toml"
    config.write_bytes(b"\xff\xfe[labelers]\n")
    with pytest.raises(InvalidDataset, match=f"cannot read labeler config {config}: it is not UTF-8 text"):
        make_labeler(None, config=config)
    with pytest.raises(InvalidDataset, match="unknown labeler 'bogus'"):
        make_labeler(None, "bogus")
    with pytest.raises(InvalidDataset, match="the cached labeler needs a labels file"):
        make_labeler(None, "cached")
    monkeypatch.setenv("GEREC_LABELERS", "offlin")
    with pytest.raises(
        InvalidDataset, match=r"\$GEREC_LABELERS: unknown labeler 'offlin' \(did you mean 'offline'\?\)"
    ):
        make_labeler(None)
    with pytest.raises(InvalidDataset, match="the labeler settings: .labelers.offline. top_k must be a whole number"):
        make_labeler(None, config={"chain": "offline", "offline": {"top_k": "3"}})
    with pytest.raises(InvalidDataset, match="labeler options: .labelers.offline. top_k must be within"):
        build_chain("default", offline_options={"top_k": 0})  # a bad value is not a missing model: no fallback


def test_the_dashboard_shows_a_bad_labeler_setting_as_one_plain_line(clean_env):
    from streamlit.testing.v1 import AppTest

    from gerec_app import PAGES

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.secrets["labelers"] = {"chain": "offline", "offline": {"top_k": "3"}}  # .streamlit/secrets.toml
    at.run()
    at.switch_page(PAGES["models"])
    at.session_state["chain"] = "offline"
    at.run()
    assert not at.exception, at.exception
    shown = [e.value for e in at.error]
    assert any("[labelers.offline] top_k must be a whole number, got '3'" in e for e in shown), shown
    assert not any("Traceback" in e or "TypeError" in e for e in shown)


@pytest.mark.parametrize("chain", [5, ["offline", 3]])
def test_a_chain_that_is_not_names_reads_the_same_from_a_config_and_from_python(clean_env, chain):
    """One check owns the wording; a config only adds where the chain came from."""
    from gerec.scene.config import build_chain

    words = f'must be text such as "cached, offline" or a list of names, got {chain!r}'
    with pytest.raises(InvalidDataset) as from_config:
        make_labeler(None, config={"chain": chain})
    with pytest.raises(InvalidDataset) as from_python:
        build_chain(chain)
    assert str(from_config.value) == f"the labeler settings: chain {words}"
    assert str(from_python.value) == f"a labeler chain {words}"


class Keywords:
    """A labeler's keywords of each kind the config checks, and two it cannot."""

    def __init__(
        self,
        *,
        key: str | None = None,
        folder: str | os.PathLike[str] | None = None,
        rate: float = 1.0,
        count: int = 1,
        on: bool = False,
        thing: Any = None,
        table: Mapping[str, Any] | Any | None = None,
    ) -> None:
        pass


def test_a_labelers_options_are_its_keywords_with_their_kinds():
    """Options come from the labeler's signature: a keyword added to it is an option, typed alike."""
    from gerec.scene.config import ANY, FLAG, GCV_OPTIONS, NUMBER, PATH, TEXT, WHOLE, keyword_options
    from gerec.scene.gcv import GcvLabeler

    assert keyword_options(Keywords) == {
        "key": TEXT,
        "folder": PATH,
        "rate": NUMBER,
        "count": WHOLE,
        "on": FLAG,
        "thing": ANY,
        "table": ANY,
    }
    assert list(GCV_OPTIONS) == list(inspect.signature(GcvLabeler).parameters)
    assert GCV_OPTIONS == {  # what the table written by hand said
        "api_key": TEXT,
        "credentials_file": PATH,
        "client_options": ANY,
        "credentials": ANY,
        "transport": ANY,
        "channel": ANY,
        "timeout": NUMBER,
        "retry_deadline": NUMBER,
        "min_score": NUMBER,
        "max_results": WHOLE,
        "use_metadata_server": FLAG,
    }


class OfflineWithMore:
    """The offline labeler's keyword annotations, and one keyword more."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        face_labels: Sequence[tuple[int, int | None, str]] | None = None,
        vocabulary: Iterable[str] | None = None,
        new_option: int = 3,
    ) -> None:
        pass


def test_the_offline_labelers_options_are_its_keywords_with_their_kinds():
    """OFFLINE_OPTIONS is read from OfflineLabeler's signature: a keyword added there is an option."""
    from gerec.scene.config import LIST, NUMBER, OFFLINE_OPTIONS, PATH, WHOLE, check_options, keyword_options
    from gerec.scene.offline import OfflineLabeler

    assert keyword_options(OfflineWithMore) == {
        "model_path": PATH,
        "face_labels": LIST,
        "vocabulary": LIST,
        "new_option": WHOLE,
    }
    assert list(OFFLINE_OPTIONS) == list(inspect.signature(OfflineLabeler).parameters)
    assert keyword_options(OfflineLabeler) == OFFLINE_OPTIONS
    assert OFFLINE_OPTIONS == {  # what the table written by hand said
        "model_path": PATH,
        "mapping_path": PATH,
        "top_k": WHOLE,
        "min_score": NUMBER,
        "face_labels": LIST,
        "input_size": WHOLE,
        "vocabulary": LIST,
    }
    assert check_options("offline", {"vocabulary": ["crowd"], "model_path": "m.onnx"}, "here")
    with pytest.raises(InvalidDataset, match="vocabulary must be a list"):
        check_options("offline", {"vocabulary": "crowd"}, "here")


def test_a_config_file_writes_a_face_labels_open_end_by_leaving_it_out(tmp_path, monkeypatch, clean_env):
    """The default '2 or more faces: people' had no TOML spelling (its open end is None in Python)."""
    config = tmp_path / "labelers.toml"
    config.write_text(
        '[labelers]\nchain = "offline"\n[labelers.offline]\nface_labels = [[8, "crowd"], [2, 7, "group"]]\n'
    )
    monkeypatch.setenv("GEREC_LABELER_CONFIG", str(config))
    (offline,) = make_labeler(None).labelers
    assert isinstance(offline, OfflineLabeler)
    assert offline.face_labels == ((8, None, "crowd"), (2, 7, "group"))
    assert offline.derived_labels(40) == ["crowd"] and offline.derived_labels(3) == ["group"]
    import doctest

    import gerec.scene.offline

    assert doctest.testmod(gerec.scene.offline).failed == 0  # face_rules' two spellings
