"""Label strings reduced to keys the vocabulary rules compare (:mod:`gerec.bn.vocabulary`): punctuation
to spaces, and a light suffix stemmer (plural/singular and derivations: "sports" and "sport",
"happiness" and "happy", "laughter" and "laugh" share a key)."""

from __future__ import annotations

import re

PUNCTUATION = re.compile(r"[-_/\\\"'.,()&]+")
STOPWORDS = frozenset({"a", "an", "and", "at", "for", "in", "of", "on", "the", "to", "with"})
# Longest first: (suffix, replacement, shortest stem left). Applied at most twice per word.
SUFFIXES = (
    ("iness", "y", 4),
    ("ation", "", 5),
    ("ness", "", 5),
    ("ment", "", 5),
    ("ings", "", 5),
    ("ies", "y", 3),
    ("ing", "", 5),
    ("ers", "", 5),
    ("ter", "", 5),
    ("ion", "", 5),
    ("ity", "", 5),
    ("ed", "", 5),
    ("er", "", 5),
    ("es", "", 4),
    ("s", "", 3),
)


def depunctuate(label: str) -> str:
    """Hyphens, slashes, underscores, quotes and the like as single spaces."""
    return " ".join(PUNCTUATION.sub(" ", label).split())


def stem_word(word: str) -> str:
    """A light suffix stemmer: strips up to two plural or derivational suffixes."""
    for _ in range(2):
        for suffix, repl, shortest in SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) + len(repl) >= shortest:
                if suffix == "s" and word.endswith(("ss", "us", "is")):
                    continue
                word = word[: len(word) - len(suffix)] + repl
                break
        else:
            break
    return word


def stem_key(label: str) -> str:
    """Every word of ``label`` (depunctuated) through :func:`stem_word`."""
    return " ".join(stem_word(w) for w in depunctuate(label).split())
