"""The Error analysis page's sections (streamlit calls), so the page script stays a short outline.

Every source yields an OUT.csv-shaped table (see :mod:`gerec_app.analysis`); a further source (e.g.
another store) only needs an entry in :data:`SOURCES` that returns :class:`LoadedResults`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from gerec.bn import MODES
from gerec.classes import CLASSES
from gerec.config import data_dir
from gerec.errors import GerecError
from gerec.provenance import (
    completeness_warning,
    in_sample_warning,
    parse_sidecar,
    read_sidecar,
    run_provenance,
    stored_run_in_sample,
)
from gerec.provenance import summary as provenance_summary
from gerec_app import PAGES, analysis, calibration_view, paths, plots, run_comparison, state
from gerec_app.handoff import ANALYZE_PATH, LOADED_RESULTS, LoadedResults
from gerec_app.render import (
    MODULE_NAMES,
    PERCENT_FORMAT,
    friendly_columns,
    percent,
    percent_columns,
    percent_points,
)

GAF = data_dir() / "gaf3"


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


def percent_dataframe(table: pd.DataFrame, columns: Sequence[str], **kwargs: Any) -> None:
    """``table`` as a sortable ``st.dataframe`` whose fraction ``columns`` read as accuracy does
    everywhere (``69.37 %``, :data:`PERCENT_FORMAT`) and still sort as numbers (text would sort
    ``9.50 %`` above ``10.00 %``)."""
    config = {c: st.column_config.NumberColumn(format=PERCENT_FORMAT) for c in columns if c in table.columns}
    st.dataframe(percent_points(table, columns), column_config=config, hide_index=True, **kwargs)


def _default(path: Path) -> str:
    return str(path) if path.is_file() else ""


def run_source(s: state.Settings) -> LoadedResults | None:
    """A label-only evaluation run from this page, its progress in a status box."""
    from gerec.evaluation import read_cnn_predictions
    from gerec.scene.simple import read_label_file

    c1, c2, c3 = st.columns([3, 3, 1])
    labels_path = c1.text_input(
        "Labels JSON {image: [labels]} (class from the name prefix pos_/neu_/neg_)",
        value=_default(GAF / "val_labels_dev.json"),
        key="eval_labels",
    )
    cnn_path = c2.text_input(
        "CNN predictions CSV image,faces_detected,cnn (optional, for fused)",
        value=_default(GAF / "reference_cnn_val_dev.csv"),
        key="eval_cnn",
    )
    mode = c3.selectbox("Network", MODES, index=MODES.index(s.mode), key="eval_mode")
    labels_path = str(paths.confined_file(labels_path, "labels")) if labels_path.strip() else ""
    cnn_path = str(paths.confined_file(cnn_path, "table")) if cnn_path.strip() else ""
    note = analysis.in_sample_note(mode, labels_path) if labels_path else None
    if note:
        st.warning(note)
    if not st.button("Run evaluation", type="primary", key="eval_run"):
        return None
    labels = read_label_file(labels_path.strip())
    cnn = read_cnn_predictions(cnn_path.strip()) if cnn_path.strip() else {}
    rows = []
    total = max(len(labels), 1)
    with st.status(f"Evaluating {len(labels)} images ({mode} network)…", expanded=True) as status:
        bar = st.progress(0.0, text="evaluating…")
        for i, row in enumerate(analysis.label_only_rows(labels, cnn, mode, state.network(mode))):
            rows.append(row)
            if i % 100 == 0:
                bar.progress(min(i / total, 1.0), text=f"evaluating… {i} images")
        bar.progress(1.0, text=f"done: {len(rows)} images")
        status.update(label=f"Evaluated {len(rows)} images ({mode} network)", state="complete", expanded=False)
    source = f"label-only run on {Path(labels_path).name}" + (f" with {Path(cnn_path).name}" if cnn else "")
    made = run_provenance(
        mode,
        labels=labels_path.strip(),
        cnn_predictions=cnn_path.strip() or None,
        made_by="Error analysis page (label-only run)",
    )
    return LoadedResults(analysis.to_frame(rows), source, mode, made)


def csv_source(s: state.Settings) -> LoadedResults | None:
    """A saved OUT.csv (with its OUT.csv.json, which records what made it): uploaded or by path."""
    c1, c2 = st.columns(2)
    uploads = c1.file_uploader(
        "OUT.csv, and its OUT.csv.json if you have it",
        type=["csv", "json"],
        accept_multiple_files=True,
        key="eval_upload",
    )
    path = c2.text_input("…or its path", key="eval_path")
    mode = c2.selectbox(
        "Network used, when the file does not say (for per-label analysis)",
        MODES,
        index=MODES.index(s.mode),
        key="csv_mode",
    )
    files = list(uploads or [])
    names = [u.name for u in files]
    picked = analysis.pick_upload(names)
    ids = tuple(u.file_id for u in files)
    if picked.csv is not None and st.session_state.get("eval_loaded") != ids:
        st.session_state["eval_loaded"] = ids
        results, side = files[picked.csv], (files[picked.sidecar] if picked.sidecar is not None else None)
        made = parse_sidecar(side.getvalue(), side.name) if side else None
        frame = analysis.read_results(results.getvalue())
        source = f"uploaded {results.name}" + (f" with {side.name}" if side else "")
        return LoadedResults(frame, source, (made or {}).get("mode", mode), made, picked.notice(names))
    if c2.button("Open", key="eval_open") and path.strip():
        table = paths.confined_file(path, "table")
        made = read_sidecar(table)
        frame = analysis.read_results(table)
        return LoadedResults(frame, table.name, (made or {}).get("mode", mode), made)
    return None


def store_source(s: state.Settings) -> LoadedResults | None:
    """A run kept by ``evaluate --store``, optionally compared side by side with a second run."""
    from gerec.runs.store import DAMAGED_ROW, RunStore, default_store_path

    path = st.text_input("Run store (SQLite)", value=str(default_store_path()), key="store_path")
    if not Path(path).is_file():
        st.info(f"No run store at {path}: `python -m gerec evaluate ... --store` creates one.")
        return None
    with RunStore(paths.confined_file(path, "store"), readonly=True) as store:
        runs = store.runs()
        if not runs:
            st.info("The store holds no runs yet.")
            return None
        labels = {  # "damaged" early: a long label is cut at the box's width
            r.id: f"{r.id}{' (damaged)' if r.damaged else ''} · {r.mode} · {r.labeler} · "
            f"{r.finished} images ({r.failed} failed)"
            for r in runs
        }
        c1, c2 = st.columns(2)
        ids: list[str] = list(labels)
        run_a = str(c1.selectbox("Run", ids, format_func=lambda k: labels[k], key="store_run"))
        run_b = c2.selectbox(
            "Compare with (optional)",
            ["", *(k for k in labels if k != run_a)],
            format_func=lambda k: labels.get(k, "-"),
            key="store_run_b",
        )
        info = store.run(run_a)
        records = store.predictions(info.id)
        damaged = [r["image"] for r in records if (r["error"] or "").startswith(DAMAGED_ROW)]
        if damaged:
            st.warning(
                f"{len(damaged)} row(s) of run {info.id} are {DAMAGED_ROW} and count as failed images "
                f"(the error column says what is damaged): {', '.join(damaged[:10])}"
                + (f" and {len(damaged) - 10} more" if len(damaged) > 10 else "")
            )
        if run_b:
            compare_runs_section(store, info.id, records, run_b, labels)
    made = {
        "made_by": f"python -m gerec evaluate --store (run {info.id})",
        "created": info.created,
        "mode": info.mode,
        "kind": info.dataset,
        "models": info.models,
        "labels_file": {"path": info.params["labels"]} if info.params.get("labels") else None,
        "in_sample": stored_run_in_sample(info.mode, info.params),
        "notes": list(info.notes),
    }
    return LoadedResults(analysis.store_frame(records), f"stored run {info.id} ({info.dataset})", info.mode, made)


def compare_runs_section(store, run_a: str, records_a: list, run_b: str, run_labels: dict[str, str]) -> None:  # noqa: ANN001 - a RunStore
    """Accuracy of both runs side by side, how many answers changed per module, and each changed answer."""
    from gerec.runs.compare import compare_runs, count_changes

    result = compare_runs(run_a, records_a, run_b, store.predictions(run_b))
    counts = count_changes(result)  # the figures `gerec runs compare` prints
    st.subheader(f"Run comparison on {result.shared} shared images")
    st.caption(f"Run A = {run_labels[run_a]}; Run B = {run_labels[run_b]}")
    summary = run_comparison.summary(result, counts)
    st.table(friendly_columns(percent_columns(summary, run_comparison.ACCURACY_COLUMNS)).set_index("module"))
    st.markdown(counts.sentence())
    changes = run_comparison.changes(result)
    st.dataframe(friendly_columns(run_comparison.changes_for_people(changes)), hide_index=True, height=240)
    download(changes, "changed answers, run A vs run B", f"changes {run_a} vs {run_b}", "run_changes")


SOURCES: dict[str, tuple[str, Callable[[state.Settings], LoadedResults | None]]] = {
    "run": ("Run a label-only evaluation", run_source),
    "csv": ("Open a saved OUT.csv", csv_source),
    "store": ("Open a stored run", store_source),
}


def load_results(s: state.Settings) -> LoadedResults | None:
    """The source picker; the results loaded now or earlier in the session (cleared by a bad file)."""
    choice = st.radio(
        "Results from", list(SOURCES), format_func=lambda k: SOURCES[k][0], horizontal=True, key="eval_source"
    )
    try:
        loaded = SOURCES[choice][1](s)
    except GerecError as exc:
        st.error(state.error_text(exc))
        st.session_state.pop(LOADED_RESULTS, None)  # old results must not stay on screen under the error
        loaded = None
    if loaded is not None:
        st.session_state[LOADED_RESULTS] = loaded
    return st.session_state.get(LOADED_RESULTS)


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
        st.warning(warning[0].upper() + warning[1:] + ".", icon=":material/warning:")
    if made and (unfinished := completeness_warning(made, len(frame))):
        st.warning(unfinished[0].upper() + unfinished[1:] + ".", icon=":material/warning:")
    if results.notice:
        st.warning(results.notice, icon=":material/warning:")
    if made and made.get("notes"):  # e.g. the scene labels of some photos came from a fallback labeler
        st.info("Notes of this run:\n" + "".join(f"\n- {note}" for note in made["notes"]), icon=":material/info:")
    if made:
        with st.expander("What made these results"):
            st.table(pd.DataFrame(list(provenance_summary(made).items()), columns=["", "value"]))
    scores = analysis.scores(frame)
    cols = st.columns(len(modules) + 1)
    for col, (_, row) in zip(cols, scores.iterrows()):
        col.metric(f"{MODULE_NAMES[row['module']]} accuracy", percent(row["accuracy"]))
        col.caption(f"on {row['covered']}/{row['total']} images")
    failed = int((frame["error"] != "").sum())
    cols[-1].metric("failed images", failed)
    left, right = st.columns([2, 3])
    left.plotly_chart(plots.accuracy_figure(dict(zip(scores["module"], scores["accuracy"]))), key="acc_bars")
    shown = percent_columns(scores, analysis.ACCURACY_COLUMNS)
    right.table(friendly_columns(shown).set_index("module"))  # static: no column cut off
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
            listing.markdown(f"**{len(images)} images**: actual {actual}, {MODULE_NAMES[module]} predicted {predicted}")
            listing.dataframe(friendly_columns(images), hide_index=True, height=260)
            with listing:
                download(
                    images,
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
        kind = c2.radio("Images", ["fixed", "broken"], horizontal=True, key="kind")
        a, b = moves.iloc[pair]["from"], moves.iloc[pair]["to"]
        changed = analysis.changed(frame, a, b, kind)
        st.markdown(f"**{len(changed)} images {kind}** going from {MODULE_NAMES[a]} to {MODULE_NAMES[b]}")
        st.dataframe(friendly_columns(changed), hide_index=True, height=240)
        download(
            changed, f"images {kind} going from {MODULE_NAMES[a]} to {MODULE_NAMES[b]}", f"{kind} {a} to {b}", "changed"
        )
        with st.expander("Every image where the modules disagree"):
            table = analysis.disagreements(frame)
            st.dataframe(friendly_columns(table), hide_index=True, height=300)
            download(table, "disagreements", "disagreements", "disagree")


def label_errors(results: LoadedResults, modules: list[str]) -> None:
    """Labels that push images to the wrong class, in the network that made the results."""
    frame = results.frame
    st.header("Labels that push images to the wrong class")
    label_modules: list[str] = [m for m in ("top_down", "fused") if m in modules]
    c1, c2 = st.columns([1, 2])
    module = str(c1.selectbox("Errors of", label_modules, key="label_module", format_func=lambda m: MODULE_NAMES[m]))
    min_images = c1.slider("Min. wrong images with the label", 1, 30, 5, key="min_images")
    try:
        label_table = analysis.label_errors(frame, state.network(results.mode), module, min_images)
    except GerecError as exc:
        st.error(state.error_text(exc))
        label_table = pd.DataFrame()
    c2.caption(
        "push = the label's log-likelihood for the wrongly predicted class minus that for the true class "
        "(its contribution, in the network used); total = sum of positive pushes over wrong images; "
        f"{analysis.ERROR_RATE} = the share of the images with the label that "
        f"{MODULE_NAMES[module]} got wrong; favours = the class the label pushes towards most."
    )
    if label_table.empty:
        c2.info("No label occurs in enough wrongly classified images.")
    else:  # the page's width, under the controls: in the right-hand column its last columns were cut off
        percent_dataframe(label_table, [analysis.ERROR_RATE], height=320)
        download(label_table, f"label errors of {MODULE_NAMES[module]}", f"label errors {module}", "labels")


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
            st.caption(f"{len(found)} of {len(frame)} images found in {folder}")
            wrong = [
                n
                for n in found
                if frame.set_index("image").loc[n, modules[-1]] != frame.set_index("image").loc[n, "actual"]
            ]
            thumbs = st.columns(6)
            for i, name in enumerate(wrong[:12]):
                thumbs[i % 6].image(str(paths.child_file(folder, name)), caption=name, width=120)
            if found:
                pick = st.selectbox("Image to open in Analyze", found, key="drill")
                if st.button("Open in Analyze", key="drill_open"):
                    st.session_state[ANALYZE_PATH] = str(paths.child_file(folder, pick))
                    st.switch_page(PAGES["analyze"])
