"""Training a face member: loss goes down on real faces, a saved member reloads the same, bad data is named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gerec.config import FER_TRAIN_FILE
from gerec.emotion.data import FER_CLASSES, load_face_set
from gerec.emotion.training import TrainConfig, train_member
from gerec.emotion.training_data import class_weights, load_face_folder
from gerec.errors import InvalidDataset, InvalidModelFile, ModelFileMissing


@pytest.fixture(scope="module")
def fer_train(fer_dir):
    return fer_dir / FER_TRAIN_FILE


def test_a_few_steps_lower_the_loss(fer_train):
    import keras

    from gerec.emotion.architectures import build_model
    from gerec.emotion.ensemble import to_member_input

    faces = load_face_set(fer_train)
    idx = np.random.default_rng(0).choice(len(faces.labels), 256, replace=False)
    x = to_member_input(faces.images[idx], 48, "gray", "unit")
    y = faces.labels[idx]
    keras.utils.set_random_seed(0)
    model = build_model("vgg", 48, 7, 1, width=0.25)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    # training-mode loss per epoch (batch-norm statistics are still settling after so few steps)
    losses = model.fit(x, y, batch_size=64, epochs=5, verbose=0).history["loss"]
    assert losses[-1] < losses[0] - 0.1


def test_trained_member_reloads_and_predicts_the_same(fer_train, tmp_path):
    from gerec.emotion.ensemble import KerasMember
    from gerec.emotion.registry import MemberSpec
    from gerec.emotion.training_data import member_mapping

    out = tmp_path / "tiny.keras"
    cfg = TrainConfig(data=str(fer_train), out=str(out), arch="resnet", width=0.25, epochs=1, batch=64, limit=256)
    report = train_member(cfg)
    assert out.is_file() and not (tmp_path / "tiny.ckpt").exists()
    saved = json.loads(out.with_suffix(".report.json").read_text())
    assert saved["classes"] == list(FER_CLASSES) and len(saved["history"]) == 1
    assert np.asarray(saved["final"]["confusion"]).shape == (7, 7)
    assert report["final"]["val_accuracy"] == saved["final"]["val_accuracy"]
    spec = MemberSpec("tiny", out.name, 48, "gray", "unit", FER_CLASSES, member_mapping(FER_CLASSES))
    crops = load_face_set(fer_train).images[:16]
    first = KerasMember(spec, out).predict_raw(crops)
    again = KerasMember(spec, out).predict_raw(crops)
    np.testing.assert_allclose(first, again, atol=1e-6)
    assert first.shape == (16, 7)
    np.testing.assert_allclose(first.sum(1), 1.0, atol=1e-5)


def test_fine_tuning_starts_from_a_saved_member_and_swaps_the_head(fer_train, tmp_path):
    """--init: a 7-class member fine-tuned to the 3 group classes keeps its body and gets a new head."""
    import keras

    from gerec.classes import CLASSES

    base = tmp_path / "base.keras"
    train_member(TrainConfig(data=str(fer_train), out=str(base), width=0.25, epochs=1, batch=64, limit=128))
    tuned = tmp_path / "tuned3.keras"
    report = train_member(
        TrainConfig(data=str(fer_train), out=str(tuned), n_classes=3, epochs=1, batch=64, limit=128, init=str(base))
    )
    assert report["classes"] == list(CLASSES) and report["config"]["init"] == str(base)
    before, after = keras.models.load_model(base), keras.models.load_model(tuned)
    assert after.output_shape == (None, 3)
    assert before.count_params() - after.count_params() == 4 * (64 + 1)  # 4 fewer output units, 64 inputs + bias
    with pytest.raises(InvalidModelFile, match="input-size"):
        train_member(
            TrainConfig(
                data=str(fer_train), out=str(tmp_path / "x.keras"), input_size=64, epochs=1, limit=64, init=str(base)
            )
        )
    with pytest.raises(ModelFileMissing):
        train_member(
            TrainConfig(
                data=str(fer_train),
                out=str(tmp_path / "y.keras"),
                epochs=1,
                limit=64,
                init=str(tmp_path / "missing.keras"),
            )
        )


def test_class_weights_soften_the_imbalance():
    labels = np.array([0] * 90 + [1] * 10)
    w = class_weights(labels, 2, "sqrt")
    assert w[1] == pytest.approx(3 * w[0]) and w[labels].mean() == pytest.approx(1.0)
    assert np.allclose(class_weights(labels, 2, "none"), 1.0)


def test_empty_face_folder_is_a_named_error(tmp_path):
    (tmp_path / "Positive").mkdir()
    with pytest.raises(InvalidDataset, match="no face images"):
        load_face_folder(tmp_path, 48)
    with pytest.raises(InvalidDataset, match="not a folder"):
        load_face_folder(tmp_path / "missing", 48)


def test_corrupt_face_folder_is_a_named_error(tmp_path, capsys):
    from gerec.cli import main

    (tmp_path / "Negative").mkdir()
    (tmp_path / "Negative" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    with pytest.raises(InvalidDataset, match="broken.jpg"):
        load_face_folder(tmp_path, 48)
    code = main(["train-faces", str(tmp_path), "--out", str(tmp_path / "m.keras"), "--epochs", "1"])
    assert code == 2 and "InvalidDataset" in capsys.readouterr().err


def test_face_folder_of_crops_loads_with_group_classes(tmp_path):
    import cv2

    rng = np.random.default_rng(0)
    for cls in ("Positive", "neutral"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            cv2.imwrite(str(tmp_path / cls / f"{i}.png"), rng.integers(0, 255, (60, 60, 3), dtype=np.uint8))
    faces = load_face_folder(Path(tmp_path), 48)
    assert faces.images.shape == (6, 48, 48, 3) and faces.classes == ("Positive", "Neutral", "Negative")
    assert sorted(set(faces.labels.tolist())) == [0, 1]


def test_face_folder_reads_every_suffix_photos_are_read_by(tmp_path):
    """Training read 7 suffixes where the rest of gerec reads photos by 11: .jfif, .jpe, .gif crops
    were skipped without a word."""
    from PIL import Image

    from gerec.imaging import IMAGE_SUFFIXES

    (tmp_path / "Negative").mkdir()
    crop = Image.fromarray(np.random.default_rng(1).integers(0, 255, (60, 60, 3), dtype=np.uint8))
    for suffix in (".jfif", ".jpe", ".gif"):
        crop.save(tmp_path / "Negative" / f"face{suffix}", format="GIF" if suffix == ".gif" else "JPEG")
    faces = load_face_folder(Path(tmp_path), 48)
    assert sorted(faces.ids.tolist()) == ["Negative/face.gif", "Negative/face.jfif", "Negative/face.jpe"]
    assert {".jfif", ".jpe", ".gif"} <= IMAGE_SUFFIXES


def test_fine_tuning_with_a_short_patience_is_warned_about():
    from gerec.cli.train_faces import patience_warning

    assert "early stopping may end it" in (patience_warning(Path("m.keras"), 8, 22) or "")
    assert patience_warning(Path("m.keras"), 22, 22) is None
    assert patience_warning(None, 6, 24) is None  # a fresh run: early stopping as usual


def test_keep_last_chooses_nothing_on_the_validation_split(fer_train, tmp_path):
    """--keep last: every epoch runs (no early stopping) and the last one is saved, not the best one."""
    runs = {}
    for keep in ("best", "last"):
        cfg = TrainConfig(
            data=str(fer_train), out=str(tmp_path / f"{keep}.keras"), width=0.25, epochs=4, batch=32, lr=0.01,
            patience=1, limit=128, keep=keep,
        )  # fmt: skip
        runs[keep] = train_member(cfg)
    last = runs["last"]
    assert last["epochs_run"] == 4 and last["kept"] == "the last epoch"
    assert last["final"]["val_accuracy"] == pytest.approx(last["history"][-1]["val_accuracy"], abs=1e-4)
    best = runs["best"]
    assert best["kept"] == "the best epoch"
    assert best["final"]["val_accuracy"] == pytest.approx(max(r["val_accuracy"] for r in best["history"]), abs=1e-4)
    from gerec.cli.train_faces import patience_warning

    assert patience_warning(Path("m.keras"), 1, 4, keep="last") is None  # nothing to stop early
