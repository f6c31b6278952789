"""Face alignment: rotate so the eyes are level, crop with a margin, return a square crop."""

from __future__ import annotations

import math

import cv2
import numpy as np

from gerec.types import Face

ALIGNED_SIZE = 128
"""Side of the canonical aligned crop; each ensemble member resizes it to its own input."""
DEFAULT_MARGIN = 0.15


def eye_angle(face: Face) -> float:
    """Angle in degrees of the line from the left eye to the right eye (0 when level)."""
    left = face.keypoints.get("left_eye")
    right = face.keypoints.get("right_eye")
    if left is None or right is None:
        return 0.0
    return math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))


def align_face(pixels: np.ndarray, face: Face, size: int = ALIGNED_SIZE, margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """An upright ``size`` x ``size`` RGB crop of ``face``.

    The crop is a square around the box centre, ``(1 + 2 * margin)`` times the box's longer
    side, rotated about that centre so the eyes are level. Parts outside the photo are filled
    by replicating the border. A single affine warp does rotation, crop and resize together.
    """
    x, y, w, h = face.box
    cx, cy = x + w / 2.0, y + h / 2.0
    side = max(w, h) * (1.0 + 2.0 * margin)
    scale = size / max(side, 1.0)
    angle = eye_angle(face)
    # Rotate about the centre by +angle (cv2 positive = counter-clockwise in image coords,
    # which levels a right eye that sits lower), scale, then move the centre to the crop centre.
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    matrix[0, 2] += size / 2.0 - cx
    matrix[1, 2] += size / 2.0 - cy
    return cv2.warpAffine(pixels, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def align_faces(pixels: np.ndarray, faces: list[Face], size: int = ALIGNED_SIZE) -> np.ndarray:
    """Aligned crops of every face, stacked as (n, size, size, 3) uint8."""
    if not faces:
        return np.zeros((0, size, size, 3), dtype=np.uint8)
    return np.stack([align_face(pixels, face, size) for face in faces])
