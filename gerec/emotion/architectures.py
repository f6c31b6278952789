"""Face-expression CNNs written in the project (Keras 3): a VGG-style net and a small ResNet.

Both take ``(size, size, channels)`` float inputs already scaled by the member's preprocessing
(``unit``: pixels / 255) and end in a softmax over the member's classes. ``width`` scales every
layer's filter count, so the same design can be sized to the CPU budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ARCHITECTURES = ("vgg", "resnet")
AUGMENTS = ("standard", "robust")  # train-faces --augment: robust adds group-photo corruptions


def _conv_bn(x: Any, filters: int, stride: int = 1, relu: bool = True) -> Any:
    import keras
    from keras import layers

    x = layers.Conv2D(
        filters,
        3,
        strides=stride,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer=keras.regularizers.l2(1e-4),
    )(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x) if relu else x


def build_vgg(input_size: int, n_classes: int, channels: int = 1, width: float = 1.0) -> Any:
    """Four blocks of two 3x3 conv-BN-ReLU layers and a max-pool, then global pooling and softmax."""
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, channels), name="face")
    x = inputs
    for i, base in enumerate((32, 64, 128, 256)):
        filters = max(8, int(round(base * width)))
        x = _conv_bn(x, filters)
        x = _conv_bn(x, filters)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Dropout(0.1 + 0.05 * i)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(max(32, int(round(256 * width))), activation="relu", kernel_initializer="he_normal")(x)
    x = layers.Dropout(0.4)(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="gerec_vgg")


def _residual_block(x: Any, filters: int, stride: int) -> Any:
    from keras import layers

    shortcut = x
    y = _conv_bn(x, filters, stride)
    y = _conv_bn(y, filters, relu=False)
    if stride != 1 or int(shortcut.shape[-1]) != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False)(shortcut)
        shortcut = layers.BatchNormalization()(shortcut)
    return layers.Activation("relu")(layers.Add()([y, shortcut]))


def build_resnet(input_size: int, n_classes: int, channels: int = 1, width: float = 1.0) -> Any:
    """A stem conv, four stages of one or two basic residual blocks, global pooling and softmax."""
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, channels), name="face")
    x = _conv_bn(inputs, max(8, int(round(32 * width))))
    for stage, (base, blocks) in enumerate(((32, 1), (64, 2), (128, 2), (256, 1))):
        filters = max(8, int(round(base * width)))
        for b in range(blocks):
            x = _residual_block(x, filters, 2 if (b == 0 and stage > 0) else 1)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.4)(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="gerec_resnet")


BUILDERS: dict[str, Callable[..., Any]] = {"vgg": build_vgg, "resnet": build_resnet}


def build_model(arch: str, input_size: int, n_classes: int, channels: int = 1, width: float = 1.0) -> Any:
    """A fresh, uncompiled Keras model of the named architecture."""
    if arch not in BUILDERS:
        raise ValueError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHITECTURES)}")
    return BUILDERS[arch](input_size, n_classes, channels, width)
