"""``Pipeline.analyze(photo) -> GroupPrediction``: bottom-up, top-down and fusion, models loaded once."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from gerec.bn import load_scene_network
from gerec.bn.evidence import scene_evidence
from gerec.bn.network import SceneNetwork, photo_network
from gerec.emotion.aggregate import aggregate_faces, bottom_up_evidence
from gerec.emotion.ensemble import FaceEnsemble
from gerec.emotion.registry import read_registry
from gerec.faces.align import align_faces
from gerec.faces.detect import DEFAULT_MIN_CONFIDENCE, DEFAULT_MIN_FACE_SIZE, FaceDetector
from gerec.imaging import MAX_SIDE, Photo, PhotoSource, load_image
from gerec.modes import DEFAULT_MODE
from gerec.scene.base import LabelerInput, SceneLabeler
from gerec.scene.chain import LabelerChain
from gerec.types import Face, FaceScores, GroupPrediction, Probs, SceneEvidence


def _probs(vector: np.ndarray | Sequence[float]) -> Probs:
    return (float(vector[0]), float(vector[1]), float(vector[2]))


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of a pipeline; the defaults are the project's recommended ones."""

    mode: str = DEFAULT_MODE
    aggregation: str = "mean"
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    min_face_size: int = DEFAULT_MIN_FACE_SIZE
    max_side: int = MAX_SIDE


@dataclass(frozen=True, eq=False)
class BottomUp:
    """Faces with scores, their aligned crops, and the image-level bottom-up evidence (the faces'
    mean tempered by their number, see :func:`gerec.emotion.aggregate.bottom_up_evidence`)."""

    faces: tuple[Face, ...]
    crops: np.ndarray
    evidence: Probs | None
    timings: dict[str, float]


class Pipeline:
    """The full group-emotion pipeline. Heavy models load on first use, once.

    Building one reads the scene network and checks ``models/ensemble.json`` (unless an
    ``ensemble`` is given): a broken model file is an error here, before any photo. With
    ``faces=False`` (label-only work: :meth:`from_labels`, which uses no face member) the registry
    is not read until a photo needs it, so a missing or damaged one does not stop label-only work.

    A photo of the sample folder (``$GEREC_SAMPLES``) with labels given by hand:

    >>> from gerec.config import samples_dir
    >>> pred = Pipeline().analyze(samples_dir() / "image_happy_1.jpg", labels=["people", "smile", "party"])
    >>> len(pred.faces), pred.bottom_up_class, pred.top_down_class, pred.fused_class
    (3, 'Positive', 'Positive', 'Positive')
    >>> [round(sum(p), 6) for p in (pred.bottom_up, pred.top_down, pred.fused)]  # Positive, Neutral, Negative
    [1.0, 1.0, 1.0]
    >>> sorted(pred.faces[0].scores.members) == sorted(Pipeline().ensemble.names)  # each member's view of a face
    True
    """

    def __init__(
        self,
        config: PipelineConfig | None = None,
        labeler: SceneLabeler | None = None,
        network: SceneNetwork | None = None,
        detector: FaceDetector | None = None,
        ensemble: FaceEnsemble | None = None,
        *,
        faces: bool = True,
    ) -> None:
        self.config = config or PipelineConfig()
        # A chain never raises: a labeler that cannot answer leaves a note instead.
        if labeler is None:
            from gerec.scene.config import build_chain

            labeler = build_chain("default")  # cached ($GEREC_LABELS_FILE) -> GCV (if configured) -> offline
        self.labeler = labeler if isinstance(labeler, LabelerChain) else LabelerChain([labeler])
        self.network = network or load_scene_network(self.config.mode)
        self._detector = detector
        self._ensemble = ensemble
        # The registry is read and checked now (cheap: one small JSON file), so a broken
        # ensemble.json stops a batch before its first photo; the members load on first use.
        # A label-only pipeline (faces=False) reads it only when asked for the ensemble.
        self._registry = ensemble.spec if ensemble is not None else (read_registry() if faces else None)

    # -------------------------------------------------------------- models
    @property
    def detector(self) -> FaceDetector:
        """The MTCNN detector (loaded on first use)."""
        if self._detector is None:
            self._detector = FaceDetector(self.config.min_confidence, self.config.min_face_size)
        return self._detector

    @property
    def ensemble(self) -> FaceEnsemble:
        """The face ensemble (loaded on first use)."""
        if self._ensemble is None:
            self._ensemble = FaceEnsemble(self._registry or read_registry())
        return self._ensemble

    @property
    def photo_network(self) -> SceneNetwork:
        """The network for photos, built once (see :func:`gerec.bn.network.photo_network`)."""
        cached = getattr(self, "_photo_network", None)
        if cached is None or cached[0] is not self.network:
            net = photo_network(self.network, self.ensemble.spec.face_confusion)
            cached = (self.network, net)
            self._photo_network = cached
        return cached[1]

    # -------------------------------------------------------------- stages
    def bottom_up(self, photo: Photo) -> BottomUp:
        """Detect, align and score every face; aggregate to the image level."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        faces = self.detector.detect(photo.pixels)
        t1 = time.perf_counter()
        crops = align_faces(photo.pixels, faces)
        t2 = time.perf_counter()
        output = self.ensemble.predict(crops)
        t3 = time.perf_counter()
        timings.update(detect=t1 - t0, align=t2 - t1, score=t3 - t2)
        scored = tuple(
            replace(
                face,
                scores=FaceScores(
                    {name: _probs(p[i]) for name, p in output.members.items()}, _probs(output.ensemble[i])
                ),
            )
            for i, face in enumerate(faces)
        )
        areas = np.array([f.area for f in faces], dtype=float)
        image_probs = aggregate_faces(output.ensemble, areas, self.config.aggregation)
        evidence = bottom_up_evidence(image_probs, len(faces))
        return BottomUp(scored, crops, None if evidence is None else _probs(evidence), timings)

    def label(self, photo: Photo, face_count: int | None) -> SceneEvidence:
        """Scene labels from the labeler, as evidence for the network."""
        result = self.labeler.label(LabelerInput(photo.name, photo.pixels, photo.encoded, face_count))
        return scene_evidence(self.network, result.labels, result.labeler, result.notes)

    def fuse(
        self,
        image: str,
        evidence: SceneEvidence,
        bottom_up: Probs | str | None,
        network: SceneNetwork | None = None,
        faces: tuple[Face, ...] = (),
        timings: dict[str, float] | None = None,
        image_size: tuple[int, int] | None = None,
    ) -> GroupPrediction:
        """Bottom-up, top-down and fused posteriors for given scene evidence and bottom-up evidence
        (a class name, label-only, or the faces' tempered mean)."""
        net = network or self.network
        t0 = time.perf_counter()
        top_down = net.posterior(evidence.labels_used)
        fused = net.posterior(evidence.labels_used, bottom_up) if bottom_up is not None else top_down
        contributions = net.contributions(evidence.labels_used, bottom_up, top_absent=12)
        timings = dict(timings or {})
        bu_probs = net.bottom_up_posterior(bottom_up)
        timings["infer"] = time.perf_counter() - t0
        return GroupPrediction(
            image=image,
            faces=faces,
            bottom_up=bu_probs,
            top_down=top_down,
            fused=fused,
            evidence=evidence,
            mode=self.config.mode,
            contributions=contributions,
            timings=timings,
            image_size=image_size,
            bottom_up_evidence=bottom_up,
        )

    # -------------------------------------------------------------- public
    def analyze(
        self, source: PhotoSource | Photo, name: str | None = None, labels: Iterable[str] | None = None
    ) -> GroupPrediction:
        """Analyse one photo. ``labels`` overrides the labeler (recorded as ``manual``)."""
        return self.analyze_with_crops(source, name, labels)[0]

    def analyze_with_crops(
        self, source: PhotoSource | Photo, name: str | None = None, labels: Iterable[str] | None = None
    ) -> tuple[GroupPrediction, np.ndarray]:
        """Like :meth:`analyze`, also returning the aligned face crops (n, 128, 128, 3) uint8."""
        t0 = time.perf_counter()
        photo = source if isinstance(source, Photo) else load_image(source, name, self.config.max_side)
        decode = time.perf_counter() - t0
        bottom = self.bottom_up(photo)
        t1 = time.perf_counter()
        if labels is not None:
            evidence = scene_evidence(self.network, labels, "manual")
        else:
            evidence = self.label(photo, len(bottom.faces))
        if photo.notes:  # what the loader ignored (e.g. a damaged EXIF block) is shown with the labels' notes
            evidence = replace(evidence, notes=(*photo.notes, *evidence.notes))
        timings = {"decode": decode, **bottom.timings, "label": time.perf_counter() - t1}
        network = self.photo_network if bottom.faces else self.network
        pred = self.fuse(photo.name, evidence, bottom.evidence, network, bottom.faces, timings, photo.size)
        return pred, bottom.crops

    def relabel(self, prediction: GroupPrediction, labels: Iterable[str], labeler: str = "manual") -> GroupPrediction:
        """The same photo with another label set: top-down and fused recomputed, faces kept."""
        evidence = scene_evidence(self.network, labels, labeler)
        net = self.photo_network if prediction.faces else self.network
        return self.fuse(
            prediction.image,
            evidence,
            prediction.bottom_up_evidence,
            net,
            prediction.faces,
            dict(prediction.timings),
            prediction.image_size,
        )

    def from_labels(
        self, image: str, labels: Iterable[str], cnn: str | None = None, labeler: str = "cached"
    ) -> GroupPrediction:
        """Label-only prediction: top-down, plus fused when a bottom-up class is given."""
        evidence = scene_evidence(self.network, labels, labeler)
        return self.fuse(image, evidence, cnn)
