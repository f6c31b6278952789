"""Tuning (nested CV, deterministic fit), the tuned network against pgmpy, vocabulary mapping."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gerec.bn import load_scene_network, tuning
from gerec.bn.histogram import LabelHistogram
from gerec.bn.network import SceneNetwork, network_from_json
from gerec.bn.pgmpy_model import build_pgmpy_network, pgmpy_posterior
from gerec.bn.vocabulary import VocabularyMapper, config_of, map_labels, stem_word
from gerec.classes import CLASSES
from gerec.config import data_dir

GAF = data_dir() / "gaf3"
needs_data = pytest.mark.skipif(
    not (GAF / "val_labels_dev.json").is_file(),
    reason=f"shared GAF 3.0 dev data not found under {GAF} (set GEREC_DATA)",
)


def _histogram(n: int = 40, seed: int = 1) -> LabelHistogram:
    rng = np.random.default_rng(seed)
    totals = np.array([120.0, 100.0, 90.0])
    counts = np.floor(rng.uniform(0, 1, (n, 3)) ** 3 * totals).astype(float)
    counts[:3] = 0.0  # labels never seen in some class
    named = ("black and white", "happiness", "sports", "physical exercise")
    labels = tuple(f"label {i}" for i in range(n - len(named))) + named
    return LabelHistogram(labels, counts, totals)


def _dev(hist: LabelHistogram, n: int = 150, seed: int = 2) -> tuning.DevData:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    p = tuning.p_present_for(hist, 1.0)
    labels = []
    for c in y:
        present = [hist.labels[i] for i in np.flatnonzero(rng.uniform(size=len(hist.labels)) < p[:, c])]
        labels.append(tuple(present) + (("black-and-white",) if c == 1 else ("team sport",)))
    cnn = np.where(rng.uniform(size=n) < 0.7, y, rng.integers(-1, 3, n))
    images = tuple(f"{('pos', 'neu', 'neg')[c]}_{i}.jpg" for i, c in enumerate(y))
    return tuning.DevData(images, tuple(labels), y, cnn)


SMALL_GRID = tuning.Grid(rules=("none", "stem"), alpha=(None, 1.0), absent=("all", "top10"),
                         label_weight=(0.3, 1.0), cnn_weight=(0.75, 1.0))


def test_folds_are_stratified_and_seeded() -> None:
    y = np.repeat([0, 1, 2], [50, 40, 31])
    folds = tuning.stratified_folds(y, 5, seed=0)
    assert np.array_equal(folds, tuning.stratified_folds(y, 5, seed=0))
    assert not np.array_equal(folds, tuning.stratified_folds(y, 5, seed=1))
    for c in range(3):
        per_fold = np.bincount(folds[y == c], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1


def test_tuning_is_deterministic() -> None:
    hist = _histogram()
    first = tuning.nested_cv(hist, _dev(hist), 3, 0, SMALL_GRID)["tuned"]
    second = tuning.nested_cv(hist, _dev(hist), 3, 0, SMALL_GRID)["tuned"]
    assert first.chosen == second.chosen
    assert first.topdown == second.topdown and first.fused == second.fused
    config = tuning.select_on_all(hist, _dev(hist), SMALL_GRID)
    assert config == tuning.select_on_all(hist, _dev(hist), SMALL_GRID)
    a = tuning.build_network(hist, config, _dev(hist)).to_json()
    b = tuning.build_network(hist, config, _dev(hist)).to_json()
    assert a == b


def test_vectorised_scores_match_the_network() -> None:
    """The grid's closed form equals SceneNetwork.posterior's argmax for a dev-fitted config."""
    hist = _histogram()
    data = _dev(hist)
    config = tuning.Config("stem", 1.0, "top10", "dev", "dev", 0.3, 0.75)
    net = tuning.build_network(hist, config, data)
    td, fz = tuning.predict(hist, data, config, np.ones(len(data.y), dtype=bool))
    for i, raw in enumerate(data.labels):
        used = map_labels(net, raw).used
        cnn = CLASSES[data.cnn[i]] if data.cnn[i] >= 0 else None
        assert int(np.argmax(net.posterior(used))) == td[i]
        assert int(np.argmax(net.posterior(used, cnn))) == fz[i]


Evidence = tuple[list[str], str | np.ndarray | None]


def _random_evidence(net: SceneNetwork, rng: np.random.Generator) -> Evidence:
    k = int(rng.integers(0, 8))
    present = [net.labels[i] for i in rng.choice(len(net.labels), size=k, replace=False)]
    present += ["never seen label"] if rng.uniform() < 0.3 else []
    kind = rng.integers(0, 3)
    if kind == 0:
        return present, None
    return present, CLASSES[int(rng.integers(0, 3))] if kind == 1 else rng.dirichlet(np.ones(3))


@pytest.mark.parametrize("soft_cnn", [False, True])
def test_tuned_subset_network_matches_pgmpy(soft_cnn: bool) -> None:
    hist = _histogram()
    data = _dev(hist)
    config = tuning.Config("stem", 5.0, "top10", "dev", "dev", 0.2, 0.75)
    net = dataclasses.replace(tuning.build_network(hist, config, data), soft_cnn=soft_cnn)
    assert 0 < net.absent_mask.sum() < len(net.labels)
    model = build_pgmpy_network(net)
    rng = np.random.default_rng(7)
    for _ in range(60):
        present, cnn = _random_evidence(net, rng)
        fast = np.array(net.posterior(present, cnn))
        slow = np.array(pgmpy_posterior(net, present, cnn, model))
        assert np.abs(fast - slow).max() < 1e-9


def test_committed_tuned_network_matches_pgmpy() -> None:
    net = load_scene_network("tuned")
    missing = "models/scene_bn_tuned.json missing (run `python -m gerec tune`)"
    assert net.metadata.get("mode") == "tuned", missing
    model = build_pgmpy_network(net)
    rng = np.random.default_rng(3)
    cases: list[Evidence] = [
        (["protest", "crowd", "happy"], "Negative"),
        (["smile", "bride"], None),
        ([], rng.dirichlet(np.ones(3))),
    ]
    for raw, cnn in cases:
        used = map_labels(net, raw).used
        fast = np.array(net.posterior(used, cnn))
        slow = np.array(pgmpy_posterior(net, used, cnn, model))
        assert np.abs(fast - slow).max() < 1e-9
    assert network_from_json(net.to_json()).metadata == net.metadata


def test_out_of_vocabulary_labels_are_mapped_or_ignored() -> None:
    hist = _histogram()
    net = tuning.build_network(hist, tuning.Config(rules="all"))
    used, mapped, ignored = map_labels(net, ["Black-and-White", "happy", "combat sports", "exercise",
                                             "label 3", "zorbing", "yoga", "happy"])
    assert ("black-and-white", "black and white") in mapped
    assert ("happy", "happiness") in mapped
    assert ("combat sports", "sports") in mapped
    assert ("exercise", "physical exercise") in mapped
    assert ("yoga", "physical exercise") in mapped  # synonym table
    assert ignored == ("zorbing",)
    assert used == ("black and white", "happiness", "sports", "physical exercise", "label 3")
    assert all(known in net.labels for _, known in mapped)


def test_reference_network_does_not_map() -> None:
    hist = _histogram()
    net = dataclasses.replace(tuning.build_network(hist, tuning.Config()), metadata={})
    used, mapped, ignored = map_labels(net, ["Black-and-White", "label 3", "label 3"])
    assert (used, mapped, ignored) == (("label 3",), (), ("black-and-white",))
    net_rules = dataclasses.replace(net, metadata={"vocabulary": config_of(("exact",))})
    assert map_labels(net_rules, ["happy"]).ignored == ("happy",)


def test_stemmer_and_rules() -> None:
    assert stem_word("happiness") == stem_word("happy")
    assert stem_word("sports") == stem_word("sport")
    assert stem_word("laughter") == stem_word("laugh")
    assert stem_word("moths") != stem_word("mother")
    with pytest.raises(ValueError):
        VocabularyMapper(("a",), ("exact", "telepathy"))


@needs_data
def test_reference_config_reproduces_reference_figures() -> None:
    from gerec.bn.histogram import read_histogram

    hist = read_histogram(GAF / "train_label_histogram.csv")
    data = tuning.load_dev_data(GAF / "val_labels_dev.json", GAF / "reference_cnn_val_dev.csv")
    td, fz = tuning.predict(hist, data, tuning.REFERENCE_CONFIG, np.ones(len(data.y), dtype=bool))
    assert (td == data.y).mean() == pytest.approx(0.6091, abs=5e-4)
    assert (fz == data.y).mean() == pytest.approx(0.6529, abs=5e-4)
