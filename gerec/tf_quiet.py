"""Import TensorFlow/Keras with start-up logs kept quiet (call before any TF import)."""

from __future__ import annotations

import logging
import os


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ and Python start-up logging."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
