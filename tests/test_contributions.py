"""The scene network's reasons add up: softmax of the summed rows is fused, without bottom-up top-down."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from gerec.bn import MODES, load_scene_network
from gerec.bn.contributions import fit_rows, logits, rows_posterior
from gerec.bn.network import SceneNetwork
from gerec.types import CONTRIBUTION_KINDS, LabelContribution


def random_network(rng: np.random.Generator, n: int, **kw) -> SceneNetwork:
    """Random label tables, prior and CNN table (no class is uniform)."""
    return SceneNetwork(
        tuple(f"label {i}" for i in range(n)),
        rng.uniform(0.01, 0.6, (n, 3)),
        rng.dirichlet([3, 3, 3]),
        rng.dirichlet([2, 2, 2], 3),
        np.ones(n, dtype=bool),
        **kw,
    )


def tiny_network() -> SceneNetwork:
    return SceneNetwork(
        labels=("smile", "protest"),
        p_present=np.array([[0.8, 0.3, 0.1], [0.1, 0.2, 0.6]]),
        prior=np.array([0.5, 0.3, 0.2]),
        absent_mask=np.array([True, True]),
        cnn_table=np.array([[0.7, 0.2, 0.1], [0.2, 0.6, 0.2], [0.1, 0.3, 0.6]]),
    )


def assert_adds_up(rows, fused, top_down, atol=1e-9):
    np.testing.assert_allclose(rows_posterior(rows), fused, atol=atol)
    np.testing.assert_allclose(rows_posterior(rows, bottom_up=False), top_down, atol=atol)


def variants(rng: np.random.Generator) -> list[SceneNetwork]:
    base = random_network(rng, 30)
    mask = rng.random(30) < 0.5
    tempered = SceneNetwork(
        base.labels, base.p_present, base.prior, base.cnn_table, mask, label_weight=0.4, cnn_weight=1.7, soft_cnn=True
    )
    return [base, tempered, random_network(rng, 30, soft_cnn=True)]


@pytest.mark.parametrize("seed", range(3))
def test_rows_add_up_on_random_networks_and_evidence(seed):
    rng = np.random.default_rng(seed)
    for net in variants(rng):
        for _ in range(15):
            present = [lab for lab in net.labels if rng.random() < 0.2] + ["not a label"]
            cnn = [None, "Neutral", tuple(rng.dirichlet([1, 1, 1]))][rng.integers(0, 3)]
            for top_absent in (None, 0, 3):
                rows = net.contributions(present, cnn, top_absent=top_absent)
                assert_adds_up(rows, net.posterior(present, cnn), net.posterior(present))
                assert [r.kind == "bottom-up" for r in rows].count(True) == (cnn is not None)


def test_rows_kinds_order_and_rest():
    net = tiny_network()  # prior 0.5 / 0.3 / 0.2: not uniform
    rows = net.contributions(["smile"], "Negative")
    assert [(r.kind, r.display) for r in rows] == [
        ("prior", "prior"),
        ("label", "smile"),
        ("absent", "not protest"),
        ("bottom-up", "faces (bottom-up)"),
    ]
    np.testing.assert_allclose(rows[0].log_ratio, np.log([0.5, 0.3, 0.2]) - np.log([0.5, 0.3, 0.2]).mean())
    assert rows[1].present and not any(r.present for r in rows[2:])
    rest = net.contributions([], top_absent=1)
    assert [r.kind for r in rest] == ["prior", "absent", "absent-rest"]
    assert rest[-1].count == 1 and rest[-1].label == "1 other absent label"
    uniform = SceneNetwork(net.labels, net.p_present, np.full(3, 1 / 3), net.cnn_table, net.absent_mask)
    assert all(r.kind != "prior" for r in uniform.contributions(["smile"]))
    with pytest.raises(ValueError):
        LabelContribution("x", False, (0.0, 0.0, 0.0), "guess")
    assert set(CONTRIBUTION_KINDS) >= {r.kind for r in rows}


def test_the_reasons_title_names_the_terms_shown():
    """'(prior, labels, faces)' was written over every reasons chart, though a uniform prior (both
    shipped networks') has no row: the heading names the kinds of row there are."""
    import doctest

    import gerec.bn.contributions
    from gerec_app.render import reasons_title

    net = tiny_network()  # prior 0.5 / 0.3 / 0.2
    uniform = SceneNetwork(net.labels, net.p_present, np.full(3, 1 / 3), net.cnn_table, net.absent_mask)
    assert reasons_title(net.contributions(["smile"], "Negative")) == (
        "How each term moves the verdict (prior, labels, faces)"
    )
    assert reasons_title(uniform.contributions(["smile"], "Negative")) == (
        "How each term moves the verdict (labels, faces)"
    )
    assert reasons_title(uniform.contributions([], top_absent=0)) == "How each term moves the verdict (labels)"
    for mode in MODES:  # neither shipped network has a prior row
        assert "prior" not in reasons_title(load_scene_network(mode).contributions(["smile"], "Positive"))
    assert doctest.testmod(gerec.bn.contributions).failed == 0


def test_fit_rows_aggregates_never_drops():
    rng = np.random.default_rng(5)
    net = random_network(rng, 40)
    present = list(net.labels[:9])
    rows = net.contributions(present, "Positive", top_absent=6)
    for max_rows in (3, 6, 10, 14, 40):
        fitted = fit_rows(rows, max_rows)
        assert len(fitted) <= max(max_rows, 2 + 2)  # prior, bottom-up and two rest rows always fit
        np.testing.assert_allclose(logits(fitted), logits(rows), atol=1e-9)
        assert fitted[0].kind == "prior" and fitted[-1].kind == "bottom-up"
        counted = sum(r.count for r in fitted if r.kind in ("label", "label-rest", "absent", "absent-rest"))
        assert counted == sum(r.count for r in rows if r.kind in ("label", "absent", "absent-rest"))
    small = fit_rows(rows, 10)
    assert any(r.kind == "label-rest" for r in small) and any(r.kind == "absent-rest" for r in small)
    kept = [r for r in small if r.kind == "label"]
    dropped = [r for r in rows if r.kind == "label" and r not in kept]
    assert min(r.strength for r in kept) >= max(r.strength for r in dropped)
    assert fit_rows(rows, 100) == rows


def dev_images(gaf_dir, n: int = 150) -> list[tuple[str, list[str], str | None]]:
    labels = json.loads((gaf_dir / "val_labels_dev.json").read_text())
    with (gaf_dir / "reference_cnn_val_dev.csv").open() as handle:
        cnn = {row["image"]: row["cnn"] or None for row in csv.DictReader(handle)}
    names = sorted(labels)[:: max(1, len(labels) // n)][:n]
    return [(name, labels[name], cnn.get(name)) for name in names]


@pytest.mark.parametrize("mode", MODES)
def test_pipeline_rows_add_up_on_dev_images(mode, gaf_dir):
    from gerec.emotion.registry import read_registry
    from gerec.pipeline import Pipeline, PipelineConfig
    from gerec.scene.chain import LabelerChain

    pipe = Pipeline(PipelineConfig(mode=mode), labeler=LabelerChain([]), network=load_scene_network(mode))
    face_confusion = read_registry().face_confusion
    assert face_confusion is not None
    photo_net = pipe.network.with_cnn_table(face_confusion)
    rng = np.random.default_rng(0)
    images = dev_images(gaf_dir)
    for name, labels, cnn in images:
        only = pipe.from_labels(name, labels)  # label-only: no bottom-up row, fused = top-down
        assert_adds_up(only.contributions, only.fused, only.top_down, atol=1e-6)
        assert all(r.kind != "bottom-up" for r in only.contributions)
        hard = pipe.from_labels(name, labels, cnn)
        assert_adds_up(hard.contributions, hard.fused, hard.top_down, atol=1e-6)
        # a photo: the ensemble's probabilities through the photo network, as Pipeline.analyze does
        probs = tuple(float(p) for p in rng.dirichlet([2, 2, 2]))
        photo = pipe.fuse(name, hard.evidence, probs, photo_net)  # type: ignore[arg-type]
        assert_adds_up(photo.contributions, photo.fused, photo.top_down, atol=1e-6)
        counted = sum(r.count for r in photo.contributions if r.kind in ("absent", "absent-rest"))
        assert counted == int(photo_net.absent_mask.sum()) - sum(
            1 for lab in photo.evidence.labels_used if photo_net.absent_mask[photo_net.labels.index(lab)]
        )
    assert len(images) >= 100


@pytest.mark.slow
def test_classify_json_rows_add_up_to_fused(photos_dir):
    import subprocess
    import sys

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "gerec",
            "classify",
            str(photos_dir / "image_happy_1.jpg"),
            "--json",
            "--labels",
            str(photos_dir / "labels.json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.splitlines()[0])
    rows = [
        LabelContribution(r["label"], r["present"], tuple(r["log_ratio"]), r["kind"], r["count"])
        for r in out["contributions"]
    ]
    assert rows[-1].kind == "bottom-up" and any(r.kind == "label" for r in rows)
    assert_adds_up(rows, out["fused"], out["top_down"], atol=1e-6)
