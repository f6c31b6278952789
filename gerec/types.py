"""Frozen result types. Probability vectors are tuples in :data:`gerec.classes.CLASSES` order."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from gerec.classes import CLASSES
from gerec.formatting import NO_VALUE_TEXT
from gerec.modes import DEFAULT_MODE

Probs = tuple[float, float, float]
Box = tuple[int, int, int, int]
"""A face box as (x, y, width, height) in pixels of the analysed image."""


def argmax_class(probs: Probs | None) -> str | None:
    """The class with the highest probability, or ``None`` when the vector is absent."""
    if probs is None:
        return None
    best = max(range(len(CLASSES)), key=lambda i: probs[i])
    return CLASSES[best]


def normalise_label(label: str) -> str:
    """A scene label as every labeler reports it and the network reads it: lower case, trimmed,
    inner white space collapsed to one space.

    >>> normalise_label("  Group   Photo ")
    'group photo'
    """
    return " ".join(str(label).lower().split())


def format_probs(probs: Probs | None, sep: str = "/") -> str:
    """Probabilities to two decimals joined by ``sep`` (``0.71/0.20/0.09``), or
    :data:`~gerec.formatting.NO_VALUE_TEXT` when absent.

    >>> format_probs((0.714, 0.2, 0.086), sep=" / ")
    '0.71 / 0.20 / 0.09'
    """
    return NO_VALUE_TEXT if probs is None else sep.join(f"{p:.2f}" for p in probs)


@dataclass(frozen=True)
class FaceScores:
    """One face's 3-class probabilities: each ensemble member's, and the ensemble's."""

    members: dict[str, Probs]
    ensemble: Probs

    @property
    def predicted(self) -> str:
        """The ensemble's class for this face."""
        return argmax_class(self.ensemble) or CLASSES[0]


@dataclass(frozen=True)
class Face:
    """A detected face: its box, detector confidence, landmarks and (once scored) scores."""

    index: int
    box: Box
    confidence: float
    keypoints: dict[str, tuple[float, float]]
    scores: FaceScores | None = None

    @property
    def area(self) -> int:
        """Box area in pixels."""
        return self.box[2] * self.box[3]


@dataclass(frozen=True)
class SceneEvidence:
    """Scene labels as evidence: which the network used, mapped or ignored, and who gave them."""

    labels_used: tuple[str, ...]
    labels_ignored: tuple[str, ...] = ()
    labels_mapped: tuple[tuple[str, str], ...] = ()
    labeler: str = "none"
    notes: tuple[str, ...] = ()


CONTRIBUTION_KINDS = ("prior", "label", "label-rest", "absent", "absent-rest", "bottom-up")
"""What a :class:`LabelContribution` row stands for: the prior, one present label, several present
labels summed, one absent label, several absent labels summed, the bottom-up (CNN) evidence."""


@dataclass(frozen=True)
class LabelContribution:
    """One term of the posterior's log-odds: its centred log-likelihood (or log prior) per class.

    The rows of :meth:`gerec.bn.network.SceneNetwork.contributions` add up: softmax of their summed
    ``log_ratio`` is the posterior. ``present`` is True for present labels only; ``count`` is how
    many labels a row holds (a summed ``label-rest`` / ``absent-rest`` row, or labels sharing one
    factor when the network counts identical factors once).
    """

    label: str
    present: bool
    log_ratio: Probs
    kind: str = "label"
    count: int = 1

    def __post_init__(self) -> None:
        if self.kind not in CONTRIBUTION_KINDS:
            raise ValueError(f"contribution kind must be one of {CONTRIBUTION_KINDS}, got {self.kind!r}")

    @property
    def strength(self) -> float:
        """Spread of the contribution across classes (how much it moves the posterior)."""
        return max(self.log_ratio) - min(self.log_ratio)

    @property
    def display(self) -> str:
        """The row's name in charts and sentences: ``smile``, ``not smile``, ``prior``..."""
        return f"not {self.label}" if self.kind == "absent" else self.label


NO_FACE_ANSWER, NO_FACE_REASON = "absent", "no face"
NO_FACE = f"{NO_FACE_ANSWER} ({NO_FACE_REASON})"
"""What is shown for the bottom-up answer of a photo without a face (the CLI's lines, the dashboard,
the report; a metric shows its two parts on two lines); OUT.csv and the run store leave it empty."""


@dataclass(frozen=True)
class GroupPrediction:
    """Everything gerec concluded about one photo (or one label set, when label-only).

    ``top_down`` and ``fused`` are the scene network's posteriors given the scene labels alone, and
    given the labels and the bottom-up evidence. ``bottom_up`` is P(true class | the bottom-up
    evidence) from the CNN node alone (:meth:`gerec.bn.network.SceneNetwork.bottom_up_posterior`):
    its confusion table times the class mix it was counted on, untempered; not the network's prior
    nor its CNN weight, so its class can differ from where the faces push ``fused`` (their row of
    ``contributions``). The faces' own scores are in ``faces``.
    """

    image: str
    faces: tuple[Face, ...]
    bottom_up: Probs | None
    top_down: Probs
    fused: Probs
    evidence: SceneEvidence
    mode: str = DEFAULT_MODE
    contributions: tuple[LabelContribution, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    image_size: tuple[int, int] | None = None
    bottom_up_evidence: Probs | str | None = None
    """What entered the network's CNN node: a class name (label-only) or the faces' tempered mean."""

    @property
    def bottom_up_class(self) -> str | None:
        """Bottom-up class, or ``None`` when no face was found."""
        return argmax_class(self.bottom_up)

    @property
    def top_down_class(self) -> str:
        """Top-down (scene network) class."""
        return argmax_class(self.top_down) or CLASSES[0]

    @property
    def fused_class(self) -> str:
        """Fused class: the network's posterior with the bottom-up evidence."""
        return argmax_class(self.fused) or CLASSES[0]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary, with the predicted classes added."""
        out = asdict(self)
        out["bottom_up_class"] = self.bottom_up_class
        out["top_down_class"] = self.top_down_class
        out["fused_class"] = self.fused_class
        out["classes"] = list(CLASSES)
        return out
