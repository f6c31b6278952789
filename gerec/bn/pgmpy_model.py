"""The scene network as a pgmpy ``DiscreteBayesianNetwork``, and exact inference through it.

This is the reference implementation of the network; :class:`gerec.bn.network.SceneNetwork`'s
closed-form path is tested against it. Tempered children (weight w != 1) get reweighted CPDs:
P'(x | c) = k * P(x | c) ** w for the observable states, plus one never-observed ``slack`` state
that takes the remaining mass, so observing a state gives a likelihood proportional to
P(x | c) ** w and the model is still a proper Bayesian network.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np

with warnings.catch_warnings():  # pgmpy 1.1 warns about its own deprecated estimators on import
    warnings.simplefilter("ignore", FutureWarning)
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.inference import VariableElimination
    from pgmpy.models import DiscreteBayesianNetwork

from gerec.bn.network import SceneNetwork
from gerec.classes import CLASSES
from gerec.types import Probs

EMOTION = "Emotion"
CNN = "CNN"
SLACK = "slack"


def label_node(label: str) -> str:
    """Node name of a scene label (prefixed so no label can clash with Emotion or CNN)."""
    return f"label:{label}"


def _tempered_columns(likelihood: np.ndarray, weight: float) -> np.ndarray:
    """CPD values (states x classes) for observable-state likelihoods, with slack if tempered."""
    if weight == 1.0:
        return likelihood
    powered = likelihood**weight
    k = 1.0 / powered.sum(axis=0).max()
    scaled = k * powered
    slack = 1.0 - scaled.sum(axis=0, keepdims=True)
    return np.vstack([scaled, np.clip(slack, 0.0, 1.0)])


def build_pgmpy_network(net: SceneNetwork) -> DiscreteBayesianNetwork:
    """The network in pgmpy: ``Emotion`` -> one binary node per label, and -> ``CNN``.

    Calls ``check_model()`` before returning.
    """
    nodes = [label_node(label) for label in net.labels]
    model = DiscreteBayesianNetwork([(EMOTION, node) for node in nodes] + [(EMOTION, CNN)])
    emotion_states = {EMOTION: list(CLASSES)}
    cpds = [TabularCPD(EMOTION, 3, net.prior.reshape(3, 1), state_names=emotion_states)]
    label_states = ["absent", "present"] if net.label_weight == 1.0 else ["absent", "present", SLACK]
    for node, p in zip(nodes, net.p_present):
        values = _tempered_columns(np.vstack([1.0 - p, p]), net.label_weight)
        cpds.append(
            TabularCPD(
                node,
                len(label_states),
                values,
                evidence=[EMOTION],
                evidence_card=[3],
                state_names={node: label_states, **emotion_states},
            )
        )
    cnn_states = list(CLASSES) + ([] if net.cnn_weight == 1.0 else [SLACK])
    cnn_values = _tempered_columns(net.cnn_table.T, net.cnn_weight)
    cpds.append(
        TabularCPD(
            CNN,
            len(cnn_states),
            cnn_values,
            evidence=[EMOTION],
            evidence_card=[3],
            state_names={CNN: cnn_states, **emotion_states},
        )
    )
    model.add_cpds(*cpds)
    model.check_model()
    return model


def pgmpy_posterior(
    net: SceneNetwork,
    present: Iterable[str],
    cnn: str | Probs | np.ndarray | None = None,
    model: DiscreteBayesianNetwork | None = None,
) -> Probs:
    """P(Emotion | evidence) by pgmpy variable elimination, with the same evidence rules.

    Present known labels are observed ``present``; labels whose absence counts are observed
    ``absent``; the rest stay unobserved. A CNN class name (or a probability vector without
    ``soft_cnn``) is hard evidence on ``CNN``; with ``soft_cnn`` a vector is virtual evidence.
    This is exact inference whatever ``net.collapse_identical_factors`` says; the reference's
    rule is :func:`legacy_pgmpy_posterior`.
    """
    model = model if model is not None else build_pgmpy_network(net)
    evidence = _label_evidence(net, present)
    virtual = None
    if isinstance(cnn, str):
        evidence[CNN] = cnn
    elif cnn is not None:
        q = np.asarray(cnn, dtype=float)
        if net.soft_cnn:
            states = list(CLASSES) + ([] if net.cnn_weight == 1.0 else [SLACK])
            lam = np.append(q, [0.0] * (len(states) - 3)).reshape(-1, 1)
            virtual = [TabularCPD(CNN, len(states), lam, state_names={CNN: states})]
            model = model.copy()  # pgmpy adds virtual-evidence nodes to the model it is given
        else:
            evidence[CNN] = CLASSES[int(np.argmax(q))]
    result = VariableElimination(model).query(
        [EMOTION], evidence=evidence, virtual_evidence=virtual, show_progress=False
    )
    values = result.values  # type: ignore[union-attr]
    names = result.state_names[EMOTION]  # type: ignore[union-attr]
    probs = [float(values[names.index(c)]) for c in CLASSES]
    return (probs[0], probs[1], probs[2])


def _label_evidence(net: SceneNetwork, present: Iterable[str]) -> dict[str, str]:
    """``present`` for known present labels, ``absent`` for the others whose absence counts."""
    known, _ = net.split_labels(present)
    present_set = set(known)
    evidence: dict[str, str] = {}
    for label, counted in zip(net.labels, net.absent_mask):
        if label in present_set:
            evidence[label_node(label)] = "present"
        elif counted:
            evidence[label_node(label)] = "absent"
    return evidence


def legacy_pgmpy_posterior(
    net: SceneNetwork,
    present: Iterable[str],
    cnn: str | None = None,
    model: DiscreteBayesianNetwork | None = None,
) -> Probs:
    """P(Emotion | evidence) as pgmpy before 0.1.11 computed it, the oracle for the reference.

    Every CPD is reduced by the evidence (an unobserved ``CNN`` is summed out) and the factors
    are collected in a Python ``set``, as the old ``VariableElimination`` did: pgmpy's own
    factor equality then keeps one of several identical factors (pgmpy issue #1261). The
    product of the set, normalised, is the posterior. Hard CNN evidence only.
    """
    from pgmpy.factors import factor_product

    model = model if model is not None else build_pgmpy_network(net)
    evidence = _label_evidence(net, present)
    if cnn is not None:
        evidence[CNN] = cnn
    factors = set()
    for cpd in model.get_cpds():
        phi = cpd.to_factor()
        observed = [(v, evidence[v]) for v in phi.scope() if v in evidence]
        if observed:
            phi = phi.reduce(observed, inplace=False)
        if cpd.variable != EMOTION and cpd.variable not in evidence:
            phi = phi.marginalize([cpd.variable], inplace=False)
        factors.add(phi)
    joint = factor_product(*factors)
    joint.normalize()
    names = joint.state_names[EMOTION]
    probs = [float(joint.values[names.index(c)]) for c in CLASSES]
    return (probs[0], probs[1], probs[2])
