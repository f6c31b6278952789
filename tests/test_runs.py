"""The run store: interrupted runs resume with nothing lost or duplicated; compare; Ray = local."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from gerec.runs.compare import compare_runs
from gerec.runs.owner import ALIVE
from gerec.runs.records import failed_record
from gerec.runs.rows import RunInfo
from gerec.runs.store import RunStore


def gerec_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "gerec", *args]


@pytest.fixture(scope="module")
def class_folders(photos_dir, tmp_path_factory) -> Path:
    """The 15 real group photos in class-named folders (the folder gives the true class), plus a corrupt one."""
    root = tmp_path_factory.mktemp("photos")
    for photo in sorted(photos_dir.glob("*.jpg")):
        name = photo.name
        cls = (
            "Positive"
            if "happy" in name or name.startswith("pos_")
            else ("Negative" if "sad" in name or "negative" in name else "Neutral")
        )
        (root / cls).mkdir(exist_ok=True)
        (root / cls / name).symlink_to(photo)
    (root / "Negative" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def _prediction(**changes: object) -> dict[str, object]:
    """A stored prediction of pos_1.jpg (true class Positive; no face, so no bottom-up answer; top-down
    and fused Neutral, no probabilities), with ``changes``."""
    return {
        "image": "pos_1.jpg",
        "actual": "Positive",
        "bottom_up": None,
        "top_down": "Neutral",
        "fused": "Neutral",
        "probs": {},
        "faces": [],
        "labeler": "cached",
        "labels_used": ["smile"],
        "labels_ignored": [],
        "timings": {},
        "error": None,
        **changes,
    }


def test_store_round_trip_and_compare(tmp_path):
    with RunStore(tmp_path / "runs.sqlite") as store:
        a = store.create_run("set", "reference", "cached", {"scene_bn.json": {"sha256": "x"}})
        b = store.create_run("set", "tuned", "cached", {})
        rec = _prediction(probs={"top_down": [0.2, 0.5, 0.3]})
        store.add_prediction(a, rec)
        store.add_prediction(a, rec)  # the same image again replaces, never duplicates
        store.add_prediction(b, {**rec, "top_down": "Positive", "fused": "Positive"})
        store.add_prediction(b, failed_record("neg_2.jpg", "Negative", "InvalidImage: corrupt"))
        assert store.finished_images(a) == {"pos_1.jpg"}
        unique = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y) + 1  # ids made in one second share more
        assert store.run(b[:unique]).failed == 1 and store.run(b).finished == 2  # a unique prefix is enough
        assert store.predictions(a)[0]["probs"]["top_down"] == [0.2, 0.5, 0.3]
        result = compare_runs(a, store.predictions(a), b, store.predictions(b))
    assert result.shared == 1
    assert {(c["module"], c["verdict"]) for c in result.changed} == {("top_down", "fixed"), ("fused", "fixed")}
    assert result.accuracy_a["fused"] == 0.0 and result.accuracy_b["fused"] == 1.0
    from gerec.runs.compare import count_changes

    counts = count_changes(result)  # two answers of one image changed
    assert (counts.images, counts.answers(), counts.answers("fused")) == (1, 2, 1)
    assert counts.by_module["all modules"] == {"fixed": 2, "broken": 0, "changed": 0}


def test_changed_answers_are_counted_by_module_and_verdict_and_add_up():
    """The one count of a comparison (the CLI's and the page's): each module's verdicts add up to its
    answers, the modules' to all modules', and the images are counted apart (an image has one answer
    per module)."""
    import doctest

    import gerec.runs.compare
    from gerec.runs.compare import RunComparison, count_changes, verdict

    def change(image: str, module: str, a: str, b: str, actual: str | None) -> dict[str, object]:
        return {"image": image, "actual": actual, "module": module, "a": a, "b": b, "verdict": verdict(actual, a, b)}

    changed = [
        change("pos_1.jpg", "top_down", "Neutral", "Positive", "Positive"),
        change("pos_1.jpg", "fused", "Neutral", "Positive", "Positive"),
        change("neg_1.jpg", "fused", "Negative", "Neutral", "Negative"),
        change("neu_1.jpg", "bottom_up", "Positive", "Negative", "Neutral"),
        change("x.jpg", "top_down", "Positive", "Negative", None),  # true class unknown: neither right
    ]
    result = RunComparison("A", "B", 6, {}, {}, changed)
    counts = count_changes(result)
    assert counts.by_module == {
        "bottom_up": {"fixed": 0, "broken": 0, "changed": 1},
        "top_down": {"fixed": 1, "broken": 0, "changed": 1},
        "fused": {"fixed": 1, "broken": 1, "changed": 0},
        "all modules": {"fixed": 2, "broken": 1, "changed": 2},
    }
    assert [counts.answers(m) for m in counts.by_module] == [1, 2, 2, 5] and counts.images == 4
    assert counts.sentence().startswith("5 answers changed on 4 of 6 images")
    assert counts.to_json()["answers"]["all modules"]["answers"] == 5
    assert doctest.testmod(gerec.runs.compare).failed == 0


def test_a_module_without_answers_reads_alike_in_runs_show_and_runs_compare(tmp_path, capsys):
    """No photo had a face, so bottom-up has no accuracy: ``runs show`` printed ``bottom_up    -   %``
    where ``runs compare`` printed ``-``. Both print every accuracy by one helper."""
    import doctest

    import gerec.cli.runs
    from gerec.cli import main

    db = tmp_path / "runs.sqlite"
    rec = _prediction(top_down="Positive")
    with RunStore(db) as store:
        a = store.create_run("set", "reference", "cached", {})
        b = store.create_run("set", "tuned", "cached", {})
        store.add_prediction(a, rec)
        store.add_prediction(b, {**rec, "fused": "Positive"})
    expected = {"bottom_up": "-", "top_down": "100.00 %", "fused": "0.00 %"}
    assert main(["runs", "--store", str(db), "show", a]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert "accuracy: " + "  ".join(f"{m} {text}" for m, text in expected.items()) in shown
    assert main(["runs", "--store", str(db), "compare", a, b]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")}
    assert {m: rows[m][14:26].strip() for m in expected} == expected  # the A accuracy column
    assert rows["bottom_up"][26:38].strip() == "-" and rows["fused"][26:38].strip() == "100.00 %"
    assert doctest.testmod(gerec.cli.runs).attempted >= 1 and doctest.testmod(gerec.cli.runs).failed == 0


def test_runs_show_and_compare_warn_of_an_in_sample_run(tmp_path, capsys):
    """A tuned run on the labels its network was tuned on: ``show`` and ``compare`` warn with the
    same words, naming the labels file; a run on other labels gets no warning."""
    from gerec.cli import main
    from gerec.provenance import tuned_on_sha256

    db = tmp_path / "runs.sqlite"
    rec = _prediction(top_down="Positive")
    tuned_on = {"labels": "/data/val_labels_dev.json", "labels_sha256": tuned_on_sha256("tuned")}
    with RunStore(db) as store:
        a = store.create_run("set", "tuned", "cached", {}, params=tuned_on)
        b = store.create_run("set", "tuned", "cached", {}, params={**tuned_on, "labels_sha256": "other"})
        store.add_prediction(a, rec)
        store.add_prediction(b, rec)
    warning = "in-sample: the tuned network was tuned on val_labels_dev.json, so accuracy on it is optimistic"
    assert main(["runs", "--store", str(db), "show", a]) == 0
    assert any(line.startswith("warning: " + warning) for line in capsys.readouterr().out.splitlines())
    assert main(["runs", "--store", str(db), "show", b]) == 0
    assert "in-sample" not in capsys.readouterr().out
    assert main(["runs", "--store", str(db), "compare", a, b]) == 0
    warned = [line for line in capsys.readouterr().out.splitlines() if "in-sample" in line]
    assert [line[: len(f"warning: run {a}: ") + len(warning)] for line in warned] == [f"warning: run {a}: {warning}"]


def test_killed_run_resumes_with_nothing_lost_or_duplicated(class_folders, tmp_path):
    db, out = tmp_path / "runs.sqlite", tmp_path / "out.csv"
    cmd = gerec_cmd(
        "evaluate",
        "--images",
        str(class_folders),
        "--out",
        str(out),
        "--store",
        str(db),
        "--mode",
        "reference",
        "--labeler",
        "offline",
    )
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 300
    stored = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if db.exists():
            try:
                with sqlite3.connect(db) as con:
                    stored = con.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
            except sqlite3.OperationalError:
                continue
            if stored >= 3:
                break
    assert proc.poll() is None, "the run finished before it could be interrupted"
    with RunStore(db, readonly=True) as store:
        [running] = store.runs()
    assert running.owner is not None
    assert (running.owner.pid, running.liveness) == (proc.pid, ALIVE)
    assert running.state_text().startswith(f"running (process {proc.pid}), ")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with RunStore(db) as store:
        [info] = store.runs()
        kept = store.finished_images(info.id)
    assert 3 <= len(kept) < 16
    # before, the store could not tell: 'unfinished (still running, or killed) after N of 16 images'
    assert info.state_text() == f"stopped without a word (killed?) after {len(kept)} of 16 images"
    listing = subprocess.run(gerec_cmd("runs", "--store", str(db), "list"), capture_output=True, text=True)
    assert f"stopped without a word (killed?) after {len(kept)} of 16 images  labeler=offline" in listing.stdout
    resumed = subprocess.run(
        gerec_cmd(
            "evaluate",
            "--images",
            str(class_folders),
            "--out",
            str(out),
            "--store",
            str(db),
            "--resume",
            info.id,
            "--mode",
            "reference",
            "--labeler",
            "offline",
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 1, resumed.stderr  # broken.jpg failed
    with RunStore(db) as store:
        records = store.predictions(info.id)
        resumed_info = store.run(info.id)
    assert resumed_info.state_text() == "complete"  # broken.jpg failed, and was evaluated
    assert resumed_info.owner is not None
    assert resumed_info.owner.pid not in (proc.pid, os.getpid())  # the resume took it over
    names = [r["image"] for r in records]
    assert len(names) == len(set(names)) == 16
    assert kept <= set(names)
    broken = next(r for r in records if r["image"] == "Negative/broken.jpg")
    assert broken["error"].startswith("InvalidImage") and broken["fused"] is None
    rows = list(csv.DictReader(out.open()))
    assert sorted(r["image"] for r in rows) == sorted(names)
    assert "16 images, 1 failed" in resumed.stdout


def test_runs_cli_list_show_compare_export(gaf_dir, tmp_path):
    db = tmp_path / "runs.sqlite"
    for mode in ("reference", "tuned"):
        proc = subprocess.run(
            gerec_cmd(
                "evaluate",
                "--labels",
                str(gaf_dir / "val_labels_dev.json"),
                "--cnn-predictions",
                str(gaf_dir / "reference_cnn_val_dev.csv"),
                "--mode",
                mode,
                "--out",
                str(tmp_path / f"{mode}.csv"),
                "--store",
                str(db),
            ),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
    listing = subprocess.run(gerec_cmd("runs", "--store", str(db), "list"), capture_output=True, text=True)
    assert "2 run(s)" in listing.stdout
    with RunStore(db) as store:
        tuned, reference = (r.id for r in store.runs())
    shown = subprocess.run(gerec_cmd("runs", "--store", str(db), "show", reference), capture_output=True, text=True)
    assert "network reference" in shown.stdout and "scene_bn.json" in shown.stdout and "fused" in shown.stdout
    cmp = subprocess.run(
        gerec_cmd("runs", "--store", str(db), "compare", reference, tuned), capture_output=True, text=True
    )
    assert cmp.returncode == 0, cmp.stderr
    assert "2172 images in both runs" in cmp.stdout and " answers changed on " in cmp.stdout
    exported = subprocess.run(
        gerec_cmd("runs", "--store", str(db), "export", tuned, "--format", "json"), capture_output=True, text=True
    )
    data = json.loads(exported.stdout)
    assert len(data["predictions"]) == 2172 and data["run"]["mode"] == "tuned"
    missing = subprocess.run(gerec_cmd("runs", "--store", str(db), "show", "nope"), capture_output=True, text=True)
    assert missing.returncode == 2 and "no run matching" in missing.stderr


@pytest.mark.slow
def test_ray_and_local_give_the_same_results(class_folders, tmp_path):
    results = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.csv"
        proc = subprocess.run(
            gerec_cmd(
                "evaluate",
                "--images",
                str(class_folders),
                "--out",
                str(out),
                "--engine",
                engine,
                "--workers",
                "2",
                "--labeler",
                "offline",
            ),
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 1, proc.stderr[-2000:]  # broken.jpg failed
        results[engine] = {r["image"]: r for r in csv.DictReader(out.open())}
    assert set(results["local"]) == set(results["ray"]) and len(results["local"]) == 16
    for image, local in results["local"].items():
        remote = results["ray"][image]
        for key, value in local.items():
            if key.startswith("p_") and value:
                assert abs(float(value) - float(remote[key])) < 1e-5, (image, key)
            else:
                assert value == remote[key], (image, key)


def test_local_engine_decodes_at_most_a_few_photos_ahead(photos_dir, monkeypatch, pipeline):
    """The decoding thread is bounded: memory does not grow with the size of the set."""
    import gerec.runs.engines as engines

    decoded = []
    real_load = engines.load_image

    def counting_load(path, **kw):
        decoded.append(path)
        return real_load(path, **kw)

    monkeypatch.setattr(engines, "load_image", counting_load)
    paths = [str(photos_dir / "pos_1000.jpg")] * 40
    records = engines.local_records(pipeline, paths, prefetch=4)
    first = [next(records) for _ in range(3)]
    time.sleep(1.0)  # give the decoder every chance to run ahead
    assert len(decoded) <= 3 + 4 + 2
    assert all(r["error"] is None and r["image"] == "pos_1000.jpg" for r in first)
    records.close()  # stopping early ends the decoding thread
    assert len(decoded) < 40


# ------------------------------------------------------------ stopping: SIGTERM, Ctrl-C, resume
def _rows_everywhere(out: Path, db: Path) -> tuple[int, int, int, dict]:
    """Rows in OUT.csv, in its sidecar, and in the store's one run; and the sidecar."""
    from gerec.provenance import read_sidecar

    made = read_sidecar(out)
    assert made is not None, f"no sidecar beside {out}"
    with RunStore(db, readonly=True) as store:
        [info] = store.runs()
    return len(list(csv.DictReader(out.open(encoding="utf-8")))), made["rows"], info.finished, made


def test_sigterm_mid_batch_leaves_the_same_rows_everywhere(class_folders, tmp_path):
    """A real evaluate sent SIGTERM mid-batch. Before, it died at once: OUT.csv and the store held
    the rows finished, but the sidecar was its first write (0 rows) and nothing said why."""
    db, out = tmp_path / "runs.sqlite", tmp_path / "out.csv"
    cmd = gerec_cmd(
        "evaluate", "--images", str(class_folders), "--out", str(out), "--store", str(db),
        "--mode", "reference", "--labeler", "offline",
    )  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        try:  # read-only: connecting must not make the file evaluate is about to create
            with closing(sqlite3.connect(db.as_uri() + "?mode=ro", uri=True)) as con:
                if con.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] >= 3:
                    break
        except sqlite3.Error:  # not made yet
            continue
    assert proc.poll() is None, f"the run ended before it could be interrupted: {proc.communicate()[1][-2000:]}"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    on_disk, in_sidecar, in_store, made = _rows_everywhere(out, db)
    assert 3 <= on_disk == in_sidecar == in_store < 16
    assert (made["complete"], made["rows_expected"]) == (False, 16)
    assert made["notes"][-1] == f"interrupted by SIGTERM after {on_disk} of 16 images"
    assert f"interrupted by SIGTERM after {on_disk} of 16 images: {out}, out.csv.json and run " in err
    assert "--resume" in err
    listing = subprocess.run(gerec_cmd("runs", "--store", str(db), "list"), capture_output=True, text=True)
    assert f" failed)  interrupted after {on_disk} of 16 images  labeler=offline" in listing.stdout


WAIT_THEN_EVALUATE = """
import signal, sys, time
import gerec.provenance
from gerec.runs.store import RunStore

def stopping():  # until the test's signal has come: a handler held in a section, or one that raises
    deadline = time.time() + 120
    while time.time() < deadline:
        stops = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
        if stops is not None and stops.received is not None:
            return
        time.sleep(0.02)

def waiting_once(real, after):
    def wrapper(*args, **kwargs):
        if not wrapper.waited:
            wrapper.waited = True
            result = real(*args, **kwargs) if after else None
            print("waiting", flush=True)
            stopping()
            return result if after else real(*args, **kwargs)
        return real(*args, **kwargs)
    wrapper.waited = False
    return wrapper

if sys.argv[1] == "stored":  # the run just stored, OUT.csv not opened yet
    RunStore.create_run = waiting_once(RunStore.create_run, after=True)
else:  # OUT.csv opened, its sidecar not replaced yet
    gerec.provenance.write_sidecar = waiting_once(gerec.provenance.write_sidecar, after=False)
from gerec.cli import main
sys.exit(main(sys.argv[2:]))
"""
"""Runs evaluate (arguments after the first) in a process that waits for a stop signal at a moment
(the first argument: ``stored`` or ``opened``) and prints ``waiting`` when it is there."""


@pytest.mark.parametrize(("moment", "signum"), [("stored", signal.SIGTERM), ("opened", signal.SIGINT)])
def test_a_signal_before_the_first_image_leaves_the_run_marked_interrupted(tmp_path, capsys, moment, signum):
    """A real evaluate sent a signal just after its run was stored, or just after OUT.csv was opened.
    Before, the first left an empty run in the store (SIGTERM killed the process before its handler
    was set) and neither said in the store that the run was stopped: it listed like a complete one."""
    from gerec.cli import main
    from gerec.provenance import read_sidecar
    from gerec.runs.schema import COMPLETE, INTERRUPTED

    labels, out, db = tmp_path / "labels.json", tmp_path / "out.csv", tmp_path / "runs.sqlite"
    labels.write_text(json.dumps({f"{p}_{i}.jpg": ["smile"] for p in ("pos", "neu", "neg") for i in range(2)}))
    out.write_text("the previous run's rows\n", encoding="utf-8")
    sidecar = tmp_path / "out.csv.json"
    sidecar.write_text("{}", encoding="utf-8")
    cmd = ["evaluate", "--labels", str(labels), "--out", str(out), "--store", str(db)]
    proc = subprocess.Popen(
        [sys.executable, "-c", WAIT_THEN_EVALUATE, moment, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None  # both piped
        assert proc.stdout.readline() == b"waiting\n", proc.stderr.read()[-2000:]
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signum, err[-2000:]
    with RunStore(db, readonly=True) as store:
        [info] = store.runs()
    assert (info.state, info.finished, info.expected) == (INTERRUPTED, 0, 6)
    assert main(["runs", "--store", str(db), "list"]) == 0
    assert "     0 images (0 failed)  interrupted after 0 of 6 images  labeler=cached" in capsys.readouterr().out
    said = err.decode().strip().splitlines()[-1]
    if moment == "stored":  # OUT.csv and its sidecar as the previous run left them
        assert out.read_text(encoding="utf-8") == "the previous run's rows\n" and sidecar.read_text() == "{}"
        assert said.startswith(f"interrupted by SIGTERM after 0 of 6 images: run {info.id} in {db} hold them")
    else:
        made = read_sidecar(out)
        assert made is not None
        assert (made["complete"], made["rows"], made["notes"]) == (
            False, 0, ["interrupted by SIGINT (Ctrl-C) after 0 of 6 images"],
        )  # fmt: skip
        assert said.startswith("interrupted by SIGINT (Ctrl-C) after 0 of 6 images: ")
    assert main([*cmd, "--resume", info.id]) == 0
    with RunStore(db, readonly=True) as store:
        resumed = store.run(info.id)
    assert (resumed.state, resumed.finished, resumed.state_text()) == (COMPLETE, 6, "complete")


def test_a_signal_during_a_rows_write_waits_until_it_is_written(tmp_path, monkeypatch):
    """Ctrl-C arriving while an image is being stored. Before, the row was in the store but not in
    OUT.csv nor counted by the sidecar."""
    from gerec.cli import main

    labels, out, db = tmp_path / "labels.json", tmp_path / "out.csv", tmp_path / "runs.sqlite"
    labels.write_text(json.dumps({f"{p}_{i}.jpg": ["smile"] for p in ("pos", "neg") for i in range(3)}))
    real_add = RunStore.add_prediction

    def add_then_signal(store, run_id, record):
        real_add(store, run_id, record)
        if len(store.finished_images(run_id)) == 3:
            os.kill(os.getpid(), signal.SIGINT)  # its handler runs here, inside the write

    monkeypatch.setattr(RunStore, "add_prediction", add_then_signal)
    handler = signal.getsignal(signal.SIGINT)
    code = main(["evaluate", "--labels", str(labels), "--out", str(out), "--store", str(db)])
    assert code == 128 + signal.SIGINT
    on_disk, in_sidecar, in_store, made = _rows_everywhere(out, db)
    assert on_disk == in_sidecar == in_store == 3
    assert made["notes"] == ["interrupted by SIGINT (Ctrl-C) after 3 of 6 images"]
    with RunStore(db, readonly=True) as store:
        assert store.runs()[0].state_text() == "interrupted after 3 of 6 images"
    assert signal.getsignal(signal.SIGINT) is handler  # evaluate's own is gone


@pytest.mark.parametrize("failing", ["out", "store"])
def test_a_run_stopped_by_an_error_is_marked_so(tmp_path, monkeypatch, capsys, failing):
    """OUT.csv that cannot be written further (a full disk) or a store that fails mid-run: the run is
    marked 'stopped by an error', or, when the store itself failed, its error is the one reported."""
    from gerec.cli import main
    from gerec.errors import RunStoreError
    from gerec.fileio import SafeDictWriter

    labels, out, db = tmp_path / "labels.json", tmp_path / "out.csv", tmp_path / "runs.sqlite"
    labels.write_text(json.dumps({f"{p}_{i}.jpg": ["smile"] for p in ("pos", "neg") for i in range(3)}))
    if failing == "out":
        real_write = SafeDictWriter.writerow

        def write_two(writer, row):
            if row["image"] == "pos_2.jpg":
                raise OSError(28, "No space left on device")
            return real_write(writer, row)

        monkeypatch.setattr(SafeDictWriter, "writerow", write_two)
    else:
        real_add = RunStore.add_prediction

        def refuse(*args):
            raise RunStoreError("the state cannot be written either")

        def store_two(store, run_id, record):
            if record["image"] == "pos_2.jpg":
                monkeypatch.setattr(RunStore, "set_state", refuse)
                raise RunStoreError(f"run store {store.path}: database or disk is full")
            return real_add(store, run_id, record)

        monkeypatch.setattr(RunStore, "add_prediction", store_two)
    assert main(["evaluate", "--labels", str(labels), "--out", str(out), "--store", str(db)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    with RunStore(db, readonly=True) as store:
        [info] = store.runs()
    if failing == "out":
        assert err.startswith(f"error: OutputError: writing the results file {out} failed: No space left")
        assert info.state_text() == "stopped by an error after 2 of 6 images"  # pos_2 was stored (3) before
    else:  # the store's own failure is reported, not the second one from marking the run
        assert err == f"error: RunStoreError: run store {db}: database or disk is full"
        # not marked: its owner, this test's process, lives on (a CLI run's process ends: stopped without a word)
        assert info.state_text() == f"running (process {os.getpid()}), 2 of 6 images so far"


class _DiskFilling(io.FileIO):
    """OUT.csv on a disk that fills up inside the row of pos_2.jpg: half of it reaches the file, then
    the write fails as a full disk's does (and again when the rest is retried)."""

    def write(self, data):  # noqa: ANN001, ANN201 - io.FileIO's
        data = bytes(data)
        if b"pos_2.jpg" in data:
            super().write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


@pytest.mark.parametrize("failing", ["out", "store"])
def test_a_failed_write_leaves_the_same_rows_everywhere_and_resume_completes_them(
    tmp_path, monkeypatch, capsys, failing
):
    """OUT.csv's disk filling up inside a row, or the store refusing one. Before, the image was stored
    and then its row failed: the store held 3 images, OUT.csv 2 and half of the third, the sidecar 2.
    Now OUT.csv is written first and a row that is not stored is cut off again: 2 everywhere, whole
    rows only; --resume then completes all three alike."""
    from gerec.cli import main
    from gerec.errors import RunStoreError

    labels, out, db = tmp_path / "labels.json", tmp_path / "out.csv", tmp_path / "runs.sqlite"
    labels.write_text(json.dumps({f"{p}_{i}.jpg": ["smile"] for p in ("pos", "neg") for i in range(3)}))
    cmd = ["evaluate", "--labels", str(labels), "--out", str(out), "--store", str(db)]
    with monkeypatch.context() as patched:
        if failing == "out":
            real_open = Path.open

            def filling(path, mode="r", *args, **kwargs):  # noqa: ANN001, ANN202
                if path != out or "w" not in mode:
                    return real_open(path, mode, *args, **kwargs)
                return io.TextIOWrapper(io.BufferedWriter(_DiskFilling(path, "w")), encoding="utf-8", newline="")

            patched.setattr(Path, "open", filling)
        else:
            real_add = RunStore.add_prediction

            def store_two(store, run_id, record):  # noqa: ANN001, ANN202
                if record["image"] == "pos_2.jpg":
                    raise RunStoreError(f"run store {store.path}: database or disk is full")
                return real_add(store, run_id, record)

            patched.setattr(RunStore, "add_prediction", store_two)
        assert main(cmd) == 2
    capsys.readouterr()
    text = out.read_bytes().decode("utf-8")
    assert text.endswith("\r\n") and "pos_2" not in text  # no part of the failed row
    on_disk, in_sidecar, in_store, made = _rows_everywhere(out, db)
    assert on_disk == in_sidecar == in_store == 2 and made["complete"] is False
    with RunStore(db, readonly=True) as store:
        [info] = store.runs()
        assert store.finished_images(info.id) == {r["image"] for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert main([*cmd, "--resume", info.id]) == 0
    on_disk, in_sidecar, in_store, made = _rows_everywhere(out, db)
    assert on_disk == in_sidecar == in_store == 6 and made["complete"] is True
    images = [r["image"] for r in csv.DictReader(out.open(encoding="utf-8"))]
    assert sorted(images) == sorted(json.loads(labels.read_text()))


def test_a_running_runs_owner_is_told_apart_and_resume_takes_over_only_a_gone_one(tmp_path, capsys):
    """A run marked running whose owner is a live process of this host, the same process id with
    another start (taken again by another process), or a process of another host. Before, the store
    kept no owner: each read 'unfinished (still running, or killed)', and --resume took a run over
    while its process still evaluated it."""
    from gerec.cli import main
    from gerec.runs.owner import GONE, process_start

    labels, out, db = tmp_path / "labels.json", tmp_path / "out.csv", tmp_path / "runs.sqlite"
    labels.write_text(json.dumps({f"{p}_{i}.jpg": ["smile"] for p in ("pos", "neg") for i in range(3)}))
    cmd = ["evaluate", "--labels", str(labels), "--out", str(out), "--store", str(db)]
    assert main(cmd) == 0
    with RunStore(db, readonly=True) as store:
        [info] = store.runs()
    assert info.owner is not None
    assert (info.state_text(), info.owner.pid, info.liveness) == ("complete", os.getpid(), None)

    def owned_by(host: str, pid: int, started: str) -> RunInfo:
        with closing(sqlite3.connect(db)) as con, con:
            con.execute(
                "UPDATE runs SET state = 'running', owner_host = ?, owner_pid = ?, owner_started = ?",
                (host, pid, started),
            )
        with RunStore(db, readonly=True) as store:
            return store.run(info.id)

    sleeper = subprocess.Popen(["sleep", "120"])
    try:
        host, started = info.owner.host, process_start(sleeper.pid)
        assert started is not None  # the sleeper runs on this host
        alive = owned_by(host, sleeper.pid, started)
        assert (alive.liveness, alive.state_text()) == (ALIVE, f"running (process {sleeper.pid}), 6 of 6 images so far")
        assert main([*cmd, "--resume", info.id]) == 2
        assert (
            capsys.readouterr()
            .err.strip()
            .endswith(
                f"RunStoreError: run {info.id} is still running (process {sleeper.pid} on this host): wait until it "
                f"ends, or stop it (kill -TERM {sleeper.pid}) and --resume it then"
            )
        )
        reused = owned_by(host, sleeper.pid, started.split("/")[0] + "/1")  # the id, but not that process
        assert (reused.liveness, reused.state_text()) == (GONE, "stopped without a word (killed?) after 6 of 6 images")
    finally:
        sleeper.kill()
        sleeper.wait()
    gone = owned_by(host, sleeper.pid, started)
    assert gone.liveness == GONE
    elsewhere = owned_by("elsewhere.example", os.getpid(), started)
    assert elsewhere.state_text() == (
        "unfinished on host elsewhere.example (still running, or killed: cannot be told from this host) "
        "after 6 of 6 images"
    )
    assert main([*cmd, "--resume", info.id]) == 0  # cannot be told: taken over
    with RunStore(db, readonly=True) as store:
        resumed = store.run(info.id)
    assert resumed.owner is not None
    assert (resumed.state_text(), resumed.owner.host, resumed.owner.pid) == ("complete", host, os.getpid())


def test_a_resumed_runs_notes_count_every_image(gcv_fallback_photos, tmp_path, monkeypatch, capsys):
    """A run whose labeler fell back, stopped after 2 of 4 photos, then resumed. Before, the notes
    were only counted in memory: the resumed run's sidecar said '(2 photos)' and the store nothing."""
    from gerec.cli import main
    from gerec.provenance import read_sidecar

    photos, pipeline = gcv_fallback_photos
    out, db = tmp_path / "out.csv", tmp_path / "runs.sqlite"
    cmd = ["evaluate", "--images", str(photos), "--labeler", "gcv,manual", "--out", str(out)]
    real_analyze = pipeline.analyze
    calls = []

    def analyze_then_stop(photo):
        calls.append(photo)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_analyze(photo)

    monkeypatch.setattr(pipeline, "analyze", analyze_then_stop)
    assert main([*cmd, "--store", str(db)]) == 128 + signal.SIGINT
    with RunStore(db, readonly=True) as store:
        [info] = store.runs()
    note = "gcv unavailable: no credentials configured; manual answered instead"
    assert info.notes == (f"{note} (2 photos)",)
    monkeypatch.setattr(pipeline, "analyze", real_analyze)
    assert main([*cmd, "--store", str(db), "--resume", info.id]) == 0
    made = read_sidecar(out)
    assert made is not None
    assert made["notes"] == [f"{note} (4 photos)"]
    with RunStore(db, readonly=True) as store:
        assert store.run(info.id).notes == (f"{note} (4 photos)",)
    assert capsys.readouterr().err.count(f"note: {note} (4 photos)") == 1


def test_ray_init_leaves_evaluates_sigterm_handler(monkeypatch):
    """ray.init sets a SIGTERM handler that exits at once (sys.exit): a stopped Ray run would then
    leave its sidecar without the note. The handler set before comes back."""
    from gerec.runs.engines import keeping_sigterm
    from gerec.stopping import stop_signals

    def ray_like_init():
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))

    with stop_signals() as stops:
        keeping_sigterm(ray_like_init)
        assert signal.getsignal(signal.SIGTERM) == stops.on_signal
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    keeping_sigterm(ray_like_init)  # nothing of gerec's before: Ray's handler stays
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.mark.parametrize("verb", [("list",), ("export", "{run}", "--format", "csv")])
def test_output_piped_to_a_reader_that_stops_early_ends_quietly(tmp_path, verb):
    """``runs ... | head -1``: the reader closes the pipe; gerec said 'error: unexpected
    BrokenPipeError' and exited 3 (its code for a bug). Now it stops quietly, 141 as a Unix tool
    killed by SIGPIPE (128 + 13)."""
    db = tmp_path / "runs.sqlite"
    with RunStore(db) as store:
        for n in range(2 if verb[0] == "export" else 400):  # far more than a pipe's 64 KB buffer
            run = store.create_run(f"set {n} " + "x" * 200, "reference", "cached", {})
        for i in range(3000 if verb[0] == "export" else 0):
            store.add_prediction(run, _prediction(image=f"photo_{i:05d}.jpg"))
    args = [a.format(run=run) for a in verb]
    proc = subprocess.Popen(
        gerec_cmd("runs", "--store", str(db), *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline()
    proc.stdout.close()  # the reader is gone, as `head -1` goes
    _, err = proc.communicate(timeout=120)
    assert (proc.returncode, err.decode()) == (128 + signal.SIGPIPE, "")
