"""Models loaded in a background thread as soon as the dashboard serves its first page.

``start()`` is a ``st.cache_resource`` singleton called from ``app.py``: the first session starts
one daemon thread per server process that fills the same caches the pages use (face models,
scene networks, the default pipeline and labeler) and runs each model once on dummy input, so
the first photo pays neither loading nor tracing. Last, when there is something to trace or
compile (a Keras member, or the SHAP method), it warms the saliency explainer through the same
function the Analyze page calls (``state.saliency_maps``); with ONNX members and greedy deletion a
first map costs what any other does, so that warm-up would only hold the explainer's lock.
Each warm-up on dummy input is skipped once a photo has come (``state.a_photo_came``): that
photo's own analysis and first map do the warming, and a warm-up would only compete with them
for the two cores (and, for saliency, hold the explainer's lock while the page wants its map).

``GEREC_PRELOAD=0`` turns it off (the benchmark's cold-start baseline).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from gerec_app import settings, state

PRELOAD_ENV = "GEREC_PRELOAD"


@dataclass
class Preload:
    """What the background thread has done so far (seconds per finished step)."""

    enabled: bool
    started: float = field(default_factory=time.perf_counter)
    steps: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    current: str = ""
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def step(self, name: str, fn) -> None:  # noqa: ANN001 - any zero-argument callable
        self.current = name
        t0 = time.perf_counter()
        fn()
        self.steps[name] = time.perf_counter() - t0
        if os.environ.get("GEREC_PRELOAD_LOG"):
            print(
                f"preload {name}: {self.steps[name]:.2f} s (at {time.perf_counter() - self.started:.2f} s)",
                file=sys.stderr,
                flush=True,
            )

    def skip(self, name: str, why: str) -> None:
        """Record a step left out, and why."""
        self.skipped[name] = why
        if os.environ.get("GEREC_PRELOAD_LOG"):
            print(f"preload {name}: skipped ({why})", file=sys.stderr, flush=True)

    def summary(self) -> str:
        """``face models 3.1 s, …`` or what is still loading."""
        if not self.enabled:
            return "models load on the first photo (preloading is off)"
        done = ", ".join(f"{k} {v:.1f} s" for k, v in self.steps.items())
        if self.error:
            return f"preloading stopped ({self.error}); models load on the first photo. Done: {done or 'nothing'}"
        if self.done.is_set():
            if not self.skipped:
                return f"models ready ({done})"
            why = next(iter(self.skipped.values()))
            return f"models ready ({done}; not warmed, {why}: {', '.join(self.skipped)})"
        return f"loading in the background: {self.current}…" + (f" (done: {done})" if done else "")


def _dummy_photo() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)


def _saliency_code() -> None:
    """shap and its compiled code (numba's disk cache): the part of the explainer's first call that
    needs no face. An image masker builds its partition tree with a numba function, whose first
    call in a process loads the compiled code (about a second here); a small one does that now."""
    from gerec.jit_cache import cache_shap_jit

    cache_shap_jit()
    import shap

    shap.maskers.Image(np.zeros((8, 8, 1), dtype=np.float32), (8, 8, 1))


def _run(preload: Preload) -> None:
    def warm(name: str, fn) -> None:  # noqa: ANN001 - any zero-argument callable
        # once a photo has come, its own analysis traces the models: a warm-up on dummy input would
        # only compete with it for the CPU (and, for saliency, hold the explainer's lock)
        if state.a_photo_came():
            preload.skip(name, "a photo came first")
        else:
            preload.step(name, fn)

    try:
        s = settings.Settings(labels_file=settings.default_labels_file())
        preload.step("face models", state.face_models)
        detector, ensemble = state.face_models()
        warm("face detector", detector.warm_up)
        warm("face ensemble", lambda: ensemble.predict(np.zeros((1, 128, 128, 3), dtype=np.uint8)))
        preload.step("scene network", lambda: state.photo_network(s.mode))
        pipe = state.pipeline(s.mode, s.chain, s.labels_file)
        warm("scene labeler", lambda: pipe.analyze(_dummy_photo(), "warm-up.png"))
        from gerec.emotion.ensemble import KerasMember
        from gerec.explain import DEFAULT_METHOD

        if DEFAULT_METHOD == "shap":  # the deletion method needs no shap code
            preload.step("saliency code", _saliency_code)
        # with ONNX members and greedy deletion a first map costs what any other does: no warm-up
        if DEFAULT_METHOD == "shap" or any(isinstance(m, KerasMember) for m in ensemble.members):
            warm("saliency", lambda: state.saliency_maps(np.full((128, 128, 3), 128, dtype=np.uint8)))
    except Exception as exc:  # noqa: BLE001 - the page loads the models itself and shows any error
        preload.error = f"{type(exc).__name__}: {exc}"
    finally:
        preload.current = ""
        preload.done.set()


@st.cache_resource(show_spinner=False)
def start() -> Preload:
    """Start the background loading once per server process (off when ``GEREC_PRELOAD=0``)."""
    enabled = os.environ.get(PRELOAD_ENV, "1").strip() not in ("0", "false", "no", "off")
    preload = Preload(enabled)
    if enabled:
        threading.Thread(target=_run, args=(preload,), name="gerec-preload", daemon=True).start()
    else:
        preload.done.set()
    return preload
