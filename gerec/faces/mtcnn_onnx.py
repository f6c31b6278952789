"""MTCNN face detection run by ONNX Runtime: the boxes of ``mtcnn==1.0.0`` without TensorFlow.

The three networks are ONNX exports of mtcnn's own (``models/mtcnn_{pnet,rnet,onet}.onnx``,
written by ``python tools/export_onnx.py``, see :mod:`gerec.faces.mtcnn_export`); the steps around
them are mtcnn's, for one image, with its default parameters (:mod:`gerec.faces.mtcnn_numpy`).
The stage logic is adapted from mtcnn 1.0.0 (``mtcnn/mtcnn.py``, ``mtcnn/stages/``), MIT licence,
(c) 2019-2024 Iván de Paz Centeno (licence text in :mod:`gerec.faces.mtcnn_numpy`).
One deliberate difference: a pyramid level too small for P-Net (under 11 pixels on a side, reached
only with a ``min_face_size`` over 20) is skipped, where mtcnn 1.0.0 returns no face at all.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from gerec.faces import mtcnn_numpy as mn
from gerec.onnx_runtime import OnnxNetwork

MTCNN_RELEASE = "1.0.0"
"""The mtcnn release whose networks are exported and whose steps are followed here."""
STAGES = ("pnet", "rnet", "onet")
"""MTCNN's networks in the order they run."""
PNET_MIN_SIDE = 11
"""The smallest pyramid level P-Net gives an output for."""


def onnx_file_name(stage: str) -> str:
    """The file name of one network's export (``mtcnn_pnet.onnx`` ...)."""
    return f"mtcnn_{stage}.onnx"


def packaged_weights(stage: str) -> Path | None:
    """mtcnn's weight file for ``stage`` when the package is installed (found without importing it,
    which would import TensorFlow), so an export made from other weights is refused."""
    spec = importlib.util.find_spec("mtcnn")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / "assets" / "weights" / f"{stage}.lz4"
        if path.is_file():
            return path
    return None


def normalize(image: np.ndarray) -> np.ndarray:
    """RGB uint8 pixels scaled to [-1, 1) as mtcnn does (exact in float32)."""
    return (image.astype(np.float32) - np.float32(127.5)) / np.float32(128)


class OnnxMTCNN:
    """mtcnn's ``MTCNN.detect_faces`` for one RGB uint8 image, with the networks in ONNX Runtime.

    Raises :class:`~gerec.errors.ModelFileMissing` (a :class:`~gerec.errors.StaleExport`) naming
    the file and ``python tools/export_onnx.py`` when an export is missing or was made from other
    weights than the installed mtcnn's, and :class:`~gerec.errors.InvalidModelFile` when unreadable.
    """

    def __init__(self, folder: Path) -> None:
        self.pnet, self.rnet, self.onet = (
            OnnxNetwork(folder / onnx_file_name(s), expect_source=packaged_weights(s)) for s in STAGES
        )

    def warm_up(self) -> None:
        """Run each network once on a dummy batch (ONNX Runtime allocates on its first run)."""
        for network, side in ((self.pnet, 12), (self.rnet, 24), (self.onet, 48)):
            network(np.zeros((1, side, side, 3), np.float32))

    def detect_faces(
        self,
        image: np.ndarray,
        min_face_size: float = 20,
        threshold_onet: float = 0.8,
        *,
        min_size: int = 12,
        scale_factor: float = 0.709,
        threshold_pnet: float = 0.6,
        nms_pnet1: float = 0.5,
        nms_pnet2: float = 0.7,
        threshold_rnet: float = 0.7,
        nms_rnet: float = 0.7,
        nms_onet: float = 0.7,
    ) -> list[dict[str, Any]]:
        """Faces as mtcnn returns them: ``box`` [x, y, width, height] (fitted to the image),
        ``confidence`` and ``keypoints`` (five named [x, y] points, not fitted), best first."""
        height, width = image.shape[:2]
        pixels = normalize(image)
        boxes = self._proposals(pixels, min_face_size, min_size, scale_factor, threshold_pnet, nms_pnet1, nms_pnet2)
        if len(boxes):
            boxes = self._refine(pixels, boxes, threshold_rnet, nms_rnet)
        if len(boxes):
            boxes = self._output(pixels, boxes, threshold_onet, nms_onet)
        if not len(boxes):
            return []
        return mn.to_json(mn.limit_bboxes(boxes, height, width))

    def _proposals(
        self,
        pixels: np.ndarray,
        min_face_size: float,
        min_size: int,
        factor: float,
        threshold: float,
        nms1: float,
        nms2: float,
    ) -> np.ndarray:
        """P-Net on every pyramid level: square candidate boxes (StagePNet)."""
        height, width = pixels.shape[:2]
        per_scale = []
        scales = mn.build_scale_pyramid(width, height, min_face_size, factor, min_size)
        for scale, level in zip(scales, mn.scale_images(pixels, scales), strict=True):
            if min(level.shape[:2]) < PNET_MIN_SIDE:
                continue
            bbox_reg, bbox_class = self.pnet(level[None])
            found = mn.upscale_bboxes(mn.generate_bounding_box(bbox_reg, bbox_class, threshold), scale)
            per_scale.append(mn.smart_nms_from_bboxes(found, threshold=nms1, method="union", initial_sort=False))
        boxes = np.concatenate(per_scale, axis=0) if per_scale else np.empty((0, 6))
        boxes = mn.smart_nms_from_bboxes(boxes, threshold=nms2, method="union", initial_sort=True)
        return mn.resize_to_square(boxes)

    def _refine(self, pixels: np.ndarray, boxes: np.ndarray, threshold: float, nms: float) -> np.ndarray:
        """R-Net on 24x24 crops of the candidates (StageRNet)."""
        offsets, scores = self.rnet(mn.extract_patches(pixels, boxes, (24, 24)))
        boxes = mn.adjust_bboxes(mn.replace_confidence(boxes, scores), offsets)
        boxes = mn.pick_matches(boxes, score_threshold=threshold)
        boxes = mn.smart_nms_from_bboxes(boxes, threshold=nms, method="union", initial_sort=True)
        return mn.resize_to_square(boxes)

    def _output(self, pixels: np.ndarray, boxes: np.ndarray, threshold: float, nms: float) -> np.ndarray:
        """O-Net on 48x48 crops: final boxes, confidences and landmarks (StageONet)."""
        offsets, landmarks, scores = self.onet(mn.extract_patches(pixels, boxes, (48, 48)))
        landmarks = mn.adjust_landmarks(landmarks, boxes)
        boxes = mn.adjust_bboxes(mn.replace_confidence(boxes, scores), offsets)
        boxes = np.concatenate([boxes, landmarks], axis=-1)
        boxes = mn.pick_matches(boxes, scores_column=5, score_threshold=threshold)
        return mn.smart_nms_from_bboxes(boxes, threshold=nms, method="min", initial_sort=True)
