"""Engines that turn photos into records: a bounded local pipeline, and Ray actors."""

from __future__ import annotations

import logging
import queue
import signal
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gerec.classes import true_class_of
from gerec.errors import GerecError
from gerec.fileio import printable
from gerec.imaging import Photo, load_image
from gerec.modes import DEFAULT_MODE
from gerec.runs.records import failed_record, prediction_record

_DONE = object()


@dataclass(frozen=True)
class PipelineSpec:
    """What a worker needs to build its own pipeline (picklable)."""

    mode: str = DEFAULT_MODE
    aggregation: str = "mean"
    labels: str | None = None
    chain: str | None = None

    def build(self) -> Any:
        """A pipeline with these settings (models load once per process)."""
        from gerec.factory import make_pipeline

        return make_pipeline(self.mode, self.aggregation, Path(self.labels) if self.labels else None, self.chain)


def image_key(path: str | Path, root: str | Path | None = None) -> str:
    """How a photo is named in records, OUT.csv and the store: its path relative to the images
    root (``Positive/x.jpg``), or its file name without a root; printable even when not UTF-8."""
    path = Path(path)
    try:
        name = path.relative_to(root).as_posix() if root is not None else path.name
    except ValueError:
        name = path.name
    return printable(name)


def analyse_path(
    pipeline: Any, path: str, photo: Photo | BaseException | None = None, key: str | None = None
) -> dict[str, Any]:
    """One photo's record under ``key``; any failure becomes a record with its reason."""
    actual = true_class_of(path)
    key = key or image_key(path)
    try:
        if isinstance(photo, BaseException):
            raise photo
        decoded = photo if photo is not None else load_image(path)
        return {**prediction_record(pipeline.analyze(decoded), actual), "image": key}
    except GerecError as exc:
        return failed_record(key, actual, f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - one photo must never stop or lose the batch
        return failed_record(key, actual, f"unexpected {type(exc).__name__}: {exc}")


def local_records(
    pipeline: Any, paths: Sequence[str], prefetch: int = 4, keys: Sequence[str] | None = None
) -> Generator[dict[str, Any], None, None]:
    """Records in order, one for every path whatever happens. A decoding thread stays at most
    ``prefetch`` photos ahead of the models, so decoding overlaps detection and scoring and memory
    does not grow with the set. If that thread stops, the photos it left get error records."""
    keys = list(keys) if keys is not None else [image_key(p) for p in paths]
    buffer: queue.Queue[Any] = queue.Queue(maxsize=prefetch)
    stop = threading.Event()

    def decode() -> None:
        try:
            for path in paths:
                if stop.is_set():
                    return
                try:
                    item: Photo | BaseException = load_image(path, max_side=pipeline.config.max_side)
                except Exception as exc:  # noqa: BLE001 - recorded for this photo, the next goes on
                    item = exc
                buffer.put((path, item))
        finally:
            buffer.put(_DONE)

    thread = threading.Thread(target=decode, daemon=True, name="gerec-decode")
    thread.start()
    done = 0
    try:
        while (got := buffer.get()) is not _DONE:
            path, photo = got
            yield analyse_path(pipeline, path, photo, keys[done])
            done += 1
        for path, key in zip(paths[done:], keys[done:]):
            yield failed_record(key, true_class_of(path), "not analysed: the decoding thread stopped")
    finally:
        stop.set()
        while thread.is_alive():  # unblock the producer if the consumer stopped early
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


def keeping_sigterm(start: Callable[[], object]) -> None:
    """Call ``start`` (``ray.init``), then give SIGTERM back to a handler set in Python before it
    (evaluate's, which stops between two images and says so): ``ray.init`` sets one that exits at once."""
    kept = signal.getsignal(signal.SIGTERM)
    start()
    if callable(kept) and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, kept)


def ray_records(
    spec: PipelineSpec,
    paths: Sequence[str],
    workers: int = 2,
    address: str | None = None,
    keys: Sequence[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Records as Ray actors finish them (any order). Each actor loads the models once.

    ``address`` connects to an existing cluster (``ray.init(address=...)``); otherwise a local
    Ray with ``workers`` CPUs is started.
    """
    import ray
    from ray.util import ActorPool

    started = False
    if not ray.is_initialized():
        where = {"address": address} if address else {"num_cpus": workers, "include_dashboard": False}
        keeping_sigterm(lambda: ray.init(**where, logging_level=logging.ERROR, log_to_driver=False))
        started = True

    @ray.remote(num_cpus=1)
    class Worker:
        def __init__(self, spec: PipelineSpec) -> None:
            self.pipeline = spec.build()

        def run(self, path: str, key: str) -> dict[str, Any]:
            return analyse_path(self.pipeline, path, key=key)

    try:
        pool = ActorPool([Worker.remote(spec) for _ in range(workers)])  # type: ignore[attr-defined]
        named = list(zip(paths, keys if keys is not None else [image_key(p) for p in paths]))
        yield from pool.map_unordered(lambda actor, item: actor.run.remote(*item), named)
    finally:
        if started:
            ray.shutdown()
