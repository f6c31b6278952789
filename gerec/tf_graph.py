"""Keras inference as one traced TensorFlow graph (eager Keras calls cost several times more)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gerec.tf_quiet import quiet_tensorflow


def traced_inference(model: Any, input_shape: tuple[int | None, ...]) -> Callable[[Any], Any]:
    """``model(x, training=False)`` traced once for float32 inputs of ``input_shape`` (``None`` = any size)."""
    quiet_tensorflow()
    import tensorflow as tf

    return tf.function(  # type: ignore[no-any-return]
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec(input_shape, tf.float32)],
        reduce_retracing=True,
    )
