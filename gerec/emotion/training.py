"""Train one face-expression member on a face set (FER ``.npz``) or a folder of labelled crops.

The validation split is always carved out of the *training* data with
:func:`gerec.emotion.data.validation_split` (10 %, stratified, seed 0); a test file is never
read here. Training uses augmentation (flip, shifts, rotation, zoom, brightness, contrast),
softened class weights, label smoothing, a warm-up + cosine learning-rate schedule and early
stopping on the validation accuracy; the best epoch's weights are saved with a JSON report.
With ``swa_from`` the weights of the last epochs are also averaged (:mod:`gerec.emotion.swa`),
and the average is saved instead when it beats the best epoch on validation. With
``keep="last"`` nothing is chosen on the validation split: no early stopping, and the last epoch
(or, with ``swa_from``, the average) is saved, so ``fit-ensemble`` can score the member on that
split without a choice already made there.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gerec.classes import CLASSES
from gerec.emotion.augmentation import training_batches
from gerec.emotion.data import validation_split
from gerec.emotion.ensemble import to_member_input
from gerec.emotion.model_start import initial_model, learning_rate_schedule
from gerec.emotion.training_data import class_weights, load_training_faces, member_mapping, target_labels
from gerec.emotion.validation_monitor import ValidationMonitor, averaged_model
from gerec.errors import InvalidDataset
from gerec.fileio import replaced_together, report_path


@dataclass
class TrainConfig:
    """Everything that defines one training run (stored in the report)."""

    data: str
    out: str
    arch: str = "vgg"
    input_size: int = 48
    n_classes: int = 7
    colour: str = "gray"
    width: float = 1.0
    epochs: int = 24
    batch: int = 128
    lr: float = 2e-3
    patience: int = 6
    seed: int = 0
    label_smoothing: float = 0.1
    class_weight: str = "sqrt"  # none | sqrt | balanced
    threads: int = 0
    limit: int = 0  # use only the first N training faces (tests, timing)
    init: str = ""  # fine-tune: start from this saved member (.keras) instead of fresh weights
    augment: str = "standard"  # standard | robust (adds group-photo corruptions, rotation up to 20 degrees)
    swa_from: int = 0  # from this epoch on: learning rate held, weights averaged (0 = no averaging)
    keep: str = "best"  # best: the best epoch on validation (early stopping on) | last: no choice on validation
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedFaces:
    """A run's faces ready to fit: the member's inputs and targets, its two splits and class weights."""

    x: np.ndarray  # the member's input, one face a row
    y: np.ndarray  # each face's class among the member's own (-1: not used)
    y3: np.ndarray  # each face's group class
    to_group: np.ndarray  # member class -> group class, a 0/1 matrix
    classes: tuple[str, ...]  # the member's own classes
    train_idx: np.ndarray
    val_idx: np.ndarray
    weights: np.ndarray  # the loss weight of each member class


def train_member(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train (or resume) one member; save the best (or last) model to ``cfg.out`` and its report beside it."""
    _set_up_keras(cfg)
    out = Path(cfg.out)
    data = _prepare_faces(cfg)
    ckpt = out.parent / f"{out.stem}.ckpt"
    ckpt.mkdir(parents=True, exist_ok=True)
    model, state = _start_model(cfg, data, ckpt, resume)
    best, swa, final = _fit(cfg, data, model, ckpt, state)
    report = _save_member(cfg, data, state, best, swa, final)
    shutil.rmtree(ckpt, ignore_errors=True)
    return report


def _set_up_keras(cfg: TrainConfig) -> None:
    """TensorFlow quiet, its thread counts (``cfg.threads``) and the run's random seed."""
    from gerec.tf_quiet import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf

    if cfg.threads:
        tf.config.threading.set_intra_op_parallelism_threads(cfg.threads)
        tf.config.threading.set_inter_op_parallelism_threads(max(1, cfg.threads))
    import keras

    keras.utils.set_random_seed(cfg.seed)


def _prepare_faces(cfg: TrainConfig) -> PreparedFaces:
    """The faces of ``cfg.data`` in the member's input and classes, split into training and validation."""
    faces = load_training_faces(Path(cfg.data), cfg.input_size)
    labels, classes = target_labels(faces, cfg.n_classes)
    train_idx, val_idx = validation_split(faces.labels, 0.1, seed=0)
    train_idx = train_idx[labels[train_idx] >= 0]
    if cfg.limit:  # a random subset (the files may be sorted by class)
        rng = np.random.default_rng(cfg.seed)
        train_idx = np.sort(rng.permutation(train_idx)[: cfg.limit])
        val_idx = np.sort(rng.permutation(val_idx)[: max(cfg.limit // 4, 8)])
    val_idx = val_idx[labels[val_idx] >= 0]
    if len(train_idx) == 0 or len(val_idx) == 0:
        raise InvalidDataset(f"{cfg.data}: too few faces for a training and a validation split")
    x = to_member_input(faces.images, cfg.input_size, cfg.colour, "unit")
    y = labels
    to_group = np.zeros((len(classes), len(CLASSES)))
    for i, target in enumerate(member_mapping(classes).values()):
        if target is not None:
            to_group[i, CLASSES.index(target)] = 1.0
    y3 = faces.group_labels() if faces.classes != CLASSES else faces.labels
    weights = class_weights(y[train_idx], len(classes), cfg.class_weight)
    return PreparedFaces(x, y, y3, to_group, classes, train_idx, val_idx, weights)


def _start_model(cfg: TrainConfig, data: PreparedFaces, ckpt: Path, resume: bool) -> tuple[Any, dict[str, Any]]:
    """The compiled model and the run's progress: resumed from ``ckpt`` (``resume``, when it holds
    a last epoch), else fresh: built from ``cfg.arch`` or started from ``cfg.init``."""
    import keras

    from gerec.emotion.architectures import build_model

    state: dict[str, Any] = {"history": [], "best": -1.0, "best_epoch": 0, "wait": 0}
    steps = int(np.ceil(len(data.train_idx) / cfg.batch))
    if resume and (ckpt / "last.keras").is_file():
        state = json.loads((ckpt / "progress.json").read_text(encoding="utf-8"))
        model = keras.models.load_model(ckpt / "last.keras")
        model.optimizer.learning_rate = learning_rate_schedule(cfg, steps)  # stretched to --epochs, same step count
        print(f"resuming after epoch {len(state['history'])} of {cfg.epochs}", file=sys.stderr)
    else:
        channels = 1 if cfg.colour == "gray" else 3
        model = (
            initial_model(Path(cfg.init), cfg.input_size, len(data.classes), channels)
            if cfg.init
            else build_model(cfg.arch, cfg.input_size, len(data.classes), channels, cfg.width)
        )
        model.compile(
            optimizer=keras.optimizers.AdamW(learning_rate_schedule(cfg, steps), weight_decay=1e-4),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
            metrics=["accuracy"],
        )
    return model, state


def _fit(
    cfg: TrainConfig, data: PreparedFaces, model: Any, ckpt: Path, state: dict[str, Any]
) -> tuple[Any, dict[str, Any] | None, dict[str, Any]]:
    """Fit the epochs left (checkpoints and early stopping in ``ckpt``, progress in ``state``); the
    model kept (the best or last epoch, or the weight average), its average's figures, its validation."""
    import keras

    monitor = ValidationMonitor(
        data.x[data.val_idx], data.y[data.val_idx], data.y3[data.val_idx], data.to_group, ckpt, cfg, state
    )
    if cfg.swa_from:
        from gerec.emotion.swa import WeightAverage

        monitor.average = WeightAverage(ckpt / "swa.npz")
    onehot = np.eye(len(data.classes), dtype=np.float32)[data.y[data.train_idx]]
    done = len(state["history"])
    ds = training_batches(data.x[data.train_idx], onehot, data.weights[data.y[data.train_idx]], cfg, done)
    if done < cfg.epochs and (state["wait"] < cfg.patience or cfg.keep == "last"):
        model.fit(
            ds,
            epochs=cfg.epochs,
            initial_epoch=done,
            callbacks=[monitor.callback],
            verbose=1 if sys.stderr.isatty() else 2,
        )
    best = keras.models.load_model(ckpt / f"{cfg.keep}.keras", compile=False)
    swa = None
    if monitor.average is not None and monitor.average.count:
        averaged, swa = averaged_model(monitor, ds)
        if cfg.keep == "last":  # the run's end product, whatever validation says
            swa["shipped"] = True
        if swa["shipped"]:  # with keep="best", chosen as the epochs are: by validation accuracy
            best = averaged
    final = monitor.evaluate(best)
    return best, swa, final


def _save_member(
    cfg: TrainConfig,
    data: PreparedFaces,
    state: dict[str, Any],
    best: Any,
    swa: dict[str, Any] | None,
    final: dict[str, Any],
) -> dict[str, Any]:
    """Write the kept model to ``cfg.out`` and its report beside it, replacing the previous pair
    together; the report."""
    out = Path(cfg.out)
    report = {
        "model": out.name,
        "config": asdict(cfg),
        "classes": list(data.classes),
        "mapping": member_mapping(data.classes),
        "params": int(best.count_params()),
        "train_faces": int(len(data.train_idx)),
        "val_faces": int(len(data.val_idx)),
        "validation": "validation_split(labels, 0.1, seed=0) carved from the training data",
        "best_epoch": state["best_epoch"],
        "epochs_run": len(state["history"]),
        "kept": "the weight average" if swa and swa["shipped"] else f"the {cfg.keep} epoch",
        "class_weights": [round(float(v), 4) for v in data.weights],
        "final": final,
        "history": state["history"],
    }
    if swa is not None:
        report["swa"] = swa
    # the member and its report replace the previous pair together, after the evaluation: a run
    # stopped before then leaves the previous pair (and its checkpoint, for --resume)
    with replaced_together() as files:
        best.save(files.temporary(out))  # uncompiled: no optimizer state in the shipped file
        files.temporary(report_path(out)).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return report
