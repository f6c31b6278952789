"""Detection on real group photos, alignment, and the ensemble on aligned faces."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gerec.classes import CLASSES
from gerec.errors import InvalidModelFile, ModelFileMissing
from gerec.faces.align import align_face, eye_angle
from gerec.faces.detect import clip_box
from gerec.imaging import load_image
from gerec.types import Face


def test_clip_box():
    assert clip_box(-5, 10, 20, 20, 100, 100) == (0, 10, 15, 20)
    assert clip_box(90, 90, 30, 30, 100, 100) == (90, 90, 10, 10)


def test_alignment_levels_the_eyes():
    img = np.zeros((200, 200, 3), dtype=np.uint8)
    left, right = (80.0, 90.0), (120.0, 110.0)  # right eye lower: tilted by ~26.6 degrees
    for x, y in (left, right):
        img[int(y) - 3 : int(y) + 4, int(x) - 3 : int(x) + 4] = 255
    face = Face(1, (60, 60, 80, 80), 0.99, {"left_eye": left, "right_eye": right})
    assert eye_angle(face) == pytest.approx(np.degrees(np.arctan2(20, 40)))
    crop = align_face(img, face, size=128)
    ys, xs = np.nonzero(crop[..., 0] > 128)
    left_blob, right_blob = ys[xs < 64], ys[xs >= 64]
    assert abs(left_blob.mean() - right_blob.mean()) < 2.0


@pytest.fixture(scope="module")
def detections(pipeline, photos_dir):
    out = {}
    for path in sorted(photos_dir.glob("*.jpg")):
        photo = load_image(path)
        out[path.name] = (photo, pipeline.detector.detect(photo.pixels))
    return out


def test_detection_on_real_group_photos(detections):
    counts = {name: len(faces) for name, (_, faces) in detections.items()}
    assert len(counts) == 15
    assert sum(1 for c in counts.values() if c >= 2) >= 12, counts  # group photos hold groups
    assert max(counts.values()) < 200, counts
    for _, (photo, faces) in detections.items():
        width, height = photo.size
        for face in faces:
            x, y, w, h = face.box
            assert x >= 0 and y >= 0 and x + w <= width and y + h <= height
            assert w >= 2 and h >= 2 and face.confidence >= 0.9
            assert set(face.keypoints) >= {"left_eye", "right_eye"}
        assert [f.index for f in faces] == list(range(1, len(faces) + 1))


def test_the_pipeline_detector_finds_the_same_faces_as_eager_mtcnn(detections):
    """The pipeline's MTCNN (ONNX exports, no TensorFlow) is a speed-up only: the same boxes,
    keypoints and confidences as the mtcnn package's own eager Keras calls."""
    from gerec.faces.detect import FaceDetector

    eager = FaceDetector(compile_graphs=False, runtime="keras")
    for name, (photo, faces) in list(detections.items())[:6]:
        reference = eager.detect(photo.pixels)
        assert [f.box for f in faces] == [f.box for f in reference], name
        np.testing.assert_allclose([f.confidence for f in faces], [f.confidence for f in reference], atol=1e-5)
        for ours, theirs in zip(faces, reference, strict=True):
            np.testing.assert_allclose(ours.keypoints["left_eye"], theirs.keypoints["left_eye"], atol=1e-3)


def test_graph_detector_on_a_blank_image_finds_nothing(pipeline):
    assert pipeline.detector.detect(np.full((240, 320, 3), 128, np.uint8)) == []


def test_ensemble_scores_all_faces_of_a_photo(pipeline, detections):
    photo, faces = detections["image_happy_1.jpg"]
    from gerec.faces.align import align_faces

    crops = align_faces(photo.pixels, faces)
    out = pipeline.ensemble.predict(crops)
    assert out.ensemble.shape == (len(faces), 3)
    np.testing.assert_allclose(out.ensemble.sum(axis=1), 1.0, atol=1e-6)
    assert set(out.members) == set(pipeline.ensemble.names)
    assert CLASSES[int(out.ensemble.mean(0).argmax())] == "Positive"  # a photo of laughing friends


def test_registry_errors(tmp_path):
    from gerec.config import models_dir
    from gerec.emotion.registry import REGISTRY_FILE, read_registry, resolve_weights

    with pytest.raises(ModelFileMissing):
        read_registry(tmp_path / "none.json")
    data = json.loads((models_dir() / REGISTRY_FILE).read_text())
    disabled = next(m for m in data["members"] if not m["enabled"])
    disabled["mapping"]["happy"] = "Joyful"  # a malformed entry is an error even when it is not in use
    (tmp_path / "ensemble.json").write_text(json.dumps(data))
    with pytest.raises(InvalidModelFile, match="mapping"):
        read_registry(tmp_path / "ensemble.json")
    disabled["mapping"]["happy"] = "Positive"
    first = next(m for m in data["members"] if m["enabled"])
    first["weights"] = "missing.keras"
    (tmp_path / "ensemble.json").write_text(json.dumps(data))
    spec = read_registry(tmp_path / "ensemble.json")
    with pytest.raises(ModelFileMissing, match="missing.keras"):
        resolve_weights(spec.members[0], spec.directory)


def test_mtcnn_patch_checks_the_release_it_was_written_for():
    from types import SimpleNamespace

    from gerec.faces.detect import PATCHED_MTCNN, can_patch

    stage = SimpleNamespace(_model=None, model=None)
    fake = SimpleNamespace(stages=[stage, stage, stage])
    assert can_patch(fake, PATCHED_MTCNN)
    with pytest.warns(RuntimeWarning, match="eager"):
        assert not can_patch(fake, "1.1.0")
    with pytest.warns(RuntimeWarning):
        assert not can_patch(SimpleNamespace(stages=[stage]), PATCHED_MTCNN)
