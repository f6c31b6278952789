"""Results tables read from OUT.csv (gerec_app.results_table.read_results)."""

from __future__ import annotations

import csv
import io

from gerec_app import analysis, results_table

HEADER = ["image", "actual", "bottom_up", "top_down", "fused", "p_top_down_Positive", "p_top_down_Neutral"]
HEADER += ["p_top_down_Negative", "labels_used", "error"]


def out_csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buf.getvalue().encode()


def test_a_row_cut_short_fails_instead_of_being_scored():
    """A run stopped mid-row leaves 'neg_2.jpg,Negative,,Negative,Negative,0.2' (of 0.25...): it was
    read as a scored row with that cut probability; it now counts as a failed image, nothing scored."""
    whole = [
        ["pos_1.jpg", "Positive", "", "Positive", "Positive", "0.7", "0.2", "0.1", "smile", ""],
        ["neg_1.jpg", "Negative", "", "Neutral", "Neutral", "0.2", "0.5", "0.3", "", ""],
    ]
    data = out_csv(whole) + b"neg_2.jpg,Negative,,Negative,Negative,0.2"
    frame = results_table.read_results(data)
    assert list(frame["image"]) == ["pos_1.jpg", "neg_1.jpg", "neg_2.jpg"]
    cut = frame.iloc[2]
    assert cut["error"] == results_table.CUT_SHORT
    assert cut["top_down"] == cut["fused"] == cut["p_top_down_Positive"] == ""
    scores = analysis.scores(frame).set_index("module")
    assert scores.loc["top_down", "covered"] == 2 and scores.loc["top_down", "accuracy"] == 0.5
    # whole rows, empty fields included, are read as written
    intact = results_table.read_results(out_csv(whole))
    assert (intact["error"] == "").all() and list(intact["top_down"]) == ["Positive", "Neutral"]
