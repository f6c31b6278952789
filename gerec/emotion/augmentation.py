"""The shuffled, augmented training batches of ``train-faces`` (``--augment standard`` or ``robust``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from gerec.emotion.training import TrainConfig


def _augmenter(seed: int, augment: str = "standard") -> Any:
    import keras
    from keras import layers

    rotation = 0.055 if augment == "robust" else 0.03  # fractions of a full turn: 20 or 11 degrees
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomRotation(rotation, fill_mode="nearest", seed=seed + 1),
            layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", seed=seed + 2),
            layers.RandomZoom(0.1, fill_mode="nearest", seed=seed + 3),
            layers.RandomBrightness(0.15, value_range=(0.0, 1.0), seed=seed + 4),
            layers.RandomContrast(0.2, seed=seed + 5),
        ],
        name="augment",
    )


RESUME_SEED_STEP = 7919  # a resumed run's data seed moves by this per epoch already done


def training_batches(x: np.ndarray, y: np.ndarray, w: np.ndarray, cfg: TrainConfig, epochs_done: int = 0) -> Any:
    """Shuffled, augmented batches. A run resumed after ``epochs_done`` epochs draws from another
    seed, so it does not replay the first epochs' order and augmentation (a fresh run is unchanged)."""
    import tensorflow as tf

    seed = cfg.seed + RESUME_SEED_STEP * epochs_done
    aug = _augmenter(seed, cfg.augment)
    ds = tf.data.Dataset.from_tensor_slices((x, y, w.astype(np.float32)))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(cfg.batch)
    ds = ds.map(lambda a, b, c: (tf.clip_by_value(aug(a, training=True), 0.0, 1.0), b, c), num_parallel_calls=1)
    if cfg.augment == "robust":  # group-photo corruptions after the geometric ones, in numpy (seeded)
        from gerec.emotion.corruptions import robust_batch

        rng = np.random.default_rng(seed + 100)

        def corrupt(a: Any, b: Any, c: Any) -> Any:
            out = tf.numpy_function(lambda batch: robust_batch(batch, rng), [a], tf.float32, stateful=True)
            return tf.ensure_shape(out, a.shape), b, c

        ds = ds.map(corrupt, num_parallel_calls=1)
    return ds.prefetch(2)
