"""Agreement with the reference's own decisions: reading its file, counting, the report."""

from __future__ import annotations

import doctest

import pytest

import gerec.agreement
from gerec.agreement import agreement, format_agreement, read_reference_predictions
from gerec.errors import InvalidDataset


def test_docstring_example_runs():
    assert doctest.testmod(gerec.agreement).failed == 0


def test_read_reference_predictions(tmp_path):
    path = tmp_path / "ref.csv"
    path.write_text("image,bayesian,fused\na.jpg,Positive,Neutral\n b.jpg ,Negative,Negative\n")
    assert read_reference_predictions(path) == {
        "a.jpg": {"top_down": "Positive", "fused": "Neutral"},
        "b.jpg": {"top_down": "Negative", "fused": "Negative"},
    }


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("image,cnn\na.jpg,Positive\n", "expected columns"),
        ("image,bayesian,fused\na.jpg,Happy,Neutral\n", "classes among"),
        ("image,bayesian,fused\na.jpg,Positive,\n", "classes among"),
        ("image,bayesian,fused\na.jpg,Positive,Neutral\na.jpg,Neutral,Neutral\n", "twice"),
        ("", "expected columns"),
    ],
)
def test_bad_reference_files_are_named_errors(tmp_path, text, match):
    path = tmp_path / "ref.csv"
    path.write_text(text)
    with pytest.raises(InvalidDataset, match=match):
        read_reference_predictions(path)


def test_missing_file_is_a_named_error(tmp_path):
    with pytest.raises(InvalidDataset, match="cannot read"):
        read_reference_predictions(tmp_path / "absent.csv")


def test_failed_and_unmatched_images_are_counted():
    ref = {"a.jpg": {"top_down": "Positive", "fused": "Positive"}, "b.jpg": {"top_down": "Neutral", "fused": "Neutral"}}
    rows = [
        {"image": "a.jpg", "top_down": "Positive", "fused": "Positive"},
        {"image": "b.jpg", "top_down": "", "fused": "", "error": "InvalidImage: x"},  # failed
        {"image": "c.jpg", "top_down": "Neutral", "fused": "Neutral"},
    ]  # no reference decision
    top, fused = agreement(rows, ref)
    assert (top.agreed, top.compared, top.unmatched, top.differing) == (1, 2, 1, ("b.jpg",))
    assert top.rate == pytest.approx(0.5) and fused.rate == pytest.approx(0.5)
    text = format_agreement((top, fused))
    assert "top_down    50.00 %  (1/2 images; 1 without a reference decision)" in text
    assert "differ: b.jpg" in text
    assert agreement([], ref)[0].compared == 0


def test_report_lists_only_the_first_differing_images():
    ref = {f"{i}.jpg": {"top_down": "Positive", "fused": "Positive"} for i in range(15)}
    rows = [{"image": f"{i}.jpg", "top_down": "Negative", "fused": "Positive"} for i in range(15)]
    text = format_agreement(agreement(rows, ref), show=3)
    assert "differ: 0.jpg, 1.jpg, 2.jpg and 12 more" in text
    assert "fused      100.00 %  (15/15 images)" in text
