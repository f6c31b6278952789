"""The Error analysis page's sections over loaded results (streamlit calls), so the page script
stays a short outline; where the results come from is :mod:`gerec_app.errors_sources`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from gerec.classes import CLASSES
from gerec.errors import GerecError
from gerec.formatting import counted, sentence
from gerec.provenance import completeness_warning, in_sample_warning
from gerec.provenance import summary as provenance_summary
from gerec.runs import compare as runs_compare
from gerec_app import PAGES, analysis, calibration_view, label_analysis, paths, plots, state
from gerec_app.handoff import ANALYZE_PATH, LoadedResults
from gerec_app.render import (
    MODULE_NAMES,
    PERCENT_FORMAT,
    friendly_columns,
    percent,
    percent_columns,
    percent_points,
)


def download(table: pd.DataFrame, label: str, file: str, key: str) -> None:
    """A CSV download button for a table: ``label`` in the page's words (module display names),
    the file ``gerec_<file>.csv`` in the CSV's own (module keys), its spaces as underscores."""
    st.download_button(
        f"Download {label} (CSV)",
        analysis.to_csv(table),
        f"gerec_{file.replace(' ', '_')}.csv",
        "text/csv",
        key=f"dl_{key}",
    )


def image_table(table: pd.DataFrame, height: int, label: str, file: str, key: str) -> None:
    """A list of images under the count that heads it, with its download: nothing for no image (an empty
    grid of blank rows and the download of a header-only CSV said nothing the count had not)."""
    if table.empty:
        return
    st.dataframe(friendly_columns(table), hide_index=True, height=height)
    download(table, label, file, key)


CHAR_PX = 6.5
"""About the width of a character in an ``st.dataframe`` cell, in pixels (14 px Source Sans: 'white-collar
worker', 19 characters, is 113 px wide in chromium), with a margin for wide letters."""
CELL_PX = 32
"""A cell's padding, and room in the header for the sort arrow and the column menu, in pixels."""


def whole_text_width(table: pd.DataFrame, column: str) -> int:
    """The width in pixels that shows every value of a text ``column`` (and its header) whole. The
    grid sizes a column to the rows it first shows, so a longer value that a sort brings up later
    was cut ('white-collar wor').

    >>> whole_text_width(pd.DataFrame({"label": ["fun", "white-collar worker"]}), "label")
    156
    """
    longest = max([len(column), *(len(str(v)) for v in table[column])])
    return round(longest * CHAR_PX) + CELL_PX


def percent_dataframe(
    table: pd.DataFrame,
    columns: Sequence[str],
    whole: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> None:
    """``table`` as a sortable ``st.dataframe`` whose fraction ``columns`` read as accuracy does
    everywhere (``69.37 %``, :data:`PERCENT_FORMAT`) and still sort as numbers (text would sort
    ``9.50 %`` above ``10.00 %``); its text columns ``whole`` are wide enough for every value,
    however the table is sorted (:func:`whole_text_width`), and pinned: still in sight when a
    narrow window scrolls the table sideways. ``headers`` shows a column under a shorter header,
    its full name as the header's tooltip (the data and its CSV keep the full names)."""
    config = {c: _column(table, c, c in columns, c in whole, (headers or {}).get(c)) for c in table.columns}
    shown = {c: v for c, v in config.items() if v is not None}
    st.dataframe(percent_points(table, columns), column_config=shown, hide_index=True, **kwargs)


def _column(table: pd.DataFrame, name: str, fraction: bool, whole: bool, header: str | None) -> Any:
    """One column's ``st.column_config`` for :func:`percent_dataframe` (``None``: as Streamlit shows it)."""
    tip = name if header else None  # a shortened header's tooltip is its full name
    if fraction:
        return st.column_config.NumberColumn(label=header, help=tip, format=PERCENT_FORMAT)
    if whole:
        return st.column_config.TextColumn(label=header, help=tip, width=whole_text_width(table, name), pinned=True)
    return st.column_config.Column(label=header, help=tip) if header else None


def accuracy(results: LoadedResults, modules: list[str]) -> None:
    """Accuracy per module, what made the results, and the in-sample warning."""
    frame, made = results.frame, results.provenance
    st.header(f"Accuracy: {len(frame)} images")
    if made:
        st.caption(f"{results.source} · network {made.get('mode', results.mode)}")
    else:
        st.caption(
            f"{results.source} · this file does not record which network made it (no OUT.csv.json); "
            f"per-label analysis uses the {results.mode} network"
        )
    if made and (warning := in_sample_warning(made)):
        st.warning(sentence(warning), icon=":material/warning:")
    if made and (unfinished := completeness_warning(made, len(frame))):
        st.warning(sentence(unfinished), icon=":material/warning:")
    if results.notice:
        st.warning(results.notice, icon=":material/warning:")
    if made and made.get("notes"):  # e.g. the scene labels of some photos came from a fallback labeler
        st.info("Notes of this run:\n" + "".join(f"\n- {note}" for note in made["notes"]), icon=":material/info:")
    if made:
        with st.expander("What made these results"):
            st.table(pd.DataFrame(list(provenance_summary(made).items()), columns=["", "value"]))
    scores = analysis.scores(frame)
    cols = st.columns(len(modules) + 1)
    # labelled by module, as the verdicts on Analyze: 'Bottom-up (faces) accuracy' was cut in a 1024 px window
    for col, (_, row) in zip(cols, scores.iterrows()):
        col.metric(MODULE_NAMES[row["module"]], percent(row["accuracy"]))
        col.caption(f"accuracy on {row['covered']}/{row['total']} images")
    failed = int((frame["error"] != "").sum())
    cols[-1].metric("failed images", failed)
    shown = percent_columns(scores, analysis.ACCURACY_COLUMNS)
    st.table(friendly_columns(shown).set_index("module"))  # static and the page's width: no column cut off
    left, right = st.columns([2, 3])
    left.plotly_chart(plots.accuracy_figure(dict(zip(scores["module"], scores["accuracy"]))), key="acc_bars")
    with right:
        download(scores, "accuracy", "accuracy", "acc")
        download(frame, "results", "results", "results")


def calibration(frame: pd.DataFrame) -> None:
    """Reliability diagram and calibration figures per module."""
    calibration_table, reliability_tables = calibration_view.frame_calibration(frame)
    if reliability_tables:
        st.header("Calibration: do the probabilities mean what they say?")
        left, right = st.columns([3, 2])
        left.plotly_chart(plots.reliability_figure(reliability_tables), key="reliability")
        percent_dataframe(calibration_table, analysis.ACCURACY_COLUMNS)
        right.caption(
            "Each point is a tenth of confidence (say 80-90 %): how often the module was right when it said "
            "that much. On the dotted line, a probability means what it says. ECE is the average gap, "
            "weighted by how many images fall in each bin; lower NLL and Brier are better."
        )


def confusion(frame: pd.DataFrame, modules: list[str]) -> str:
    """Confusion matrices with drill-down; returns the typed images folder ('' when none)."""
    st.header("Confusion matrices")
    st.caption("Click a cell to list its images (or pick the cell below).")
    images_dir = st.text_input(
        "Folder of the images (optional: thumbnails and drill-down into Analyze)", key="eval_images_dir"
    )
    tabs = st.tabs([MODULE_NAMES[m] for m in modules])
    for tab, module in zip(tabs, modules):
        with tab:
            chart, listing = st.columns([2, 3])
            event = chart.plotly_chart(
                plots.confusion_figure(analysis.confusion(frame, module), MODULE_NAMES[module]),
                on_select="rerun",
                selection_mode="points",
                key=f"cm_{module}",
            )
            cells = [(a, p) for a in CLASSES for p in CLASSES]
            selection: dict = dict(event or {}).get("selection") or {}
            points = selection.get("points", [])
            picked = tuple(points[0]["customdata"]) if points and points[0].get("customdata") else None
            default = cells.index(picked) if picked in cells else 1
            actual, predicted = listing.selectbox(
                "Cell (actual → predicted)",
                cells,
                index=default,
                format_func=lambda c: f"{c[0]} → {c[1]}",
                key=f"cell_{module}",
            )
            images = analysis.cell(frame, module, actual, predicted)
            listing.markdown(
                f"**{counted(len(images), 'image')}**: actual {actual}, {MODULE_NAMES[module]} predicted {predicted}"
            )
            with listing:
                image_table(
                    images,
                    260,
                    f"{MODULE_NAMES[module]}: {actual} → {predicted}",
                    f"{module} {actual} as {predicted}",
                    f"cell_{module}",
                )
    return images_dir


def disagreement(frame: pd.DataFrame) -> None:
    """Where the modules disagree: fixes and breaks between each pair."""
    st.header("Where the modules disagree")
    moves = analysis.transitions(frame)
    if moves.empty:
        st.caption("Only one module has predictions: nothing to compare.")
    else:
        st.dataframe(friendly_columns(moves), hide_index=True)
        download(moves, "fixes and breaks", "fixes and breaks", "moves")
        c1, c2 = st.columns(2)
        pair = c1.selectbox(
            "Pair",
            range(len(moves)),
            key="pair",
            format_func=lambda i: " → ".join(MODULE_NAMES[moves.iloc[i][k]] for k in ("from", "to")),
        )
        kind = c2.radio("Images", [runs_compare.FIXED, runs_compare.BROKEN], horizontal=True, key="kind")
        a, b = moves.iloc[pair]["from"], moves.iloc[pair]["to"]
        changed = analysis.changed(frame, a, b, kind)
        st.markdown(f"**{counted(len(changed), 'image')} {kind}** going from {MODULE_NAMES[a]} to {MODULE_NAMES[b]}")
        image_table(
            changed,
            240,
            f"images {kind} going from {MODULE_NAMES[a]} to {MODULE_NAMES[b]}",
            f"{kind} {a} to {b}",
            "changed",
        )
        table = analysis.disagreements(frame)
        if table.empty:
            st.caption("The modules agree on every image.")
        else:
            with st.expander(f"Every image where the modules disagree ({len(table)})"):
                image_table(table, 300, "disagreements", "disagreements", "disagree")


def label_errors(results: LoadedResults, modules: list[str]) -> None:
    """Labels that push images to the wrong class, in the network that made the results."""
    frame = results.frame
    st.header("Labels that push images to the wrong class")
    label_modules: list[str] = [m for m in ("top_down", "fused") if m in modules]
    c1, c2 = st.columns([1, 2])
    module = str(c1.selectbox("Errors of", label_modules, key="label_module", format_func=lambda m: MODULE_NAMES[m]))
    min_images = c1.slider("Min. wrong images with the label", 1, 30, 5, key="min_images")
    try:
        label_table = label_analysis.label_errors(frame, state.network(results.mode), module, min_images)
    except GerecError as exc:
        st.error(state.error_text(exc))
        label_table = pd.DataFrame()
    c2.caption(
        "push = the label's log-likelihood for the wrongly predicted class minus that for the true class "
        "(its contribution, in the network used); total push = sum of positive pushes over wrong images; "
        "error rate = the share of the images with the label that "
        f"{MODULE_NAMES[module]} got wrong; favours = the class the label pushes towards most."
    )
    if label_table.empty:
        c2.info("No label occurs in enough wrongly classified images.")
    else:  # the page's width, under the controls: in the right-hand column its last columns were cut off
        percent_dataframe(
            label_table,
            [label_analysis.ERROR_RATE],
            whole=["label"],
            headers=label_analysis.LABEL_ERROR_HEADERS,
            height=320,
        )
        download(label_table, f"label errors of {MODULE_NAMES[module]}", f"label errors {module}", "labels")


THUMBNAILS = 12
"""Wrongly classified images shown as thumbnails under Error analysis."""
THUMBNAILS_PER_ROW = 4
"""Four to a row: about 125 px each in a 1024 px window (six were 75 px, too small to see a face, and broke
their captions inside the file name)."""


def thumbnail_caption(name: str, actual: str, predicted: str) -> str:
    """A wrong image's caption: its name, its true class and the module's answer.

    >>> thumbnail_caption("pos_12.jpg", "Positive", "Neutral")
    'pos_12.jpg: Positive → Neutral'
    """
    return f"{name}: {actual} → {predicted}"


def images(frame: pd.DataFrame, modules: list[str], images_dir: str) -> None:
    """Thumbnails of wrong images and the drill-down into Analyze, when a folder is given."""
    typed = images_dir.strip()
    if typed:
        st.header("Images")
        try:
            folder = paths.confined_dir(typed)
        except GerecError as exc:
            st.warning(state.error_text(exc))
        else:
            found = [name for name in frame["image"] if paths.is_child_file(folder, name)]
            by_image = frame.set_index("image")  # once, not twice per image
            wrong = [n for n in found if by_image.loc[n, modules[-1]] != by_image.loc[n, "actual"]]
            shown = wrong[:THUMBNAILS]
            module = MODULE_NAMES[modules[-1]]
            below = f" Below, {len(shown)} of the {len(wrong)} that {module} got wrong (true class → {module}'s)."
            st.caption(f"{len(found)} of {len(frame)} images found in {folder}." + (below if wrong else ""))
            thumbs = st.columns(THUMBNAILS_PER_ROW)
            for i, name in enumerate(shown):
                caption = thumbnail_caption(name, by_image.loc[name, "actual"], by_image.loc[name, modules[-1]])
                thumbs[i % THUMBNAILS_PER_ROW].image(
                    str(paths.child_file(folder, name)), caption=caption, width="stretch"
                )
            if found:
                pick = st.selectbox("Image to open in Analyze", found, key="drill")
                if st.button("Open in Analyze", key="drill_open"):
                    st.session_state[ANALYZE_PATH] = str(paths.child_file(folder, pick))
                    st.switch_page(PAGES["analyze"])
