"""The whole pipeline and the command line on real photos."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gerec.classes import CLASSES
from gerec.config import FER_TRAIN_FILE
from gerec.emotion.registry import REGISTRY_FILE


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gerec", *args], capture_output=True, text=True, timeout=timeout)


def test_analyze_real_photo(pipeline, photos_dir):
    pred = pipeline.analyze(photos_dir / "image_happy_1.jpg", labels=["smile", "fun", "unicorn rides"])
    assert pred.faces and all(f.scores is not None for f in pred.faces)
    assert pred.bottom_up is not None and abs(sum(pred.bottom_up) - 1) < 1e-6
    assert pred.evidence.labels_used == ("smile", "fun")
    assert pred.evidence.labels_ignored == ("unicorn rides",)
    assert pred.evidence.labeler == "manual"
    assert {"decode", "detect", "align", "score", "infer"} <= set(pred.timings)
    assert {r.label for r in pred.contributions if r.present} == {"smile", "fun"}
    assert pred.contributions[-1].kind == "bottom-up"
    json.dumps(pred.to_dict())  # JSON-ready


def test_photo_without_faces(pipeline, photos_dir, tmp_path):
    # the sky-and-grass corner of a real photo, scaled up: no face in it
    path = tmp_path / "landscape.png"
    arr = np.zeros((300, 400, 3), dtype=np.uint8)
    arr[:150] = (120, 170, 230)
    arr[150:] = (60, 140, 50)
    Image.fromarray(arr).save(path)
    pred = pipeline.analyze(path, labels=["grass", "sky"])
    assert pred.faces == ()
    assert pred.bottom_up is None and pred.bottom_up_class is None
    assert pred.fused == pred.top_down


def test_classify_cli_contract(photos_dir, tmp_path):
    labels = photos_dir / "labels.json"
    (tmp_path / "broken.jpg").write_bytes((photos_dir / "pos_1000.jpg").read_bytes()[:500])
    proc = run_cli(
        "classify",
        str(photos_dir / "image_happy_1.jpg"),
        str(tmp_path / "broken.jpg"),
        "--labels",
        str(labels),
        "--label",
        "Positive",
        "--mode",
        "reference",
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("image_happy_1.jpg  faces=")
    assert "bottom_up=Positive" in lines[0] and "by cached" in lines[0]
    assert lines[1].startswith("broken.jpg  error: InvalidImage")
    assert "accuracy against --label Positive on 1 photos" in proc.stdout
    assert "fused" in proc.stdout.split("accuracy against")[1]

    proc = run_cli("classify", str(photos_dir / "image_happy_1.jpg"), "--json", "--labels", str(labels))
    obj = json.loads(proc.stdout.splitlines()[0])
    assert obj["image"] == "image_happy_1.jpg" and obj["classes"] == list(CLASSES)
    assert obj["fused_class"] in CLASSES and len(obj["faces"]) >= 2
    assert obj["evidence"]["labeler"] == "cached"


def test_evaluate_on_photos(photos_dir, tmp_path):
    images = tmp_path / "photos"
    (images / "Negative").mkdir(parents=True)
    for name in ("pos_1000.jpg", "pos_1012.jpg"):
        (images / name).symlink_to(photos_dir / name)
    (images / "Negative" / "image_sad_1.jpg").symlink_to(photos_dir / "image_sad_1.jpg")
    (images / "neg_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    out = tmp_path / "out.csv"
    proc = run_cli("evaluate", "--images", str(images), "--labels", str(photos_dir / "labels.json"), "--out", str(out))
    assert proc.returncode == 1, proc.stderr  # one photo failed
    assert "1 of 4 image(s) failed" in proc.stderr
    rows = {r["image"]: r for r in csv.DictReader(out.open())}
    assert set(rows) == {"pos_1000.jpg", "pos_1012.jpg", "Negative/image_sad_1.jpg", "neg_corrupt.jpg"}
    assert rows["Negative/image_sad_1.jpg"]["actual"] == "Negative"
    assert rows["pos_1000.jpg"]["actual"] == "Positive" and rows["pos_1000.jpg"]["fused"] in CLASSES
    assert rows["neg_corrupt.jpg"]["error"].startswith("InvalidImage") and rows["neg_corrupt.jpg"]["fused"] == ""
    assert "4 images, 1 failed" in proc.stdout


def test_evaluate_faces_cli(fer_dir, tmp_path):
    # training faces, not test.npz: test is measured once, by hand, when the ensemble is final
    with np.load(fer_dir / FER_TRAIN_FILE) as data:
        subset = {k: data[k][:300] if k != "classes" else data[k] for k in data.files}
    ids = [f"face {i}: " + "é" * (i % 7) * 40 for i in range(300)]  # up to 240 characters
    subset["ids"] = np.array([i.encode() if n % 3 == 0 else i for n, i in enumerate(ids)], dtype=object)
    np.savez(tmp_path / "faces.npz", **subset)
    out = tmp_path / "faces.csv"
    proc = run_cli("evaluate-faces", str(tmp_path / "faces.npz"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0]) == ["id", "predicted", "p_positive", "p_neutral", "p_negative"]
    assert [r["id"] for r in rows] == ids
    assert len(rows) == 300 and {r["predicted"] for r in rows} <= set(CLASSES)
    probs = np.array([[float(r[f"p_{c.lower()}"]) for c in CLASSES] for r in rows])
    assert np.allclose(probs.sum(1), 1.0, atol=1e-4)
    assert [CLASSES[i] for i in probs.argmax(1)] == [r["predicted"] for r in rows]
    assert "ensemble" in proc.stdout and "3-class" in proc.stdout and "7-class" in proc.stdout
    assert "ECE" in proc.stdout and "NLL" in proc.stdout
    proc = run_cli("evaluate-faces", str(tmp_path / "faces.npz"), "--split", "val")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("30 faces (the validation split")  # 10 % of the 300
    (tmp_path / "empty.npz").write_bytes(b"")
    proc = run_cli("evaluate-faces", str(tmp_path / "empty.npz"))
    assert proc.returncode == 2 and "InvalidDataset" in proc.stderr and "Traceback" not in proc.stderr


def test_photo_with_many_faces(pipeline, photos_dir, tmp_path):
    """A 3x3 mosaic of a real group photo: dozens of faces, all scored in one batch per member."""
    tile = np.asarray(Image.open(photos_dir / "image_happy_neutral_2.jpg").convert("RGB"))
    mosaic = np.concatenate([np.concatenate([tile] * 3, axis=1)] * 3, axis=0)
    path = tmp_path / "mosaic.jpg"
    Image.fromarray(mosaic).save(path, quality=92)
    single = pipeline.analyze(photos_dir / "image_happy_neutral_2.jpg", labels=[])
    pred = pipeline.analyze(path, labels=[])
    assert len(pred.faces) >= 5 * len(single.faces)
    assert all(f.scores is not None and len(f.scores.members) == len(pipeline.ensemble.names) for f in pred.faces)
    assert pred.bottom_up is not None and pred.image_size is not None and max(pred.image_size) <= 2048


def broken_registry_folder(tmp_path: Path) -> Path:
    """A models folder whose ensemble.json has a face-confusion row without a count."""
    from gerec.config import models_dir

    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(models_dir() / "scene_bn_tuned.json", folder)
    registry = json.loads((models_dir() / REGISTRY_FILE).read_text(encoding="utf-8"))
    registry["face_confusion"]["matrix"][0] = [0, 0, 0]
    (folder / "ensemble.json").write_text(json.dumps(registry), encoding="utf-8")
    return folder


def test_classify_with_a_broken_registry_fails_once_before_any_photo(tmp_path, monkeypatch):
    folder = broken_registry_folder(tmp_path)
    photos = [tmp_path / f"p{i}.png" for i in range(2)]
    for path in photos:
        Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(path)
    monkeypatch.setenv("GEREC_MODELS", str(folder))
    proc = run_cli("classify", *map(str, photos), "--labeler", "manual")
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""  # no photo analysed, none reported failed one by one
    assert proc.stderr.count("error: InvalidModelFile") == 1 and f"{folder / 'ensemble.json'}" in proc.stderr
    assert "RuntimeWarning" not in proc.stderr and "scene network" not in proc.stderr


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_evaluate_with_a_broken_registry_stops_before_writing(engine, tmp_path, monkeypatch):
    """Either engine checks the registry before OUT.csv is opened (Ray actors would each fail on it)."""
    folder = broken_registry_folder(tmp_path)
    images = tmp_path / "Positive"
    images.mkdir()
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(images / "a.png")
    out = tmp_path / "OUT.csv"
    out.write_text("kept\n", encoding="utf-8")
    monkeypatch.setenv("GEREC_MODELS", str(folder))
    proc = run_cli("evaluate", "--images", str(tmp_path), "--out", str(out), "--engine", engine, "--labeler", "manual")
    assert proc.returncode == 2, proc.stderr
    assert "error: InvalidModelFile" in proc.stderr and f"{folder / 'ensemble.json'}" in proc.stderr
    assert out.read_text(encoding="utf-8") == "kept\n"  # nothing written, no Ray actor started


@pytest.mark.parametrize("damage", ["broken", "missing"])
def test_label_only_evaluation_needs_no_face_registry(damage, tmp_path, monkeypatch):
    """Label-only uses no face member: it runs without a usable ensemble.json; photos still stop."""
    folder = broken_registry_folder(tmp_path)
    if damage == "missing":
        (folder / "ensemble.json").unlink()
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"pos_1.jpg": ["smile", "fun"], "neg_2.jpg": ["crowd"]}), encoding="utf-8")
    cnn = tmp_path / "cnn.csv"
    cnn.write_text("image,faces_detected,cnn\npos_1.jpg,2,Positive\nneg_2.jpg,0,\n", encoding="utf-8")
    out = tmp_path / "OUT.csv"
    monkeypatch.setenv("GEREC_MODELS", str(folder))
    from gerec.errors import InvalidModelFile, ModelFileMissing
    from gerec.pipeline import Pipeline
    from gerec.scene.chain import LabelerChain

    pipe = Pipeline(labeler=LabelerChain([]), faces=False)  # builds; the registry is read when asked for
    with pytest.raises(InvalidModelFile if damage == "broken" else ModelFileMissing, match="ensemble.json"):
        _ = pipe.ensemble
    proc = run_cli("evaluate", "--labels", str(labels), "--cnn-predictions", str(cnn), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = {row["image"]: row for row in csv.DictReader(out.open(encoding="utf-8"))}
    assert set(rows) == {"pos_1.jpg", "neg_2.jpg"} and not any(row["error"] for row in rows.values())
    assert all(row["top_down"] in CLASSES for row in rows.values())
    assert rows["pos_1.jpg"]["fused"] in CLASSES and rows["pos_1.jpg"]["bottom_up"] == "Positive"
    written = out.read_text(encoding="utf-8")
    images = tmp_path / "Positive"
    images.mkdir()
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(images / "a.png")
    proc = run_cli("evaluate", "--images", str(images), "--labels", str(labels), "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    expected = "InvalidModelFile" if damage == "broken" else "ModelFileMissing"
    assert f"error: {expected}" in proc.stderr and f"{folder / 'ensemble.json'}" in proc.stderr
    assert out.read_text(encoding="utf-8") == written  # the face mode wrote nothing
