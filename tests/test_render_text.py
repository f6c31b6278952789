"""Words and colours on screen: plain error lines, friendly column names, one colour per class."""

from __future__ import annotations

import pytest

from gerec.errors import InvalidImage, LabelerUnavailable
from gerec_app import render


def test_plain_error_names_the_file_once_drops_library_wording_and_says_what_to_do(photos_dir):
    from gerec.imaging import load_image

    data = (photos_dir / "image_happy_1.jpg").read_bytes()
    with pytest.raises(InvalidImage) as caught:
        load_image(data[: len(data) // 2], "half.jpg")
    line = render.plain_error(caught.value, "half.jpg")
    assert line.startswith("half.jpg: the image data is") and line.count("half.jpg") == 1
    assert str(caught.value.__cause__) not in line and "not processed" not in line and "\n" not in line
    assert "InvalidImage" not in line and line.endswith("upload it again.")
    empty = render.plain_error(InvalidImage("empty.jpg: the file is empty (0 bytes)"), "empty.jpg")
    assert empty == ("empty.jpg: the file is empty (0 bytes). Check that it is a JPEG, PNG or WebP photo "
                     "and upload it again.")
    assert render.plain_error(LabelerUnavailable("gcv: no credentials")).startswith("Gcv: no credentials. Choose")


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
