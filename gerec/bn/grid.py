"""The scene network's tuning grid: the hyperparameter values searched (:class:`Grid`), one point of it
(:class:`Config`; :data:`REFERENCE_CONFIG` is the reference network's), and the vocabulary rule sets
a point names. :mod:`gerec.bn.tuning` searches it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from gerec.bn.devdata import CNN_TABLES
from gerec.bn.vocabulary import RULES, STRING_RULES

RULE_SETS: dict[str, tuple[str, ...]] = {
    "none": ("exact",),
    "punctuation": RULES[:2],
    "stem": RULES[:3],
    "expand": RULES[:4],
    "head": RULES[:5],
    "words": RULES[:6],
    "synonyms": RULES[:4] + ("synonyms",),
    "all": STRING_RULES,
}


def mapping_rules(rules: str, embed_min: float | None) -> tuple[str, ...]:
    """The vocabulary rules of a rule set, plus ``embedding`` when it has a threshold."""
    return RULE_SETS[rules] + (() if embed_min is None else ("embedding",))


@dataclass(frozen=True)
class Grid:
    """The hyperparameter values searched. ``embed_min`` None: no embedding rule, else its
    cosine threshold; ``alpha`` None is the reference 1e-4 floor;
    ``new_min`` None adds no new labels; ``dev_weight`` 0 fits on the histogram alone."""

    rules: tuple[str, ...] = ("none", "stem", "expand", "head")
    embed_min: tuple[float | None, ...] = (None, 0.55)
    new_min: tuple[int | None, ...] = (None, 2, 5, 10)
    dev_weight: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 8.0)
    alpha: tuple[float | None, ...] = (None, 1.0)
    shrink: tuple[float, ...] = (0.0, 10.0, 100.0, 300.0)
    absent: tuple[str, ...] = ("all", "top100", "top400")
    prior: tuple[str, ...] = ("uniform", "dev")
    cnn_table: tuple[str, ...] = CNN_TABLES
    label_weight: tuple[float, ...] = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1.0)
    cnn_weight: tuple[float, ...] = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)

    def axes(self) -> dict[str, tuple[Any, ...]]:
        """Axis name -> values, in the order of the score arrays' axes."""
        return {k: tuple(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Config:
    """One point of the grid (see :class:`Grid`)."""

    rules: str = "none"
    embed_min: float | None = None
    new_min: int | None = None
    dev_weight: float = 0.0
    alpha: float | None = None
    shrink: float = 0.0
    absent: str = "all"
    prior: str = "uniform"
    cnn_table: str = "reference"
    label_weight: float = 1.0
    cnn_weight: float = 1.0


REFERENCE_CONFIG = Config()


def index_to_config(grid: Grid, index: Sequence[int]) -> Config:
    """The configuration at grid position ``index`` (one value index per axis, in :meth:`Grid.axes` order)."""
    axes = grid.axes()
    return Config(**{name: values[i] for (name, values), i in zip(axes.items(), index, strict=True)})


def config_index(grid: Grid, config: Config) -> tuple[int, ...]:
    """The grid position of ``config`` (ValueError when a value is not on the grid)."""
    return tuple(values.index(getattr(config, name)) for name, values in grid.axes().items())


def grid_size(grid: Grid) -> int:
    """Number of configurations on the grid."""
    return int(np.prod([len(v) for v in grid.axes().values()]))
