"""Labelers that need no model: labels cached in a JSON file, and labels given by hand."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePath

from gerec.errors import InvalidDataset, LabelerUnavailable
from gerec.scene.base import LabelerInput, LabelResult, normalise_label


def read_label_file(path: str | Path) -> dict[str, list[str]]:
    """Read ``{image_name: [label, ...]}`` (also accepts ``{name: {"scene_labels": [...]}}``)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidDataset(f"cannot read labels file {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidDataset(f"{path}: expected a JSON object mapping image names to label lists")
    out: dict[str, list[str]] = {}
    for name, value in raw.items():
        if isinstance(value, dict):
            if "scene_labels" not in value:
                continue
            value = value["scene_labels"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidDataset(f"{path}: labels of {name!r} must be a list of strings")
        out[str(name)] = [normalise_label(v) for v in value]
    return out


class CachedLabeler:
    """Labels recorded earlier (e.g. Google Cloud Vision's), looked up by file name."""

    name = "cached"

    def __init__(self, labels: Mapping[str, Iterable[str]], source: str = "<memory>") -> None:
        self._labels = {PurePath(k).name: tuple(normalise_label(v) for v in vs) for k, vs in labels.items()}
        self.source = source

    @classmethod
    def from_file(cls, path: str | Path) -> CachedLabeler:
        """A cached labeler over a labels JSON file."""
        return cls(read_label_file(path), source=str(path))

    def __contains__(self, name: str) -> bool:
        return PurePath(name).name in self._labels

    def label(self, item: LabelerInput) -> LabelResult:
        """The recorded labels of ``item.name``; ``LabelerUnavailable`` when none are recorded."""
        key = PurePath(item.name).name
        if key not in self._labels:
            raise LabelerUnavailable(f"no cached labels for {key} in {self.source}")
        return LabelResult(self._labels[key], self.name, notes=(f"from {PurePath(self.source).name}",))


class ManualLabeler:
    """Labels typed by a user; the same labels for every photo."""

    name = "manual"

    def __init__(self, labels: Iterable[str]) -> None:
        self.labels = tuple(dict.fromkeys(normalise_label(v) for v in labels if str(v).strip()))

    def label(self, item: LabelerInput) -> LabelResult:
        """The given labels."""
        return LabelResult(self.labels, self.name)
