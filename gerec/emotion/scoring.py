"""Score the face ensemble on a face set: 3-class (surprise left out) and 7-class accuracy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gerec.emotion.data import FaceSet
from gerec.emotion.ensemble import FaceEnsemble
from gerec.evaluation import accuracy, confusion_matrix


@dataclass(frozen=True, eq=False)
class FaceSetScores:
    """Probabilities and accuracies of every member and the ensemble on one face set."""

    group_probs: dict[str, np.ndarray]  # name -> (n, 3); "ensemble" included
    raw_probs: dict[str, np.ndarray]  # member name -> (n, member classes)
    accuracy3: dict[str, float]
    accuracy7: dict[str, float | None]
    confusion3: dict[str, np.ndarray]
    n3: int
    members7: tuple[str, ...] = ()  # members behind the ensemble's 7-class figure


def score_face_set(ensemble: FaceEnsemble, faces: FaceSet, batch_size: int = 512) -> FaceSetScores:
    """Run every member on every face once and compute 3- and 7-class accuracies."""
    raw = {m.spec.name: m.predict_raw(faces.images, batch_size) for m in ensemble.members}
    group = {m.spec.name: m.to_group(raw[m.spec.name]) for m in ensemble.members}
    group["ensemble"] = np.tensordot(ensemble.weights, np.stack([group[n] for n in ensemble.names]), axes=1)
    truth3 = faces.group_labels()
    acc3 = {name: accuracy(truth3, probs.argmax(1)) for name, probs in group.items()}
    conf3 = {name: confusion_matrix(truth3, probs.argmax(1)) for name, probs in group.items()}
    acc7: dict[str, float | None] = {}
    for m in ensemble.members:
        acc7[m.spec.name] = (
            float(np.mean(raw[m.spec.name].argmax(1) == faces.labels)) if m.spec.classes == faces.classes else None
        )
    # 7-class: the weighted mean of the members that have the set's classes (all of them, or the
    # 7-class ones when a 3-class member is in the ensemble), weights renormalised among them.
    seven = [i for i, n in enumerate(ensemble.names) if acc7[n] is not None]
    weights7 = ensemble.weights[seven]
    if seven and weights7.sum() > 0:
        mean7 = np.tensordot(weights7 / weights7.sum(), np.stack([raw[ensemble.names[i]] for i in seven]), axes=1)
        acc7["ensemble"] = float(np.mean(mean7.argmax(1) == faces.labels))
    else:
        acc7["ensemble"] = None
    members7 = tuple(ensemble.names[i] for i in seven if ensemble.weights[i] > 0)
    return FaceSetScores(group, raw, acc3, acc7, conf3, int((truth3 >= 0).sum()), members7)
