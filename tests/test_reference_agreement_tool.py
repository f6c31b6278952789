"""tools/reference_agreement.py: its four rules, the cause it assigns, and the dev summary."""

from __future__ import annotations

import numpy as np
from tool_module import load_tool

from gerec.bn.network import SceneNetwork

tool = load_tool("reference_agreement")


def twins() -> SceneNetwork:
    # a and b share a row; c has its own.
    p = np.array([[0.5, 0.25, 0.125], [0.5, 0.25, 0.125], [0.125, 0.25, 0.5]])
    return SceneNetwork(
        ("a", "b", "c"), p, np.full(3, 1 / 3), np.full((3, 3), 1 / 3), np.ones(3, bool), collapse_identical_factors=True
    )


def test_rules_count_identical_factors_as_documented():
    net = twins()
    both = np.array([0, 1])
    lp, lq = np.log(net.p_present), np.log1p(-net.p_present)
    prior = np.log(net.prior)
    np.testing.assert_allclose(tool.label_logits(net, both, "exact"), prior + lp[0] + lp[1] + lq[2])
    np.testing.assert_allclose(tool.label_logits(net, both, "present-once"), prior + lp[0] + lq[2])
    none = np.array([], dtype=int)
    np.testing.assert_allclose(tool.label_logits(net, none, "absent-once"), prior + lq[0] + lq[2])
    np.testing.assert_allclose(tool.label_logits(net, none, "exact"), prior + lq.sum(axis=0))
    for present in (both, none, np.array([0])):
        ref = tool.label_logits(net, present, "reference")
        used = [net.labels[i] for i in present]
        np.testing.assert_allclose(tool.posterior(ref), net.posterior(used), atol=1e-12)


def test_cause_is_the_simplest_rule_that_gives_the_references_decision():
    def run(*probs):
        return {"img": {"top_down": np.array(probs)}}

    runs = {
        "exact": run(0.5, 0.3, 0.2),
        "absent-once": run(0.5, 0.3, 0.2),
        "present-once": run(0.3, 0.5, 0.2),
        "reference": run(0.3, 0.5, 0.2),
    }
    assert tool.cause("img", "top_down", "Neutral", runs) == "present factors once"
    assert tool.cause("img", "top_down", "Negative", runs) == "unexplained"
    runs["exact"] = run(0.4, 0.4, 0.2)
    assert tool.cause("img", "top_down", "Neutral", runs) == "tie"


def test_dev_summary(gaf_dir, capsys):
    assert tool.main(["--rule", "exact"]) == 0
    out = capsys.readouterr().out
    assert "top_down  agreement  98.66 %  (2143/2172)" in out
    assert "fused     agreement  98.85 %  (2147/2172)" in out
    rows = {line.split()[0] + " " + line.split()[1]: line for line in out.splitlines() if ".jpg" in line}
    assert rows["neu_27.jpg top_down"].endswith("present factors once")  # "patient" and "ear": 1/0/0 each
    assert "unexplained" not in out
    assert tool.main([]) == 0
    out = capsys.readouterr().out
    assert "top_down  agreement 100.00 %" in out and "fused     agreement 100.00 %" in out
    assert "(no disagreement)" in out
