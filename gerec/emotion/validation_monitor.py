"""Epoch-end validation of a ``train-faces`` run: its checkpoints, early stopping and the weight average."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gerec.evaluation import confusion_matrix
from gerec.fileio import replaced_together

if TYPE_CHECKING:
    from gerec.emotion.training import TrainConfig


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
        with replaced_together() as checkpoint:  # a run stopped while they are written resumes
            # from the previous epoch, whose best.keras is the one progress.json names
            if improved:
                model.save(checkpoint.temporary(self.ckpt / "best.keras"))
            model.save(checkpoint.temporary(self.ckpt / "last.keras"))
            checkpoint.temporary(self.ckpt / "progress.json").write_text(
                json.dumps(self.state, indent=1), encoding="utf-8"
            )
        print(
            f"epoch {epoch + 1}/{self.cfg.epochs}  {row['seconds']:.0f}s  loss {row.get('loss', 0):.4f}  "
            f"acc {row.get('accuracy', 0):.4f}  val_loss {row['val_loss']:.4f}  val_acc {row['val_accuracy']:.4f}  "
            f"val_acc3 {row['val_accuracy3']:.4f}  best {self.state['best']:.4f}@{self.state['best_epoch']}",
            file=sys.stderr,
            flush=True,
        )


def averaged_model(monitor: ValidationMonitor, batches: Any) -> tuple[Any, dict[str, Any]]:
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
