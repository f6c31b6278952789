"""The reference's inference rule: identical evidence factors count once (pgmpy before 0.1.11).

The reference system ran pgmpy's ``VariableElimination`` from before version 0.1.11. That code
kept the factors over ``Emotion`` in a Python ``set`` (pgmpy issue #1261, "VariableElimination
ignores identical factors", fixed by pull request #1264 in 0.1.11). Observing a label reduces its
CPD to a factor over ``Emotion``, P(label = state | Emotion), so two labels with the same training
counts give two factors with the same values, and the set keeps one of them. The posterior the
reference computed is therefore

    P(Emotion | evidence)  ~  product of the *distinct* evidence factors (and the prior).

Two effects follow. Absent labels with equal count rows (for example the many labels seen once,
in one class only) enter once instead of once each: a per-class constant, the same for every
image, which shifts near-ties between classes. Present labels with equal count rows ("patient"
and "ear", both seen once in a Positive image) count once too.

:class:`FactorSet` reproduces this exactly for gerec's closed-form path. Factors are compared by
their values (the likelihood vector over the three classes): equal count rows give bitwise equal
values, and distinct count rows of the reference network are far apart (checked in
``tools/reference_agreement.py``). Networks opt in with ``SceneNetwork.collapse_identical_factors``
(the reference network does; the tuned one does not). :func:`gerec.bn.pgmpy_model.legacy_pgmpy_posterior`
builds the same factors with pgmpy and collects them in a ``set`` the old way, as the oracle.
The prior and the CNN factor are kept apart from the label factors here: with P(label | class)
strictly between 0 and 1 and a uniform prior, no label factor can equal the prior, and in the
reference network none equals a column of the CNN table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class FactorSet:
    """Distinct evidence factors of a network, indexed so an image costs only its present labels.

    ``values[f]`` is factor f's log-likelihood per class (already tempered by the label weight);
    ``present_id[l]`` / ``absent_id[l]`` the factor label l gives when observed present / absent;
    ``absent_count[f]`` how many labels whose absence is counted give factor f when absent;
    ``base`` the sum of every distinct factor of an image with no label present.
    """

    values: np.ndarray
    present_id: np.ndarray
    absent_id: np.ndarray
    absent_count: np.ndarray
    base: np.ndarray

    @classmethod
    def build(cls, log_present: np.ndarray, log_absent: np.ndarray, absent_mask: np.ndarray) -> FactorSet:
        """Index the distinct rows of ``log_present`` and ``log_absent`` (labels x classes)."""
        n = len(log_present)
        rows = np.vstack([log_present, log_absent])
        values, inverse = np.unique(rows, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        present_id, absent_id = inverse[:n], inverse[n:]
        absent_count = np.bincount(absent_id[absent_mask], minlength=len(values))
        base = values[absent_count > 0].sum(axis=0)
        return cls(values, present_id, absent_id, absent_count, base)

    def log_likelihood(self, present: Sequence[int] | np.ndarray, absent_mask: np.ndarray) -> np.ndarray:
        """Sum of the distinct factors' log values for labels ``present`` (indices), every other
        counted label absent."""
        idx = np.asarray(present, dtype=int)
        if idx.size == 0:
            return self.base.copy()
        counted = idx[absent_mask[idx]]
        removed = np.bincount(self.absent_id[counted], minlength=len(self.values))
        gone = (self.absent_count > 0) & (removed >= self.absent_count)
        active = (self.absent_count > 0) & ~gone
        added = np.unique(self.present_id[idx])
        added = added[~active[added]]  # a present factor equal to an absent one still in the set
        return self.base - self.values[gone].sum(axis=0) + self.values[added].sum(axis=0)
