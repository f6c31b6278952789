# Adapted from mtcnn 1.0.0 (https://github.com/ipazc/mtcnn), MIT licence,
# (c) 2019-2024 Iván de Paz Centeno. Its licence:
#
# MIT License
#
# Copyright (c) 2019-2024 Iván de Paz Centeno
#
# Permission is hereby granted, free of charge, to any person obtaining a copy
# of this software and associated documentation files (the "Software"), to deal
# in the Software without restriction, including without limitation the rights
# to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
# copies of the Software, and to permit persons to whom the Software is
# furnished to do so, subject to the following conditions:
#
# The above copyright notice and this permission notice shall be included in all
# copies or substantial portions of the Software.
#
# THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
# IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
# FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
# AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
# LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
# OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
# SOFTWARE.

"""MTCNN's box, landmark and image helpers in NumPy, for one image (no TensorFlow).

Adapted from mtcnn 1.0.0 (``mtcnn/utils/bboxes.py``, ``landmarks.py``, ``images.py``), MIT licence,
(c) 2019-2024 Iván de Paz Centeno. The arithmetic is mtcnn's, step for step; rows keep mtcnn's
layout ``[image_id, x1, y1, x2, y2, confidence, 5 landmark xs, 5 landmark ys]`` (image_id is 0).
Its two TensorFlow image operations are rewritten: :func:`resize_area` is ``tf.image.resize``
with ``method=AREA`` and :func:`crop_and_resize` is ``tf.image.crop_and_resize`` (bilinear,
extrapolation 0), both computed in float32 as TensorFlow's CPU kernels compute them.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

KEYPOINT_COLUMNS = {"nose": 2, "mouth_right": 4, "right_eye": 1, "left_eye": 0, "mouth_left": 3}
"""mtcnn's keypoints (in its order) and their index among the five landmarks."""


# ------------------------------------------------------------------ image operations
def build_scale_pyramid(
    width: int, height: int, min_face_size: float, scale_factor: float, min_size: int = 12
) -> np.ndarray:
    """The pyramid's scales: the first makes a ``min_face_size`` face ``min_size`` pixels wide."""
    scales_count = round(-((np.log(min(width, height) / min_size) / np.log(scale_factor)) + 1))
    return np.asarray((min_size / min_face_size) * scale_factor ** np.arange(scales_count))


def _area_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.float32]:
    """Input indices and weights of each output cell of TensorFlow's area resize along one axis."""
    scale = np.float32(n_in) / np.float32(n_out)
    p0 = np.arange(n_out, dtype=np.float32) * scale  # the cell [p0, p1) in input pixels
    p1 = np.arange(1, n_out + 1, dtype=np.float32) * scale
    start, end = np.floor(p0).astype(np.int64), np.ceil(p1).astype(np.int64)
    index = start[:, None] + np.arange(int((end - start).max()))[None, :]
    i, a, b = index.astype(np.float32), p0[:, None], p1[:, None]
    weight = np.where(i < a, np.where(i + 1 > b, scale, i + 1 - a), np.where(i + 1 > b, b - i, np.float32(1)))
    weight = np.where(index < end[:, None], weight, 0).astype(np.float32)
    return np.clip(index, 0, n_in - 1), weight, scale


def resize_area(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``tf.image.resize(image, (height, width), method="area")`` for one float32 ``HxWxC`` image.

    Each output pixel is the mean of the input over its cell (fractional pixels weighted by their
    overlap), summed in TensorFlow's order (columns within a row, then rows), in float32.
    """
    return _resize_columns(_transpose(image), height, width)


def _resize_columns(columns: np.ndarray, height: int, width: int) -> np.ndarray:
    """:func:`resize_area` of an image given transposed (``WxHxC``: gathering whole rows is fast)."""
    ys, wy, sy = _area_taps(columns.shape[1], height)
    xs, wx, sx = _area_taps(columns.shape[0], width)
    rows = _weighted_rows(columns.reshape(columns.shape[0], -1), xs, wx).reshape(width, columns.shape[1], -1)
    out = _weighted_rows(_transpose(rows).reshape(rows.shape[1], -1), ys, wy)
    out *= np.float32(1.0 / float(sy * sx))
    return out.reshape(height, width, -1)


def _transpose(image: np.ndarray) -> np.ndarray:
    """``image`` with its first two axes swapped, contiguous (OpenCV's copy is several times NumPy's speed)."""
    return np.asarray(cv2.transpose(image)).reshape(image.shape[1], image.shape[0], *image.shape[2:])


def _weighted_rows(image: np.ndarray, index: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``sum_k image[index[:, k]] * weight[:, k]`` for a 2-d ``image``, in k's order, in float32
    (rows of a 2-d array keep NumPy's inner loops long)."""
    out = np.take(image, index[:, 0], axis=0)
    out *= weight[:, 0, None]
    term = np.empty_like(out)
    for k in range(1, index.shape[1]):
        np.take(image, index[:, k], axis=0, out=term)
        term *= weight[:, k, None]
        out += term
    return out


def scale_images(image: np.ndarray, scales: np.ndarray) -> list[np.ndarray]:
    """The pyramid: the image resized by each scale (sizes truncated, as TensorFlow reads them)."""
    columns = _transpose(image)
    sizes = [(np.asarray(image.shape[:2]) * scale).astype(np.int64) for scale in scales]
    return [_resize_columns(columns, int(h), int(w)) for h, w in sizes]


def crop_and_resize(image: np.ndarray, boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``tf.image.crop_and_resize(image[None], boxes, zeros, size)`` (bilinear, extrapolation 0).

    ``boxes`` are ``[y1, x1, y2, x2]`` rows in TensorFlow's normalised coordinates, where 0 and 1 are
    the centres of the first and last pixel; samples outside the image are 0.
    """
    crop_h, crop_w = size
    b = boxes.astype(np.float32)
    y1, x1, y2, x2 = (b[:, k : k + 1] for k in range(4))
    h1, w1 = np.float32(image.shape[0] - 1), np.float32(image.shape[1] - 1)
    in_y = y1 * h1 + np.arange(crop_h, dtype=np.float32) * ((y2 - y1) * h1 / np.float32(crop_h - 1))
    in_x = x1 * w1 + np.arange(crop_w, dtype=np.float32) * ((x2 - x1) * w1 / np.float32(crop_w - 1))
    shape = (len(b), crop_h, crop_w, image.shape[2])  # every array below has it: long, fast NumPy loops
    inside = ((in_y >= 0) & (in_y <= h1))[:, :, None, None] & ((in_x >= 0) & (in_x <= w1))[:, None, :, None]
    in_y = np.clip(in_y, 0, h1)  # outside samples are set to 0 at the end; clipping keeps indices valid
    in_x = np.clip(in_x, 0, w1)
    y_lerp = np.broadcast_to((in_y - np.floor(in_y))[:, :, None, None], shape)
    x_lerp = np.broadcast_to((in_x - np.floor(in_x))[:, None, :, None], shape)
    pixels, row = image.reshape(-1, image.shape[2]), image.shape[1]
    top, bottom = np.floor(in_y).astype(np.int64) * row, np.ceil(in_y).astype(np.int64) * row
    left, right = np.floor(in_x).astype(np.int64), np.ceil(in_x).astype(np.int64)

    def corner(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        return np.take(pixels, ys[:, :, None] + xs[:, None, :], axis=0)  # faster than fancy indexing

    upper, lower = corner(top, right), corner(bottom, right)
    top_left, bottom_left = corner(top, left), corner(bottom, left)
    upper -= top_left  # upper = top_left + (top_right - top_left) * x_lerp, as TensorFlow computes it
    upper *= x_lerp
    upper += top_left
    lower -= bottom_left
    lower *= x_lerp
    lower += bottom_left
    lower -= upper  # crops = upper + (lower - upper) * y_lerp
    lower *= y_lerp
    lower += upper
    np.copyto(lower, np.float32(0), where=~np.broadcast_to(inside, shape))
    return lower


def extract_patches(image: np.ndarray, bboxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The crops of ``bboxes`` resized to ``size``, with box coordinates normalised as mtcnn does
    (divided by the image's height and width)."""
    height, width = image.shape[:2]
    coords = bboxes[:, [2, 1, 4, 3]] / np.asarray([[height, width, height, width]])
    return crop_and_resize(image, coords, size)


# ------------------------------------------------------------------ boxes
def generate_bounding_box(
    bbox_reg: np.ndarray, bbox_class: np.ndarray, threshold_face: float, strides: int = 2, cell_size: int = 12
) -> np.ndarray:
    """P-Net's windows scoring above ``threshold_face``, regressed, as rows sorted by score."""
    confidence_score = bbox_class[:, :, :, 1]
    index_bboxes = np.stack(np.where(confidence_score > threshold_face))  # batch, y, x
    reg_x1, reg_y1, reg_x2, reg_y2 = np.transpose(bbox_reg[index_bboxes[0], index_bboxes[1], index_bboxes[2]], (1, 0))
    stride = np.asarray([[1], [strides], [strides]])
    up_left = index_bboxes * stride + np.asarray([[0], [1], [1]])
    bottom_right = index_bboxes * stride + np.asarray([[0], [cell_size], [cell_size]])
    reg_w = bottom_right[2] - up_left[2]
    reg_h = bottom_right[1] - up_left[1]
    x1 = up_left[2] + reg_x1 * reg_w
    y1 = up_left[1] + reg_y1 * reg_h
    x2 = bottom_right[2] + reg_x2 * reg_w
    y2 = bottom_right[1] + reg_y2 * reg_h
    score = confidence_score[index_bboxes[0], index_bboxes[1], index_bboxes[2]]
    result = np.stack([index_bboxes[0], x1, y1, x2, y2, score], axis=0).T
    return sort_by_scores(result, scores=result[:, -1], ascending=False)


def upscale_bboxes(bboxes: np.ndarray, scale: float) -> np.ndarray:
    """Boxes found on a pyramid level, in the original image's pixels."""
    bboxes[:, 1:5] = bboxes[:, 1:5] / scale
    return bboxes


def iou(rows: np.ndarray, cols: np.ndarray, method: str = "union") -> np.ndarray:
    """Overlap of each of ``rows`` with each of ``cols`` (``[x1, y1, x2, y2]`` boxes): over their
    union, or over the smaller box (mtcnn's formula, element for element)."""
    area_r = (rows[:, 2] - rows[:, 0]) * (rows[:, 3] - rows[:, 1])
    area_c = (cols[:, 2] - cols[:, 0]) * (cols[:, 3] - cols[:, 1])
    inter = np.maximum(0, np.minimum.outer(rows[:, 2], cols[:, 2]) - np.maximum.outer(rows[:, 0], cols[:, 0]))
    inter *= np.maximum(0, np.minimum.outer(rows[:, 3], cols[:, 3]) - np.maximum.outer(rows[:, 1], cols[:, 1]))
    with np.errstate(divide="ignore", invalid="ignore"):  # empty boxes may give 0/0: NaN, which suppresses nothing
        if method == "union":
            return np.asarray(inter / (area_r[:, None] + area_c[None, :] - inter))
        if method == "min":
            return np.asarray(inter / np.minimum.outer(area_r, area_c))
    raise ValueError("Method should be either 'union' or 'min'.")


def sort_by_scores(tensor: np.ndarray, scores: np.ndarray, ascending: bool = True) -> np.ndarray:
    """Rows sorted by ``scores`` with NumPy's default (unstable) sort, as mtcnn sorts them, so tied
    rows come out in mtcnn's order."""
    order = np.argsort(scores)
    return tensor[order[:: (-2 * int(not ascending) + 1)]]


def nms(bboxes: np.ndarray, threshold: float, method: str = "union", block: int = 256) -> np.ndarray:
    """Indices of the boxes that overlap no earlier box by more than ``threshold``.

    mtcnn's rule: an earlier box suppresses a later one even when it is itself suppressed. mtcnn
    builds the whole overlap matrix; the upper triangle, a block of rows at a time, gives the same
    answer with half the work and a bounded amount of memory.
    """
    suppressed = np.zeros(len(bboxes), dtype=bool)
    for start in range(0, len(bboxes), block):
        over = iou(bboxes[start : start + block], bboxes[start:], method) > threshold
        suppressed[start:] |= np.triu(over, k=1).any(axis=0)
    return np.flatnonzero(~suppressed)


def smart_nms_from_bboxes(
    bboxes: np.ndarray, threshold: float, method: str = "union", initial_sort: bool = True
) -> np.ndarray:
    """Non-maximum suppression per image (column 0) on the boxes in columns 1-4."""
    if initial_sort:
        bboxes = sort_by_scores(bboxes, scores=bboxes[:, 5], ascending=False)
    result = []
    for image_id in np.unique(bboxes[:, 0]):
        target = bboxes[bboxes[:, 0] == image_id]
        result.append(target[nms(target[:, 1:5], threshold, method)])
    return np.concatenate(result, axis=0) if result else np.empty((0, 6))


def resize_to_square(bboxes: np.ndarray) -> np.ndarray:
    """Boxes grown to squares of their longer side, about the same centre."""
    bboxes = bboxes.copy()
    h = bboxes[:, 4] - bboxes[:, 2]
    w = bboxes[:, 3] - bboxes[:, 1]
    largest = np.maximum(w, h)
    bboxes[:, 1] = bboxes[:, 1] + w * 0.5 - largest * 0.5
    bboxes[:, 2] = bboxes[:, 2] + h * 0.5 - largest * 0.5
    bboxes[:, 3:5] = bboxes[:, 1:3] + np.tile(largest, (2, 1)).T
    return bboxes


def replace_confidence(bboxes: np.ndarray, new_scores: np.ndarray) -> np.ndarray:
    """The last column set to the networks' face probabilities."""
    bboxes[:, -1] = new_scores[:, -1]
    return bboxes


def adjust_bboxes(bboxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Boxes moved by the networks' regression ``offsets`` (float32: mtcnn multiplies TF tensors)."""
    bboxes = bboxes.copy()
    w = bboxes[:, 3] - bboxes[:, 1] + 1
    h = bboxes[:, 4] - bboxes[:, 2] + 1
    sizes = np.stack([w, h, w, h], axis=-1)
    bboxes[:, 1:5] += offsets.astype(np.float32) * sizes.astype(np.float32)
    return bboxes


def pick_matches(bboxes: np.ndarray, scores_column: int = -1, score_threshold: float = 0.7) -> np.ndarray:
    """The rows whose score is above ``score_threshold``."""
    return bboxes[np.where(bboxes[:, scores_column] > score_threshold)[0]]


def limit_bboxes(bboxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Box corners moved inside the image (landmarks left as they are, mtcnn's default)."""
    fitted = bboxes.copy()
    fitted[:, [1, 3]] = np.minimum(np.maximum(fitted[:, [1, 3]], 0), width - 1)
    fitted[:, [2, 4]] = np.minimum(np.maximum(fitted[:, [2, 4]], 0), height - 1)
    return fitted


# ------------------------------------------------------------------ landmarks and output
def adjust_landmarks(landmarks: np.ndarray, bboxes: np.ndarray) -> np.ndarray:
    """O-Net's landmarks (fractions of the box) in image pixels."""
    landmarks = landmarks.copy()
    w = bboxes[:, 3:4] - bboxes[:, 1:2] + 1
    h = bboxes[:, 4:5] - bboxes[:, 2:3] + 1
    landmarks[:, 0:5] = w * landmarks[:, 0:5] + bboxes[:, 1:2] - 1
    landmarks[:, 5:10] = h * landmarks[:, 5:10] + bboxes[:, 2:3] - 1
    return landmarks


def to_json(bboxes: np.ndarray) -> list[dict[str, Any]]:
    """mtcnn's output for one image: ``box`` (x, y, width, height), ``confidence``, ``keypoints``."""
    result = []
    for row in bboxes:
        x1, y1, x2, y2 = row[1:5]
        box = np.asarray([x1, y1, x2 - x1, y2 - y1]).round().astype(int)
        points = row[6:16].round().astype(int)
        keypoints = {name: [int(points[k]), int(points[k + 5])] for name, k in KEYPOINT_COLUMNS.items()}
        result.append({"box": [int(v) for v in box], "confidence": float(row[5]), "keypoints": keypoints})
    return result
