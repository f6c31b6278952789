"""The scene network's parameters and exact closed-form inference (its file is read by :mod:`gerec.bn.network_file`).

The network is a naive-Bayes-shaped Bayesian network: a root ``Emotion`` with one binary child
per known scene label and one ``CNN`` child. For this structure the posterior of ``Emotion`` is
exactly ``softmax(log prior + sum of each child's log-likelihood)``; :meth:`SceneNetwork.posterior`
computes it in log space. :mod:`gerec.bn.pgmpy_model` builds the same network in pgmpy, which
is the reference the tests hold this path to.

Tempering (``label_weight``, ``cnn_weight``) raises a child's likelihood to a power; in pgmpy it
is entered as virtual evidence, so both paths stay the same Bayesian network.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gerec.bn.contributions import BOTTOM_UP_LABEL, PRIOR_LABEL, centred, factor_rows, label_rows, order_rows
from gerec.classes import CLASSES, N_CLASSES, class_index
from gerec.errors import InvalidModelFile
from gerec.types import LabelContribution, Probs, normalise_label

if TYPE_CHECKING:
    from gerec.bn.factor_set import FactorSet

FORMAT = "gerec-scene-bn/1"
ABSENT_MODES = ("all", "informative", "none")
MAX_WEIGHT = 100
"""The largest tempering power (``label_weight``, ``cnn_weight``) a network may have; tuning tries
up to 2. Beyond it the powered probabilities underflow and the posterior would be NaN."""
SUM_TOLERANCE = 1e-6
"""How far from 1 a probability row may sum (files store rounded numbers)."""
ZERO_COUNT_FLOOR = 1e-4
"""The probability a count of 0 becomes (the reference rule): P(label | class) when fitting, and a
cell of a CNN confusion table (:meth:`SceneNetwork.with_cnn_table`)."""


def _distributions(table: np.ndarray) -> bool:
    """Whether every row of ``table`` (or the vector) is finite, positive and sums to 1."""
    table = np.asarray(table, dtype=float)
    return bool(
        np.isfinite(table).all()
        and (table > 0).all()
        and np.allclose(table.sum(axis=-1), 1.0, rtol=0, atol=SUM_TOLERANCE)
    )


@dataclass(frozen=True, eq=False)
class SceneNetwork:
    """Parameters of the scene network, in :data:`CLASSES` order.

    ``p_present[l, c]`` is P(label l present | Emotion = c); ``cnn_table[c, j]`` is
    P(CNN = class j | Emotion = c). ``absent_mask[l]`` says whether label l's *absence* is
    entered as evidence (all True in reference mode).

    >>> from gerec.bn import load_scene_network
    >>> net = load_scene_network("tuned")
    >>> net.split_labels(["smile", "unheard-of label"])  # (known, unknown)
    (('smile',), ('unheard-of label',))
    >>> probs = net.posterior(["smile", "party"])  # no bottom-up evidence: the top-down answer
    >>> CLASSES[probs.index(max(probs))], round(sum(probs), 6)
    ('Positive', 1.0)
    """

    labels: tuple[str, ...]
    p_present: np.ndarray
    prior: np.ndarray
    cnn_table: np.ndarray
    absent_mask: np.ndarray
    label_weight: float = 1.0
    cnn_weight: float = 1.0
    soft_cnn: bool = False
    cnn_base_rate: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    collapse_identical_factors: bool = False  # the reference's pgmpy < 0.1.11 rule, see factor_set

    def __post_init__(self) -> None:
        n = len(self.labels)
        shapes = {
            "p_present": (self.p_present.shape, (n, N_CLASSES)),
            "prior": (self.prior.shape, (N_CLASSES,)),
            "cnn_table": (self.cnn_table.shape, (N_CLASSES, N_CLASSES)),
            "absent_mask": (self.absent_mask.shape, (n,)),
        }
        for name, (got, want) in shapes.items():
            if got != want:
                raise InvalidModelFile(f"scene network: {name} has shape {got}, expected {want}")
        for name, table in (("p_present", self.p_present), ("prior", self.prior), ("cnn_table", self.cnn_table)):
            if not np.isfinite(table).all():
                raise InvalidModelFile(f"scene network: field '{name}' holds NaN or infinity")
        if not ((self.p_present > 0) & (self.p_present < 1)).all():
            raise InvalidModelFile("scene network: field 'p_present': P(label | class) must lie strictly in (0, 1)")
        if not _distributions(self.cnn_table):
            raise InvalidModelFile("scene network: field 'cnn_table': rows must be positive and sum to 1")
        if not _distributions(self.prior):
            raise InvalidModelFile("scene network: field 'prior' must be positive and sum to 1")
        base = self.base_rate
        if base.shape != (N_CLASSES,) or not _distributions(base):
            raise InvalidModelFile("scene network: field 'cnn_base_rate' must be 3 positive numbers summing to 1")
        for name in ("label_weight", "cnn_weight"):
            value = getattr(self, name)
            if not (np.isfinite(value) and 0 <= value <= MAX_WEIGHT):
                raise InvalidModelFile(
                    f"scene network: field '{name}' must be a number from 0 to {MAX_WEIGHT}, got {value!r}"
                )

    # ------------------------------------------------------------------ derived (computed once)
    # cached_property stores into the instance's __dict__, so the dataclass stays frozen.
    @cached_property
    def base_rate(self) -> np.ndarray:
        """``cnn_base_rate``, or the prior when the file gives none."""
        return self.prior if self.cnn_base_rate is None else np.asarray(self.cnn_base_rate, dtype=float)

    @cached_property
    def _index(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}

    @cached_property
    def _log_present(self) -> np.ndarray:
        return self.label_weight * np.log(self.p_present)

    @cached_property
    def _log_absent(self) -> np.ndarray:
        return self.label_weight * np.log1p(-self.p_present)

    @cached_property
    def _base(self) -> np.ndarray:
        """Log prior plus every counted label's absent log-likelihood (an image with no label)."""
        return np.log(self.prior) + (self._log_absent * self.absent_mask[:, None]).sum(0)

    @cached_property
    def _factors(self) -> FactorSet:
        from gerec.bn.factor_set import FactorSet

        return FactorSet.build(self._log_present, self._log_absent, self.absent_mask)

    # ------------------------------------------------------------------ evidence
    @property
    def vocabulary(self) -> frozenset[str]:
        """The labels the network knows."""
        return frozenset(self.labels)

    def split_labels(self, labels: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Normalise labels (lower case, trimmed, de-duplicated) into (known, unknown)."""
        known: list[str] = []
        unknown: list[str] = []
        seen: set[str] = set()
        for raw in labels:
            label = normalise_label(raw)
            if not label or label in seen:
                continue
            seen.add(label)
            (known if label in self._index else unknown).append(label)
        return tuple(known), tuple(unknown)

    def with_cnn_table(self, table: np.ndarray | Sequence[Sequence[float]]) -> SceneNetwork:
        """A copy whose CNN node uses another confusion table (counts; rows: true class).

        Counts must be finite and non-negative with a positive total in every row. As the
        reference rule does for label counts, a count of 0 becomes the probability
        :data:`ZERO_COUNT_FLOOR` (the row renormalised), so no class is ruled out by one table cell.
        """
        arr = np.asarray(table, dtype=float)
        if arr.shape != (N_CLASSES, N_CLASSES) or not np.isfinite(arr).all() or (arr < 0).any():
            raise InvalidModelFile(
                f"CNN confusion counts must be a {N_CLASSES}x{N_CLASSES} table of non-negative numbers, "
                f"got {arr.tolist()}"
            )
        if (arr.sum(axis=1) <= 0).any():
            raise InvalidModelFile(f"CNN confusion counts need at least one count in every row, got {arr.tolist()}")
        rows = arr / arr.sum(axis=1, keepdims=True)
        if (arr == 0).any():
            rows = np.where(arr == 0, ZERO_COUNT_FLOOR, rows)
            rows = rows / rows.sum(axis=1, keepdims=True)
        return dataclasses.replace(self, cnn_table=rows, cnn_base_rate=arr.sum(axis=1) / arr.sum())

    # ------------------------------------------------------------------ inference
    def cnn_log_likelihood(self, cnn: str | Probs | np.ndarray | None) -> np.ndarray:
        """Log-likelihood of the CNN evidence per class (zeros when absent).

        A class name is hard evidence: ``log P(CNN=j | c)``. A probability vector is used as
        hard evidence on its argmax unless ``soft_cnn`` is set, when it enters as virtual
        evidence: ``log sum_j P(CNN=j | c) q_j``. ``cnn_weight`` w tempers the table as
        ``P(CNN=j | c) ** w`` before either use.
        """
        if cnn is None:
            return np.zeros(N_CLASSES)
        table = self.cnn_table**self.cnn_weight
        if isinstance(cnn, str):
            column = table[:, class_index(cnn)]
        else:
            q = np.asarray(cnn, dtype=float)
            column = table @ q if self.soft_cnn else table[:, int(np.argmax(q))]
        return np.log(column)

    def bottom_up_posterior(self, cnn: str | Probs | np.ndarray | None) -> Probs | None:
        """P(true class | the CNN's evidence alone), from the CNN node's own table, untempered.

        A class name j gives ``cnn_base_rate * cnn_table[:, j]`` normalised: the share of each true
        class among the images the table was counted on where the CNN said j. A probability
        vector q (photo mode) enters as virtual evidence, ``cnn_table @ q``, when the network takes
        soft evidence (``soft_cnn``), else as its argmax, as in :meth:`posterior`. ``None`` without
        a bottom-up prediction.
        """
        if cnn is None:
            return None
        if not isinstance(cnn, str) and not self.soft_cnn:
            cnn = CLASSES[int(np.argmax(np.asarray(cnn, dtype=float)))]  # hard evidence, as in fusion
        if isinstance(cnn, str):
            likelihood = self.cnn_table[:, class_index(cnn)]
        else:
            likelihood = self.cnn_table @ np.asarray(cnn, dtype=float)
        probs = self.base_rate * likelihood
        probs = probs / probs.sum()
        return (float(probs[0]), float(probs[1]), float(probs[2]))

    def log_posterior_unnormalised(
        self, present: Iterable[str], cnn: str | Probs | np.ndarray | None = None
    ) -> np.ndarray:
        """log prior + label and CNN log-likelihoods, before normalising."""
        idx = self._present_indices(present)
        if self.collapse_identical_factors:
            labels = self._factors.log_likelihood(idx, self.absent_mask)
            return np.log(self.prior) + labels + self.cnn_log_likelihood(cnn)
        logit = self._base.copy()
        if idx.size:
            absent_counted = self._log_absent[idx] * self.absent_mask[idx, None]
            logit += (self._log_present[idx] - absent_counted).sum(0)
        return logit + self.cnn_log_likelihood(cnn)

    def posterior(self, present: Iterable[str], cnn: str | Probs | np.ndarray | None = None) -> Probs:
        """P(Emotion | labels present, every other counted label absent, CNN evidence)."""
        logit = self.log_posterior_unnormalised(present, cnn)
        probs = np.exp(logit - logit.max())
        probs /= probs.sum()
        return (float(probs[0]), float(probs[1]), float(probs[2]))

    def contributions(
        self, present: Iterable[str], cnn: str | Probs | np.ndarray | None = None, top_absent: int | None = None
    ) -> tuple[LabelContribution, ...]:
        """The posterior's log-odds as rows that add up, each centred over the classes.

        Rows: the prior (when not uniform), each present label, each absent label entered as
        evidence (only the ``top_absent`` strongest when given, the rest summed into one
        ``absent-rest`` row), and the bottom-up term (:meth:`cnn_log_likelihood`) when ``cnn``
        is given. With ``collapse_identical_factors`` a row is a distinct factor, named after its
        first label, with ``count`` the labels that share it. Softmax of the summed rows is
        :meth:`posterior` (``present``, ``cnn``); without the ``bottom-up`` row it is the
        posterior without CNN evidence.
        """
        if self.collapse_identical_factors:
            labels, absent = factor_rows(self.labels, self._factors, self._present_indices(present), self.absent_mask)
        else:
            labels, absent = label_rows(
                self.labels, self._log_present, self._log_absent, self._present_indices(present), self.absent_mask
            )
        log_prior = self.log_prior()
        uniform = np.ptp(log_prior) < 1e-12
        prior = None if uniform else LabelContribution(PRIOR_LABEL, False, centred(log_prior), "prior")
        bottom_up = (
            None
            if cnn is None
            else LabelContribution(BOTTOM_UP_LABEL, False, centred(self.cnn_log_likelihood(cnn)), "bottom-up")
        )
        return order_rows(prior, labels, absent, bottom_up, top_absent)

    def log_prior(self) -> np.ndarray:
        """The prior's term of the posterior's log-odds, per class."""
        return np.log(self.prior)

    def _present_indices(self, present: Iterable[str]) -> np.ndarray:
        index: dict[str, int] = self._index
        found = {index[label] for label in present if label in index}
        return np.fromiter(sorted(found), dtype=int, count=len(found))

    # ------------------------------------------------------------------ file format
    def to_json(self) -> dict[str, Any]:
        """The network as a JSON-ready dictionary (read back by :func:`gerec.bn.network_file.load_network`)."""
        return {
            "format": FORMAT,
            "classes": list(CLASSES),
            "labels": list(self.labels),
            "p_present": np.round(self.p_present, 12).tolist(),
            "prior": self.prior.tolist(),
            "cnn_table": self.cnn_table.tolist(),
            "absent_mask": [bool(x) for x in self.absent_mask],
            "label_weight": self.label_weight,
            "cnn_weight": self.cnn_weight,
            "soft_cnn": self.soft_cnn,
            "collapse_identical_factors": self.collapse_identical_factors,
            "cnn_base_rate": self.base_rate.tolist(),
            "metadata": self.metadata,
        }

    def save(self, path: str | Path) -> None:
        """Write the network as JSON."""
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")


def photo_network(net: SceneNetwork, face_confusion: np.ndarray | None) -> SceneNetwork:
    """The network that analyses photos. One that takes soft bottom-up evidence (``soft_cnn``,
    tuned) keeps its own group-level CNN table; otherwise (reference) the CNN node gets the face
    ensemble's confusion counts, as the reference pipeline used its own CNN's confusion."""
    if face_confusion is None or net.soft_cnn:
        return net
    return net.with_cnn_table(face_confusion)
