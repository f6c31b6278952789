"""Tuning (nested CV, deterministic fit), the tuned network against pgmpy, vocabulary mapping."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gerec.bn import devfit, load_scene_network, tuning
from gerec.bn.fit import smoothed_p_present
from gerec.bn.histogram import LabelHistogram
from gerec.bn.label_words import stem_word
from gerec.bn.network import SceneNetwork
from gerec.bn.network_file import network_from_json
from gerec.bn.pgmpy_model import build_pgmpy_network, pgmpy_posterior
from gerec.bn.vocabulary import VocabularyMapper, config_of, map_labels
from gerec.classes import CLASSES


def _histogram(n: int = 40, seed: int = 1) -> LabelHistogram:
    rng = np.random.default_rng(seed)
    totals = np.array([120.0, 100.0, 90.0])
    counts = np.floor(rng.uniform(0, 1, (n, 3)) ** 3 * totals).astype(float)
    counts[:3] = 0.0  # labels never seen in some class
    named = ("protest", "black and white", "happiness", "sports", "physical exercise")
    labels = tuple(f"label {i}" for i in range(n - len(named))) + named
    return LabelHistogram(labels, counts, totals)


def _dev(hist: LabelHistogram, n: int = 150, seed: int = 2) -> tuning.DevData:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    p = smoothed_p_present(hist, 1.0)
    labels = []
    for c in y:
        present = [hist.labels[i] for i in np.flatnonzero(rng.uniform(size=len(hist.labels)) < p[:, c])]
        extra: tuple[str, ...] = ("black-and-white",) if c == 1 else ("team sport",)
        extra += ("rebellion",) if c == 2 and rng.uniform() < 0.6 else ()
        labels.append(tuple(present) + extra)
    cnn = np.where(rng.uniform(size=n) < 0.7, y, rng.integers(-1, 3, n))
    images = tuple(f"{('pos', 'neu', 'neg')[c]}_{i}.jpg" for i, c in enumerate(y))
    return tuning.DevData(images, tuple(labels), y, cnn)


SMALL_GRID = tuning.Grid(
    rules=("none", "stem"),
    embed_min=(None, 0.5),
    new_min=(None, 3),
    dev_weight=(0.0, 2.0),
    alpha=(None, 1.0),
    shrink=(0.0, 30.0),
    absent=("all", "top10"),
    prior=("uniform", "dev"),
    label_weight=(0.3, 1.0),
    cnn_weight=(0.75, 1.0),
)
DEV_FITTED = tuning.Config(
    rules="stem",
    embed_min=0.5,
    new_min=3,
    dev_weight=2.0,
    alpha=1.0,
    shrink=10.0,
    absent="top10",
    prior="dev",
    cnn_table="dev",
    label_weight=0.3,
    cnn_weight=0.75,
)


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
    config = DEV_FITTED
    net = tuning.build_network(hist, config, data)
    assert "rebellion" in net.labels[len(hist.labels) :]  # a new label node, fitted on dev images
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
    config = dataclasses.replace(DEV_FITTED, alpha=5.0, label_weight=0.2)
    net = dataclasses.replace(tuning.build_network(hist, config, data), soft_cnn=soft_cnn)
    assert len(net.labels) > len(hist.labels)
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
    for _ in range(25):
        present, cnn = _random_evidence(net, rng)
        cases.append((present + ["rebellion", "black-and-white"][: int(rng.integers(0, 3))], cnn))
    for raw, cnn in cases:
        used = map_labels(net, raw).used
        fast = np.array(net.posterior(used, cnn))
        slow = np.array(pgmpy_posterior(net, used, cnn, model))
        assert np.abs(fast - slow).max() < 1e-9
    assert network_from_json(net.to_json()).metadata == net.metadata


def test_out_of_vocabulary_labels_are_mapped_or_ignored() -> None:
    hist = _histogram()
    net = tuning.build_network(hist, tuning.Config(rules="all"))
    used, mapped, ignored = map_labels(
        net, ["Black-and-White", "happy", "combat sports", "exercise", "label 3", "zorbing", "yoga", "happy"]
    )
    assert ("black-and-white", "black and white") in mapped
    assert ("happy", "happiness") in mapped
    assert ("combat sports", "sports") in mapped
    assert ("exercise", "physical exercise") in mapped
    assert ("yoga", "physical exercise") in mapped  # synonym table
    assert ignored == ("zorbing",)
    assert used == ("black and white", "happiness", "sports", "physical exercise", "label 3")
    assert all(known in net.labels for _, known in mapped)


def test_embedding_rule_maps_to_the_nearest_known_label_above_threshold() -> None:
    neighbours = {"rebellion": (("riot", 0.56), ("protest", 0.55), ("smile", 0.2)), "grin": (("smile", 0.45),)}
    mapper = VocabularyMapper(("protest", "smile"), ("exact", "embedding"), 0.5, neighbours)
    expected = (("protest",), (("rebellion", "protest"),), ("grin", "zorbing"))
    assert mapper.map(["Rebellion", "grin", "zorbing"]) == expected
    strict = VocabularyMapper(("protest", "smile"), ("exact", "embedding"), 0.6, neighbours)
    assert strict.map(["rebellion"]).ignored == ("rebellion",)
    # through a network's metadata, with the committed table (built from label strings only)
    hist = _histogram()
    net = tuning.build_network(hist, tuning.Config(rules="stem", embed_min=0.5))
    assert net.metadata["vocabulary"]["embedding_min"] == 0.5
    used, mapped, ignored = map_labels(net, ["rebellion", "zorbing", "happy"])
    assert mapped == (("rebellion", "protest"), ("happy", "happiness")) and ignored == ("zorbing",)
    assert used == ("protest", "happiness")


def test_the_embedding_rule_without_its_neighbour_table_is_a_named_error(tmp_path, monkeypatch) -> None:
    """A missing models/label_neighbours.json was an empty table: the rule mapped nothing and a
    network or tune's embed_min ablation gave other answers without a word."""
    from gerec.errors import InvalidModelFile, ModelFileMissing

    monkeypatch.setenv("GEREC_MODELS", str(tmp_path))
    mapper = VocabularyMapper(("protest", "smile"), ("exact", "embedding"), 0.5)
    with pytest.raises(ModelFileMissing, match="neighbour table the 'embedding' vocabulary rule needs not found"):
        mapper.map(["rebellion"])
    (tmp_path / "label_neighbours.json").write_text('{"neighbours": {"rebellion": 3}}')  # damaged: named too
    with pytest.raises(InvalidModelFile, match="not a label neighbour table"):
        VocabularyMapper(("protest",), ("exact", "embedding"), 0.5).map(["rebellion"])
    assert VocabularyMapper(("protest",), ("exact",)).map(["protest"]).used == ("protest",)  # not needed: not read


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


def test_reference_config_reproduces_reference_figures(gaf_dir) -> None:
    from gerec.bn.histogram import read_histogram

    hist = read_histogram(gaf_dir / "train_label_histogram.csv")
    data = tuning.load_dev_data(gaf_dir / "val_labels_dev.json", gaf_dir / "reference_cnn_val_dev.csv")
    td, fz = tuning.predict(hist, data, tuning.REFERENCE_CONFIG, np.ones(len(data.y), dtype=bool))
    assert (td == data.y).mean() == pytest.approx(0.6091, abs=5e-4)
    assert (fz == data.y).mean() == pytest.approx(0.6529, abs=5e-4)


def test_dev_counts_come_from_fitting_images_only() -> None:
    hist = _histogram()
    data = _dev(hist)
    fit = np.arange(len(data.y)) % 2 == 0
    raw_fit = [data.labels[i] for i in np.flatnonzero(fit)]
    held_out_only = ("only in held-out images",)
    data = dataclasses.replace(
        data, labels=tuple(raw + held_out_only if not f else raw for raw, f in zip(data.labels, fit))
    )
    net = tuning.build_network(hist, dataclasses.replace(DEV_FITTED, embed_min=None, shrink=0.0), data, fit=fit)
    assert held_out_only[0] not in net.labels
    new = net.labels[len(hist.labels) :]
    assert "rebellion" in new
    # count = histogram + w * dev count; a new label's count and total come from dev alone
    x = devfit.presence(net.labels, tuning.RULE_SETS["stem"], raw_fit)
    table = devfit.label_table(hist, net.labels, x, data.y[fit], 2.0)
    n_fit = np.bincount(data.y[fit], minlength=3)
    i = net.labels.index("happiness")
    dev = x[:, i] @ np.eye(3)[data.y[fit]]
    assert np.allclose(table.counts[i], hist.counts[i] + 2.0 * dev)
    assert np.allclose(table.totals[i], hist.totals + 2.0 * n_fit)
    j = net.labels.index("rebellion")
    assert np.allclose(table.totals[j], 2.0 * n_fit)
    assert np.allclose(net.p_present[j], (table.counts[j] + 1.0) / (table.totals[j] + 2.0))


def test_nested_cv_reports_folds_it_never_fitted_or_selected_on() -> None:
    hist = _histogram()
    data = _dev(hist)
    result = tuning.nested_cv(hist, data, 3, 0, SMALL_GRID)["tuned"]
    folds = result.folds
    # the held-out score is that of the chosen network fitted without the fold
    held = folds == 0
    net = tuning.build_network(hist, result.chosen[0], data, fit=~held)
    correct = 0
    for i in np.flatnonzero(held):
        used = map_labels(net, data.labels[i]).used
        correct += int(np.argmax(net.posterior(used)) == data.y[i])
    assert result.topdown[0] == pytest.approx(correct / held.sum())
    # changing fold 0's labels cannot change what fold 0's selection chose
    scrambled = tuple(("rebellion", "happiness") if f == 0 else raw for raw, f in zip(data.labels, folds))
    again = tuning.nested_cv(hist, dataclasses.replace(data, labels=scrambled), 3, 0, SMALL_GRID)["tuned"]
    assert again.chosen[0] == result.chosen[0]
