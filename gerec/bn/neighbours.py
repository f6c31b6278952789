"""The embedding neighbour table the ``embedding`` vocabulary rule reads: label -> its nearest known labels
by text embedding, precomputed by ``tools/build_label_neighbours.py`` into ``models/label_neighbours.json``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

NEIGHBOURS_FILE = "label_neighbours.json"
Neighbours = Mapping[str, Sequence[tuple[str, float]]]


def load_neighbours(path: str | None = None) -> Neighbours:
    """The embedding neighbour table: label -> ((neighbour, cosine), ...), nearest first.

    ``path`` defaults to ``models/label_neighbours.json`` (under ``$GEREC_MODELS`` as it is now: the
    table is cached by the file it resolves to). A missing file is
    :class:`~gerec.errors.ModelFileMissing`: an empty table would let the ``embedding`` rule map
    nothing, and a network or a tuning ablation that asked for it give other answers without a word.
    """
    from gerec.config import models_dir

    return _read_neighbours(Path(path) if path else models_dir() / NEIGHBOURS_FILE)


@lru_cache(maxsize=4)
def _read_neighbours(file: Path) -> Neighbours:
    """:func:`load_neighbours` of one resolved file, read once."""
    from gerec.errors import InvalidModelFile
    from gerec.fileio import read_model_json

    data = read_model_json(
        file,
        "the label neighbour table the 'embedding' vocabulary rule needs",
        " (it ships in models/; tools/build_label_neighbours.py rebuilds it in the tools venv)",
    )
    try:
        return {label: tuple((str(n), float(c)) for n, c in rows) for label, rows in data["neighbours"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidModelFile(f"{file}: not a label neighbour table ({type(exc).__name__}: {exc})") from exc
