"""Stochastic weight averaging: the held schedule, the running mean, batch-norm recomputation, a run."""

from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from gerec.config import FER_TRAIN_FILE  # noqa: E402
from gerec.emotion.swa import HeldCosineDecay, WeightAverage, recompute_batch_norm  # noqa: E402
from gerec.emotion.training import TrainConfig, train_member  # noqa: E402


def _settings() -> dict:
    return dict(initial_learning_rate=1e-4, decay_steps=100, alpha=0.01, warmup_target=1e-3, warmup_steps=10)


def test_held_schedule_follows_the_cosine_then_stays_put():
    plain = keras.optimizers.schedules.CosineDecay(**_settings())
    held = HeldCosineDecay(**_settings(), hold_step=40)
    for step in (0, 5, 10, 25, 40):
        assert float(held(step)) == pytest.approx(float(plain(step)))
    assert float(plain(80)) < float(plain(40))
    for step in (41, 80, 500):
        assert float(held(step)) == pytest.approx(float(plain(40)))
    again = HeldCosineDecay.from_config(held.get_config())  # what a resumed run's checkpoint rebuilds
    assert again.hold_step == 40 and float(again(80)) == pytest.approx(float(held(80)))


def _tiny_model(seed: int):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((4,))
    x = keras.layers.BatchNormalization(name="bn")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="dense")(x))


def test_weight_average_is_the_mean_and_survives_a_restart(tmp_path):
    models = [_tiny_model(seed) for seed in (1, 2, 3)]
    average = WeightAverage(tmp_path / "swa.npz")
    average.add(models[0], epoch=4)
    average.add(models[1], epoch=5)
    resumed = WeightAverage(tmp_path / "swa.npz")  # an interrupted run picks the mean up from disk
    assert (resumed.count, resumed.last_epoch) == (2, 5)
    resumed.add(models[0], epoch=5)  # epoch 5 redone after a stop before its checkpoint: counted once
    resumed.add(models[2], epoch=6)
    assert resumed.count == 3
    target = _tiny_model(9)
    resumed.apply(target)
    for i, variable in enumerate(target.trainable_variables):
        expected = np.mean([m.trainable_variables[i].numpy() for m in models], axis=0)
        np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-6, atol=1e-7)


def test_batch_norm_statistics_become_the_mean_over_the_batches():
    model = _tiny_model(0)
    rng = np.random.default_rng(0)
    batches = [(rng.normal(loc=3.0 + i, scale=1.0 + i, size=(32, 4)).astype("float32"), None) for i in range(5)]
    bn = model.get_layer("bn")
    momentum = bn.momentum
    assert recompute_batch_norm(model, batches) == 5
    np.testing.assert_allclose(bn.moving_mean.numpy(), np.mean([b.mean(0) for b, _ in batches], axis=0), rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), np.mean([b.var(0) for b, _ in batches], axis=0), rtol=1e-4)
    assert bn.momentum == momentum


def test_a_run_with_swa_reports_the_average_and_ships_the_better(fer_dir, tmp_path):
    out = tmp_path / "swa.keras"
    cfg = TrainConfig(
        data=str(fer_dir / FER_TRAIN_FILE),
        out=str(out),
        width=0.25,
        epochs=3,
        batch=64,
        limit=512,
        swa_from=2,
        patience=9,
    )
    report = train_member(cfg)
    swa = report["swa"]
    assert swa["from_epoch"] == 2 and swa["epochs_averaged"] == 2 and swa["batch_norm_batches"] == 8
    best_epoch = max(row["val_accuracy"] for row in report["history"])
    assert swa["shipped"] == (swa["metrics"]["val_accuracy"] > best_epoch)
    shipped = swa["metrics"]["val_accuracy"] if swa["shipped"] else best_epoch
    assert report["final"]["val_accuracy"] == pytest.approx(shipped, abs=1e-5)
    assert json.loads(out.with_suffix(".report.json").read_text())["swa"] == swa
    assert [row["lr"] for row in report["history"]][1:] == pytest.approx([report["history"][0]["lr"]] * 2)


def test_checkpoint_files_are_replaced_in_one_step(tmp_path):
    """A write that fails part-way keeps the previous file whole and leaves no partial file behind."""
    from gerec.fileio import replaced_atomically

    target = tmp_path / "progress.json"
    target.write_text('{"epoch": 3}', encoding="utf-8")
    with pytest.raises(OSError, match="disk full"), replaced_atomically(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".json"  # writers that check the suffix accept it
        tmp.write_text('{"epo', encoding="utf-8")
        raise OSError("disk full")
    assert target.read_text(encoding="utf-8") == '{"epoch": 3}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["progress.json"]
    with replaced_atomically(target) as tmp:
        tmp.write_text('{"epoch": 4}', encoding="utf-8")
    assert target.read_text(encoding="utf-8") == '{"epoch": 4}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["progress.json"]
