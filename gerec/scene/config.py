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

import difflib
import inspect
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

from gerec.errors import GerecError, InvalidDataset, LabelerUnavailable
from gerec.scene.base import LabelerInput, LabelResult, SceneLabeler
from gerec.scene.chain import LabelerChain
from gerec.scene.gcv import GcvLabeler, gcv_credentials_configured
from gerec.scene.offline import OfflineLabeler  # light: its model loads when one is built
from gerec.scene.simple import CachedLabeler, ManualLabeler

CHAIN_ENV = "GEREC_LABELERS"
LABELS_FILE_ENV = "GEREC_LABELS_FILE"
SETTINGS_KEYS = ("chain", "labels_file", "manual")
"""The keys of ``[labelers]`` besides the labelers' own tables."""


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


Kind = tuple[tuple[type, ...], str]
"""The types an option may have, and how a message names them."""
TEXT: Kind = ((str,), "text")
PATH: Kind = ((str, os.PathLike), "a path (text)")
NUMBER: Kind = ((int, float), "a number")
WHOLE: Kind = ((int,), "a whole number")
FLAG: Kind = ((bool,), "true or false")
LIST: Kind = ((list, tuple), "a list")
ANY: Kind = ((object,), "any value")


@dataclass(frozen=True)
class Registration:
    """A labeler by name: how to build it from :class:`LabelerSettings`, a line for people, and the
    options its ``[labelers.<name>]`` table may set with their types (``None``: not checked)."""

    build: Callable[[LabelerSettings], SceneLabeler]
    description: str
    options: Mapping[str, Kind] | None = None


def _cached(settings: LabelerSettings) -> SceneLabeler:
    if settings.labels_file is None:
        raise InvalidDataset(
            "the cached labeler needs a labels file (--labels, labels_file in the labeler config, "
            f"or ${LABELS_FILE_ENV})"
        )
    return CachedLabeler.from_file(settings.labels_file)


KIND_OF_TYPES: dict[frozenset[type], Kind] = {
    frozenset({str}): TEXT,
    frozenset({str, os.PathLike}): PATH,
    frozenset({str, Path}): PATH,
    frozenset({float}): NUMBER,
    frozenset({int}): WHOLE,
    frozenset({bool}): FLAG,
    frozenset({Sequence}): LIST,
    frozenset({Iterable}): LIST,
}
"""How an annotation's types (``None`` aside) read as a :data:`Kind`; any other annotation is ANY."""


def keyword_options(cls: type) -> dict[str, Kind]:
    """The options ``cls(**options)`` takes, in its signature's order, each of the kind its
    annotation names: a labeler's keywords are the one source of its table's options."""
    out: dict[str, Kind] = {}
    for name, param in inspect.signature(cls, eval_str=True).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        hint = Any if param.annotation is param.empty else param.annotation
        types = frozenset(get_origin(t) or t for t in get_args(hint) or (hint,) if t is not type(None))
        out[name] = KIND_OF_TYPES.get(types, ANY)
    return out


GCV_OPTIONS = keyword_options(GcvLabeler)  # credentials, transport, channel: objects, only from Python

OFFLINE_OPTIONS = keyword_options(OfflineLabeler)

# The labelers by name. Adding one is its module and one line here; the CLI's --labeler, the
# TOML chain and the dashboard's choices all read this table.
LABELERS: dict[str, Registration] = {
    "cached": Registration(_cached, "labels recorded in a JSON file", {}),
    "gcv": Registration(lambda s: GcvLabeler(**s.of("gcv")), "Google Cloud Vision (needs credentials)", GCV_OPTIONS),
    "offline": Registration(
        lambda s: OfflineLabeler(**s.of("offline")), "the on-device ImageNet classifier", OFFLINE_OPTIONS
    ),
    "manual": Registration(lambda s: ManualLabeler(s.manual), "labels typed by a user"),
}
LABELER_NAMES = tuple(LABELERS)


class UnavailableLabeler:
    """Stands in for a labeler that could not be built; every call says why."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def label(self, item: LabelerInput) -> LabelResult:
        """Always ``LabelerUnavailable`` with the reason."""
        raise LabelerUnavailable(self.reason)


def parse_spec(spec: str | Sequence[str], where: str = "a labeler chain") -> list[str]:
    """Labeler names from ``"a, b"``, ``"a -> b"`` or a list of names (lower-cased, order kept);
    anything else is an :class:`InvalidDataset` naming the chain as ``where``."""
    if isinstance(spec, str):
        parts = spec.replace("->", ",").split(",")
    elif isinstance(spec, Sequence) and all(isinstance(p, str) for p in spec):
        parts = list(spec)
    else:
        raise InvalidDataset(f'{where} must be text such as "cached, offline" or a list of names, got {spec!r}')
    return [p.strip().lower() for p in parts if p.strip()]


def _did_you_mean(word: object, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_names(names: list[str], where: str) -> list[str]:
    """``names`` when each is a registered labeler or ``default``; else :class:`InvalidDataset`."""
    for name in names:
        if name != "default" and name not in LABELERS:
            raise InvalidDataset(
                f"{where}: unknown labeler {name!r}{_did_you_mean(name, [*LABELERS, 'default'])}; "
                f"expected one of {', '.join(LABELERS)} or default"
            )
    return names


def check_options(name: str, table: Mapping[Any, Any], where: str) -> dict[str, Any]:
    """``table`` as a dict when labeler ``name`` takes each option with a value of its type (see
    :attr:`Registration.options`); else an :class:`InvalidDataset` naming the option and ``where``."""
    known = LABELERS[name].options
    if known is None:
        return dict(table)
    for key, value in table.items():
        if key not in known:
            takes = f"; its options: {', '.join(known)}" if known else "; it takes none"
            raise InvalidDataset(f"{where}: [labelers.{name}] has no option {key!r}{_did_you_mean(key, known)}{takes}")
        types, words = known[key]
        if not isinstance(value, types) or (isinstance(value, bool) and not {bool, object} & set(types)):
            raise InvalidDataset(f"{where}: [labelers.{name}] {key} must be {words}, got {value!r}")
    return dict(table)


def config_name(source: str | Path | Mapping[str, Any]) -> str:
    """How messages name a labeler config: its file, or the settings given as a dict."""
    return "the labeler settings" if isinstance(source, Mapping) else f"labeler config {source}"


def chain_spec_from_env(default: str = "default") -> list[str]:
    """The chain named by ``$GEREC_LABELERS`` (e.g. ``cached,offline``), else ``default``."""
    return check_names(parse_spec(os.environ.get(CHAIN_ENV) or default), f"${CHAIN_ENV}")


def load_chain_config(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """Normalised chain settings from TOML or a dict: chain, labels_file, manual, and each
    registered labeler's options table (``gcv``, ``offline``, ...) under its name.

    A file that cannot be read, an unknown key or labeler, or a value of the wrong type is an
    :class:`InvalidDataset` naming the key and the file.
    """
    where = config_name(source)
    if isinstance(source, Mapping):
        raw: Mapping[str, Any] = source
    else:
        try:
            raw = tomllib.loads(Path(source).read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise InvalidDataset(f"cannot read {where}: it is not UTF-8 text (byte {exc.start})") from exc
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidDataset(f"cannot read {where}: {exc}") from exc
    section = raw.get("labelers", raw)
    if not isinstance(section, Mapping):
        raise InvalidDataset(f"{where}: [labelers] must be a table, got {section!r}")
    known = [*SETTINGS_KEYS, *(n for n in LABELERS if n not in SETTINGS_KEYS)]
    for key in section:
        if key not in known:
            raise InvalidDataset(
                f"{where}: unknown key {key!r}{_did_you_mean(key, known)} in [labelers]; it may set {', '.join(known)}"
            )
    chain = parse_spec(section.get("chain", "default"), f"{where}: chain")
    labels_file = section.get("labels_file")
    if labels_file is not None and not isinstance(labels_file, str):
        raise InvalidDataset(f"{where}: labels_file must be a path (text), got {labels_file!r}")
    manual = section.get("manual", [])
    if not isinstance(manual, list | tuple) or not all(isinstance(v, str) for v in manual):
        raise InvalidDataset(f'{where}: manual must be a list of labels such as ["crowd", "protest"], got {manual!r}')
    out: dict[str, Any] = {
        "chain": check_names(chain, f"{where}: chain"),
        "labels_file": labels_file,
        "manual": list(manual),
    }
    for name in LABELERS:
        if name in SETTINGS_KEYS:  # "manual" is the list of typed labels itself
            continue
        table = section.get(name, {})
        if not isinstance(table, Mapping):
            raise InvalidDataset(f"{where}: [labelers.{name}] must be a table of options, got {table!r}")
        out[name] = check_options(name, table, where)
    return out


def _expand(names: list[str], labels_file: str | Path | None, gcv_options: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for name in check_names(names, "labeler chain"):
        if name == "default":
            if labels_file is not None:
                out.append("cached")
            if gcv_credentials_configured(gcv_options):
                out.append("gcv")
            out.append("offline")
        else:
            out.append(name)
    return list(dict.fromkeys(out))


def _build(name: str, settings: LabelerSettings, where: str) -> SceneLabeler:
    try:
        return LABELERS[name].build(settings)
    except ValueError as exc:  # the labeler's own check of an option's value: top_k = -1, timeout = 0...
        if not settings.of(name):
            raise
        raise InvalidDataset(f"{where}: [labelers.{name}] {exc}") from exc


def build_chain(
    spec: str | Sequence[str] = "default",
    *,
    labels_file: str | Path | None = None,
    gcv_options: Mapping[str, Any] | None = None,
    offline_options: Mapping[str, Any] | None = None,
    manual_labels: Iterable[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    where: str = "labeler options",
) -> LabelerChain:
    """A ``LabelerChain`` of the named labelers, in order.

    ``options`` gives any registered labeler its options by name; ``gcv_options`` and
    ``offline_options`` are the same for those two. ``labels_file`` defaults to
    ``$GEREC_LABELS_FILE``. ``where`` names the options' source in messages.

    Under ``default``, a labeler that cannot be set up for a reason outside the user's settings
    (no model file, no credentials) becomes a stand-in whose unavailability the chain notes; a
    name given explicitly raises instead. What the user chose is checked under ``default`` too:
    a labels file that cannot be read, an unknown labeler, an unknown option or a bad value is an
    :class:`InvalidDataset`.
    """
    if labels_file is None and os.environ.get(LABELS_FILE_ENV):
        labels_file = os.environ[LABELS_FILE_ENV]
    given = {**(options or {})}
    if gcv_options is not None:
        given["gcv"] = gcv_options
    if offline_options is not None:
        given["offline"] = offline_options
    by_name = {name: check_options(name, table, where) for name, table in given.items() if name in LABELERS}
    settings = LabelerSettings(labels_file, by_name, tuple(manual_labels or ()))
    names = parse_spec(spec)
    lenient = "default" in names
    labelers: list[SceneLabeler] = []
    for name in _expand(names, labels_file, by_name.get("gcv", {})):
        try:
            labelers.append(_build(name, settings, where))
        except InvalidDataset:
            raise  # the user's own labels file or settings: a usage error, even under default
        except GerecError as exc:
            if not lenient:
                raise
            labelers.append(UnavailableLabeler(name, f"could not be set up: {exc}"))
    return LabelerChain(labelers)
