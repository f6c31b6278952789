"""A plain-words why: two or three sentences built from a prediction's own numbers.

The faces (how many, what they mostly show), the strongest scene labels for and against the
top-down class, and what fusion did. Every label a sentence names is a row of
``GroupPrediction.contributions``, and each :class:`Cite` records the sign it was named with, so
a test can hold the words to the numbers. This module never imports streamlit.

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

from gerec.classes import CLASSES
from gerec.types import GroupPrediction, LabelContribution

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


def faces_sentence(pred: GroupPrediction) -> Sentence:
    """How many faces, what they mostly show, and the bottom-up verdict."""
    if pred.bottom_up is None:
        return Sentence("No face was found, so the verdict rests on the scene labels alone.")
    if not pred.faces:
        return Sentence(f"The bottom-up class given (no faces here) is {pred.bottom_up_class}.")
    counts = Counter(f.scores.predicted for f in pred.faces if f.scores is not None)
    n = len(pred.faces)
    shown = ", ".join(f"{k} {cls}" for cls, k in counts.most_common())
    lead = f"1 face, which looks {pred.bottom_up_class}" if n == 1 else f"{n} faces ({shown})"
    return Sentence(f"{lead}: the faces say {pred.bottom_up_class} ({max(pred.bottom_up):.2f}).")


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
    """What fusion did with the faces and the scene (None without bottom-up evidence)."""
    if pred.bottom_up is None or not any(r.kind == "bottom-up" for r in pred.contributions):
        return None
    fused, top, bottom = pred.fused_class, pred.top_down_class, pred.bottom_up_class
    verdict = f"fused {fused} ({max(pred.fused):.2f})"
    if fused == top == bottom:
        return Sentence(f"Faces and scene agree: {verdict}.")
    if fused == bottom:
        lost = strongest(pred.contributions, top, fused, +1)
        what = f"the scene labels {quoted(lost)}" if lost else "the scene labels"
        return Sentence(f"The faces outweighed {what}: {verdict}.", lost)
    if fused == top:
        won = strongest(pred.contributions, fused, bottom, +1)
        what = f"The scene labels {quoted(won)}" if won else "The scene labels"
        return Sentence(f"{what} outweighed the faces ({bottom}): {verdict}.", won)
    return Sentence(f"Faces ({bottom}) and scene ({top}) pull apart; together they give {verdict}.")


def explain_prediction(pred: GroupPrediction) -> tuple[Sentence, ...]:
    """Two or three sentences: the faces, the scene labels, and what fusion did."""
    fusion = fusion_sentence(pred)
    return (faces_sentence(pred), scene_sentence(pred)) + ((fusion,) if fusion else ())


def why_text(pred: GroupPrediction) -> str:
    """The sentences of :func:`explain_prediction` as one paragraph."""
    return " ".join(s.text for s in explain_prediction(pred))
