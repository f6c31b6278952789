"""The plain-words why names only contribution rows, each with the sign the numbers give it."""

from __future__ import annotations

import doctest
import re

import numpy as np
import pytest

import gerec.why
from gerec.bn import MODES, load_scene_network
from gerec.classes import CLASSES
from gerec.types import Face, FaceScores, GroupPrediction
from gerec.why import explain_prediction, faces_mean, push, why_text
from tests.test_contributions import dev_images


def with_faces(pred: GroupPrediction, face_classes: list[int]) -> GroupPrediction:
    faces = tuple(
        Face(i, (10 * i, 0, 10, 10), 0.99, {}, FaceScores({}, tuple(np.eye(3)[c] * 0.8 + 0.2 / 3)))
        for i, c in enumerate(face_classes)
    )
    from dataclasses import replace

    return replace(pred, faces=faces)


def check(pred: GroupPrediction) -> None:
    sentences = explain_prediction(pred)
    assert 2 <= len(sentences) <= 3
    rows = {r.display: r for r in pred.contributions}
    for sentence in sentences:
        named = re.findall(r"'([^']+)'", sentence.text)
        assert sorted(named) == sorted(c.term for c in sentence.cites), sentence.text
        for cite in sentence.cites:
            assert cite.term in rows, cite  # only terms that are in the contributions
            assert cite.sign * push(rows[cite.term], cite.towards, cite.versus) > 0, (sentence.text, cite)
    text = why_text(pred)
    assert f"{pred.top_down_class} ({max(pred.top_down):.2f})" in text
    rows_bu = [r for r in pred.contributions if r.kind == "bottom-up"]
    if pred.bottom_up is not None and rows_bu:
        assert f"fused {pred.fused_class} ({max(pred.fused):.2f})" in text
        pushed = CLASSES[int(np.argmax(rows_bu[0].log_ratio))]  # the faces' term of the fused log-odds
        fusion = sentences[-1].text
        if not fusion.startswith("Faces and scene agree"):
            assert f"pushing towards {pushed}" in fusion, (fusion, pushed)
        else:
            assert pushed == pred.fused_class == pred.top_down_class, (fusion, pushed)
    if pred.faces:  # faces described by their own scores, never by the bottom-up posterior's class
        mean = np.mean([f.scores.ensemble for f in pred.faces if f.scores is not None], axis=0)
        own = CLASSES[int(np.argmax(mean))]
        lead = sentences[0].text.split(";")[0]
        assert (f"looks {own}" if len(pred.faces) == 1 else f"{own} on average") in lead, (lead, own)


@pytest.mark.parametrize("mode", MODES)
def test_sentences_name_only_contributions_with_the_right_sign(mode, gaf_dir):
    from gerec.pipeline import Pipeline, PipelineConfig
    from gerec.scene.chain import LabelerChain

    pipe = Pipeline(PipelineConfig(mode=mode), labeler=LabelerChain([]), network=load_scene_network(mode))
    rng = np.random.default_rng(1)
    outcomes = set()
    for name, labels, cnn in dev_images(gaf_dir, 120):
        check(pipe.from_labels(name, labels))
        probs = tuple(float(p) for p in rng.dirichlet([1, 1, 1]))
        pred = with_faces(
            pipe.fuse(name, pipe.from_labels(name, labels).evidence, probs),  # type: ignore[arg-type]
            list(rng.integers(0, 3, rng.integers(1, 5))),
        )
        check(pred)
        check(pipe.from_labels(name, labels, cnn))
        outcomes.add((pred.fused_class == pred.top_down_class, pred.fused_class == pred.bottom_up_class))
    assert len(outcomes) >= 3  # agree, faces won, scene won (or a third class) all met


def test_faces_sentence_counts_and_cases():
    from gerec.pipeline import Pipeline
    from gerec.scene.chain import LabelerChain

    pipe = Pipeline(labeler=LabelerChain([]), network=load_scene_network("reference"))
    base = pipe.from_labels("x.jpg", ["protest", "crowd", "people"])
    pred = with_faces(pipe.fuse("x.jpg", base.evidence, (0.9, 0.05, 0.05)), [0, 0, 1])
    first, _, fusion = explain_prediction(pred)
    assert pred.bottom_up is not None
    assert (
        first.text == "3 faces (2 Positive, 1 Neutral), Positive on average (0.60); "
        f"bottom-up: Positive ({max(pred.bottom_up):.2f})."
    )
    if pred.top_down_class == "Negative" and pred.fused_class == "Positive":
        assert fusion.text.startswith("The faces, pushing towards Positive, outweighed the scene labels 'protest'")
    else:  # the scene labels won
        assert fusion.text.startswith("The scene labels 'protest'")
    assert explain_prediction(base)[0].text.startswith("No face was found")
    assert len(explain_prediction(base)) == 2
    assert CLASSES[0] in why_text(pred)


def tuned_pipe():
    from gerec.pipeline import Pipeline, PipelineConfig
    from gerec.scene.chain import LabelerChain

    return Pipeline(PipelineConfig(mode="tuned"), labeler=LabelerChain([]), network=load_scene_network("tuned"))


def photo_prediction(
    pipe, labels: list[str], face_probs: list[tuple[float, float, float]], network=None
) -> GroupPrediction:
    """What ``Pipeline.analyze`` gives for faces with these ensemble probabilities (no detector);
    ``network``: the photo network (reference mode's differs from ``pipe.network``)."""
    from gerec.emotion.aggregate import bottom_up_evidence

    faces = tuple(Face(i, (10 * i, 0, 10, 10), 0.99, {}, FaceScores({}, probs)) for i, probs in enumerate(face_probs))
    q = bottom_up_evidence(np.mean(face_probs, axis=0), len(faces))
    assert q is not None  # at least one face
    evidence = pipe.from_labels("x.jpg", labels).evidence
    return pipe.fuse("x.jpg", evidence, tuple(float(v) for v in q), network, faces=faces)


def test_one_face_is_described_by_its_own_class_not_the_bottom_up_class():
    # the review's one-face crop (tuned): the face says Neutral, the bottom-up figure Positive
    pred = photo_prediction(tuned_pipe(), ["people", "smile", "fun"], [(0.424, 0.460, 0.116)])
    scores = pred.faces[0].scores
    assert scores is not None and pred.bottom_up is not None
    assert scores.predicted == "Neutral" and pred.bottom_up_class == "Positive"
    first = explain_prediction(pred)[0].text
    assert first.startswith("1 face, which looks Neutral (0.46);"), first
    assert f"gives Positive ({max(pred.bottom_up):.2f})" in first  # the figure is still named, as what it is
    assert "looks Positive" not in first
    check(pred)


def test_fusion_sentence_uses_where_the_faces_push_not_the_bottom_up_class():
    # image_negative_2.jpg's six faces and labels (tuned): flat faces averaging Negative; the class mix
    # makes bottom-up Positive, but the faces' row pushes the fused answer towards Negative
    faces = [
        (0.158, 0.274, 0.569),
        (0.276, 0.349, 0.375),
        (0.032, 0.598, 0.370),
        (0.022, 0.413, 0.564),
        (0.900, 0.059, 0.041),
        (0.021, 0.547, 0.432),
    ]
    pred = photo_prediction(tuned_pipe(), ["people", "social group", "event"], faces)
    row = next(r for r in pred.contributions if r.kind == "bottom-up")
    assert CLASSES[int(np.argmax(row.log_ratio))] == "Negative"
    assert pred.bottom_up_class == "Positive" and pred.top_down_class == "Positive" and pred.fused_class == "Neutral"
    assert gerec.why.faces_push(pred) == "Negative"
    mean = faces_mean(pred)
    assert mean is not None
    assert max(mean) == pytest.approx(0.3918, abs=1e-3)
    first, _, fusion = explain_prediction(pred)
    assert first.text.startswith("6 faces (3 Negative, 2 Neutral, 1 Positive), Negative on average (0.39);")
    assert "which also weighs how common each class is, gives Positive" in first.text
    assert fusion.text == (
        "The faces (pushing towards Negative) and scene (Positive) pull apart; together they give fused Neutral "
        f"({max(pred.fused):.2f})."
    )
    check(pred)


def test_module_words_say_what_bottom_up_and_fused_are_per_mode():
    from gerec.why import module_words

    tuned = tuned_pipe().photo_network
    bottom_up, fused = module_words(tuned)
    assert (
        "Positive 0.41, Neutral 0.31, Negative 0.28" in bottom_up and "neither the scene network's prior" in bottom_up
    )
    assert "soft evidence" in fused and "weight 0.8542" in fused and "class as" not in fused
    bottom_up, fused = module_words(load_scene_network("reference"))
    assert "class of the faces' mean" in bottom_up and "hard evidence" in fused


def test_doctest():
    assert doctest.testmod(gerec.why, optionflags=doctest.ELLIPSIS).failed == 0
