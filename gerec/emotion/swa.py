"""Stochastic weight averaging (SWA, Izmailov et al. 2018) for ``train-faces --swa-from E``.

From epoch ``E`` on, the learning rate is held where the cosine schedule had brought it, and
the weights at the end of every epoch are averaged. Averaged weights lie nearer the middle of a
wide minimum than any one epoch's, which usually generalises better; the batch-norm statistics
of the averaged net are then recomputed with one pass over the training batches, because the
average of the epochs' statistics does not describe the averaged weights.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from gerec.fileio import replaced_atomically


@keras.saving.register_keras_serializable(package="gerec")
class HeldCosineDecay(keras.optimizers.schedules.CosineDecay):  # type: ignore[misc]
    """Keras's warm-up and cosine schedule, held constant from ``hold_step`` on (the SWA phase)."""

    def __init__(self, *args: Any, hold_step: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hold_step = int(hold_step)

    def __call__(self, step: Any) -> Any:
        if self.hold_step > 0:
            step = keras.ops.minimum(step, self.hold_step)
        return super().__call__(step)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "hold_step": self.hold_step}


class WeightAverage:
    """A running mean of a model's trainable weights, kept on disk beside the checkpoints."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self.last_epoch = 0  # the last epoch folded in: a resumed run that redoes it adds it once
        self.mean: list[np.ndarray] = []
        if path.is_file():
            with np.load(path) as saved:
                self.count, self.last_epoch = int(saved["count"]), int(saved["last_epoch"])
                self.mean = [saved[f"w{i}"] for i in range(len(saved.files) - 2)]

    def add(self, model: Any, epoch: int) -> None:
        """Fold the model's trainable weights after ``epoch`` (1-based) into the mean, and save it."""
        if epoch <= self.last_epoch:
            return
        weights = [np.asarray(v.numpy(), dtype=np.float64) for v in model.trainable_variables]
        if not self.mean:
            self.mean = weights
        else:
            self.mean = [m + (w - m) / (self.count + 1) for m, w in zip(self.mean, weights, strict=True)]
        self.count, self.last_epoch = self.count + 1, epoch
        arrays: dict[str, Any] = {f"w{i}": m for i, m in enumerate(self.mean)}
        with replaced_atomically(self.path) as tmp:  # a crash mid-write keeps the previous mean
            np.savez(tmp, count=np.asarray(self.count), last_epoch=np.asarray(epoch), **arrays)

    def apply(self, model: Any) -> None:
        """Set the model's trainable weights to the mean."""
        for variable, value in zip(model.trainable_variables, self.mean, strict=True):
            variable.assign(value.astype(variable.dtype))


def recompute_batch_norm(model: Any, batches: Iterable[Any]) -> int:
    """Replace every batch-norm layer's moving statistics by their mean over ``batches``.

    Each batch is run in training mode, with the layers' momentum set so that the moving
    statistics become the plain running mean of the batch statistics. Returns the batch count.
    """
    norms = [layer for layer in _layers(model) if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms:
        return 0
    momenta = [layer.momentum for layer in norms]
    for layer in norms:
        layer.moving_mean.assign(np.zeros(layer.moving_mean.shape, dtype=layer.moving_mean.dtype))
        layer.moving_variance.assign(np.ones(layer.moving_variance.shape, dtype=layer.moving_variance.dtype))
    n = 0
    try:
        for batch in batches:
            x = batch[0] if isinstance(batch, tuple | list) else batch
            for layer in norms:
                layer.momentum = n / (n + 1)  # moving = moving * n/(n+1) + batch / (n+1)
            model(x, training=True)
            n += 1
    finally:
        for layer, momentum in zip(norms, momenta, strict=True):
            layer.momentum = momentum
    return n


def _layers(model: Any) -> list[Any]:
    """Every layer, nested models included."""
    found = []
    for layer in model.layers:
        found.extend(_layers(layer) if hasattr(layer, "layers") else [layer])
    return found
