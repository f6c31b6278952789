"""The Analyze page's HTML report: one self-contained file (gerec_app.report.build_report)."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from gerec.explain import FaceSaliency, MemberSaliency
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
    maps: list = [FaceSaliency("Positive", members[0].values, 0.9, (0.9, 0.05, 0.05), 0.92, members) for _ in crops]
    maps[-1] = []  # a face whose saliency was not computed
    page = build_report(
        "image_happy_1.jpg",
        annotate(photo.pixels, pred.faces),
        pred,
        crops,
        maps,
        {"scene network": "tuned", "labels file sha256": "abc123"},
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
    assert "smile" in page and "pushes towards" in page and "abc123" in page
    assert "ignored: weddings" in page  # what the network did not know is said


def test_report_of_a_photo_without_faces(pipeline):
    import numpy as np

    blank = np.full((120, 160, 3), 200, dtype=np.uint8)
    pred, crops = pipeline.analyze_with_crops(blank, "blank.png", labels=["people"])
    page = build_report("blank.png", blank, pred, crops, [], {"scene network": "tuned"})
    assert "No face found: bottom-up is absent" in page and "absent (no face)" in page
    assert page.count("data:image/") == 1
