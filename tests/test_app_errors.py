"""Error analysis: the page on the dev labels (label-only), and the analysis functions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from gerec.bn import load_scene_network
from gerec.classes import CLASSES
from gerec.errors import InvalidDataset
from gerec_app import PAGES, analysis, label_analysis, results_table
from gerec_app.handoff import LOADED_RESULTS
from gerec_app.render import MODULE_NAMES

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def small_frame() -> pd.DataFrame:
    rows = [
        ("pos_1.jpg", "Positive", "Positive", "Negative", "Positive", "smile|fun"),
        ("pos_2.jpg", "Positive", "Negative", "Positive", "Positive", "smile"),
        ("neg_1.jpg", "Negative", "Negative", "Positive", "Negative", "police|smile"),
        ("neg_2.jpg", "Negative", "Positive", "Positive", "Positive", "smile|fun|police"),
        ("neu_1.jpg", "Neutral", "", "Neutral", "Neutral", "suit"),
    ]
    return results_table.to_frame(
        [dict(zip(["image", "actual", "bottom_up", "top_down", "fused", "labels_used"], r)) for r in rows]
    )


def opened_csv(path: Path):
    """The Error analysis page (a streamlit AppTest) after opening the results file at ``path``."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page(PAGES["errors"]).run()
    at.radio(key="eval_source").set_value("csv").run()
    at.text_input(key="eval_path").set_value(str(path)).run()
    at.button(key="eval_open").click().run()
    return at


def is_rate(column: str) -> bool:
    """A column that holds an accuracy, a recall or another rate."""
    return "accuracy" in column or column.startswith("recall") or " rate" in column


def assert_page_words(at) -> None:
    """Module keys never reach the page's words (download labels said 'Download bottom_up Positive
    as Neutral'), and every accuracy and rate reads as a percentage with two decimals, as the metrics
    do (the tables showed 0.6937 under a '69.37 %' metric, the label errors an error rate of 0.417):
    text in a static table; in a sortable one a number of percent, shown by the same format."""
    from gerec_app.render import PERCENT_FORMAT

    labels = [b.proto.label for b in at.get("download_button")]
    assert labels and not [b for b in labels if re.search(r"\b(bottom_up|top_down|fused)\b", b)], labels
    percent = re.compile(r"\d{1,3}\.\d\d %|–")
    accuracies = [m.value for m in at.metric if m.label in MODULE_NAMES.values()]
    for table in [t.value for t in at.table]:
        accuracies += [str(v) for c in table.columns if is_rate(c) for v in table[c]]
    assert accuracies and all(percent.fullmatch(v) for v in accuracies), accuracies
    for frame in at.dataframe:  # sortable: numbers (text sorts '9.50 %' above '10.00 %') in PERCENT_FORMAT
        config = json.loads(frame.proto.columns or "{}")
        for column in filter(is_rate, frame.value.columns):
            assert config.get(column, {}).get("type_config") == {"type": "number", "format": PERCENT_FORMAT}, column
            values = pd.to_numeric(frame.value[column])
            assert values.between(0, 100).all() and values.max() > 1, (column, list(values))


def run_notes(at) -> list[str]:
    """The notes box of the loaded run (the page's other info boxes left out)."""
    return [i.value for i in at.info if i.value.startswith("Notes of this run")]


def test_scores_cells_and_transitions():
    frame = small_frame()
    scores = analysis.scores(frame).set_index("module")
    assert scores.loc["fused", "accuracy"] == pytest.approx(0.8)
    assert scores.loc["bottom_up", "covered"] == 4
    assert list(analysis.cell(frame, "top_down", "Negative", "Positive")["image"]) == ["neg_1.jpg", "neg_2.jpg"]
    moves = analysis.transitions(frame).set_index(["from", "to"])
    assert moves.loc[("top_down", "fused"), "fixed (wrong→right)"] == 2
    assert moves.loc[("top_down", "fused"), "broken (right→wrong)"] == 0
    assert moves.loc[("bottom_up", "fused"), "fixed (wrong→right)"] == 1
    assert list(analysis.changed(frame, "bottom_up", "fused", "fixed")["image"]) == ["pos_2.jpg"]
    with pytest.raises(ValueError, match="kind must be 'fixed' or 'broken'"):  # was read as 'broken'
        analysis.changed(frame, "bottom_up", "fused", "fixd")
    assert set(analysis.disagreements(frame)["image"]) == {"pos_1.jpg", "pos_2.jpg", "neg_1.jpg"}


def test_label_errors_and_csv_roundtrip():
    frame = small_frame()
    table = label_analysis.label_errors(frame, load_scene_network("reference"), "top_down", min_images=1)
    assert "smile" in set(table["label"])
    smile = table.set_index("label").loc["smile"]
    assert smile["wrong images with label"] == 3 and smile["pushed towards wrong class"] >= 2
    back = results_table.read_results(analysis.to_csv(frame))
    assert list(back["image"]) == list(frame["image"])
    with pytest.raises(InvalidDataset):
        results_table.read_results(b"a,b\n1,2\n")


def test_page_label_only_run_on_dev_labels(gaf_dir):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page(PAGES["errors"]).run()
    labels_file, cnn_file = at.text_input(key="eval_labels").value, at.text_input(key="eval_cnn").value
    assert labels_file is not None and labels_file.endswith("val_labels_dev.json")
    assert cnn_file is not None and cnn_file.endswith("reference_cnn_val_dev.csv")
    at.selectbox(key="eval_mode").set_value("reference")
    at.button(key="eval_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    found = {m.label: m.value for m in at.metric}
    top_down = float(found["Top-down (scene)"].split()[0])
    fused = float(found["Fused"].split()[0])
    # the reference network reproduces the reference figures on the dev half (61.28 % / 65.38 %)
    assert top_down == pytest.approx(61.28, abs=0.5)
    assert fused == pytest.approx(65.38, abs=1.0)
    assert len(at.get("plotly_chart")) >= 3  # accuracy and confusion matrices
    labels = next(d.value for d in at.dataframe if "total push" in d.value.columns)
    assert len(labels) > 5 and list(labels.columns)[-3:] == ["images with label", label_analysis.ERROR_RATE, "favours"]
    # every label whole, however the table is sorted: the grid sized the column to the rows it showed
    # first, so a sort that brought up a longer one cut it ('white-collar wor', seen in chromium).
    # 6 px a character: 'white-collar worker' is 113 px wide there; 16 px of padding
    shown = next(d for d in at.dataframe if "total push" in d.value.columns)
    label_column = json.loads(shown.proto.columns)["label"]
    assert label_column["width"] >= 6 * labels["label"].str.len().max() + 16 and label_column["pinned"]
    # its long headers shortened on screen so the last columns fit the page (the wide label column pushed
    # 'favours' out of sight), each with its full name, the CSV's, as the tooltip
    columns = json.loads(shown.proto.columns)
    assert {c: (columns[c]["label"], columns[c]["help"]) for c in label_analysis.LABEL_ERROR_HEADERS} == {
        c: (short, c) for c, short in label_analysis.LABEL_ERROR_HEADERS.items()
    }
    # the page's width: in the right-hand column its last columns (images with label, error rate, favours) were cut off
    assert not [d for c in at.columns for d in c.dataframe if "total push" in d.value.columns]
    calibration = next(d.value for d in at.dataframe if "NLL" in d.value.columns)  # probabilities stay 0-1, and say so
    assert calibration["mean top probability (0-1)"].between(1 / 3, 1).all()
    # a confusion-cell pick lists its images
    at.selectbox(key="cell_top_down").set_value(("Negative", "Positive")).run()
    assert any("actual Negative, Top-down (scene) predicted Positive" in m.value for m in at.markdown)
    # what made the results is recorded and shown; label-only rows do not claim 0 faces
    assert at.session_state[LOADED_RESULTS].provenance["mode"] == "reference"
    assert set(at.session_state[LOADED_RESULTS].frame["faces"]) == {""}
    assert not at.warning  # the reference network was not fitted on these labels
    assert_page_words(at)
    scores = next(t.value for t in at.table if "recall Positive" in t.value.columns)
    assert scores.loc["Fused", "accuracy"] == found["Fused"]


def test_a_label_only_run_on_the_tuning_set_warns_once(gaf_dir):
    """A run of the tuned network on the labels it was tuned on: the in-sample warning stood above the
    Run button and again above the results it concerns, the same sentence twice on one screen. Once
    the results are shown, only theirs stays; before the run, the one by the button."""
    from streamlit.testing.v1 import AppTest

    def in_sample(at):
        return [w.value for w in at.warning if w.value.startswith("In-sample: the tuned network was tuned on")]

    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page(PAGES["errors"]).run()
    assert at.selectbox(key="eval_mode").value == "tuned" and len(in_sample(at)) == 1  # before the run
    at.button(key="eval_run").click().run()
    assert not at.exception and not at.error
    assert len(in_sample(at)) == 1 and any(e.label == "What made these results" for e in at.expander)
    at.run()  # a later rerun (another widget) keeps the results and the one warning
    assert len(in_sample(at)) == 1


def test_in_sample_warning_for_the_tuning_set(gaf_dir):
    note = results_table.in_sample_note("tuned", gaf_dir / "val_labels_dev.json")
    assert note and "in-sample" in note.lower() and "(Models page, README)" in note
    assert results_table.in_sample_note("reference", gaf_dir / "val_labels_dev.json") is None


def test_bad_csv_gives_a_plain_message_and_clears_old_results(tmp_path, monkeypatch):

    monkeypatch.setenv("GEREC_DASHBOARD_ROOTS", str(tmp_path))  # the CSVs live outside $GEREC_DATA

    good = tmp_path / "out.csv"
    good.write_bytes(analysis.to_csv(small_frame()))
    bad = tmp_path / "bad.csv"
    bad.write_text('image,actual\n"unterminated,Positive\nx,y,z,w\n')
    at = opened_csv(good)
    assert any(m.label == "Fused" for m in at.metric)
    assert any("does not record which network" in c.value for c in at.caption)  # no sidecar beside it
    at.text_input(key="eval_path").set_value(str(bad)).run()
    at.button(key="eval_open").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "\n" not in errors[0]
    assert "Error" not in errors[0] and "tokeniz" not in errors[0].lower() and "Check the file" in errors[0]
    assert not at.metric  # the earlier results are gone


def test_an_empty_image_list_shows_its_count_and_no_table_or_download(tmp_path, monkeypatch):
    """A confusion cell or a pair's fixes with no image showed a grid of blank rows and offered a
    header-only CSV; one image read '1 images'."""
    monkeypatch.setenv("GEREC_DASHBOARD_ROOTS", str(tmp_path))
    good = tmp_path / "out.csv"
    good.write_bytes(analysis.to_csv(small_frame()))
    at = opened_csv(good)
    assert not at.exception and not at.error, [e.value for e in at.error]

    def downloads() -> list[str]:
        return [b.proto.label for b in at.get("download_button")]

    faces = MODULE_NAMES["bottom_up"]
    assert f"**0 images**: actual Positive, {faces} predicted Neutral" in [m.value for m in at.markdown]
    assert f"Download {faces}: Positive → Neutral (CSV)" not in downloads()
    tables = len(at.dataframe)
    at.selectbox(key="cell_bottom_up").set_value(("Positive", "Negative")).run()
    assert f"**1 image**: actual Positive, {faces} predicted Negative" in [m.value for m in at.markdown]
    assert f"Download {faces}: Positive → Negative (CSV)" in downloads()
    assert len(at.dataframe) == tables + 1
    pair = next(
        i
        for i, (a, b) in enumerate(analysis.transitions(small_frame())[["from", "to"]].values)
        if (a, b) == ("top_down", "fused")
    )
    at.selectbox(key="pair").set_value(pair).run()
    at.radio(key="kind").set_value("broken").run()  # top-down to fused breaks none of the five
    going = f"going from {MODULE_NAMES['top_down']} to {MODULE_NAMES['fused']}"
    assert f"**0 images broken** {going}" in [m.value for m in at.markdown]
    assert not [b for b in downloads() if going in b]
    at.radio(key="kind").set_value("fixed").run()
    assert f"**2 images fixed** {going}" in [m.value for m in at.markdown]
    assert f"Download images fixed {going} (CSV)" in downloads()
    assert [e.label for e in at.expander if "disagree" in e.label] == ["Every image where the modules disagree (3)"]
    agreeing = results_table.to_frame(
        [
            {
                "image": f"pos_{i}.jpg",
                "actual": "Positive",
                "bottom_up": "Positive",
                "top_down": "Positive",
                "fused": "Positive",
                "labels_used": "smile",
            }
            for i in range(3)
        ]
    )
    good.write_bytes(analysis.to_csv(agreeing))
    at.button(key="eval_open").click().run()
    assert not at.exception and not [e for e in at.expander if "disagree" in e.label]
    assert "The modules agree on every image." in [c.value for c in at.caption]


def test_a_wrong_images_caption_says_what_the_module_got_wrong():
    import doctest

    from gerec_app import errors_view

    tested = doctest.testmod(errors_view)
    assert tested.attempted >= 1 and tested.failed == 0


@pytest.fixture(scope="module")
def stored_runs(gaf_dir, tmp_path_factory) -> tuple[Path, list[str]]:
    """A run store with two label-only runs on the first 300 dev images: the reference network's
    and the tuned one's (the store and its runs' ids)."""
    from gerec.pipeline import Pipeline, PipelineConfig
    from gerec.runs.records import prediction_record
    from gerec.runs.schema import COMPLETE
    from gerec.runs.store import RunStore
    from gerec.scene.chain import LabelerChain
    from gerec.scene.simple import read_label_file

    labels = read_label_file(gaf_dir / "val_labels_dev.json")
    names = sorted(labels)[:300]
    db = tmp_path_factory.mktemp("store") / "runs.sqlite"
    with RunStore(db) as store:
        ids = []
        for mode in ("reference", "tuned"):
            pipeline = Pipeline(PipelineConfig(mode=mode), labeler=LabelerChain([]))
            run_id = store.create_run("dev[:300]", mode, "cached", {})
            for name in names:
                actual = "Positive" if name.startswith("pos") else "Neutral" if name.startswith("neu") else "Negative"
                store.add_prediction(run_id, prediction_record(pipeline.from_labels(name, labels[name]), actual))
            store.set_state(run_id, COMPLETE)
            ids.append(run_id)
    return db, ids


def stored_run_page(db: Path, run_id: str):
    """The Error analysis page (a streamlit AppTest) after opening run ``run_id`` of the store ``db``."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page(PAGES["errors"]).run()
    at.radio(key="eval_source").set_value("store").run()
    at.text_input(key="store_path").set_value(str(db)).run()
    at.selectbox(key="store_run").set_value(run_id).run()
    return at


def compared_runs_page(db: Path, ids: list[str]):
    """The Error analysis page (AppTest) with stored run ``ids[0]`` compared with ``ids[1]``."""
    at = stored_run_page(db, ids[0])
    at.selectbox(key="store_run_b").set_value(ids[1]).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def test_page_opens_and_compares_stored_runs(stored_runs, monkeypatch):
    db, ids = stored_runs
    monkeypatch.setenv("GEREC_DASHBOARD_ROOTS", str(db.parent))  # the store lives outside $GEREC_DATA
    at = compared_runs_page(db, ids)
    assert any("Run comparison on 300 shared images" in s.value for s in at.subheader)
    assert any(m.label == "Top-down (scene)" for m in at.metric)
    assert ids[0] not in at.selectbox(key="store_run_b").options  # a run is not compared with itself
    # the counts add up: '779 images changed an answer (224 fixed, 713 broken)' mixed images and answers
    changes = next(d.value for d in at.dataframe if "Run B" in d.value.columns)
    [headline] = [m.value for m in at.markdown if "answers changed on" in m.value]
    found = re.fullmatch(
        r"(\d+) answers changed on (\d+) of 300 images \(an image has one answer per module, so up to 3 can "
        r"change\): (\d+) fixed \(wrong→right\), (\d+) broken \(right→wrong\), (\d+) changed \(neither right\)",
        headline,
    )
    assert found, headline
    answers, images, fixed, broken, neither = map(int, found.groups())
    assert answers == fixed + broken + neither == len(changes) and images == changes["photo"].nunique()
    # modules by their display names, both runs' columns whole (a static table), accuracy as on the metrics
    summary = next(t.value for t in at.table if "Run B accuracy" in t.value.columns)
    assert list(summary.index) == [*MODULE_NAMES.values(), "all modules"]
    assert set(changes["module"]) <= set(MODULE_NAMES.values())
    assert list(summary["answers changed"])[-1] == answers and summary["answers changed"].iloc[:-1].sum() == answers
    metrics = {m.label: m.value for m in at.metric}
    assert summary.loc["Fused", "Run A accuracy"] == metrics["Fused"]  # run A is the one shown below
    assert any(c.value.startswith(f"Run A = {ids[0]} · complete · reference") for c in at.caption)
    assert_page_words(at)


def cli_comparison(lines: list[str]) -> tuple[dict[str, list[str]], str, list[str]]:
    """``gerec runs compare``'s output read back: its table's rows by module (accuracy of A and B
    when a module has one, then the counts), its one-sentence summary, and the changed answers."""
    head = next(i for i, line in enumerate(lines) if line.split()[:3] == ["module", "A", "accuracy"])
    rows = {}
    for line in lines[head + 1 :]:
        cells = re.split(r"\s{2,}", line.strip())
        if not cells[-1].isdigit():
            break
        rows[cells[0]] = cells[1:]
    sentence = next(line for line in lines if " answers changed on " in line)
    changed = [line for line in lines if re.match(r"  \S+  \w+: .* -> ", line)]
    return rows, sentence, changed


def test_the_cli_and_the_page_count_a_run_comparison_alike(stored_runs, monkeypatch, capsys):
    """`gerec runs compare` said '779 images changed an answer: fused broken 386, fused changed 45, ...'
    (images, then answers by module and verdict) where the page said '1040 answers changed on 779 of
    2172 images: ...': both now print gerec.runs.compare.count_changes, and the CLI's figures add up."""
    from gerec.classes import MODULES
    from gerec.cli import main

    db, ids = stored_runs
    assert main(["runs", "--store", str(db), "compare", *ids, "--limit", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not [line for line in lines if "images changed an answer" in line], lines
    rows, sentence, changed = cli_comparison(lines)
    assert list(rows) == [*MODULES, "all modules"], rows
    counts = {module: [int(n) for n in cells[-4:]] for module, cells in rows.items()}
    for module, (fixed, broken, neither, answers) in counts.items():
        assert fixed + broken + neither == answers, (module, counts)  # each row's verdicts add up
    assert [sum(counts[m][i] for m in MODULES) for i in range(4)] == counts["all modules"]  # and the modules'
    assert counts["all modules"][-1] == len(changed) > 0  # one line per changed answer (--limit 0)
    images = {line.split()[0] for line in changed}
    assert sentence.startswith(f"{len(changed)} answers changed on {len(images)} of 300 images"), sentence
    # the page shows the same figures: its sentence word for word, its table's counts and accuracies
    monkeypatch.setenv("GEREC_DASHBOARD_ROOTS", str(db.parent))
    at = compared_runs_page(db, ids)
    assert sentence in [m.value for m in at.markdown]
    page = next(t.value for t in at.table if "Run B accuracy" in t.value.columns)
    for module, cells in rows.items():
        row = page.loc[MODULE_NAMES.get(module, module)]
        assert [int(n) for n in row.iloc[2:]] == counts[module], (module, list(row), cells)
        if module in MODULES:
            assert cells[:2] == [row["Run A accuracy"], row["Run B accuracy"]] or (
                cells[0] == "-" and row["Run A accuracy"] == "–"  # no answer at all (no faces: no bottom-up)
            ), (module, cells, list(row))


def test_saved_csv_with_its_sidecar_shows_what_made_it_and_warns_in_sample(gaf_dir, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("GEREC_DASHBOARD_ROOTS", str(tmp_path))  # the CSV lives outside $GEREC_DATA

    from gerec.provenance import run_provenance, write_sidecar

    out = tmp_path / "out.csv"
    out.write_bytes(analysis.to_csv(small_frame()))
    write_sidecar(out, run_provenance("tuned", labels=gaf_dir / "val_labels_dev.json"))
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page(PAGES["errors"]).run()
    at.radio(key="eval_source").set_value("csv").run()
    at.selectbox(key="csv_mode").set_value("reference").run()  # the sidecar's mode wins over this guess
    at.text_input(key="eval_path").set_value(str(out)).run()
    at.button(key="eval_open").click().run()
    assert not at.exception and not at.error
    assert any(w.value.startswith("In-sample: the tuned network was tuned on val_labels_dev.json") for w in at.warning)
    assert at.session_state[LOADED_RESULTS].mode == "tuned"
    assert any(e.label == "What made these results" for e in at.expander)
    # back to the run form, set to the same network and labels: the results still shown (from the CSV)
    # carry the warning, and the form above them said it again, the same sentence twice on one screen
    at.radio(key="eval_source").set_value("run").run()
    assert at.selectbox(key="eval_mode").value == "tuned"
    warned = [w.value for w in at.warning if w.value.startswith("In-sample: the tuned network was tuned on")]
    assert len(warned) == 1 and at.session_state[LOADED_RESULTS].source.startswith("out.csv")


def test_a_stopped_runs_results_say_so(tmp_path, monkeypatch):

    from gerec.provenance import progress_fields, run_provenance, write_sidecar

    monkeypatch.setenv("GEREC_DASHBOARD_ROOTS", str(tmp_path))  # the CSV lives outside $GEREC_DATA
    out = tmp_path / "out.csv"
    out.write_bytes(analysis.to_csv(small_frame()))
    stopped = "interrupted by SIGTERM after 5 of 300 images"
    write_sidecar(out, {**run_provenance("reference"), **progress_fields(False, 5, 300, [stopped])})
    at = opened_csv(out)
    assert not at.exception and not at.error
    assert run_notes(at) == [f"Notes of this run:\n\n- {stopped}"]
    write_sidecar(out, {**run_provenance("reference"), **progress_fields(False, 0, 300, [])})  # as a kill leaves it
    at = opened_csv(out)
    assert not at.exception and not at.error and not run_notes(at)
    assert [w.value for w in at.warning if "did not finish" in w.value] == [
        "This run did not finish: the results hold 5 of 300 images, those done before it was stopped "
        "(or it is still running); accuracy is on those only."
    ]


def test_stored_run_with_damaged_json_shows_plain_messages(tmp_path, monkeypatch):
    import sqlite3

    from gerec.runs.records import failed_record
    from gerec.runs.store import RunStore

    monkeypatch.setenv("GEREC_DASHBOARD_ROOTS", str(tmp_path))  # the store lives outside $GEREC_DATA
    db = tmp_path / "runs.sqlite"
    with RunStore(db) as store:
        damaged_run = store.create_run("set", "tuned", "cached", {})
        run_id = store.create_run("set", "reference", "cached", {})
        for i, fused in enumerate(("Positive", "Positive", "Negative")):
            record = {**failed_record(f"pos_{i}.jpg", "Positive", ""), "error": None, "fused": fused}
            store.add_prediction(run_id, {**record, "probs": {"fused": [0.5, 0.3, 0.2]}})
    with sqlite3.connect(db) as con:
        con.execute("UPDATE predictions SET probs = '{bad json' WHERE image = 'pos_2.jpg'")
        con.execute("UPDATE runs SET models = 'null' WHERE id = ?", (damaged_run,))
    con.close()
    at = stored_run_page(db, run_id)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(f"1 row(s) of run {run_id} are damaged in the run store" in w.value for w in at.warning)
    found = {m.label: m.value for m in at.metric}
    assert found["Fused"] == "100.00 %" and found["failed images"] == "1"  # the damaged row is failed
    assert "damaged" in at.selectbox(key="store_run").format_func(damaged_run)
    at.selectbox(key="store_run").set_value(damaged_run).run()
    assert not at.exception and not at.metric  # the earlier results are gone
    [error] = [e.value for e in at.error]
    assert f"run {damaged_run} is damaged (its models column is null, not a JSON object)" in error
    assert "\n" not in error and "Error" not in error


@pytest.mark.parametrize(
    ("sidecar", "says"),
    [
        (b'{"mode": "tuned", "in_sample": true, "labels_file": "dev.json"}', "is damaged (labels_file should be"),
        (b'\xff\xfe{"mode": "tuned"}', "is not UTF-8 text"),
        # valid UTF-8 cut short: it was called 'not UTF-8 JSON'
        (b'{"mode": "tuned", "in_sample": tr', "is cut short (the file ends inside its JSON)"),
    ],
)
def test_saved_csv_with_a_damaged_sidecar_gives_a_plain_message(tmp_path, monkeypatch, sidecar, says):

    from gerec.provenance import sidecar_path

    monkeypatch.setenv("GEREC_DASHBOARD_ROOTS", str(tmp_path))  # the CSV lives outside $GEREC_DATA
    out = tmp_path / "out.csv"
    out.write_bytes(analysis.to_csv(small_frame()))
    sidecar_path(out).write_bytes(sidecar)
    at = opened_csv(out)
    assert not at.exception and not at.metric
    [error] = [e.value for e in at.error]
    assert error.startswith(f"{sidecar_path(out)} {says}") and "open the results without it" in error
    assert "\n" not in error and "Error" not in error


def test_a_stored_runs_notes_show_beside_its_summary(tmp_path, monkeypatch):
    """Before, a run's fallback notes were only in its sidecar and on stderr: the page, reading the
    store, could not say that the scene labels of some photos came from the offline labeler."""
    from gerec.runs.records import failed_record
    from gerec.runs.store import RunStore

    monkeypatch.setenv("GEREC_DASHBOARD_ROOTS", str(tmp_path))  # the store lives outside $GEREC_DATA
    db = tmp_path / "runs.sqlite"
    with RunStore(db) as store:
        quiet = store.create_run("set", "reference", "offline", {})
        run_id = store.create_run("set", "reference", "gcv -> offline", {})
        for i in range(3):
            record = {**failed_record(f"pos_{i}.jpg", "Positive", ""), "error": None, "fused": "Positive"}
            notes = ["gcv unavailable: no credentials configured"] if i else ["imagenet top-3: tent 0.50"]
            store.add_prediction(run_id, {**record, "labeler": "offline", "notes": notes})
            store.add_prediction(quiet, {**record, "labeler": "offline", "notes": ["imagenet top-3: tent 0.50"]})
    at = stored_run_page(db, run_id)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert run_notes(at) == [
        "Notes of this run:\n\n- gcv unavailable: no credentials configured; offline answered instead (2 photos)"
    ]
    at.selectbox(key="store_run").set_value(quiet).run()
    assert not at.exception and not run_notes(at)  # no fallback, no note


def test_a_stored_runs_state_shows_in_the_run_lists_and_an_unfinished_run_is_warned_of(tmp_path, monkeypatch):
    """Before, the store kept no state: an interrupted run listed and opened like a complete one."""
    import sqlite3
    import subprocess

    from gerec.runs.records import failed_record
    from gerec.runs.schema import COMPLETE, INTERRUPTED
    from gerec.runs.store import RunStore
    from gerec_app.errors_sources import UNKNOWN_STATE_NOTE

    monkeypatch.setenv("GEREC_DASHBOARD_ROOTS", str(tmp_path))  # the store lives outside $GEREC_DATA
    db = tmp_path / "runs.sqlite"
    with RunStore(db) as store:
        complete, stopped, old, killed = [
            store.create_run("set", "reference", "cached", {}, expected=3) for _ in "abcd"
        ]
        for run_id, images in ((complete, 3), (stopped, 2), (old, 3), (killed, 1)):
            for i in range(images):
                record = {**failed_record(f"pos_{i}.jpg", "Positive", ""), "error": None, "fused": "Positive"}
                store.add_prediction(run_id, record)
        store.set_state(complete, COMPLETE)
        store.set_state(stopped, INTERRUPTED)
    with sqlite3.connect(db) as con:  # as a run stored before states were kept reads once its store is migrated
        con.execute("UPDATE runs SET state = NULL, expected = NULL WHERE id = ?", (old,))
        ended = subprocess.Popen(["true"])  # a process of this host that has ended: it owned the killed run
        ended.wait()
        con.execute("UPDATE runs SET owner_pid = ? WHERE id = ?", (ended.pid, killed))
    con.close()
    unfinished = "This run did not finish: the results hold 2 of 3 images"
    at = stored_run_page(db, stopped)
    assert not at.exception and not at.error, [e.value for e in at.error]
    states = dict(label.split(" · ")[:2] for label in at.selectbox(key="store_run").options)  # id: state
    assert states == {
        complete: "complete",
        stopped: "interrupted after 2 of 3 images",
        old: "state not recorded (stored by an older gerec)",
        killed: "stopped without a word (killed?) after 1 of 3 images",  # before: 'unfinished (still running, ...'
    }
    assert [w.value for w in at.warning if w.value.startswith(unfinished)]
    at.selectbox(key="store_run_b").set_value(complete).run()  # the comparison names both runs' states
    assert any(f"Run B = {complete} · complete · " in c.value for c in at.caption)
    at.selectbox(key="store_run").set_value(complete).run()
    assert not [w.value for w in at.warning if "did not finish" in w.value] and not run_notes(at)
    at.selectbox(key="store_run").set_value(old).run()
    assert run_notes(at) == [f"Notes of this run:\n\n- {UNKNOWN_STATE_NOTE}"]


def comparison():
    from gerec.runs.compare import RunComparison

    def change(image: str, module: str, a: str, b: str, verdict: str) -> dict[str, str]:
        actual = {"pos": "Positive", "neg": "Negative", "neu": "Neutral"}[image[:3]]
        return {"image": image, "actual": actual, "module": module, "a": a, "b": b, "verdict": verdict}

    changed = [
        change("pos_1.jpg", "top_down", "Neutral", "Positive", "fixed"),
        change("pos_1.jpg", "fused", "Neutral", "Positive", "fixed"),
        change("neg_1.jpg", "fused", "Negative", "Neutral", "broken"),
        change("neu_1.jpg", "bottom_up", "Positive", "Negative", "changed"),
    ]
    accuracy = {"bottom_up": 0.5, "top_down": 0.6, "fused": 0.8}
    return RunComparison("A", "B", 5, accuracy, {**accuracy, "top_down": 0.8}, changed)


def test_a_run_comparison_counts_answers_and_its_counts_add_up():
    """'779 images changed an answer (224 fixed, 713 broken)': images beside (image, module) answers."""
    from gerec.runs.compare import VERDICT_WORDS, count_changes
    from gerec_app import run_comparison

    result = comparison()
    counts = count_changes(result)
    assert counts.sentence() == (
        "4 answers changed on 3 of 5 images (an image has one answer per module, so up to 3 can change): "
        "2 fixed (wrong→right), 1 broken (right→wrong), 1 changed (neither right)"
    )
    summary = run_comparison.summary(result, counts).set_index("module")
    assert list(summary.index) == ["bottom_up", "top_down", "fused", "all modules"]
    assert summary.loc["fused", [analysis.FIXED, analysis.BROKEN, "answers changed"]].tolist() == [1, 1, 2]
    assert summary.loc["all modules"].tolist()[2:] == [2, 1, 1, 4]
    assert summary.loc["top_down", "Run B accuracy"] == 0.8  # fractions, as downloaded
    shown = run_comparison.changes_for_people(run_comparison.changes(result))
    assert list(shown.columns) == ["image", "actual", "module", "Run A", "Run B", "verdict"]
    neither = VERDICT_WORDS["changed"]
    assert list(shown["verdict"]) == [analysis.FIXED, analysis.FIXED, analysis.BROKEN, neither]


@pytest.mark.parametrize(
    ("names", "csv", "sidecar", "ignored"),
    [
        (["out.csv"], 0, None, ()),
        (["out.csv.json", "out.csv"], 1, 0, ()),
        (["renamed.json", "out.csv"], 1, 0, ()),  # the only JSON, named after no other CSV
        (["a.csv", "b.csv", "b.csv.json", "a.csv.json"], 0, 3, ("b.csv", "b.csv.json")),
        (["a.csv", "b.csv.json", "b.csv"], 0, None, ("b.csv.json", "b.csv")),  # b's sidecar is not a's
        (["x.json", "y.json", "a.csv"], 2, None, ("x.json", "y.json")),
        (["a.csv.json"], None, None, ()),
    ],
)
def test_several_uploads_open_one_csv_and_its_own_sidecar(names, csv, sidecar, ignored):
    picked = results_table.pick_upload(names)
    assert (picked.csv, picked.sidecar, picked.ignored) == (csv, sidecar, ignored)
    notice = picked.notice(names)
    assert (notice is None) == (not ignored or csv is None)
    if notice:
        assert f"{names[csv]} " in notice and all(n in notice for n in ignored) and "ignored" in notice


def test_several_uploaded_csvs_say_which_is_used_and_that_the_others_were_ignored(gaf_dir):
    """The first CSV was used and the first JSON taken as its sidecar, whoever's it was, silently."""
    from streamlit.testing.v1 import AppTest

    from gerec.provenance import run_provenance

    def sidecar(mode: str) -> bytes:
        return json.dumps(run_provenance(mode)).encode()

    data = analysis.to_csv(small_frame())
    files = [
        ("a.csv", data, "text/csv"),
        ("b.csv", data, "text/csv"),
        ("b.csv.json", sidecar("tuned"), "application/json"),
        ("a.csv.json", sidecar("reference"), "application/json"),
    ]
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page(PAGES["errors"]).run()
    at.radio(key="eval_source").set_value("csv").run()
    at.selectbox(key="csv_mode").set_value("tuned").run()
    at.file_uploader(key="eval_upload").set_value(files).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.session_state[LOADED_RESULTS].mode == "reference"  # a.csv's own sidecar, not b's
    assert any(c.value.startswith("uploaded a.csv with a.csv.json · network reference") for c in at.caption)
    [notice] = [w.value for w in at.warning if "ignored" in w.value]
    assert "a.csv with a.csv.json is used; b.csv, b.csv.json were ignored" in notice
    at.selectbox(key="csv_mode").set_value("reference").run()
    assert [w.value for w in at.warning if "ignored" in w.value] == [notice]  # it stays with the results


def test_a_sidecar_uploaded_without_its_csv_says_the_csv_is_needed():
    """An OUT.csv.json uploaded alone did nothing and said nothing: the page now names the CSV it needs."""
    import doctest

    from streamlit.testing.v1 import AppTest

    from gerec.provenance import run_provenance

    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page(PAGES["errors"]).run()
    at.radio(key="eval_source").set_value("csv").run()
    sidecar = json.dumps(run_provenance("tuned")).encode()
    at.file_uploader(key="eval_upload").set_value([("run7.csv.json", sidecar, "application/json")]).run()
    assert not at.exception and not at.error and LOADED_RESULTS not in at.session_state
    assert [w.value for w in at.warning] == [
        "run7.csv.json alone opens nothing: it records what made run7.csv, not the results. Upload run7.csv with it."
    ]
    assert results_table.lone_sidecar_notice(["a.csv.json", "b.json"]) == (
        "a.csv.json, b.json alone open nothing: they record what made a.csv, not the results. Upload a.csv with them."
    )
    tested = doctest.testmod(results_table)
    assert tested.attempted and not tested.failed


@pytest.mark.parametrize("damage", ["broken", "missing"])
def test_the_pages_label_only_run_needs_no_face_registry(damage, tmp_path, monkeypatch):
    """It built its Pipeline without faces=False, so a damaged ensemble.json, which it never uses,
    stopped it (the CLI's label-only evaluate already ran)."""
    from tests.test_pipeline import broken_registry_folder

    folder = broken_registry_folder(tmp_path)
    if damage == "missing":
        (folder / "ensemble.json").unlink()
    monkeypatch.setenv("GEREC_MODELS", str(folder))
    labels = {"pos_1.jpg": ["smile", "fun"], "neg_2.jpg": ["crowd"], "unknown.jpg": ["smile"]}
    rows = list(results_table.label_only_rows(labels, {"pos_1.jpg": "Positive", "neg_2.jpg": None}, "tuned"))
    assert [r["image"] for r in rows] == ["pos_1.jpg", "neg_2.jpg"] and not any(r["error"] for r in rows)
    assert rows[0]["bottom_up"] == "Positive" and rows[1]["bottom_up"] == ""
    assert all(r["top_down"] in CLASSES and r["fused"] in CLASSES for r in rows)
