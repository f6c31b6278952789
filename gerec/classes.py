"""The one class order used everywhere, and helpers to name an image's true class."""

from __future__ import annotations

from pathlib import PurePath

CLASSES: tuple[str, str, str] = ("Positive", "Neutral", "Negative")
"""Group classes in the project's fixed order. Every probability vector follows it."""

N_CLASSES = len(CLASSES)

MODULES: tuple[str, str, str] = ("bottom_up", "top_down", "fused")
"""The three predictions of a photo, in display order: faces, scene labels, both fused."""

_PREFIXES = {"pos": "Positive", "neu": "Neutral", "neg": "Negative"}


def class_index(name: str) -> int:
    """Index of a class name in :data:`CLASSES` (case-insensitive)."""
    for i, cls in enumerate(CLASSES):
        if cls.lower() == name.strip().lower():
            return i
    raise ValueError(f"unknown class {name!r}; expected one of {', '.join(CLASSES)}")


def true_class_of(image: str) -> str | None:
    """The true class of an image from its GAF name prefix or a class-named parent folder.

    ``pos_12.jpg`` -> Positive; ``data/Negative/x.jpg`` -> Negative; otherwise ``None``.
    """
    path = PurePath(image)
    prefix = path.name.split("_", 1)[0].lower()
    if "_" in path.name and prefix in _PREFIXES:
        return _PREFIXES[prefix]
    parent = path.parent.name
    for cls in CLASSES:
        if parent.lower() == cls.lower():
            return cls
    return None
