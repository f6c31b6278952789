"""The public API's examples run: the docstrings of Pipeline, SceneNetwork, FaceEnsemble and the CLI's
main show a newcomer how each is called, and a doctest keeps them true (STYLE.md: docstrings)."""

from __future__ import annotations

import doctest
import importlib

import pytest


def run_examples(name: str) -> doctest.TestResults:
    module = importlib.import_module(name)
    return doctest.testmod(module, optionflags=doctest.ELLIPSIS)


@pytest.mark.parametrize("name", ["gerec.bn.network", "gerec.emotion.ensemble"])
def test_the_examples_without_photos_run(name):
    result = run_examples(name)
    assert result.attempted >= 4 and result.failed == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gerec.pipeline", "gerec.cli"])
def test_the_examples_on_a_sample_photo_run(name, photos_dir):
    result = run_examples(name)
    assert result.attempted >= 3 and result.failed == 0
