"""What a ``train-faces`` run starts from: a saved member to fine-tune, and the learning-rate schedule."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gerec.emotion.training import TrainConfig


def learning_rate_schedule(cfg: TrainConfig, steps: int) -> Any:
    """One epoch of linear warm-up to ``cfg.lr``, then cosine decay to 1 % over the other epochs;
    with ``swa_from``, held from that epoch on at the rate reached there."""
    import keras

    settings = dict(
        initial_learning_rate=cfg.lr / 10,
        decay_steps=max(1, steps * (cfg.epochs - 1)),
        alpha=0.01,
        warmup_target=cfg.lr,
        warmup_steps=steps,
    )
    if not cfg.swa_from:
        return keras.optimizers.schedules.CosineDecay(**settings)
    from gerec.emotion.swa import HeldCosineDecay

    return HeldCosineDecay(**settings, hold_step=steps * (cfg.swa_from - 1))


def initial_model(path: Path, input_size: int, n_classes: int, channels: int) -> Any:
    """A saved member to fine-tune; its softmax head is replaced when the class count differs."""
    import keras
    from keras import layers

    from gerec.errors import InvalidModelFile, ModelFileMissing

    if not path.is_file():
        raise ModelFileMissing(f"{path}: no such model file to fine-tune from")
    try:
        base = keras.models.load_model(path, compile=False)
    except Exception as exc:  # keras raises several types for a bad file
        raise InvalidModelFile(f"{path}: not a readable Keras model: {exc}") from exc
    expected = (input_size, input_size, channels)
    if tuple(base.input_shape[1:]) != expected:
        raise InvalidModelFile(
            f"{path}: takes inputs of shape {tuple(base.input_shape[1:])}, "
            f"this run feeds {expected} (check --input-size and --colour)"
        )
    if int(base.output_shape[-1]) == n_classes:
        return base
    features = base.layers[-2].output  # the layer that feeds the softmax head
    head = layers.Dense(n_classes, activation="softmax", name=f"probs{n_classes}")(features)
    return keras.Model(base.inputs, head, name=f"{base.name}_ft{n_classes}")
