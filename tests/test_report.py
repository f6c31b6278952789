"""The Analyze page's HTML report: one self-contained file (gerec_app.report.build_report)."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from gerec.saliency import FaceSaliency, MemberSaliency
from gerec.why import why_text
from gerec_app.render import annotate
from gerec_app.report import build_report

pytestmark = pytest.mark.slow


def test_report_is_self_contained_with_verdicts_faces_saliency_and_reasons(pipeline, photos_dir):
    from gerec.imaging import load_image

    photo = load_image(photos_dir / "image_happy_1.jpg")
    pred, crops = pipeline.analyze_with_crops(photo, labels=["people", "smile", "picnic", "weddings"])
    rng = np.random.default_rng(0)
    members = tuple(
        MemberSaliency(name, "Positive", 0.9, rng.normal(size=(48, 48)), 0.0, 20, np.zeros((48, 48), dtype=int))
        for name in ("m1", "m2")
    )
    maps: list[FaceSaliency | None] = [
        FaceSaliency("Positive", members[0].values, 0.9, (0.9, 0.05, 0.05), 0.92, members) for _ in crops
    ]
    maps[-1] = None  # a face whose saliency was not computed
    page = build_report(
        "image_happy_1.jpg",
        annotate(photo.pixels, pred.faces),
        pred,
        crops,
        maps,
        {"scene network": "tuned", "labels file sha256": "abc123"},
        pipeline.photo_network,
    )
    assert page.startswith("<!doctype html>")
    # self-contained: every image is a data URI, nothing is fetched
    sources = re.findall(r'src="([^"]+)"', page)
    assert sources and all(s.startswith("data:image/") for s in sources)
    assert not re.search(r"(href|src)=\"https?:", page)
    assert len(sources) == 1 + len(crops) + 3 * (len(crops) - 1)  # photo, crops, verdict + member maps
    for title in ("Bottom-up", "Top-down", "Fused"):
        assert title in page
    assert f"{pred.fused[0]:.2f}" in page
    assert page.count('class="face"') == len(pred.faces) == 3
    assert "m1: Positive, p=0.90" in page and "explained views p=0.90 (bars 0.92)" in page
    assert html.escape(why_text(pred)) in page
    assert "smile pushes towards" in page and "abc123" in page
    assert "faces (bottom-up) push towards" in page  # plural rows take a plural verb
    assert re.search(r"\d+ other absent labels push towards", page) and "labels pushes" not in page
    assert "ignored: weddings" in page  # what the network did not know is said
    assert "How each term moves the verdict (labels, faces):" in page  # no prior row: the prior is uniform
    # what bottom-up is, said truly: the faces' mean is shown as the faces', not as bottom-up
    mean = np.mean([f.scores.ensemble for f in pred.faces], axis=0)
    assert f"the mean of their probabilities: Positive {mean[0]:.2f}" in page
    assert abs(mean[0] - pred.bottom_up[0]) > 0.1  # they differ here (0.96 against 0.69)
    assert "bottom-up is the mean of the faces" not in page.lower()
    assert "faces' class as one more piece of evidence" not in page


def test_report_of_a_photo_without_faces(pipeline):
    import numpy as np

    blank = np.full((120, 160, 3), 200, dtype=np.uint8)
    pred, crops = pipeline.analyze_with_crops(blank, "blank.png", labels=["people"])
    page = build_report("blank.png", blank, pred, crops, [], {"scene network": "tuned"}, pipeline.photo_network)
    assert "No face found: bottom-up is absent" in page and "absent (no face)" in page
    assert "0 faces" not in page and "No face found.</p>" in page  # no count, numbering or box colours
    assert "Bottom-up is the chance" not in page and "Fused: " not in page  # nothing about faces that are not there
    assert page.count("data:image/") == 1


@pytest.mark.parametrize("mode", ["tuned", "reference"])
def test_report_says_what_bottom_up_and_fused_are_in_each_mode(mode):
    """Flat faces (image_negative_2.jpg's, no detector): the report's words match the mode's numbers."""
    from gerec.bn import load_scene_network
    from gerec.bn.network import photo_network
    from gerec.emotion.registry import read_registry
    from gerec.why import module_words
    from tests.test_why import photo_prediction

    faces = [(0.158, 0.274, 0.569), (0.276, 0.349, 0.375), (0.032, 0.598, 0.37), (0.022, 0.413, 0.564)]
    faces += [(0.9, 0.059, 0.041), (0.021, 0.547, 0.432)]
    from gerec.pipeline import Pipeline, PipelineConfig
    from gerec.scene.chain import LabelerChain

    pipe = Pipeline(PipelineConfig(mode=mode), labeler=LabelerChain([]), network=load_scene_network(mode))
    net = photo_network(pipe.network, read_registry().face_confusion)
    pred = photo_prediction(pipe, ["people", "social group", "event"], faces, net)
    crops = np.zeros((len(faces), 112, 112, 3), dtype=np.uint8)
    page = html.unescape(build_report("n2.jpg", crops[0], pred, crops, [], {"scene network": mode}, net))
    bottom_up, fused = module_words(net)
    assert bottom_up in page and fused in page
    assert "bottom-up is the mean of the faces" not in page.lower()
    assert "the mean of their probabilities: Positive 0.23, Neutral 0.37, Negative 0.39" in page
    if mode == "tuned":
        assert net.soft_cnn and "soft evidence" in fused and "hard evidence" not in fused
        assert "Positive 0.41, Neutral 0.31, Negative 0.28" in bottom_up
    else:  # the class of the faces' mean does enter as hard evidence here
        assert not net.soft_cnn and "class of the faces' mean as one more piece of hard evidence" in fused
