"""Words and colours on screen: plain error lines, friendly column names, one colour per class."""

from __future__ import annotations

import pytest

from gerec.errors import InvalidImage, LabelerUnavailable
from gerec_app import ensemble_tables, prediction_tables, render


def test_plain_error_names_the_file_once_drops_library_wording_and_says_what_to_do(photos_dir):
    from gerec.imaging import load_image

    data = (photos_dir / "image_happy_1.jpg").read_bytes()
    with pytest.raises(InvalidImage) as caught:
        load_image(data[: len(data) // 2], "half.jpg")
    line = render.plain_error(caught.value, "half.jpg")
    assert line.startswith("half.jpg: the image data is") and line.count("half.jpg") == 1
    assert str(caught.value.__cause__) not in line and "not processed" not in line and "\n" not in line
    assert "InvalidImage" not in line and line.endswith("upload it again.")
    assert type(caught.value.__cause__).__name__ not in line and "()" not in line  # not even "(OSError)"
    assert line == (
        "half.jpg: the image data is truncated or corrupt. Check that it is a JPEG, PNG or WebP photo and "
        "upload it again."
    )
    empty = render.plain_error(InvalidImage("empty.jpg: the file is empty (0 bytes)"), "empty.jpg")
    assert empty == (
        "empty.jpg: the file is empty (0 bytes). Check that it is a JPEG, PNG or WebP photo and upload it again."
    )
    assert render.plain_error(LabelerUnavailable("gcv: no credentials")).startswith("Gcv: no credentials. Choose")
    # a message that opens with a file name keeps its spelling ("Bad_side.csv.json is not UTF-8 JSON")
    damaged = render.plain_error(InvalidImage("bad_side.csv.json is not UTF-8 JSON: run evaluate again"))
    assert damaged.startswith("bad_side.csv.json is not UTF-8 JSON")
    assert render.plain_error(InvalidImage("/tmp/x.csv: no such file")).startswith("/tmp/x.csv: no such file")
    assert render.plain_error(InvalidImage("results table lacks columns")).startswith("Results table lacks")


def test_friendly_columns_and_module_names():
    import pandas as pd

    table = pd.DataFrame({"image": ["a.jpg"], "p_bottom_up_Positive": [0.5], "module": ["top_down"]})
    assert list(render.friendly_columns(table).columns) == ["photo", "Bottom-up P(Positive)", "module"]
    assert render.friendly_columns(table)["module"][0] == "Top-down (scene)"


def test_one_colour_per_class_and_members_in_other_hues():
    classes = set(render.CLASS_COLOURS.values())
    assert len(classes) == 3
    others = set(render.MODULE_COLOURS.values()) | set(render.SERIES_COLOURS) | {render.ENSEMBLE_COLOUR}
    assert not classes & others
    colours = render.member_colours(["ensemble", "a", "b"])
    assert colours["ensemble"] == render.ENSEMBLE_COLOUR and colours["a"] != colours["b"]
    assert not set(colours.values()) & classes


def test_probabilities_read_the_same_in_the_cli_line_and_the_faces_table():
    import doctest

    import gerec.types
    from gerec.cli.common import prediction_line
    from gerec.types import Face, FaceScores, GroupPrediction, SceneEvidence, format_probs

    assert doctest.testmod(gerec.types).failed == 0
    assert doctest.testmod(prediction_tables).attempted and not doctest.testmod(prediction_tables).failed
    assert format_probs(None) == "-"
    assert format_probs((0.714, 0.2, 0.086)) == "0.71/0.20/0.09"
    face = Face(1, (0, 0, 10, 10), 0.99, {}, FaceScores({"m": (0.1, 0.25, 0.65)}, (0.1, 0.25, 0.65)))
    pred = GroupPrediction("x.jpg", (face,), (0.6, 0.3, 0.1), (0.2, 0.5, 0.3), (0.5, 0.4, 0.1), SceneEvidence(()))
    table = prediction_tables.faces_frame(pred)
    assert table["m"][0] == "Neg 0.65"  # its class and that probability (all three: twice a 1024 px page's width)
    # the ensemble's columns as the verdicts' table heads them, numbers (sorted as numbers), shown with 2
    # decimals: rounded to 3 in the frame, they read '0.623' beside '0.57' (a trailing zero dropped)
    assert list(table.columns) == ["face", "class", "Pos", "Neu", "Neg", "m", "detector", prediction_tables.BOX]
    assert table[["Pos", "Neu", "Neg"]].iloc[0].tolist() == [0.1, 0.25, 0.65]
    formats = {name: shown for name, (shown, _) in prediction_tables.faces_columns().items()}
    assert formats == {"Pos": "%.2f", "Neu": "%.2f", "Neg": "%.2f", "detector": "%.3f"}
    line = prediction_line(pred)
    assert "bottom_up=Positive (0.60/0.30/0.10)" in line and "top_down=Neutral (0.20/0.50/0.30)" in line


def test_typed_labels_are_mapped_with_a_caption_for_each_change():
    from gerec.bn import load_scene_network

    net = load_scene_network("reference")
    typed, notes = prediction_tables.typed_labels(net, "weddings, smile\nweddding, zzqx")
    assert typed.used == ("wedding", "smile") and typed.mapped == (("weddings", "wedding"),)
    assert notes[0] == "Mapped: weddings → wedding"
    assert notes[1].startswith("“weddding” is not a label the network knows; nearest known: wedding")
    assert notes[2] == "“zzqx” is not a label the network knows."
    known, quiet = prediction_tables.typed_labels(net, "smile")
    assert known.used == ("smile",) and quiet == []


def test_temperature_text_says_what_it_does_to_the_probabilities():
    from gerec_app.ensemble_tables import temperature_text

    assert temperature_text(1.0) == "1 (as the network gives them)"
    assert temperature_text(0.8) == "0.8 (sharpened)" and temperature_text(1.2469) == "1.25 (softened)"


def test_held_out_figures_say_which_faces_for_every_fit_mode():
    from gerec.emotion.fit_faces import FIT_FACES

    assert set(ensemble_tables.HELD_OUT_FACES) == set(FIT_FACES)  # a new fit mode must be worded here too
    val = {"criterion": "log-loss", "criterion_held_out_accuracy3": {"log-loss": 0.8108}, "fit_faces": "clean"}
    table = ensemble_tables.ensemble_accuracy_table([], {"val": val})
    assert table["val 3-class, held out"].iloc[0] == "81.08 % (clean faces)"


def test_reasons_chart_reads_positive_neutral_negative_from_the_top():
    """Plotly draws a horizontal group's first trace at the bottom: the classes go in last to first,
    so each row reads Positive, Neutral, Negative from the top, and the legend, reversed, likewise
    (each row read Negative, Neutral, Positive under a legend in class order)."""
    from gerec.classes import CLASSES
    from gerec.types import LabelContribution
    from gerec_app import plots

    rows = (LabelContribution("smile", True, (0.3, -0.1, -0.2)), LabelContribution("crowd", False, (-0.1, 0.0, 0.1)))
    fig = plots.contributions_figure(rows)
    bottom_to_top = [bar.name for bar in fig.data]
    assert bottom_to_top[::-1] == list(CLASSES)
    assert fig.layout.legend.traceorder == "reversed" and fig.layout.legend.orientation == "h"
    assert [bar.marker.color for bar in fig.data][::-1] == [render.CLASS_COLOURS[c] for c in CLASSES]
    smile = {bar.name: bar.x[-1] for bar in fig.data}  # rows go top-down: the first row is plotted last
    assert smile == {"Positive": 0.3, "Neutral": -0.1, "Negative": -0.2}


def test_a_photo_without_a_face_reads_alike_in_the_cli_line_and_the_verdict_table():
    """The verdict table showed None, None, None for bottom-up where the comparison says 'absent (no
    face)'; the CLI wrote that wording out again. One constant, owned by the library, for both."""
    import doctest

    from gerec.classes import CLASSES
    from gerec.cli.common import prediction_line
    from gerec.formatting import NO_VALUE_SCREEN
    from gerec.types import NO_FACE, GroupPrediction, SceneEvidence

    pred = GroupPrediction("x.jpg", (), None, (0.2, 0.5, 0.3), (0.25, 0.45, 0.3), SceneEvidence(()))
    assert f"bottom_up={NO_FACE} " in prediction_line(pred)
    table = prediction_tables.verdict_frame(pred).set_index("module")
    bottom_up = table.loc[render.MODULE_NAMES["bottom_up"]]
    assert bottom_up["class"] == NO_FACE
    headers = [render.CLASS_SHORT[c] for c in CLASSES]
    assert headers == ["Pos", "Neu", "Neg"]
    assert list(bottom_up[headers]) == [NO_VALUE_SCREEN] * 3
    assert list(table.loc[render.MODULE_NAMES["fused"], headers]) == ["0.25", "0.45", "0.30"]
    assert doctest.testmod(render).failed == 0 and render.percent(1) == "100.00 %"


def test_plots_examples_run():
    """The network graph's node texts: long ones on two lines (gerec_app.network_plot._node_text's examples)."""
    import doctest

    from gerec_app import network_plot

    tested = doctest.testmod(network_plot)
    assert tested.attempted >= 1 and tested.failed == 0


def test_the_scene_graph_sets_present_and_absent_labels_apart():
    """The graph's two columns: present labels (the prior with them) left of Emotion, absent ones right,
    every node text on its column's outer side; with no label present the left column says so instead
    of standing empty under its header."""
    from gerec.bn import load_scene_network
    from gerec_app import network_plot

    net = load_scene_network("tuned")
    labels = ["people", "smile", "fun"]
    fig = network_plot.network_figure(net, labels, "Negative", net.posterior(labels))
    nodes = [t for t in fig.data if t.mode == "markers+text" and t.textposition in ("middle left", "middle right")]
    left, right = (next(t for t in nodes if t.textposition == side) for side in ("middle left", "middle right"))
    assert set(left.text) == set(labels) and set(left.x) == {-network_plot.COLUMN_X}
    assert all(text.startswith("not") for text in right.text[:-1]) and "other" in right.text[-1]
    assert len(right.text) == network_plot.TOP_ABSENT + 1 and set(right.x) == {network_plot.COLUMN_X}
    assert [a.text for a in fig.layout.annotations] == ["present", "absent"]
    empty = network_plot.network_figure(net, [], None, net.posterior([]))
    assert [a.text for a in empty.layout.annotations] == ["present: none", "absent"]


def test_the_error_hints_point_at_pages_that_exist():
    """Two hints sent users to 'the README's Model files table' after that table had moved to
    docs/models.md; a hint now names a docs page, and each page it names exists."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    named = {page for hint in render.ERROR_HINTS.values() for page in re.findall(r"docs/[\w-]+\.md", hint)}
    assert named == {"docs/models.md", "docs/cli.md"}
    assert all((root / page).is_file() for page in named)
    assert not [hint for hint in render.ERROR_HINTS.values() if "README" in hint]
