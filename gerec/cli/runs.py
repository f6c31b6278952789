"""``runs list | show RUN | compare RUN_A RUN_B | export RUN --format csv|json``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from gerec.fileio import SafeDictWriter, open_output
from gerec.formatting import percent
from gerec.stopping import stop_signals

if TYPE_CHECKING:
    from gerec.runs.compare import ChangeCounts, RunComparison
    from gerec.runs.rows import RunInfo
    from gerec.runs.store import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``runs`` command group."""
    p = sub.add_parser("runs", help="stored evaluation runs")
    p.add_argument("--store", type=Path, default=None, help="run store (default: the user data folder)")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    verbs.add_parser("list", help="all runs, newest first")
    show = verbs.add_parser("show", help="one run: accuracy first, then settings and model versions")
    show.add_argument("run")
    cmp = verbs.add_parser(
        "compare", help="per module: both runs' accuracy and the answers B changed (counted), then each change"
    )
    cmp.add_argument("run_a")
    cmp.add_argument("run_b")
    for verb in (show, cmp):
        verb.add_argument(
            "--limit",
            type=int,
            default=DEFAULT_LIMIT,
            help=f"lines of detail after the summary (default {DEFAULT_LIMIT}; 0 = all)",
        )
        verb.add_argument("--json", action="store_true", help="everything as one JSON document")
    exp = verbs.add_parser("export", help="a run's predictions")
    exp.add_argument("run")
    exp.add_argument("--format", choices=("csv", "json"), default="csv")
    exp.add_argument("-o", "--out", type=Path, default=None, help="file (default: standard output)")
    p.set_defaults(func=run)


DEFAULT_LIMIT = 20


def _limited(lines: list[str], limit: int) -> list[str]:
    if limit <= 0 or len(lines) <= limit:
        return lines
    return [*lines[:limit], f"… {len(lines) - limit} more (--limit 0 shows all, --json everything)"]


def accuracy_text(value: float) -> str:
    """A module's accuracy as ``runs show`` and ``runs compare`` print it.

    >>> accuracy_text(0.69374), accuracy_text(float("nan"))
    ('69.37 %', '-')
    """
    return percent(value)


def comparison_table(result: RunComparison, counts: ChangeCounts) -> list[str]:
    """Per module (then all modules): both runs' accuracy on their shared images and the answers run B
    changed by verdict, which add up to the row's ``answers changed``."""
    from gerec.runs.compare import ANSWERS_CHANGED, VERDICTS

    def accuracy(by_module: dict[str, float], module: str) -> str:  # "" for all modules
        value = by_module.get(module)
        return "" if value is None else accuracy_text(value)

    lines = [
        f"{result.shared} images in both runs; per module, accuracy on them and the answers B changed "
        "(one answer per image and module):",
        f"  {'module':<12}{'A accuracy':>12}{'B accuracy':>12}"
        + "".join(f"{v:>9}" for v in VERDICTS)
        + f"  {ANSWERS_CHANGED}",
    ]
    for module, by_verdict in counts.by_module.items():
        lines.append(
            f"  {module:<12}{accuracy(result.accuracy_a, module):>12}{accuracy(result.accuracy_b, module):>12}"
            + "".join(f"{by_verdict[v]:>9}" for v in VERDICTS)
            + f"{counts.answers(module):>{len(ANSWERS_CHANGED) + 2}}"
        )
    return lines


def _in_sample_warning(info: RunInfo) -> str:
    """What ``show`` and ``compare`` warn of a run that ran on the labels its network was tuned on."""
    from gerec.provenance import in_sample_text

    return in_sample_text(info.mode, info.params["labels"])


def run(args: argparse.Namespace) -> int:
    """Dispatch the verb to its function in :data:`VERBS`."""
    from gerec.runs.store import RunStore

    with RunStore(args.store, readonly=True) as store:  # never writes, never adds a table
        return VERBS[args.verb](store, args)


def _list(store: RunStore, args: argparse.Namespace) -> int:
    """``runs list``: every run, newest first, with its notes."""
    runs = store.runs()
    print(f"{len(runs)} run(s) in {store.path}")
    for info in runs:
        print(
            f"{info.id}  {info.created}  {info.mode:<9} {info.engine:<5} {info.finished:>6} images "
            f"({info.failed} failed)  {info.state_text()}  labeler={info.labeler}  dataset={info.dataset}"
            + (f"  DAMAGED: {info.damaged}" if info.damaged else "")
        )
        for note in info.notes:
            print(f"    note: {note}")
    return 0


def _show(store: RunStore, args: argparse.Namespace) -> int:
    """``runs show RUN``: accuracy first, then warnings, settings and model versions."""
    from gerec.bn import REFERENCE_FILE
    from gerec.emotion.registry import REGISTRY_FILE
    from gerec.provenance import stored_run_in_sample
    from gerec.runs.compare import module_accuracy
    from gerec.runs.rows import DAMAGED_ROW

    networks = Path(REFERENCE_FILE).stem  # scene_bn.json, scene_bn_tuned.json: listed first by show
    info = store.run(args.run)
    records = store.predictions(info.id)
    acc = module_accuracy(records)
    in_sample = stored_run_in_sample(info.mode, info.params)
    if args.json:
        print(json.dumps({**asdict(info), "accuracy": acc, "in_sample": in_sample}, indent=1))
        return 0
    print(
        f"run {info.id}: {info.finished} images ({info.failed} failed), {info.state_text()}, "
        f"network {info.mode}, labeler {info.labeler}, dataset {info.dataset}"
    )
    print("accuracy: " + "  ".join(f"{m} {accuracy_text(v)}" for m, v in acc.items()))
    for note in info.notes:
        print(f"note: {note}")
    damaged = [r["image"] for r in records if (r["error"] or "").startswith(DAMAGED_ROW)]
    if damaged:
        print(
            f"warning: {len(damaged)} row(s) {DAMAGED_ROW} {store.path}, counted as failed "
            f"(`runs export` gives each reason): {', '.join(_limited(damaged, args.limit))}"
        )
    if in_sample:
        print("warning: " + _in_sample_warning(info))
    print(
        f"created {info.created}, engine {info.engine}; settings: "
        + ", ".join(f"{k}={v}" for k, v in info.params.items() if v)
    )
    first = sorted(info.models, key=lambda n: (not n.startswith(networks), n != REGISTRY_FILE, n))
    models = [f"  {name}  sha256 {str(info.models[name].get('sha256', ''))[:16]}" for name in first]
    print(f"{len(models)} model files (networks and the ensemble registry first):")
    print("\n".join(_limited(models, args.limit)))
    return 0


def _compare(store: RunStore, args: argparse.Namespace) -> int:
    """``runs compare RUN_A RUN_B``: per module, both runs' accuracy and the answers B changed."""
    from gerec.provenance import stored_run_in_sample
    from gerec.runs.compare import compare_runs, count_changes

    a, b = store.run(args.run_a), store.run(args.run_b)
    result = compare_runs(a.id, store.predictions(a.id), b.id, store.predictions(b.id))
    if args.json:
        print(
            json.dumps(
                {
                    "a": asdict(a),
                    "b": asdict(b),
                    "shared": result.shared,
                    "accuracy_a": result.accuracy_a,
                    "accuracy_b": result.accuracy_b,
                    "counts": count_changes(result).to_json(),
                    "changed": result.changed,
                },
                indent=1,
            )
        )
        return 0
    for name, info in (("A", a), ("B", b)):
        print(f"{name} = {info.id} ({info.mode}, {info.labeler}, {info.state_text()})")
    for name, info in (("A", a), ("B", b)):
        for note in info.notes:
            print(f"note ({name}): {note}")
    counts = count_changes(result)
    print("\n".join(comparison_table(result, counts)))
    print(counts.sentence())
    for run in (a, b):
        if stored_run_in_sample(run.mode, run.params):
            print(f"warning: run {run.id}: " + _in_sample_warning(run))
    lines = [
        f"  {c['image']}  {c['module']}: {c['a']} -> {c['b']}  (actual {c['actual']}, {c['verdict']})"
        for c in result.changed
    ]
    if lines:
        print("changed answers (image  module: A -> B):")
        print("\n".join(_limited(lines, args.limit)))
    return 0


def _export(store: RunStore, args: argparse.Namespace) -> int:
    """``runs export RUN``: the run's predictions as CSV or JSON, to a file or standard output."""
    from gerec.runs.records import CSV_COLUMNS, csv_row

    info = store.run(args.run)
    records = store.predictions(info.id)
    # written whole to a temporary file that replaces OUT in one step: a stop or an error
    # mid-write leaves the previous export, never a cut-short one that reads like a whole one
    output = open_output(args.out, "export", atomic=True) if args.out else nullcontext(sys.stdout)
    with stop_signals(), output as handle:
        if args.format == "json":
            json.dump({"run": asdict(info), "predictions": records}, handle, indent=1)
            handle.write("\n")
        else:
            writer = SafeDictWriter(handle, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(csv_row(r) for r in records)
    return 0


VERBS: dict[str, Callable[[RunStore, argparse.Namespace], int]] = {
    "list": _list,
    "show": _show,
    "compare": _compare,
    "export": _export,
}
"""Each ``runs`` verb's function."""
