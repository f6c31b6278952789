"""Calibration on the dashboard: what a probability is worth, from held-out figures (no streamlit).

A tuned scene network carries its nested cross-validation's held-out reliability tables in
``metadata["calibration"]["cv"]`` (written by ``python -m gerec tune``); a results table
(OUT.csv, a stored run) carries each module's probabilities in its ``p_<module>_<class>`` columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gerec.bn import SceneNetwork
from gerec.calibration import DISPLAY_BINS, ECE_BINS, ReliabilityBin, bins_from_json, reliability, score_probs
from gerec.classes import MODULES
from gerec.evaluation import row_probs, to_indices
from gerec.formatting import NO_VALUE_SCREEN, percent_spread
from gerec.types import GroupPrediction
from gerec_app.render import MODULE_NAMES

WHO = {"bottom_up": "the bottom-up module", "top_down": "the top-down module", "fused": "the fused module"}
WHERE = "on held-out folds of the GAF dev labels"


def cv_bins(network: SceneNetwork) -> dict[str, tuple[ReliabilityBin, ...]]:
    """The network's held-out reliability tables per module ({} when it records none, e.g. reference)."""
    cv = (network.metadata.get("calibration") or {}).get("cv") or {}
    return {m: bins_from_json(cv[m]["reliability"]) for m in MODULES if isinstance(cv.get(m), dict)}


def cv_table(network: SceneNetwork) -> pd.DataFrame:
    """Held-out accuracy, ECE, NLL and Brier per module (mean ± std over outer folds; ECE also
    pooled over folds) of the tuned network, raw and calibrated, and of the reference."""
    calibration = network.metadata.get("calibration") or {}
    rows = []
    for name, key in (("reference", "cv_reference"), ("tuned, raw", "cv_uncalibrated"), ("tuned (in use)", "cv")):
        figures = calibration.get(key) or {}
        for module in MODULES:
            f = figures.get(module)
            if not isinstance(f, dict):
                continue
            rows.append(
                {
                    "network": name,
                    "module": MODULE_NAMES[module],
                    "accuracy": percent_spread(f["accuracy_mean"], f["accuracy_std"], NO_VALUE_SCREEN),
                    "ECE": f"{f['ece_mean']:.3f} ± {f['ece_std']:.3f}",
                    "ECE pooled": f"{f['pooled']['ece']:.3f}",
                    "NLL": f"{f['nll_mean']:.3f} ± {f['nll_std']:.3f}",
                    "Brier": f"{f['brier_mean']:.3f} ± {f['brier_std']:.3f}",
                }
            )
    return pd.DataFrame(rows)


def worth(network: SceneNetwork, pred: GroupPrediction) -> dict[str, str]:
    """One plain sentence per shown module on what its top probability is worth (held-out figures)."""
    from gerec.calibration import worth_sentence

    tables = cv_bins(network)
    if not tables:
        return {m: f"The {pred.mode} network records no held-out calibration figures." for m in MODULES}
    out = {}
    for module, probs in (("bottom_up", pred.bottom_up), ("top_down", pred.top_down), ("fused", pred.fused)):
        if probs is None or module not in tables:
            continue
        sentence = worth_sentence(WHO[module], max(probs), tables[module], WHERE)
        if module != "top_down" and pred.faces:
            sentence += " Measured with the reference CNN's class; here the faces enter as soft evidence."
        out[module] = sentence
    return out


def frame_calibration(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, tuple[ReliabilityBin, ...]]]:
    """Per module of a results table: accuracy, ECE, NLL, Brier and mean top probability, and the
    reliability bins (tenths) for a diagram. Modules without probabilities are left out."""
    records = frame.to_dict("records")
    actual = to_indices([str(r.get("actual") or "") for r in records])
    rows, tables = [], {}
    for module in MODULES:
        probs = row_probs(records, module)
        s = score_probs(probs, actual)
        if not s.n:
            continue
        rows.append(
            {
                "module": MODULE_NAMES[module],
                "images": s.n,
                "accuracy": round(s.accuracy, 4),
                f"ECE ({ECE_BINS} bins)": round(s.ece, 4),
                "NLL": round(s.nll, 4),
                "Brier": round(s.brier, 4),
                "mean top probability (0-1)": round(s.mean_confidence, 4),
            }
        )
        keep = ~np.isnan(probs).any(axis=1)
        tables[module] = reliability(probs[keep], actual[keep], DISPLAY_BINS)
    return pd.DataFrame(rows), tables
