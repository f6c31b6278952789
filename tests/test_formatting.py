"""One rule for a percentage and one missing value per medium (gerec.formatting), whoever writes them:
the CLI's reports, the docs' tables, the dashboard's tables and its HTML report."""

from __future__ import annotations

import doctest
import re
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import numpy as np
import pytest

from gerec import formatting
from gerec.formatting import NO_VALUE_SCREEN, NO_VALUE_TEXT, percent, percent_spread

ROOT = Path(__file__).resolve().parents[1]


def test_doctests_run_and_pass():
    result = doctest.testmod(formatting)
    assert result.attempted >= 4 and result.failed == 0


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.69374, "69.37 %"),
        (1, "100.00 %"),
        (0, "0.00 %"),
        (np.float64(0.5), "50.00 %"),
        (np.float32(0.25), "25.00 %"),  # not a Python float, still a number
        (np.int64(1), "100.00 %"),
        (None, NO_VALUE_TEXT),
        (float("nan"), NO_VALUE_TEXT),
        (np.nan, NO_VALUE_TEXT),
        ("0.5", NO_VALUE_TEXT),  # text is not a figure
        (True, NO_VALUE_TEXT),  # nor is a flag
    ],
)
def test_percent(value, text):
    assert percent(value) == text


def test_the_two_missing_values_and_the_spread():
    assert (NO_VALUE_TEXT, NO_VALUE_SCREEN) == ("-", "–") and NO_VALUE_TEXT.isascii()
    assert percent(None, NO_VALUE_SCREEN) == NO_VALUE_SCREEN
    assert percent_spread(np.float64(0.8126), np.float64(0.0071)) == "81.26 ± 0.71 %"
    assert percent_spread(0.8126, float("nan")) == "81.26 %"
    assert percent_spread(float("nan"), 0.01, NO_VALUE_SCREEN) == NO_VALUE_SCREEN
    assert percent(0.69374) == formatting.PERCENT_FORMAT % 69.374  # the sortable columns' format: the same text


def test_cli_reports_write_no_nan_and_two_decimals():
    """A module with no covered image printed 'accuracy    nan %', a class without images 'nan' as
    its recall, and recall had one decimal where accuracy had two; no image compared printed
    '   nan %' as the agreement."""
    from gerec.agreement import agreement, format_agreement
    from gerec.evaluation import format_score, score_module

    nothing = format_score(score_module("bottom_up", np.array([0, 1]), np.array([-1, -1])))
    assert nothing.splitlines()[0] == f"bottom_up  accuracy {NO_VALUE_TEXT:>8}  on 0/2 images"
    some = format_score(score_module("fused", np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1])))
    assert some.splitlines()[0] == "fused      accuracy  75.00 %  on 4/4 images"
    assert some.splitlines()[1] == f"  recall: Positive 66.67 %  Neutral 100.00 %  Negative {NO_VALUE_TEXT}"
    assert "nan" not in nothing + some
    text = format_agreement(agreement([], {"a.jpg": {"top_down": "Positive", "fused": "Positive"}}))
    assert f"  top_down   {NO_VALUE_TEXT:>8}  (0/0 images)" in text.splitlines() and "nan" not in text


def test_tune_prints_every_fold_figure_as_a_percentage(capsys):
    """tune printed the fold lists, the recalls and the calibration accuracy as bare numbers (69.37)
    beside figures with a % (69.37 %)."""
    from gerec.cli.tune import _print_calibration, _print_result

    summary = {
        "topdown_per_fold": [0.6, 0.7],
        "fused_per_fold": [0.7, 0.8],
        "topdown_recall": {"Positive": 0.5, "Neutral": 0.25, "Negative": 0.125},
        "fused_recall": {"Positive": 1.0, "Neutral": 0.75, "Negative": float("nan")},
    }
    _print_result("tuned", summary)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "tuned      top-down  65.00 ± 5.00 %   folds:  60.00 %   70.00 %"
    assert lines[1] == "           fused     75.00 ± 5.00 %   folds:  70.00 %   80.00 %"
    assert lines[2].endswith("Positive 50.00 %, Neutral 25.00 %, Negative 12.50 %")
    assert lines[3].endswith(f"Positive 100.00 %, Neutral 75.00 %, Negative {NO_VALUE_TEXT}")
    figure = {"accuracy_mean": 0.7, "accuracy_std": 0.0125, "pooled": {"ece": 0.02}}
    figure |= {f"{k}_{s}": 0.1 for k in ("ece", "nll", "brier") for s in ("mean", "std")}
    _print_calibration({"tuned": dict.fromkeys(("bottom_up", "top_down", "fused"), figure)})
    assert "acc  70.00 ± 1.25 %  ECE" in capsys.readouterr().out


def test_the_same_figure_reads_the_same_in_the_cli_the_docs_and_the_dashboard():
    """Held-out accuracy read '69.4 ± 2.5 %' on the Models page (one decimal) and '81.26 % ± 0.71' in
    its ensemble table, where the CLI and the docs wrote '69.37 ± 1.25 %'."""
    from gerec.bn import SceneNetwork
    from gerec.bn.calibrate import REPORT_NAMES, markdown_table
    from gerec.emotion.figures import member_table
    from gerec_app import calibration_view, ensemble_tables, render

    fold = {"accuracy_mean": 0.69374, "accuracy_std": 0.0125, "pooled": {"ece": 0.02, "mean_confidence": 0.7}}
    fold |= {f"{k}_{s}": 0.1 for k in ("ece", "nll", "brier") for s in ("mean", "std")}
    modules = dict.fromkeys(("bottom_up", "top_down", "fused"), fold)
    calibration = {key: modules for key in ("cv", "cv_uncalibrated", "cv_reference")}
    network = cast(SceneNetwork, SimpleNamespace(metadata={"calibration": calibration}))  # cv_table reads only this
    screen = calibration_view.cv_table(network)
    assert set(screen["accuracy"]) == {"69.37 ± 1.25 %"}
    docs = markdown_table({"calibration": dict.fromkeys(REPORT_NAMES, modules)})
    assert "| 69.37 ± 1.25 % |" in docs
    val = {
        "criterion": "accuracy",
        "criterion_held_out_accuracy3": {"accuracy": 0.69374},
        "criterion_held_out_accuracy3_sd": {"accuracy": 0.0125},
    }
    assert ensemble_tables.weighting_note({"val": {"selection": "x", **val}}).count("accuracy 69.37 ± 1.25 %") == 1
    table = ensemble_tables.ensemble_accuracy_table([], {"val": val})
    assert table["val 3-class, held out"].iloc[-1] == "69.37 ± 1.25 %"
    assert ensemble_tables.face_confusion_text({"accuracy3": 0.69374}) == "accuracy3 69.37 %"  # was 0.69374
    assert doctest.testmod(ensemble_tables).failed == 0
    member = {"name": "m", "weights": "m.keras", "input_size": 48, "colour": "grey", "metrics": {}}
    docs_row = member_table({"members": [{**member, "metrics": {"val_accuracy3": 0.69374}}]}).splitlines()[2]
    assert "| 69.37 % |" in docs_row and f"| {NO_VALUE_TEXT} |" in docs_row
    assert render.percent(0.69374) == percent(0.69374) and render.percent(None) == NO_VALUE_SCREEN


def test_the_html_report_shows_the_screen_dash_for_a_module_without_an_answer():
    """The report wrote '-' where every page writes '–' (bottom-up without a face)."""
    from gerec.types import GroupPrediction, SceneEvidence
    from gerec_app.report import _verdicts

    pred = GroupPrediction("x.jpg", (), None, (0.5, 0.3, 0.2), (0.5, 0.3, 0.2), SceneEvidence(()))
    table = _verdicts(pred)
    assert f"<td>{NO_VALUE_SCREEN}</td>" * 3 in table and "<td>-</td>" not in table
    assert "<td>0.50</td><td>0.30</td><td>0.20</td>" in table  # the modules with an answer


PERCENT_COPIES = re.compile(
    r"100 ?\* ?[^}\n]*:\d*\.[1-9]\d*f\} ?(%|± )|%\.\d+f ?%%|:\.[1-9]\d*f\} ± \{[^}\n]*:\.[1-9]\d*f\} ?%"
)
"""A fraction written by hand as a percentage with decimals (``{100 * x:.2f} %``, ``{100 * m:.1f} ± ``,
``"%.2f %%"``, or a mean and spread scaled beforehand: ``{m:.2f} ± {s:.2f} %``). Whole percentages in
prose and in the confusion heatmap's cells (``.0f``) are another rule."""


def test_the_guard_sees_each_hand_written_form():
    """The forms the tools used before gerec.formatting (member_temperature_cv scaled in the f-string,
    combiner_check the array beforehand); an ECE or NLL spread, no %, is not a percentage."""
    assert PERCENT_COPIES.search('f"accuracy {100 * a[:, 2].mean():.2f} ± {100 * a[:, 2].std():.2f} %"')
    assert PERCENT_COPIES.search('f"3-class {a[:, 0].mean():.2f} ± {a[:, 0].std(ddof=1):.2f} %, "')
    assert not PERCENT_COPIES.search('f"ECE {a[:, 0].mean():.4f} ± {a[:, 0].std():.4f}  NLL"')


def test_no_copy_of_the_percentage_rule():
    """Every writer of a percentage with decimals calls gerec.formatting (the old code had eleven copies;
    tools/ included: combiner_check.py and member_temperature_cv.py)."""
    copies = []
    for folder in ("gerec", "gerec_app", "app_pages", "tools"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "gerec/formatting.py":
                continue
            lines = path.read_text(encoding="utf-8").splitlines()
            copies += [f"{rel}:{n}: {line.strip()}" for n, line in enumerate(lines, 1) if PERCENT_COPIES.search(line)]
    assert copies == []
