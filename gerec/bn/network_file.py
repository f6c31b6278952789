"""Reading a scene network file (``gerec-scene-bn/1``, as :meth:`SceneNetwork.to_json` writes it), each field
checked: :class:`~gerec.errors.InvalidModelFile` names the file and the field at fault."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from gerec.bn.network import FORMAT, SceneNetwork
from gerec.classes import CLASSES, N_CLASSES
from gerec.errors import InvalidModelFile
from gerec.fileio import json_object, json_type, model_field, read_model_json


def network_from_json(data: Any, source: str = "<json>") -> SceneNetwork:
    """Build a :class:`SceneNetwork` from :meth:`SceneNetwork.to_json` output.

    The JSON shape is checked field by field: :class:`InvalidModelFile` names the field at fault.
    """
    data = json_object(data, source, "a scene network")
    if data.get("format") != FORMAT:
        raise InvalidModelFile(f"{source}: not a gerec scene network (format {data.get('format')!r})")
    if tuple(model_field(data, "classes", list, source)) != CLASSES:
        raise InvalidModelFile(f"{source}: class order must be {CLASSES}")
    labels = model_field(data, "labels", list, source)
    if not all(isinstance(label, str) for label in labels):
        raise InvalidModelFile(f"{source}: field 'labels' must be a list of label names")

    def table(key: str, dtype: type = float, *default: Any) -> np.ndarray:
        value = model_field(data, key, list, source, *default)  # no default: the field is required
        flags = dtype is bool
        what = "true/false values" if flags else "numbers"
        for leaf in _leaves(value):
            if isinstance(leaf, bool) != flags or not isinstance(leaf, (int, float)):
                raise InvalidModelFile(f"{source}: field '{key}' must be a table of {what}, got {json_type(leaf)}")
        try:
            return np.asarray(value, dtype=dtype)
        except (TypeError, ValueError) as exc:
            raise InvalidModelFile(f"{source}: field '{key}' must be a table of {what} ({exc})") from exc

    p_present = table("p_present")
    if p_present.size != len(labels) * N_CLASSES:
        raise InvalidModelFile(f"{source}: field 'p_present' must have {len(labels)} x {N_CLASSES} numbers")
    fields = {
        "labels": tuple(labels),
        "p_present": p_present.reshape(len(labels), N_CLASSES),
        "prior": table("prior"),
        "cnn_table": table("cnn_table"),
        "absent_mask": table("absent_mask", bool, [True] * len(labels)),
        "label_weight": float(model_field(data, "label_weight", (int, float), source, 1.0)),
        "cnn_weight": float(model_field(data, "cnn_weight", (int, float), source, 1.0)),
        "soft_cnn": model_field(data, "soft_cnn", bool, source, False),
        "cnn_base_rate": None if data.get("cnn_base_rate") is None else table("cnn_base_rate"),
        "metadata": dict(model_field(data, "metadata", dict, source, {})),
        "collapse_identical_factors": model_field(data, "collapse_identical_factors", bool, source, False),
    }
    try:  # the values are checked by SceneNetwork itself (NaN, ranges, sums); the error names the file too
        return SceneNetwork(**fields)
    except InvalidModelFile as exc:
        raise InvalidModelFile(f"{source}: {exc}") from None


def _leaves(value: Any) -> Iterator[Any]:
    """The values of a nested JSON list, depth first."""
    for item in value:
        if isinstance(item, list):
            yield from _leaves(item)
        else:
            yield item


def load_network(path: str | Path) -> SceneNetwork:
    """Read a scene network file written by ``python -m gerec fit-bn`` or ``tune``."""
    path = Path(path)
    data = read_model_json(path, "scene network file", " (run `python -m gerec fit-bn`)")
    return network_from_json(data, str(path))
