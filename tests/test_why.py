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
from gerec.why import explain_prediction, push, why_text
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
    if pred.bottom_up is not None and any(r.kind == "bottom-up" for r in pred.contributions):
        assert f"fused {pred.fused_class} ({max(pred.fused):.2f})" in text


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
    assert first.text == f"3 faces (2 Positive, 1 Neutral): the faces say Positive ({max(pred.bottom_up):.2f})."
    if pred.top_down_class == "Negative" and pred.fused_class == "Positive":
        assert fusion.text.startswith("The faces outweighed the scene labels 'protest'")
    else:  # the scene labels won
        assert fusion.text.startswith("The scene labels 'protest'")
    assert explain_prediction(base)[0].text.startswith("No face was found")
    assert len(explain_prediction(base)) == 2
    assert CLASSES[0] in why_text(pred)


def test_doctest():
    assert doctest.testmod(gerec.why, optionflags=doctest.ELLIPSIS).failed == 0
