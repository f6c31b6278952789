"""Build the pipeline a command asked for."""

from __future__ import annotations

from pathlib import Path

from gerec.pipeline import Pipeline, PipelineConfig
from gerec.scene.base import SceneLabeler
from gerec.scene.chain import LabelerChain
from gerec.scene.simple import CachedLabeler


def make_labeler(labels: Path | None, chain: str | None = None) -> LabelerChain:
    """The labeler chain: cached labels from ``labels`` first, then the configured chain."""
    labelers: list[SceneLabeler] = []
    if labels is not None:
        labelers.append(CachedLabeler.from_file(labels))
    try:
        from gerec.scene.config import build_chain  # the configurable chain (cloud, offline)
    except ImportError:
        return LabelerChain(labelers)
    rest = build_chain(chain) if chain else build_chain()
    return LabelerChain(labelers + [lab for lab in rest.labelers if lab.name != "cached"])


def make_pipeline(mode: str, aggregation: str = "mean", labels: Path | None = None,
                  chain: str | None = None) -> Pipeline:
    """A pipeline for ``mode`` with the labeler chain."""
    return Pipeline(PipelineConfig(mode=mode, aggregation=aggregation), labeler=make_labeler(labels, chain))
