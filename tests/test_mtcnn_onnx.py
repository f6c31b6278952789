"""MTCNN without TensorFlow: the ONNX runtime against mtcnn's own Keras networks on real photos,
its image operations against TensorFlow's, missing exports, reproducible exports, edge images."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from gerec.config import PROJECT_ROOT, models_dir
from gerec.errors import InvalidModelFile, ModelFileMissing, StaleExport
from gerec.faces.mtcnn_onnx import STAGES, OnnxMTCNN, onnx_file_name
from gerec.imaging import load_image
from gerec.onnx_runtime import EXPORT_COMMAND

MIN_IOU = 0.95
MAX_CONFIDENCE_DIFF = 1e-3
MAX_KEYPOINT_DIFF = 1.0  # pixels


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two (x, y, width, height) boxes."""
    iw = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


@pytest.fixture(scope="module")
def both_runtimes(photos_dir):
    """Every group photo's faces as each runtime finds them."""
    from gerec.faces.detect import FaceDetector

    detectors = {runtime: FaceDetector(runtime=runtime) for runtime in ("onnx", "keras")}
    out = {}
    for path in sorted(photos_dir.glob("*.jpg")):
        pixels = load_image(path).pixels
        out[path.name] = {runtime: d.detect(pixels) for runtime, d in detectors.items()}
    return out


def test_onnx_finds_the_faces_keras_finds(both_runtimes):
    assert len(both_runtimes) == 15
    for name, found in both_runtimes.items():
        onnx, keras = found["onnx"], found["keras"]
        assert len(onnx) == len(keras), name
        matched = set()
        for face in onnx:
            best = max(keras, key=lambda k: box_iou(face.box, k.box))
            assert box_iou(face.box, best.box) >= MIN_IOU, (name, face.box, best.box)
            assert abs(face.confidence - best.confidence) <= MAX_CONFIDENCE_DIFF, name
            assert set(face.keypoints) == set(best.keypoints)
            for point, (x, y) in face.keypoints.items():
                bx, by = best.keypoints[point]
                assert abs(x - bx) <= MAX_KEYPOINT_DIFF and abs(y - by) <= MAX_KEYPOINT_DIFF, (name, point)
            matched.add(best.index)
        assert len(matched) == len(keras), name  # one to one
    assert sum(len(found["onnx"]) for found in both_runtimes.values()) > 30  # real faces were compared


def test_onnx_returns_mtcnns_dicts(photos_dir):
    """``detect_faces`` gives what ``mtcnn.MTCNN.detect_faces`` gives, field for field."""
    from gerec.faces.detect import keras_mtcnn

    pixels = load_image(photos_dir / "image_happy_1.jpg").pixels
    ours, theirs = OnnxMTCNN(models_dir()).detect_faces(pixels), keras_mtcnn().detect_faces(pixels)
    assert len(ours) == len(theirs) > 0
    for a, b in zip(ours, theirs, strict=True):
        assert list(a) == list(b) and list(a["keypoints"]) == list(b["keypoints"])
        assert box_iou(tuple(a["box"]), tuple(b["box"])) >= MIN_IOU
        assert a["confidence"] == pytest.approx(b["confidence"], abs=MAX_CONFIDENCE_DIFF)


def test_image_operations_match_tensorflow(photos_dir):
    """The NumPy area resize and crop-and-resize against the TensorFlow operations mtcnn calls."""
    from gerec.faces import mtcnn_numpy as mn
    from gerec.faces.mtcnn_onnx import normalize
    from gerec.tf_quiet import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for name in ("image_happy_1.jpg", "pos_1000.jpg", "test_1953.jpg"):
        pixels = load_image(photos_dir / name).pixels
        theirs = (pixels - 127.5) / 128  # mtcnn's normalisation, float64
        ours = normalize(pixels)
        height, width = pixels.shape[:2]
        scales = [*mn.build_scale_pyramid(width, height, 20, 0.709), 1.0, 1.7]  # down, same and up
        for scale, level in zip(scales, mn.scale_images(ours, np.asarray(scales)), strict=True):
            size = np.asarray([height, width]) * scale
            expected = tf.image.resize(theirs[None], size, method=tf.image.ResizeMethod.AREA).numpy()[0]
            assert level.shape == expected.shape
            np.testing.assert_allclose(level, expected, atol=1e-5, rtol=0)
        n = 200  # boxes of every size, many reaching past the borders
        x1, y1, side = rng.uniform(-60, width, n), rng.uniform(-60, height, n), rng.uniform(5, 250, n)
        boxes = np.stack([np.zeros(n), x1, y1, x1 + side, y1 + side * rng.uniform(0.8, 1.2, n)], axis=1)
        coords = boxes[:, [2, 1, 4, 3]] / np.asarray([[height, width, height, width]])
        for crop in ((24, 24), (48, 48)):
            expected = tf.image.crop_and_resize(theirs[None], coords, np.zeros(n, int), crop).numpy()
            np.testing.assert_allclose(mn.extract_patches(ours, boxes, crop), expected, atol=1e-5, rtol=0)


def test_small_pyramid_levels_are_skipped_not_fatal(photos_dir):
    """With a large ``min_face_size`` the last pyramid level is too small for P-Net: mtcnn 1.0.0
    then returns no face at all; the ONNX runtime skips that level and still finds the faces."""
    pixels = load_image(photos_dir / "image_happy_1.jpg").pixels
    detector = OnnxMTCNN(models_dir())
    assert len(detector.detect_faces(pixels, min_face_size=40)) == len(detector.detect_faces(pixels)) == 3


@pytest.mark.slow
def test_onnx_detection_never_imports_tensorflow(photos_dir):
    import subprocess

    script = (
        "import sys\n"
        "from gerec.faces.detect import FaceDetector\n"
        "from gerec.imaging import load_image\n"
        "faces = FaceDetector().detect(load_image(sys.argv[1]).pixels)\n"
        "assert faces, 'no face found'\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'mtcnn', 'onnxruntime') if m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "GEREC_RUNTIME"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(photos_dir / "image_happy_1.jpg")],
        cwd=PROJECT_ROOT,  # "-c" puts the working directory first: this checkout's gerec is imported
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['onnxruntime']"


def copy_exports(folder: Path, skip: str = "") -> None:
    for stage in STAGES:
        if stage != skip:
            shutil.copy(models_dir() / onnx_file_name(stage), folder / onnx_file_name(stage))


def test_a_missing_export_names_the_file_and_the_command(tmp_path, monkeypatch):
    copy_exports(tmp_path, skip="rnet")
    with pytest.raises(ModelFileMissing, match="mtcnn_rnet.onnx") as info:
        OnnxMTCNN(tmp_path)
    assert EXPORT_COMMAND in str(info.value) and EXPORT_COMMAND == "python tools/export_onnx.py"
    monkeypatch.setenv("GEREC_MODELS", str(tmp_path))
    from gerec.faces.detect import FaceDetector

    with pytest.raises(ModelFileMissing, match="mtcnn_rnet.onnx"):
        FaceDetector(runtime="onnx")  # asked for by name: no fallback


def test_the_default_runtime_falls_back_to_the_mtcnn_package(tmp_path, monkeypatch):
    """Without its exports the default detector still detects, with the mtcnn package, and says why."""
    from gerec.faces import detect

    copy_exports(tmp_path, skip="pnet")
    monkeypatch.setenv("GEREC_MODELS", str(tmp_path))
    monkeypatch.delenv("GEREC_RUNTIME", raising=False)
    monkeypatch.setattr(detect, "keras_mtcnn", lambda compile_graphs=True: "keras detector")
    with pytest.warns(RuntimeWarning, match="mtcnn_pnet.onnx not found.*mtcnn package instead"):
        detector = detect.FaceDetector()
    assert detector.runtime == "keras" and detector._mtcnn == "keras detector"


def test_a_damaged_or_stale_export_is_refused(tmp_path, monkeypatch):
    copy_exports(tmp_path)
    (tmp_path / onnx_file_name("onet")).write_bytes(b"not an onnx graph")
    with pytest.raises(InvalidModelFile, match="mtcnn_onet.onnx"):
        OnnxMTCNN(tmp_path)
    copy_exports(tmp_path)
    other = tmp_path / "other.lz4"
    other.write_bytes(b"other weights")
    monkeypatch.setattr("gerec.faces.mtcnn_onnx.packaged_weights", lambda stage: other)
    with pytest.raises(StaleExport, match=f"another version.*{EXPORT_COMMAND}"):
        OnnxMTCNN(tmp_path)


@pytest.mark.slow  # builds mtcnn's Keras networks (imports TensorFlow)
def test_the_export_is_reproducible(tmp_path):
    from gerec.faces.mtcnn_export import export_mtcnn

    written = export_mtcnn(tmp_path)
    assert [p.name for p in written] == [onnx_file_name(s) for s in STAGES]
    for path in written:
        assert path.read_bytes() == (models_dir() / path.name).read_bytes(), f"{path.name}: run `{EXPORT_COMMAND}`"


@pytest.mark.parametrize("shape", [(8, 8, 3), (11, 300, 3), (12, 12, 3), (30, 30, 3), (200, 200, 3)])
def test_tiny_and_empty_images_give_no_faces(shape):
    detector = OnnxMTCNN(models_dir())
    assert detector.detect_faces(np.full(shape, 128, np.uint8)) == []


def test_detector_on_tiny_and_blank_images():
    from gerec.faces.detect import FaceDetector

    detector = FaceDetector(runtime="onnx")
    detector.warm_up()
    assert detector.detect(np.zeros((10, 10, 3), np.uint8)) == []
    assert detector.detect(np.full((200, 200, 3), 128, np.uint8)) == []
    with pytest.raises(ValueError, match="runtime"):
        FaceDetector(runtime="tflite")


def test_the_runtime_follows_gerec_runtime_unless_given(monkeypatch):
    from gerec.faces import detect

    monkeypatch.setattr(detect, "keras_mtcnn", lambda compile_graphs=True: "keras detector")
    monkeypatch.delenv("GEREC_RUNTIME", raising=False)
    assert detect.FaceDetector().runtime == "onnx"
    monkeypatch.setenv("GEREC_RUNTIME", "keras")
    assert detect.FaceDetector()._mtcnn == "keras detector"
    assert isinstance(detect.FaceDetector(runtime="onnx")._mtcnn, OnnxMTCNN)


@pytest.mark.slow  # imports mtcnn, hence TensorFlow
def test_non_maximum_suppression_is_mtcnns():
    """The blocked NMS keeps exactly the boxes mtcnn's whole-matrix NMS keeps (ties, duplicates and
    empty boxes included)."""
    from mtcnn.utils.bboxes import smart_nms_from_bboxes

    from gerec.faces import mtcnn_numpy as mn

    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(0, 1200 if trial < 3 else 200))
        xy, wh = rng.uniform(0, 500, (n, 2)), rng.uniform(0, 80, (n, 2)) * (rng.random((n, 1)) > 0.02)
        if trial % 5 == 0:
            xy, wh = np.round(xy / 10) * 10, np.round(wh / 10) * 10
        boxes = np.concatenate([np.zeros((n, 1)), xy, xy + wh, rng.random((n, 1)).round(2)], axis=1)
        for method, threshold, initial_sort in (("union", 0.5, False), ("union", 0.7, True), ("min", 0.7, True)):
            with np.errstate(divide="ignore", invalid="ignore"):
                expected = smart_nms_from_bboxes(boxes, threshold=threshold, method=method, initial_sort=initial_sort)
            found = mn.smart_nms_from_bboxes(boxes, threshold=threshold, method=method, initial_sort=initial_sort)
            np.testing.assert_array_equal(found, expected)
