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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gerec.errors import GerecError, InvalidDataset, LabelerUnavailable
from gerec.scene.base import LabelerInput, LabelResult, SceneLabeler
from gerec.scene.chain import LabelerChain
from gerec.scene.gcv import GcvLabeler, gcv_credentials_configured
from gerec.scene.simple import CachedLabeler, ManualLabeler


@dataclass(frozen=True)
class LabelerSettings:
    """What a labeler may be built from: the cached-labels file, each labeler's options (the TOML
    table ``[labelers.<name>]``) and the labels a user typed."""

    labels_file: str | Path | None = None
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    manual: tuple[str, ...] = ()

    def of(self, name: str) -> dict[str, Any]:
        """The options of labeler ``name`` (empty when none are set)."""
        return dict(self.options.get(name) or {})


@dataclass(frozen=True)
class Registration:
    """A labeler by name: how to build it from :class:`LabelerSettings`, and a line for people."""

    build: Callable[[LabelerSettings], SceneLabeler]
    description: str


def _cached(settings: LabelerSettings) -> SceneLabeler:
    if settings.labels_file is None:
        raise ValueError("the cached labeler needs a labels file (labels_file= or $GEREC_LABELS_FILE)")
    return CachedLabeler.from_file(settings.labels_file)


def _offline(settings: LabelerSettings) -> SceneLabeler:
    from gerec.scene.offline import OfflineLabeler  # loads its model only when chosen

    return OfflineLabeler(**settings.of("offline"))


# The labelers by name. Adding one is its module and one line here; the CLI's --labeler, the
# TOML chain and the dashboard's choices all read this table.
LABELERS: dict[str, Registration] = {
    "cached": Registration(_cached, "labels recorded in a JSON file"),
    "gcv": Registration(lambda s: GcvLabeler(**s.of("gcv")), "Google Cloud Vision (needs credentials)"),
    "offline": Registration(_offline, "the on-device ImageNet classifier"),
    "manual": Registration(lambda s: ManualLabeler(s.manual), "labels typed by a user"),
}
LABELER_NAMES = tuple(LABELERS)
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
    """Normalised chain settings from TOML or a dict: chain, labels_file, manual, and each
    registered labeler's options table (``gcv``, ``offline``, ...) under its name."""
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
    }
    for name in LABELERS:
        if name in out:  # "manual" is the list of typed labels itself
            continue
        table = section.get(name, {})
        out[name] = dict(table) if isinstance(table, Mapping) else {}
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
        elif name in LABELERS:
            out.append(name)
        else:
            raise ValueError(f"unknown labeler {name!r}: expected one of {', '.join(LABELERS)} or default")
    return list(dict.fromkeys(out))


def build_chain(
    spec: str | Sequence[str] = "default",
    *,
    labels_file: str | Path | None = None,
    gcv_options: Mapping[str, Any] | None = None,
    offline_options: Mapping[str, Any] | None = None,
    manual_labels: Iterable[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> LabelerChain:
    """A ``LabelerChain`` of the named labelers, in order.

    ``options`` gives any registered labeler its options by name; ``gcv_options`` and
    ``offline_options`` are the same for those two.
    ``labels_file`` defaults to ``$GEREC_LABELS_FILE``. Under ``default`` a labeler that cannot
    be built (e.g. no model file) becomes a stand-in whose unavailability the chain notes; a
    name given explicitly raises instead.
    """
    if labels_file is None and os.environ.get(LABELS_FILE_ENV):
        labels_file = os.environ[LABELS_FILE_ENV]
    gcv_opts = dict(gcv_options or {})
    by_name = {**(options or {}), "gcv": gcv_opts, "offline": dict(offline_options or {})}
    settings = LabelerSettings(labels_file, by_name, tuple(manual_labels or ()))
    names = parse_spec(spec)
    lenient = "default" in names
    labelers: list[SceneLabeler] = []
    for name in _expand(names, labels_file, gcv_opts):
        try:
            labelers.append(LABELERS[name].build(settings))
        except GerecError as exc:
            if not lenient:
                raise
            labelers.append(UnavailableLabeler(name, f"could not be set up: {exc}"))
    return LabelerChain(labelers)
