"""Turn raw scene labels into network evidence (known, mapped and ignored labels)."""

from __future__ import annotations

from collections.abc import Iterable

from gerec.bn.network import SceneNetwork
from gerec.types import SceneEvidence


def scene_evidence(net: SceneNetwork, labels: Iterable[str], labeler: str, notes: Iterable[str] = ()) -> SceneEvidence:
    """Evidence for ``net`` from raw labels: known labels used, others mapped or ignored.

    Networks whose metadata carries a vocabulary mapping (the tuned one) map unseen labels to
    known ones; the reference network uses exact matches only.
    """
    labels = list(labels)
    if net.metadata.get("vocabulary"):
        from gerec.bn.vocabulary import map_labels

        used, mapped, ignored = map_labels(net, labels)
        return SceneEvidence(tuple(used), tuple(ignored), tuple(mapped), labeler, tuple(notes))
    known, unknown = net.split_labels(labels)
    return SceneEvidence(known, unknown, (), labeler, tuple(notes))
