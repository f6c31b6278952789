"""Batches never hang and never lose a row; exit codes 0 / 1 / 2; odd names and folders."""

from __future__ import annotations

import csv
import os
import threading
from pathlib import Path

import pytest
from PIL import Image

import gerec.factory
import gerec.runs.engines as engines
from gerec.cli import main
from gerec.imaging import Photo, load_image
from gerec.runs.store import RunStore
from gerec.types import GroupPrediction, SceneEvidence


class FakePipeline:
    """Decodes for real, predicts a fixed answer: the batch machinery without the models."""

    class config:  # noqa: N801 - stands for PipelineConfig
        max_side = 256
        mode = "tuned"

    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on

    def analyze(self, source, name=None, labels=None) -> GroupPrediction:
        photo = source if isinstance(source, Photo) else load_image(source, name)
        if self.fail_on and self.fail_on in photo.name:
            raise ValueError("the model broke")
        return GroupPrediction(
            photo.name,
            (),
            None,
            (0.6, 0.3, 0.1),
            (0.6, 0.3, 0.1),
            SceneEvidence(("smile",), (), (), "manual", photo.notes),
        )


def write_photo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24), (120, 50, 50)).save(path, "PNG")
    return path


def collect(records, seconds: float = 30.0) -> list[dict]:
    """All records, failing (not hanging) when the iterator blocks."""
    out: list[dict] = []
    worker = threading.Thread(target=lambda: out.extend(records), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "the batch hung"
    return out


@pytest.fixture()
def photos(tmp_path) -> list[str]:
    return [str(write_photo(tmp_path / f"pos_{i}.png")) for i in range(5)]


def test_any_decoder_exception_is_an_error_row(photos, monkeypatch):
    real = engines.load_image

    def avif_like(path, **kw):
        if path.endswith("pos_2.png"):
            raise RuntimeError("Failed to decode frame 0")
        return real(path, **kw)

    monkeypatch.setattr(engines, "load_image", avif_like)
    rows = collect(engines.local_records(FakePipeline(), photos))
    assert [r["image"] for r in rows] == [f"pos_{i}.png" for i in range(5)]
    assert rows[2]["error"] == "unexpected RuntimeError: Failed to decode frame 0"
    assert all(r["error"] is None for i, r in enumerate(rows) if i != 2)


def test_a_dead_decoding_thread_leaves_error_rows_not_a_hang(photos, monkeypatch):
    real = engines.load_image

    def dies(path, **kw):
        if path.endswith("pos_1.png"):
            raise SystemExit("the thread dies")  # not an Exception: escapes every handler
        return real(path, **kw)

    monkeypatch.setattr(engines, "load_image", dies)
    rows = collect(engines.local_records(FakePipeline(), photos))
    assert len(rows) == 5 and rows[0]["error"] is None
    assert all(r["error"] == "not analysed: the decoding thread stopped" for r in rows[1:])


def test_a_model_failure_is_an_error_row(photos):
    rows = collect(engines.local_records(FakePipeline(fail_on="pos_3"), photos))
    assert len(rows) == 5 and rows[3]["error"] == "unexpected ValueError: the model broke"


@pytest.fixture()
def fake_models(monkeypatch):
    monkeypatch.setattr(gerec.factory, "make_pipeline", lambda *a, **k: FakePipeline())
    monkeypatch.setattr(engines.PipelineSpec, "build", lambda self: FakePipeline())


@pytest.fixture()
def real_labelers(monkeypatch, clean_env):
    """Fake face models, but the labeler chain built for real from the command's settings
    (none from the environment: ``clean_env``)."""

    def pipeline(mode=None, aggregation=None, labels=None, chain=None):
        gerec.factory.make_labeler(labels, chain)
        return FakePipeline()

    monkeypatch.setattr(gerec.factory, "make_pipeline", pipeline)
    monkeypatch.setattr(
        engines.PipelineSpec,
        "build",
        lambda self: pipeline(labels=Path(self.labels) if self.labels else None, chain=self.chain),
    )


def test_classify_refuses_a_labels_file_or_labeler_setting_it_cannot_use(tmp_path, real_labelers, capsys, monkeypatch):
    photo = write_photo(tmp_path / "photos" / "a.png")
    damaged = tmp_path / "damaged.json"
    damaged.write_text('{"a.png": ["smile"')
    config = tmp_path / "labelers.toml"
    config.write_text("[labelers]\nchain = 5\n")
    for flags, words in [
        (["--labels", str(tmp_path / "nope.json")], f"cannot read labels file {tmp_path / 'nope.json'}"),
        (["--labels", str(damaged)], f"cannot read labels file {damaged}"),
        (["--labeler", "bogus"], "unknown labeler 'bogus'"),
        (["--labeler", "cached"], "the cached labeler needs a labels file"),
        (["--labeler", "default", "--labels", str(damaged)], f"cannot read labels file {damaged}"),
    ]:
        assert main(["classify", str(photo), *flags]) == 2, flags
        out = capsys.readouterr()
        assert out.out == "" and out.err.startswith("error: InvalidDataset: ") and words in out.err, flags
    monkeypatch.setenv("GEREC_LABELER_CONFIG", str(config))
    assert main(["classify", str(photo)]) == 2
    assert f"labeler config {config}: chain must be text" in capsys.readouterr().err


def test_classify_leaves_out_a_damaged_labels_json_it_found_on_its_own(tmp_path, real_labelers, capsys):
    photo = write_photo(tmp_path / "photos" / "a.png")
    (tmp_path / "photos" / "labels.json").write_text('{"a.png": ')  # not named by the user
    assert main(["classify", str(photo), "--json"]) == 0
    out = capsys.readouterr()
    assert "a.png" in out.out and "labels.json" in out.err and "not used" in out.err


def test_classify_exit_codes(tmp_path, fake_models, capsys):
    good = write_photo(tmp_path / "good.png")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 garbage")
    assert main(["classify", str(good)]) == 0
    assert main(["classify", str(good), str(bad)]) == 1
    out = capsys.readouterr()
    assert "bad.jpg  error: InvalidImage" in out.out and "1 of 2 photo(s) failed" in out.err
    assert main(["classify", str(tmp_path / "missing")]) == 2
    assert "InvalidDataset" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["classify", str(tmp_path / "empty")]) == 2
    assert "no photos in this folder" in capsys.readouterr().err


def test_classify_prints_non_utf8_names_and_loader_notes(tmp_path, fake_models, capsys):
    odd = write_photo(tmp_path / os.fsdecode(b"caf\xe9.png"))
    Image.new("RGB", (20, 20)).save(tmp_path / "exif.png", exif=b"Exif\x00\x00junk junk")
    assert main(["classify", str(odd), str(tmp_path / "exif.png")]) == 0
    out = capsys.readouterr().out
    assert "caf\\xe9.png  faces=0" in out
    assert "note: EXIF ignored" in out


def test_evaluate_keys_rows_by_relative_path(tmp_path, fake_models, capsys):
    images = tmp_path / "photos"
    for folder in ("Positive", "Negative"):
        write_photo(images / folder / "x.png")
    write_photo(images / "Neutral" / os.fsdecode(b"\xff.png"))
    (images / "Negative" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    out, db = tmp_path / "out.csv", tmp_path / "runs.sqlite"
    code = main(["evaluate", "--images", str(images), "--out", str(out), "--store", str(db)])
    assert code == 1  # one photo failed
    assert "1 of 4 image(s) failed" in capsys.readouterr().err
    rows = {r["image"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert set(rows) == {"Positive/x.png", "Negative/x.png", "Neutral/\\xff.png", "Negative/broken.jpg"}
    with RunStore(db, readonly=True) as store:
        [info] = store.runs()
        assert store.finished_images(info.id) == set(rows) and info.failed == 1


def test_resume_refuses_other_settings_and_names_them(tmp_path, fake_models, capsys):
    images = tmp_path / "photos"
    write_photo(images / "Positive" / "a.png")
    out, db = tmp_path / "out.csv", tmp_path / "runs.sqlite"
    assert main(["evaluate", "--images", str(images), "--out", str(out), "--store", str(db)]) == 0
    with RunStore(db, readonly=True) as store:
        run_id = store.runs()[0].id
    capsys.readouterr()
    code = main(
        [
            "evaluate",
            "--images",
            str(images),
            "--out",
            str(out),
            "--store",
            str(db),
            "--resume",
            run_id,
            "--mode",
            "reference",
            "--aggregation",
            "area",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "SettingsMismatch" in err
    assert "mode 'reference' (stored: 'tuned')" in err and "aggregation 'area' (stored: 'mean')" in err
    assert main(["evaluate", "--images", str(images), "--out", str(out), "--store", str(db), "--resume", run_id]) == 0


def test_missing_output_folder_is_named_and_not_created(tmp_path, fake_models, capsys):
    images = tmp_path / "photos"
    write_photo(images / "pos_1.png")
    target = tmp_path / "missing_dir" / "x.csv"
    assert main(["evaluate", "--images", str(images), "--out", str(target)]) == 2
    assert "OutputError" in capsys.readouterr().err and not target.parent.exists()


def test_evaluate_on_missing_or_unlabelled_folders(tmp_path, fake_models, capsys):
    out = tmp_path / "out.csv"
    assert main(["evaluate", "--images", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "no such folder" in capsys.readouterr().err
    write_photo(tmp_path / "plain" / "holiday.png")
    assert main(["evaluate", "--images", str(tmp_path / "plain"), "--out", str(out)]) == 2
    assert "no photo with a known true class" in capsys.readouterr().err


def test_unwritable_output_is_a_named_error(tmp_path, fake_models, capsys):
    images = tmp_path / "photos"
    write_photo(images / "pos_1.png")
    assert main(["evaluate", "--images", str(images), "--out", str(images)]) == 2  # a folder, not a file
    err = capsys.readouterr().err
    assert "OutputError: cannot write the results file" in err and "unexpected" not in err


def test_resume_message_names_modes_as_plain_words(tmp_path, fake_models, capsys):
    images = tmp_path / "photos"
    write_photo(images / "Positive" / "a.png")
    out, db = tmp_path / "out.csv", tmp_path / "runs.sqlite"
    assert (
        main(["evaluate", "--images", str(images), "--out", str(out), "--store", str(db), "--mode", "reference"]) == 0
    )
    with RunStore(db, readonly=True) as store:
        run_id = store.runs()[0].id
    capsys.readouterr()
    assert main(["evaluate", "--images", str(images), "--out", str(out), "--store", str(db), "--resume", run_id]) == 2
    assert "mode 'tuned' (stored: 'reference')" in capsys.readouterr().err  # the default mode, not an enum repr


KEPT = "image,actual\nPositive/a.png,Positive\nNegative/b.png,Negative\n"


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--labels", "{tmp}/damaged.json"], "cannot read labels file"),  # label-only
        (["--images", "{tmp}/photos", "--labels", "{tmp}/nope.json"], "cannot read labels file"),
        (["--images", "{tmp}/photos", "--labeler", "bogus"], "unknown labeler 'bogus'"),
        (["--labels", "{tmp}/unlabelled.json"], "no image with a known true class"),
    ],
)
def test_evaluate_usage_errors_leave_out_csv_and_store_alone(tmp_path, real_labelers, capsys, flags, words):
    write_photo(tmp_path / "photos" / "Positive" / "a.png")
    (tmp_path / "damaged.json").write_text('{"pos_1.jpg": ["smile"')
    (tmp_path / "unlabelled.json").write_text('{"holiday.jpg": ["smile"]}')
    out, db = tmp_path / "out.csv", tmp_path / "runs.sqlite"
    out.write_text(KEPT)
    with RunStore(db) as store:  # an existing store with one run
        store.create_run("earlier", "tuned", "cached", {})
    args = [f.format(tmp=tmp_path) for f in flags]
    assert main(["evaluate", *args, "--out", str(out), "--store", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: InvalidDataset: ") and words in err
    assert out.read_text() == KEPT and not (tmp_path / "out.csv.json").exists()
    with RunStore(db, readonly=True) as store:
        assert [r.dataset for r in store.runs()] == ["earlier"]  # no empty run left behind
    assert main(["evaluate", *args, "--out", str(out)]) == 2  # without a store: the same
    assert out.read_text() == KEPT
