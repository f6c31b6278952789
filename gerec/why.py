"""A plain-words why: two or three sentences built from a prediction's own numbers.

The faces (how many, what they show: their own classes and the mean of their probabilities), the
strongest scene labels for and against the top-down class, and what fusion did. Every label a
sentence names is a row of ``GroupPrediction.contributions``, and each :class:`Cite` records the
sign it was named with, so a test can hold the words to the numbers. Where the faces push the
fused answer is their row there too (:func:`faces_push`), never the bottom-up posterior's class:
that figure also weighs the class mix its table was counted on, so flat faces can show one class
there and push another. :func:`module_words` says in plain words what the bottom-up and fused
figures are for a network. This module never imports streamlit.

>>> from gerec.bn import load_scene_network
>>> from gerec.pipeline import Pipeline
>>> from gerec.scene.chain import LabelerChain
>>> pipe = Pipeline(labeler=LabelerChain([]), network=load_scene_network("reference"))
>>> pred = pipe.from_labels("x.jpg", ["smile", "party", "crowd"], cnn="Negative")
>>> print(why_text(pred))  # doctest: +ELLIPSIS
The bottom-up class given (no faces here) is Negative. The scene labels point to Positive (...): for it 'smile' ...
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from gerec.bn.contributions import bottom_up_row, towards
from gerec.classes import CLASSES
from gerec.types import GroupPrediction, LabelContribution, Probs, argmax_class

if TYPE_CHECKING:
    from gerec.bn.network import SceneNetwork

NAMED = ("label", "absent")
"""Row kinds a sentence may name (single labels, present or absent)."""
MAX_TERMS = 2


@dataclass(frozen=True)
class Cite:
    """A contribution row named in a sentence, and the sign it was named with.

    The row pushes ``towards`` (against ``versus``, or against the mean of the classes when
    ``versus`` is None) with ``sign`` +1, away with -1.
    """

    term: str
    towards: str
    versus: str | None
    sign: int


@dataclass(frozen=True)
class Sentence:
    """One sentence and the contribution rows it names (quoted in the text)."""

    text: str
    cites: tuple[Cite, ...] = ()


def push(row: LabelContribution, towards: str, versus: str | None = None) -> float:
    """How much ``row`` favours ``towards`` over ``versus`` (or over the mean of the classes)."""
    value = row.log_ratio[CLASSES.index(towards)]
    return value - (row.log_ratio[CLASSES.index(versus)] if versus else 0.0)


def strongest(
    rows: Sequence[LabelContribution], towards: str, versus: str | None, sign: int, n: int = MAX_TERMS
) -> tuple[Cite, ...]:
    """The ``n`` nameable rows pushing hardest with ``sign`` (towards: +1, away: -1)."""
    scored = [(sign * push(r, towards, versus), r) for r in rows if r.kind in NAMED]
    scored = sorted((s for s in scored if s[0] > 1e-9), key=lambda s: -s[0])[:n]
    return tuple(Cite(r.display, towards, versus, sign) for _, r in scored)


def quoted(cites: Sequence[Cite]) -> str:
    """``'a'``, ``'a' and 'b'``, ``'a', 'b' and 'c'``."""
    names = [f"'{c.term}'" for c in cites]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def faces_mean(pred: GroupPrediction) -> Probs | None:
    """The mean of the faces' own (ensemble) probabilities; None without a scored face."""
    scored = [f.scores.ensemble for f in pred.faces if f.scores is not None]
    if not scored:
        return None
    mean = np.mean(scored, axis=0)
    return (float(mean[0]), float(mean[1]), float(mean[2]))


def faces_push(pred: GroupPrediction) -> str | None:
    """The class the faces push the fused answer towards: their row of ``pred.contributions``."""
    row = bottom_up_row(pred.contributions)
    return None if row is None else towards(row)


def faces_sentence(pred: GroupPrediction) -> Sentence:
    """How many faces, what they show (their classes, their mean), and the bottom-up figure."""
    if pred.bottom_up is None:
        return Sentence("No face was found, so the verdict rests on the scene labels alone.")
    if not pred.faces:  # label-only: the class given stands for the faces
        given = pred.bottom_up_evidence if isinstance(pred.bottom_up_evidence, str) else pred.bottom_up_class
        return Sentence(f"The bottom-up class given (no faces here) is {given}.")
    bottom = f"{pred.bottom_up_class} ({max(pred.bottom_up):.2f})"
    mean = faces_mean(pred)
    shown = argmax_class(mean)
    n = len(pred.faces)
    if mean is None:
        lead = f"{n} face{'s' if n != 1 else ''}"
    elif n == 1:
        lead = f"1 face, which looks {shown} ({max(mean):.2f})"
    else:
        counts = Counter(f.scores.predicted for f in pred.faces if f.scores is not None)
        classes = ", ".join(f"{k} {cls}" for cls, k in counts.most_common())
        lead = f"{n} faces ({classes}), {shown} on average ({max(mean):.2f})"
    if mean is None or pred.bottom_up_class == shown:
        return Sentence(f"{lead}; bottom-up: {bottom}.")
    return Sentence(f"{lead}; bottom-up, which also weighs how common each class is, gives {bottom}.")


def scene_sentence(pred: GroupPrediction) -> Sentence:
    """The top-down class and the labels pushing hardest for and against it."""
    cls, p = pred.top_down_class, max(pred.top_down)
    rows = pred.contributions
    pro, con = strongest(rows, cls, None, +1), strongest(rows, cls, None, -1)
    parts = ([f"for it {quoted(pro)}"] if pro else []) + ([f"against it {quoted(con)}"] if con else [])
    reasons = "; ".join(parts) if parts else "no single label moves it much"
    lead = "The scene labels point" if pred.evidence.labels_used else "No scene label is present; their absence points"
    return Sentence(f"{lead} to {cls} ({p:.2f}): {reasons}.", pro + con)


def fusion_sentence(pred: GroupPrediction) -> Sentence | None:
    """What fusion did with the faces and the scene (None without bottom-up evidence).

    The faces' side is where their row of the contributions pushes (:func:`faces_push`), the same
    term that, added to the scene's, gives the fused posterior.
    """
    faces = faces_push(pred)
    if pred.bottom_up is None or faces is None:
        return None
    fused, top = pred.fused_class, pred.top_down_class
    verdict = f"fused {fused} ({max(pred.fused):.2f})"
    if fused == top == faces:
        return Sentence(f"Faces and scene agree: {verdict}.")
    if fused == faces:
        lost = strongest(pred.contributions, top, fused, +1)
        what = f"the scene labels {quoted(lost)}" if lost else "the scene labels"
        return Sentence(f"The faces, pushing towards {faces}, outweighed {what}: {verdict}.", lost)
    if fused == top:
        won = strongest(pred.contributions, fused, faces, +1)
        what = f"The scene labels {quoted(won)}" if won else "The scene labels"
        return Sentence(f"{what} outweighed the faces (pushing towards {faces}): {verdict}.", won)
    return Sentence(f"The faces (pushing towards {faces}) and scene ({top}) pull apart; together they give {verdict}.")


def module_words(network: SceneNetwork) -> tuple[str, str]:
    """What the bottom-up and the fused figures are, in plain words, for the network that analysed
    the photo (``Pipeline.photo_network``): soft faces (tuned) or the class of their mean (reference)."""
    if not network.soft_cnn:
        return (
            "Bottom-up is the chance of each group class given only the class of the faces' mean: the share of "
            "each true class among the faces the ensemble gave that class, in its confusion counts.",
            "Fused: the scene network's answer from the scene labels, with the class of the faces' mean as one "
            "more piece of hard evidence (the faces' row above).",
        )
    mix = ", ".join(f"{c} {p:.2f}" for c, p in zip(CLASSES, network.base_rate))
    return (
        "Bottom-up is the chance of each group class given only the faces: the mean of their probabilities (one "
        "uniform pseudo-face mixed in) read through the CNN node's confusion table, times how common each class was "
        f"among the group photos that table was counted on ({mix}). It uses neither the scene network's prior nor "
        "its weight on the faces, so when the faces are flat that class mix decides it.",
        "Fused: the scene network's answer from the scene labels and the faces together. The faces enter as soft "
        f"evidence, the same mean read through the same table with weight {network.cnn_weight:.4g} and no class "
        "mix: the faces' row above, which is where they push the fused answer.",
    )


def explain_prediction(pred: GroupPrediction) -> tuple[Sentence, ...]:
    """Two or three sentences: the faces, the scene labels, and what fusion did."""
    fusion = fusion_sentence(pred)
    return (faces_sentence(pred), scene_sentence(pred)) + ((fusion,) if fusion else ())


def why_text(pred: GroupPrediction) -> str:
    """The sentences of :func:`explain_prediction` as one paragraph."""
    return " ".join(s.text for s in explain_prediction(pred))
