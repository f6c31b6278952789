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
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gerec.classes import CLASSES
from gerec.emotion.data import FER_CLASSES, FER_TO_GROUP, FaceSet, load_face_set, validation_split
from gerec.emotion.ensemble import to_member_input
from gerec.errors import InvalidDataset, InvalidImage
from gerec.evaluation import confusion_matrix
from gerec.fileio import replaced_atomically

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


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


# ------------------------------------------------------------------ data
def load_face_folder(path: Path, size: int) -> FaceSet:
    """Crops in ``path/<class>/``, classes being the 3 group classes or FER's 7, as RGB uint8."""
    from gerec.imaging import load_image

    if not path.is_dir():
        raise InvalidDataset(f"{path}: not a folder")
    known = {c.lower() for c in (*CLASSES, *FER_CLASSES)}
    sub = sorted(d for d in path.iterdir() if d.is_dir() and d.name.lower() in known)
    found = {d.name.lower() for d in sub}
    if found <= {c.lower() for c in CLASSES}:  # "neutral" alone counts as the group class
        classes: tuple[str, ...] = CLASSES
    elif found <= set(FER_CLASSES):
        classes = FER_CLASSES
    else:
        raise InvalidDataset(f"{path}: class folders mix group classes and FER classes: {sorted(found)}")
    names = {c.lower(): c for c in classes}
    images, labels, ids = [], [], []
    for folder in sub:
        for file in sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES):
            try:
                pixels = load_image(file, max_side=4 * size).pixels
            except InvalidImage as exc:
                raise InvalidDataset(f"{file}: corrupt face crop: {exc}") from exc
            images.append(to_member_input(pixels[None], size, "rgb", "raw255")[0].astype(np.uint8))
            labels.append(classes.index(names[folder.name.lower()]))
            ids.append(f"{folder.name}/{file.name}")
    if not images:
        raise InvalidDataset(f"{path}: no face images in class subfolders ({', '.join(CLASSES)} or FER's 7)")
    return FaceSet(np.stack(images), np.asarray(labels), np.asarray(ids), classes)


def load_training_faces(path: Path, size: int) -> FaceSet:
    """A FER-format ``.npz`` or a folder of class subfolders."""
    return load_face_folder(path, size) if path.is_dir() else load_face_set(path)


def target_labels(faces: FaceSet, n_classes: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels in the member's own classes (-1 = not used, e.g. surprise for a 3-class member)."""
    if n_classes == len(faces.classes):
        return faces.labels, faces.classes
    if n_classes == 3:
        return faces.group_labels(), CLASSES
    raise InvalidDataset(f"cannot train {n_classes} classes from a set with classes {faces.classes}")


def class_weights(labels: np.ndarray, n_classes: int, mode: str) -> np.ndarray:
    """Per-class loss weights (mean weight over samples = 1): none, sqrt-inverse or inverse frequency."""
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    if mode == "none":
        w = np.ones(n_classes)
    else:
        w = 1.0 / np.maximum(counts, 1.0)
        w = np.sqrt(w) if mode == "sqrt" else w
    return w / (w[labels].mean())


def member_mapping(classes: tuple[str, ...]) -> dict[str, str | None]:
    """The registry mapping of a member's classes to the group classes."""
    return {c: (c if c in CLASSES else FER_TO_GROUP.get(c)) for c in classes}


# ------------------------------------------------------------------ keras pieces
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


def _dataset(x: np.ndarray, y: np.ndarray, w: np.ndarray, cfg: TrainConfig, epochs_done: int = 0) -> Any:
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


def _schedule(cfg: TrainConfig, steps: int) -> Any:
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


class ValidationMonitor:
    """Epoch-end validation (own classes and 3-class), best-model keeping and early stopping."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        y3: np.ndarray,
        to_group: np.ndarray,
        ckpt: Path,
        cfg: TrainConfig,
        state: dict[str, Any],
    ) -> None:
        import keras

        monitor = self

        class _Callback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                monitor.t0 = time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                monitor.epoch_end(self.model, epoch, logs or {})

        self.callback = _Callback()
        self.x, self.y, self.y3, self.to_group = x, y, y3, to_group
        self.ckpt, self.cfg, self.state = ckpt, cfg, state
        self.t0 = time.perf_counter()
        self.average: Any = None  # a WeightAverage when the run averages weights (--swa-from)

    def evaluate(self, model: Any) -> dict[str, Any]:
        """Loss, accuracy, 3-class accuracy and confusion matrices of ``model`` on validation."""
        probs = np.asarray(model.predict(self.x, batch_size=512, verbose=0), dtype=np.float64)
        loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(self.y)), self.y], 1e-7, 1.0))))
        group = probs @ self.to_group
        keep = self.y3 >= 0
        return {
            "val_loss": loss,
            "val_accuracy": float(np.mean(probs.argmax(1) == self.y)),
            "val_accuracy3": float(np.mean(group[keep].argmax(1) == self.y3[keep])),
            "confusion": confusion_matrix(self.y, probs.argmax(1), len(self.to_group)).tolist(),
            "confusion3": confusion_matrix(self.y3[keep], group[keep].argmax(1)).tolist(),
        }

    def epoch_end(self, model: Any, epoch: int, logs: dict[str, Any]) -> None:
        metrics = self.evaluate(model)
        row = {
            "epoch": epoch + 1,
            "seconds": round(time.perf_counter() - self.t0, 1),
            "lr": float(np.asarray(model.optimizer.learning_rate)),
            **{k: round(float(v), 5) for k, v in logs.items() if not k.startswith("val_")},
            **{k: round(v, 5) for k, v in metrics.items() if k.startswith("val_")},
        }
        self.state["history"].append(row)
        improved = row["val_accuracy"] > self.state["best"]
        if improved:
            self.state.update(best=row["val_accuracy"], best_epoch=epoch + 1, wait=0)
        else:
            self.state["wait"] += 1
            if self.state["wait"] >= self.cfg.patience and self.cfg.keep == "best":
                model.stop_training = True
        if self.average is not None and epoch + 1 >= self.cfg.swa_from:
            self.average.add(model, epoch + 1)
        with ExitStack() as checkpoint:  # each file to a temporary one, then all replaced together:
            # a run stopped while they are written resumes from the previous epoch, whose best.keras
            # is the one progress.json names
            if improved:
                model.save(checkpoint.enter_context(replaced_atomically(self.ckpt / "best.keras")))
            model.save(checkpoint.enter_context(replaced_atomically(self.ckpt / "last.keras")))
            progress = checkpoint.enter_context(replaced_atomically(self.ckpt / "progress.json"))
            progress.write_text(json.dumps(self.state, indent=1), encoding="utf-8")
        print(
            f"epoch {epoch + 1}/{self.cfg.epochs}  {row['seconds']:.0f}s  loss {row.get('loss', 0):.4f}  "
            f"acc {row.get('accuracy', 0):.4f}  val_loss {row['val_loss']:.4f}  val_acc {row['val_accuracy']:.4f}  "
            f"val_acc3 {row['val_accuracy3']:.4f}  best {self.state['best']:.4f}@{self.state['best_epoch']}",
            file=sys.stderr,
            flush=True,
        )


def _averaged_model(monitor: ValidationMonitor, batches: Any) -> tuple[Any, dict[str, Any]]:
    """The last epoch's net with the averaged weights and recomputed batch-norm statistics, and its
    validation figures (``shipped``: it beat the best single epoch)."""
    import keras

    from gerec.emotion.swa import recompute_batch_norm

    model = keras.models.load_model(monitor.ckpt / "last.keras", compile=False)
    monitor.average.apply(model)
    n = recompute_batch_norm(model, batches)
    metrics = monitor.evaluate(model)
    shipped = metrics["val_accuracy"] > monitor.state["best"]
    print(
        f"weight average of epochs {monitor.cfg.swa_from}-{len(monitor.state['history'])} "
        f"({monitor.average.count}; batch norm from {n} batches): val_acc {metrics['val_accuracy']:.4f}  "
        f"val_acc3 {metrics['val_accuracy3']:.4f}  {'shipped' if shipped else 'not better than the best epoch'}",
        file=sys.stderr,
        flush=True,
    )
    return model, {
        "from_epoch": monitor.cfg.swa_from,
        "epochs_averaged": monitor.average.count,
        "batch_norm_batches": n,
        "metrics": {k: round(v, 5) for k, v in metrics.items() if k.startswith("val_")},
        "shipped": shipped,
    }


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


# ------------------------------------------------------------------ the run
def train_member(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train (or resume) one member; save the best (or last) model to ``cfg.out`` and its report beside it."""
    from gerec.tf_quiet import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf

    if cfg.threads:
        tf.config.threading.set_intra_op_parallelism_threads(cfg.threads)
        tf.config.threading.set_inter_op_parallelism_threads(max(1, cfg.threads))
    import keras

    from gerec.emotion.architectures import build_model

    keras.utils.set_random_seed(cfg.seed)
    out = Path(cfg.out)
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

    ckpt = out.parent / f"{out.stem}.ckpt"
    ckpt.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {"history": [], "best": -1.0, "best_epoch": 0, "wait": 0}
    steps = int(np.ceil(len(train_idx) / cfg.batch))
    if resume and (ckpt / "last.keras").is_file():
        state = json.loads((ckpt / "progress.json").read_text(encoding="utf-8"))
        model = keras.models.load_model(ckpt / "last.keras")
        model.optimizer.learning_rate = _schedule(cfg, steps)  # stretched to --epochs, same step count
        print(f"resuming after epoch {len(state['history'])} of {cfg.epochs}", file=sys.stderr)
    else:
        channels = 1 if cfg.colour == "gray" else 3
        model = (
            initial_model(Path(cfg.init), cfg.input_size, len(classes), channels)
            if cfg.init
            else build_model(cfg.arch, cfg.input_size, len(classes), channels, cfg.width)
        )
        model.compile(
            optimizer=keras.optimizers.AdamW(_schedule(cfg, steps), weight_decay=1e-4),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
            metrics=["accuracy"],
        )
    monitor = ValidationMonitor(x[val_idx], y[val_idx], y3[val_idx], to_group, ckpt, cfg, state)
    if cfg.swa_from:
        from gerec.emotion.swa import WeightAverage

        monitor.average = WeightAverage(ckpt / "swa.npz")
    onehot = np.eye(len(classes), dtype=np.float32)[y[train_idx]]
    done = len(state["history"])
    ds = _dataset(x[train_idx], onehot, weights[y[train_idx]], cfg, done)
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
        averaged, swa = _averaged_model(monitor, ds)
        if cfg.keep == "last":  # the run's end product, whatever validation says
            swa["shipped"] = True
        if swa["shipped"]:  # with keep="best", chosen as the epochs are: by validation accuracy
            best = averaged
    final = monitor.evaluate(best)
    report = {
        "model": out.name,
        "config": asdict(cfg),
        "classes": list(classes),
        "mapping": member_mapping(classes),
        "params": int(best.count_params()),
        "train_faces": int(len(train_idx)),
        "val_faces": int(len(val_idx)),
        "validation": "validation_split(labels, 0.1, seed=0) carved from the training data",
        "best_epoch": state["best_epoch"],
        "epochs_run": len(state["history"]),
        "kept": "the weight average" if swa and swa["shipped"] else f"the {cfg.keep} epoch",
        "class_weights": [round(float(v), 4) for v in weights],
        "final": final,
        "history": state["history"],
    }
    if swa is not None:
        report["swa"] = swa
    # the member and its report replace the previous pair together, after the evaluation: a run
    # stopped before then leaves the previous pair (and its checkpoint, for --resume)
    with replaced_atomically(out) as model_tmp, replaced_atomically(out.with_suffix(".report.json")) as report_tmp:
        best.save(model_tmp)  # uncompiled: no optimizer state in the shipped file
        report_tmp.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(ckpt, ignore_errors=True)
    return report
