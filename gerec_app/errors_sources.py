"""Where the Error analysis page's results come from (streamlit calls): a label-only run, a saved
OUT.csv, or a stored run, which can be compared with a second one.

Every source yields an OUT.csv-shaped table (see :mod:`gerec_app.results_table`); a further source (e.g.
another store) only needs an entry in :data:`SOURCES` that returns :class:`LoadedResults`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from gerec.bn import MODES
from gerec.config import data_dir
from gerec.errors import GerecError
from gerec.formatting import NO_VALUE_SCREEN, sentence
from gerec.provenance import in_sample_warning, parse_sidecar, read_sidecar, run_provenance, stored_run_in_sample
from gerec_app import paths, results_table, run_comparison, settings, state
from gerec_app.errors_view import download
from gerec_app.handoff import LOADED_RESULTS, LoadedResults
from gerec_app.render import friendly_columns, percent_columns

if TYPE_CHECKING:
    from gerec.runs.rows import RunInfo

GAF = data_dir() / "gaf3"


def _default(path: Path) -> str:
    return str(path) if path.is_file() else ""


RUN_MADE_BY = "Error analysis page (label-only run)"
"""The ``made_by`` of this page's runs, in their provenance."""


def _warned_below(note: str) -> bool:
    """Whether the results on the page already carry this in-sample warning, whatever their source
    (this page's run, a saved OUT.csv or a stored run of the same network on the same labels)."""
    shown = st.session_state.get(LOADED_RESULTS)
    made = shown.provenance if isinstance(shown, LoadedResults) else None
    warning = in_sample_warning(made) if made else None
    return warning is not None and sentence(warning) == note


def run_source(s: settings.Settings) -> LoadedResults | None:
    """A label-only evaluation run from this page, its progress in a status box."""
    from gerec.evaluation import read_cnn_predictions
    from gerec.scene.simple import read_label_file

    c1, c2, c3 = st.columns([3, 3, 2])  # the network box read "tun" at [3, 3, 1] in a 1024 px window
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
    note = results_table.in_sample_note(mode, labels_path) if labels_path else None
    note_slot = st.empty()  # above the button; left empty when the results below carry the same warning
    if not st.button("Run evaluation", type="primary", key="eval_run"):
        if note and not _warned_below(note):
            note_slot.warning(note)
        return None
    labels = read_label_file(labels_path.strip())
    cnn = read_cnn_predictions(cnn_path.strip()) if cnn_path.strip() else {}
    rows = []
    total = max(len(labels), 1)
    with st.status(f"Evaluating {len(labels)} images ({mode} network)…", expanded=True) as status:
        bar = st.progress(0.0, text="evaluating…")
        for i, row in enumerate(results_table.label_only_rows(labels, cnn, mode, state.network(mode))):
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
        made_by=RUN_MADE_BY,
    )
    return LoadedResults(results_table.to_frame(rows), source, mode, made)


def csv_source(s: settings.Settings) -> LoadedResults | None:
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
    picked = results_table.pick_upload(names)
    ids = tuple(u.file_id for u in files)
    if picked.csv is None and names:  # a lone OUT.csv.json: it says what made results, and holds none
        st.warning(results_table.lone_sidecar_notice(names))
    if picked.csv is not None and st.session_state.get("eval_loaded") != ids:
        st.session_state["eval_loaded"] = ids
        results, side = files[picked.csv], (files[picked.sidecar] if picked.sidecar is not None else None)
        made = parse_sidecar(side.getvalue(), side.name) if side else None
        frame = results_table.read_results(results.getvalue())
        source = f"uploaded {results.name}" + (f" with {side.name}" if side else "")
        return LoadedResults(frame, source, (made or {}).get("mode", mode), made, picked.notice(names))
    if c2.button("Open", key="eval_open") and path.strip():
        table = paths.confined_file(path, "table")
        made = read_sidecar(table)
        frame = results_table.read_results(table)
        return LoadedResults(frame, table.name, (made or {}).get("mode", mode), made)
    return None


def store_source(s: settings.Settings) -> LoadedResults | None:
    """A run kept by ``evaluate --store``, optionally compared side by side with a second run."""
    from gerec.runs.rows import DAMAGED_ROW
    from gerec.runs.store import RunStore, default_store_path

    path = st.text_input("Run store (SQLite)", value=str(default_store_path()), key="store_path")
    if not Path(path).is_file():
        st.info(f"No run store at {path}: `python -m gerec evaluate ... --store` creates one.")
        return None
    with RunStore(paths.confined_file(path, "store"), readonly=True) as store:
        runs = store.runs()
        if not runs:
            st.info("The store holds no runs yet.")
            return None
        labels = {  # "damaged" and the state early: a long label is cut at the box's width
            r.id: f"{r.id}{' (damaged)' if r.damaged else ''} · {r.state_text()} · {r.mode} · {r.labeler} · "
            f"{r.finished} images ({r.failed} failed)"
            for r in runs
        }
        c1, c2 = st.columns(2)
        ids: list[str] = list(labels)
        run_a = str(c1.selectbox("Run", ids, format_func=lambda k: labels[k], key="store_run"))
        run_b = c2.selectbox(
            "Compare with (optional)",
            ["", *(k for k in labels if k != run_a)],
            format_func=lambda k: labels.get(k, NO_VALUE_SCREEN),
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
        **stored_progress(info),
    }
    return LoadedResults(results_table.store_frame(records), f"stored run {info.id} ({info.dataset})", info.mode, made)


UNKNOWN_STATE_NOTE = (
    "Whether this run finished was not recorded (it was stored by an older gerec): "
    "it may hold only the images done before it stopped."
)


def stored_progress(info: RunInfo) -> dict[str, Any]:
    """How far a stored run got, in the sidecar's fields (so the page warns of an unfinished run as
    it does for an OUT.csv); a run stored before states were kept says so in its notes."""
    if info.complete is None:
        return {"notes": [*info.notes, UNKNOWN_STATE_NOTE]}
    return {"complete": info.complete, "rows": info.finished, "rows_expected": info.expected}


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


SOURCES: dict[str, tuple[str, Callable[[settings.Settings], LoadedResults | None]]] = {
    "run": ("Run a label-only evaluation", run_source),
    "csv": ("Open a saved OUT.csv", csv_source),
    "store": ("Open a stored run", store_source),
}


def load_results(s: settings.Settings) -> LoadedResults | None:
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
