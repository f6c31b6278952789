"""Build the pipeline a command asked for."""

from __future__ import annotations

from pathlib import Path

from gerec.pipeline import Pipeline, PipelineConfig
from gerec.scene.chain import LabelerChain


def make_labeler(labels: Path | None, chain: str | None = None) -> LabelerChain:
    """The labeler chain: cached labels from ``labels`` first (when given), then ``chain``.

    ``chain`` is a spec such as ``"cached,gcv,offline"``; the default is ``$GEREC_LABELERS`` or
    cached -> GCV (only with credentials) -> offline.
    """
    from gerec.scene.config import build_chain

    spec = chain or "default"
    if labels is not None and not any(n.strip() in ("cached", "default") for n in spec.split(",")):
        spec = "cached," + spec  # labels given on the command line always come first
    return build_chain(spec, labels_file=labels)


def make_pipeline(mode: str, aggregation: str = "mean", labels: Path | None = None,
                  chain: str | None = None) -> Pipeline:
    """A pipeline for ``mode`` with the labeler chain."""
    return Pipeline(PipelineConfig(mode=mode, aggregation=aggregation), labeler=make_labeler(labels, chain))
