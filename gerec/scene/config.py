"""Build a scene-labeler fallback chain from a config: a list of names, a dict, a TOML file or env.

Names: ``cached`` (labels recorded in a JSON file), ``gcv`` (Google Cloud Vision), ``offline``
(the on-device ImageNet classifier), ``manual`` (labels typed by a user), and ``default``, which
expands to: cached (only with a labels file) -> gcv (only when credentials are configured) ->
offline. A TOML file looks like::

    [labelers]
    chain = ["cached", "gcv", "offline"]     # or "default"
    labels_file = "labels.json"
    manual = ["crowd", "protest"]
    [labelers.gcv]
    timeout = 5.0
    min_score = 0.5
    [labelers.offline]
    top_k = 10
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gerec.errors import GerecError, InvalidDataset, LabelerUnavailable
from gerec.scene.base import LabelerInput, LabelResult, SceneLabeler
from gerec.scene.chain import LabelerChain
from gerec.scene.gcv import GcvLabeler, gcv_credentials_configured
from gerec.scene.simple import CachedLabeler, ManualLabeler

LABELER_NAMES = ("cached", "gcv", "offline", "manual")
CHAIN_ENV = "GEREC_LABELERS"
LABELS_FILE_ENV = "GEREC_LABELS_FILE"


class UnavailableLabeler:
    """Stands in for a labeler that could not be built; every call says why."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def label(self, item: LabelerInput) -> LabelResult:
        """Always ``LabelerUnavailable`` with the reason."""
        raise LabelerUnavailable(self.reason)


def parse_spec(spec: str | Sequence[str]) -> list[str]:
    """Labeler names from ``"a, b"``, ``"a -> b"`` or a list (lower-cased, order kept)."""
    parts = spec.replace("->", ",").split(",") if isinstance(spec, str) else list(spec)
    return [str(p).strip().lower() for p in parts if str(p).strip()]


def chain_spec_from_env(default: str = "default") -> list[str]:
    """The chain named by ``$GEREC_LABELERS`` (e.g. ``cached,offline``), else ``default``."""
    return parse_spec(os.environ.get(CHAIN_ENV) or default)


def load_chain_config(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """Normalised chain settings (chain, labels_file, manual, gcv, offline) from TOML or a dict."""
    if isinstance(source, Mapping):
        raw: Mapping[str, Any] = source
    else:
        path = Path(source)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidDataset(f"cannot read labeler config {path}: {exc}") from exc
    section = raw.get("labelers", raw)
    if not isinstance(section, Mapping):
        raise InvalidDataset("labeler config: [labelers] must be a table")
    out: dict[str, Any] = {
        "chain": parse_spec(section.get("chain", "default")),
        "labels_file": section.get("labels_file"),
        "manual": list(section.get("manual", [])),
        "gcv": dict(section.get("gcv", {})),
        "offline": dict(section.get("offline", {})),
    }
    return out


def _expand(names: list[str], labels_file: str | Path | None, gcv_options: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for name in names:
        if name == "default":
            if labels_file is not None:
                out.append("cached")
            if gcv_credentials_configured(gcv_options):
                out.append("gcv")
            out.append("offline")
        elif name in LABELER_NAMES:
            out.append(name)
        else:
            raise ValueError(f"unknown labeler {name!r}: expected one of {', '.join(LABELER_NAMES)} or default")
    return list(dict.fromkeys(out))


def build_chain(
    spec: str | Sequence[str] = "default",
    *,
    labels_file: str | Path | None = None,
    gcv_options: Mapping[str, Any] | None = None,
    offline_options: Mapping[str, Any] | None = None,
    manual_labels: Iterable[str] | None = None,
) -> LabelerChain:
    """A ``LabelerChain`` of the named labelers, in order.

    ``labels_file`` defaults to ``$GEREC_LABELS_FILE``. Under ``default`` a labeler that cannot
    be built (e.g. no model file) becomes a stand-in whose unavailability the chain notes; a
    name given explicitly raises instead.
    """
    if labels_file is None and os.environ.get(LABELS_FILE_ENV):
        labels_file = os.environ[LABELS_FILE_ENV]
    gcv_opts = dict(gcv_options or {})
    names = parse_spec(spec)
    lenient = "default" in names
    labelers: list[SceneLabeler] = []
    for name in _expand(names, labels_file, gcv_opts):
        try:
            labelers.append(_make(name, labels_file, gcv_opts, offline_options, manual_labels))
        except GerecError as exc:
            if not lenient:
                raise
            labelers.append(UnavailableLabeler(name, f"could not be set up: {exc}"))
    return LabelerChain(labelers)


def _make(
    name: str,
    labels_file: str | Path | None,
    gcv_options: Mapping[str, Any],
    offline_options: Mapping[str, Any] | None,
    manual_labels: Iterable[str] | None,
) -> SceneLabeler:
    if name == "cached":
        if labels_file is None:
            raise ValueError("the cached labeler needs a labels file (labels_file= or $GEREC_LABELS_FILE)")
        return CachedLabeler.from_file(labels_file)
    if name == "gcv":
        return GcvLabeler(**dict(gcv_options))
    if name == "offline":
        from gerec.scene.offline import OfflineLabeler

        return OfflineLabeler(**dict(offline_options or {}))
    return ManualLabeler(manual_labels or [])
