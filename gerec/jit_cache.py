"""shap's numba code: from a disk cache, or run as plain Python where numba cannot cache it.

A process's first shap Partition explanation used to compile shap's numba functions: about 8 s
on this machine, 18 s and more under load. :func:`cache_shap_jit`, called before the first
explanation:

- turns numba's on-disk cache on for shap's functions that numba can reload (partition tree,
  masking, links), so only the first process ever compiles them;
- runs as plain Python the three it cannot (numba crashes reloading a function that takes
  another compiled function, shap's ``link``, or that calls itself, ``lower_credit``). Their
  bodies are shap's own (``py_func``); as Python they cost a few milliseconds per explanation,
  and ``tests/test_jit_cache.py`` holds them equal to the compiled ones.

The cache lives in ``$GEREC_JIT_CACHE`` (default ``~/.cache/gerec/numba``; ``0`` turns all of
this off); numba checks each entry against its source file, so a shap upgrade recompiles.
"""

from __future__ import annotations

import importlib
import inspect
import os
import threading
from pathlib import Path
from typing import Any

CACHE_ENV = "GEREC_JIT_CACHE"
SHAP_JIT_MODULES = (
    "shap.links",
    "shap.maskers._image",
    "shap.utils._masked_model",
    "shap.explainers._partition",
    "shap.utils._clustering",
)
"""The shap modules whose numba functions a Partition explanation compiles."""
PYTHON_FUNCTIONS = (
    ("shap.utils._masked_model", "_build_fixed_single_output"),
    ("shap.utils._masked_model", "_build_fixed_multi_output"),
    ("shap.explainers._partition", "lower_credit"),
)
"""shap's numba functions numba cannot reload from its cache: run as Python instead."""
ORIGINALS: dict[tuple[str, str], Any] = {}
"""The compiled functions replaced, by (module, name): for tests that compare both."""
_done: list[Path | None] = []
_lock = threading.Lock()


def cache_dir() -> Path | None:
    """Where the compiled code is kept (``None`` when turned off)."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env.lower() in ("0", "off", "no", "false"):
        return None
    return Path(env) if env else Path.home() / ".cache" / "gerec" / "numba"


def cache_shap_jit() -> Path | None:
    """Set shap's numba functions up as above (once per process); returns the cache folder."""
    with _lock:  # the dashboard's preload thread and a page may both ask first
        if _done:
            return _done[0]
        folder = cache_dir()
        if folder is not None:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                _set_up(folder)
            except (OSError, ImportError, AttributeError, RuntimeError):  # read-only home, another shap
                folder = None
        _done.append(folder)
        return folder


def _set_up(folder: Path) -> None:
    import numba
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    numba.config.CACHE_DIR = str(folder)  # type: ignore[attr-defined]
    for module_name, name in PYTHON_FUNCTIONS:
        module = importlib.import_module(module_name)
        compiled = getattr(module, name)
        if isinstance(compiled, Dispatcher):
            ORIGINALS[(module_name, name)] = compiled
            setattr(module, name, compiled.py_func)  # recursion resolves the module name: Python too
    for module_name in SHAP_JIT_MODULES:
        for obj in vars(importlib.import_module(module_name)).values():
            if isinstance(obj, Dispatcher) and isinstance(getattr(obj, "_cache", None), NullCache) and _cacheable(obj):
                obj.enable_caching()


def _cacheable(dispatcher: Any) -> bool:
    return "link" not in inspect.signature(dispatcher.py_func).parameters
