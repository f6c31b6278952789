"""shap's numba functions: cached on disk, or run as Python where numba cannot cache them; the
first photo's background loading. The Python versions must equal the compiled ones."""

from __future__ import annotations

import numpy as np
import pytest

from gerec import jit_cache


@pytest.fixture(scope="module")
def set_up(tmp_path_factory):
    import os

    os.environ.setdefault(jit_cache.CACHE_ENV, str(tmp_path_factory.mktemp("jit")))
    folder = jit_cache.cache_shap_jit()
    if folder is None:
        pytest.skip("the compiled-code cache is off ($GEREC_JIT_CACHE=0)")
    return folder


def test_python_versions_equal_the_compiled_ones(set_up):
    import shap
    from shap.explainers import _partition
    from shap.utils import _masked_model

    compiled = jit_cache.ORIGINALS[("shap.utils._masked_model", "_build_fixed_multi_output")]
    assert _masked_model._build_fixed_multi_output is compiled.py_func  # replaced
    rng = np.random.default_rng(0)
    n, rows, k = 12, 3, 6
    outputs = rng.uniform(0.01, 0.99, (40, k))
    positions = np.sort(rng.choice(np.arange(1, 40), n - 1, replace=False))
    batch_positions = np.concatenate([[0], positions, [40]])
    num_varying = np.diff(batch_positions)
    varying = np.zeros((n, rows), dtype=bool)
    start = rng.uniform(0.01, 0.99, (rows, k))
    last = [start.copy(), start.copy()]
    averaged = [np.zeros((n, k)) for _ in range(2)]
    for i in range(n):  # rows that change in each batch, as many as the batch has outputs
        take = min(rows, num_varying[i])
        varying[i, :take] = True
        num_varying[i] = take
    batch_positions = np.concatenate([[0], np.cumsum(num_varying)])
    for fn, avg, lo in zip((compiled, compiled.py_func), averaged, last):
        fn(avg, lo, outputs, batch_positions, varying, num_varying, shap.links.logit, None)
    np.testing.assert_allclose(averaged[0], averaged[1], rtol=1e-12)
    credit = jit_cache.ORIGINALS[("shap.explainers._partition", "lower_credit")]
    m = 4  # a balanced tree over 4 leaves: nodes 4, 5 join leaves, 6 joins them
    clustering = np.array([[0, 1, 1.0, 2], [2, 3, 1.0, 2], [4, 5, 2.0, 4]], dtype=float)
    values = [np.array([0.0, 0, 0, 0, 0.4, -0.2, 1.0]) for _ in range(2)]
    _partition.lower_credit = credit  # the compiled recursion calls the module's name: compiled for this call
    try:
        credit(2 * m - 2, 0.0, m, values[0], clustering)
    finally:
        _partition.lower_credit = credit.py_func
    _partition.lower_credit(2 * m - 2, 0.0, m, values[1], clustering)
    assert values[1][:m].sum() == pytest.approx(1.0 + 0.4 - 0.2)  # credit passed down to the leaves
    np.testing.assert_allclose(values[0], values[1], rtol=1e-12)


def test_explanations_are_the_same_with_and_without(set_up):
    """After the set-up, a shap Partition explanation still runs and stays additive (values sum to the change)."""
    import shap

    def f(x: np.ndarray) -> np.ndarray:
        mean = x.reshape(len(x), -1).mean(axis=1) / 255
        return np.clip(np.stack([mean, 1 - mean], axis=1), 1e-6, 1 - 1e-6)

    image = np.random.default_rng(1).integers(0, 255, (1, 16, 16, 3)).astype(np.float32)
    masker = shap.maskers.Image("blur(4,4)", (16, 16, 3))
    explainer = shap.PartitionExplainer(f, masker, link=shap.links.logit, linearize_link=False)
    ours = explainer(image, max_evals=64, batch_size=64, silent=True).values
    # shap's additivity: the values sum to the logit difference between the image and the blurred one
    full = shap.links.logit(f(image)[0])
    assert np.allclose(
        ours[0].sum(axis=(0, 1, 2)),
        full - explainer(image, max_evals=64, batch_size=64, silent=True).base_values[0],
        atol=1e-6,
    )
