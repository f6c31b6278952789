"""Map raw scene labels onto the network's vocabulary (the histogram's labels).

Google Cloud Vision returns many labels the training histogram never saw ("black-and-white",
"t-shirt", "happy", "team sports"). The mapper tries, in order, rules that use only the label
strings (never any class information):

``exact``        the label itself after lower-casing and collapsing whitespace;
``punctuation``  hyphens, slashes, underscores and quotes become spaces ("t-shirt" -> "t shirt");
``stem``         every word reduced by a light suffix stemmer (plural/singular and derivations:
                 "sport" -> "sports", "happy" -> "happiness", "laugh" -> "laughter");
``expand``       a one-word label that is the last word of exactly one known label
                 ("exercise" -> "physical exercise");
``head``         a multi-word label's last (head) word by the rules above
                 ("combat sport" -> "sports", "private school" -> "school");
``words``        any other word of a multi-word label, right to left, stop words skipped
                 ("family taking photos together" -> "family");
``synonyms``     a small fixed table of dictionary synonyms / hypernyms (:data:`SYNONYMS`).
                 It was written from the label *names* only (no class information);
``embedding``    the nearest known label by text embedding (all-MiniLM-L6-v2 cosine of the label
                 strings), when the cosine reaches the network's ``embedding_min``. The
                 neighbours are precomputed at build time (``tools/build_label_neighbours.py``)
                 into ``models/label_neighbours.json``; a label missing from that table maps to
                 nothing by this rule. Tried last.

A network says which rules it uses in ``metadata["vocabulary"]`` (see :func:`config_of`); a
network without it (reference mode) uses no mapping: :func:`map_labels` then returns exactly
:meth:`SceneNetwork.split_labels`.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

from gerec.bn.label_words import STOPWORDS, depunctuate, stem_key
from gerec.bn.neighbours import NEIGHBOURS_FILE, Neighbours, load_neighbours
from gerec.bn.network import SceneNetwork
from gerec.types import normalise_label

RULES = ("exact", "punctuation", "stem", "expand", "head", "words", "synonyms", "embedding")
STRING_RULES = RULES[:-1]
SYNONYMS: dict[str, str] = {
    "rebellion": "protest",
    "riots": "riot",
    "social work": "community",
    "baby": "infant",
    "employment": "job",
    "rite": "ritual",
    "yoga": "physical exercise",
    "pilates": "physical exercise",
    "aerobics": "physical exercise",
    "zumba": "physical exercise",
    "stretching": "physical exercise",
    "gym": "physical fitness",
    "company": "business",
    "turban": "headgear",
    "medal": "award",
    "trophy": "award",
    "forest": "woodland",
    "wilderness": "nature",
    "architecture": "building",
    "birthday": "party",
    "portrait": "portrait photography",
    "movie": "film",
    "orator": "public speaking",
}
METADATA_KEY = "vocabulary"


class LabelMapping(NamedTuple):
    """How an image's raw labels enter a network.

    ``used``: the known labels entered as present evidence (de-duplicated, in first-seen order);
    ``mapped``: (raw, known) pairs for raw labels that were not themselves known;
    ``ignored``: raw labels (normalised) that map to nothing.
    """

    used: tuple[str, ...]
    mapped: tuple[tuple[str, str], ...]
    ignored: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class VocabularyMapper:
    """Maps one normalised raw label to a known label (or ``None``) with the enabled rules.

    ``embedding_min`` is the cosine the ``embedding`` rule needs; ``neighbours`` its table
    (default: :func:`load_neighbours`).
    """

    vocabulary: tuple[str, ...]
    rules: tuple[str, ...] = STRING_RULES
    embedding_min: float = 0.6
    neighbours: Neighbours | None = None

    def __post_init__(self) -> None:
        unknown = set(self.rules) - set(RULES)
        if unknown:
            raise ValueError(f"unknown vocabulary rules {sorted(unknown)}; expected {RULES}")

    # Derived tables, built once: cached_property writes the instance's __dict__, so the
    # dataclass stays frozen without object.__setattr__.
    @cached_property
    def _neighbours(self) -> Neighbours | None:
        if "embedding" in self.rules and self.neighbours is None:
            return load_neighbours()
        return self.neighbours

    @cached_property
    def _known(self) -> frozenset[str]:
        return frozenset(self.vocabulary)

    @cached_property
    def _cache(self) -> dict[str, str | None]:
        return {}

    @cached_property
    def _tables(self) -> dict[str, dict[str, str]]:
        tables: dict[str, dict[str, str]] = {"punctuation": {}, "stem": {}, "expand": {}}
        ambiguous: dict[str, set[str]] = {k: set() for k in tables}
        # Sorted so that ties resolve the same way whatever the vocabulary's order.
        for known in sorted(self.vocabulary):
            keys = {"punctuation": depunctuate(known), "stem": stem_key(known)}
            words = keys["stem"].split()
            if len(words) > 1:
                keys["expand"] = words[-1]
            for rule, key in keys.items():
                if key in tables[rule] and tables[rule][key] != known:
                    ambiguous[rule].add(key)
                tables[rule].setdefault(key, known)
        for rule, clashes in ambiguous.items():
            # A stem shared by several known labels maps to none of them, except for the
            # punctuation table where the first (alphabetical) known label wins.
            if rule != "punctuation":
                for clash in clashes:
                    tables[rule].pop(clash, None)
        return tables

    def _whole(self, label: str, allow_expand: bool) -> str | None:
        tables: dict[str, dict[str, str]] = self._tables
        if "exact" in self.rules and label in self._known:
            return label
        if "punctuation" in self.rules:
            hit = tables["punctuation"].get(depunctuate(label))
            if hit is not None:
                return hit
        key = stem_key(label)
        if "stem" in self.rules:
            hit = tables["stem"].get(key)
            if hit is not None:
                return hit
        if allow_expand and "expand" in self.rules and " " not in key:
            return tables["expand"].get(key)
        return None

    def map_one(self, label: str) -> str | None:
        """The known label a normalised raw label maps to, or ``None``."""
        cache: dict[str, str | None] = self._cache
        if label in cache:
            return cache[label]
        hit = self._whole(label, allow_expand=True)
        words = [w for w in depunctuate(label).split() if w not in STOPWORDS]
        if hit is None and len(words) > 1 and "head" in self.rules:
            hit = self._whole(words[-1], allow_expand=False)
        if hit is None and len(words) > 1 and "words" in self.rules:
            for word in reversed(words[:-1]):
                hit = self._whole(word, allow_expand=False)
                if hit is not None:
                    break
        if hit is None and "synonyms" in self.rules:
            target = SYNONYMS.get(label)
            hit = target if target in self._known else None
        if hit is None and "embedding" in self.rules and self._neighbours is not None:
            hit = self._nearest(label)
        cache[label] = hit
        return hit

    def _nearest(self, label: str) -> str | None:
        known: frozenset[str] = self._known
        for neighbour, cosine in (self._neighbours or {}).get(label, ()):
            if cosine < self.embedding_min:
                break
            if neighbour in known:
                return neighbour
        return None

    def map(self, raw_labels: Iterable[str]) -> LabelMapping:
        """Split raw labels into used known labels, mapped pairs and ignored labels."""
        used: list[str] = []
        mapped: list[tuple[str, str]] = []
        ignored: list[str] = []
        seen: set[str] = set()
        for raw in raw_labels:
            label = normalise_label(raw)
            if not label or label in seen:
                continue
            seen.add(label)
            known = self.map_one(label)
            if known is None:
                ignored.append(label)
                continue
            if known != label:
                mapped.append((label, known))
            if known not in used:
                used.append(known)
        return LabelMapping(tuple(used), tuple(mapped), tuple(ignored))


def config_of(rules: Sequence[str], embedding_min: float | None = None) -> dict[str, Any]:
    """The ``metadata["vocabulary"]`` entry describing a mapping with ``rules`` (and the
    ``embedding`` rule's cosine threshold when it is among them)."""
    config: dict[str, Any] = {"rules": list(rules), "description": "gerec.bn.vocabulary rules, applied in order"}
    if "embedding" in rules:
        if embedding_min is None:
            raise ValueError("the embedding rule needs embedding_min")
        config["embedding_min"] = float(embedding_min)
        config["embedding_table"] = f"models/{NEIGHBOURS_FILE}"
    return config


_MAPPERS: weakref.WeakKeyDictionary[SceneNetwork, dict[tuple[Any, ...], VocabularyMapper]] = weakref.WeakKeyDictionary()
"""Each network's mappers, built once and dropped with the network."""


def mapper_for(net: SceneNetwork) -> VocabularyMapper | None:
    """The mapper a network asks for in its metadata, or ``None`` (no mapping)."""
    config = net.metadata.get(METADATA_KEY)
    if not isinstance(config, dict) or "rules" not in config:
        return None
    cache = _MAPPERS.setdefault(net, {})
    rules = tuple(str(r) for r in config["rules"])
    embedding_min = float(config.get("embedding_min", 1.0))
    key = (rules, embedding_min)
    if key not in cache:
        cache[key] = VocabularyMapper(net.labels, rules, embedding_min)
    return cache[key]


def map_labels(net: SceneNetwork, raw_labels: Iterable[str]) -> LabelMapping:
    """(used, mapped, ignored) for ``raw_labels`` under ``net``'s vocabulary configuration.

    Without a ``vocabulary`` entry in the network's metadata this is plain
    :meth:`SceneNetwork.split_labels`: used = known labels, mapped = (), ignored = unknown.
    Pass ``used`` to :meth:`SceneNetwork.posterior` as the present labels.
    """
    mapper = mapper_for(net)
    if mapper is None:
        known, unknown = net.split_labels(raw_labels)
        return LabelMapping(known, (), unknown)
    return mapper.map(raw_labels)


TYPED_RULES = ("exact", "punctuation", "stem")
"""Rules for labels a person types: spelling variants only (plural/singular, hyphens), never guesses."""


def map_typed(net: SceneNetwork, typed: Iterable[str]) -> LabelMapping:
    """Typed labels onto ``net``'s labels by :data:`TYPED_RULES` ("weddings" -> "wedding").

    Examples
    --------
    >>> from gerec.bn import load_scene_network
    >>> map_typed(load_scene_network("tuned"), ["Weddings", "smile"]).mapped
    (('weddings', 'wedding'),)
    """
    cache = _MAPPERS.setdefault(net, {})
    key = (TYPED_RULES, 1.0)
    if key not in cache:
        cache[key] = VocabularyMapper(net.labels, TYPED_RULES)
    return cache[key].map(typed)


def suggest(net: SceneNetwork, word: str, limit: int = 3) -> list[str]:
    """The known labels nearest in spelling to an unknown ``word`` (difflib ratio >= 0.6), best first."""
    import difflib

    label = normalise_label(word)
    close = difflib.get_close_matches(label, net.labels, n=limit, cutoff=0.6)
    if len(close) < limit:  # a word of a known multi-word label ("officer" -> "police officer")
        close += [k for k in sorted(net.labels) if label in k.split() and k not in close][: limit - len(close)]
    return close
