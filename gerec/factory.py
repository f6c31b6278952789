"""The one factory layer: labeler chains and pipelines built from settings, for the CLI, the run
engines and the dashboard alike (nothing in the library or the dashboard imports `gerec.cli`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gerec.pipeline import Pipeline, PipelineConfig
from gerec.scene.chain import LabelerChain

CONFIG_ENV = "GEREC_LABELER_CONFIG"


def make_labeler(
    labels: Path | None, chain: str | None = None, config: str | Path | Mapping[str, Any] | None = None
) -> LabelerChain:
    """The labeler chain: cached labels from ``labels`` first (when given), then ``chain``.

    ``chain`` is a spec such as ``"cached,gcv,offline"``; without one it comes from the config
    (a TOML file with a ``[labelers]`` table, ``$GEREC_LABELER_CONFIG``, or the dashboard's
    secrets), then ``$GEREC_LABELERS``, then ``default`` (cached -> GCV if configured -> offline).
    The config also carries GCV options (e.g. ``api_key``, ``credentials_file``, ``min_score``)
    and offline options (``top_k``, ``min_score``).

    A labels file given here or in the config is the user's input: when it is missing or damaged,
    an unknown labeler is named, or the config has an unknown key or a bad value, this raises
    :class:`~gerec.errors.InvalidDataset` naming the file (the CLI's exit code 2). Only labelers
    that ``default`` adds on its own (GCV without working credentials, the offline labeler without
    its model) fall back with a note.
    """
    from gerec.scene.config import (
        LABELERS,
        SETTINGS_KEYS,
        build_chain,
        chain_spec_from_env,
        config_name,
        load_chain_config,
        parse_spec,
    )

    source = config if config is not None else os.environ.get(CONFIG_ENV)
    settings = load_chain_config(source) if source else None
    names: list[str]
    if chain:
        names = parse_spec(chain)
    elif settings is not None:
        names = list(settings["chain"])
    else:
        names = chain_spec_from_env()
    if labels is None and settings is not None and settings.get("labels_file"):
        labels = Path(settings["labels_file"])
    if labels is not None and not any(n in ("cached", "default") for n in names):
        names = ["cached", *names]  # labels given explicitly always come first
    return build_chain(
        names,
        labels_file=labels,
        manual_labels=settings["manual"] if settings else None,
        options={name: settings[name] for name in LABELERS if name not in SETTINGS_KEYS} if settings else None,
        where=config_name(source) if source else "labeler options",
    )


def make_pipeline(
    mode: str, aggregation: str = "mean", labels: Path | None = None, chain: str | None = None
) -> Pipeline:
    """A pipeline for ``mode`` with the labeler chain."""
    return Pipeline(PipelineConfig(mode=mode, aggregation=aggregation), labeler=make_labeler(labels, chain))
