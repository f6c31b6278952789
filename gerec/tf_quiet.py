"""Import TensorFlow with its start-up logs kept quiet."""

from __future__ import annotations

import logging
import os
import sys


def quiet_logs() -> None:
    """Keep TensorFlow's C++ logs to errors in this process and its children (unless the environment
    already chose a level). Importing :mod:`gerec` calls this, so every entry point gets it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ and Python logging and import it without its start-up banner.

    ``TF_CPP_MIN_LOG_LEVEL`` does not reach the lines TensorFlow prints before its logging is
    set up (the oneDNN and CPU-feature notices), so the import itself runs with the process's
    standard error pointed at /dev/null; Python exceptions still propagate.

    oneDNN is off unless ``TF_ENABLE_ONEDNN_OPTS=1`` is set: it makes MTCNN detection about 25 %
    faster here, but with it a Keras model trained and reloaded in the same process crashed
    (segmentation fault in tests/test_training.py), so the safe setting is the default.
    """
    quiet_logs()
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    if "tensorflow" in sys.modules:
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable file descriptor 2: import as is
        import tensorflow  # noqa: F401

        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import tensorflow  # noqa: F401
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
