"""Every image where gerec's reference mode and the reference decide differently, and why.

    python tools/reference_agreement.py [--rule exact|reference] [--csv OUT.csv] [--variants]

Reads the dev half (``$GEREC_DATA/gaf3``: ``val_labels_dev.json``, ``reference_cnn_val_dev.csv``,
``reference_predictions_val_dev.csv``; other files with ``--labels`` etc.) and the reference
network (``models/scene_bn.json``). For each image it computes gerec's posterior under four
inference rules in the same network, all exact up to floating point:

``exact``          every evidence factor counted (gerec before issue 20, and modern pgmpy);
``absent-once``    identical factors of *absent* labels counted once, present ones each;
``present-once``   identical factors of *present* labels counted once, absent ones each;
``reference``      identical factors counted once, whatever their state: what the reference's
                   pgmpy < 0.1.11 did (pgmpy issue #1261) and what ``--mode reference`` does now.

It lists each image where the rule chosen with ``--rule`` (default ``reference``) disagrees with
the reference's own decision, with the margin of both posteriors (``exact`` and ``reference``:
P(gerec's class) - P(the reference's class), positive when that posterior prefers gerec's class;
the reference's file has decisions, not probabilities) and the cause found:

``tie``                       gerec's two classes are within 1e-9;
``absent factors once``       the ``absent-once`` rule alone gives the reference's decision (a
                              per-class constant: the same absent labels for every image);
``present factors once``      the ``present-once`` rule alone does (two present labels with equal
                              training counts, e.g. "patient" and "ear", both 1/0/0);
``both``                      only the full ``reference`` rule does;
``unexplained``               none of the rules does.

Then a per-cause summary, and with ``--variants`` the agreement of other candidate causes (label
punctuation, the CNN table's published order, the zero floor, float32 values) for the record.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from gerec.agreement import REFERENCE_COLUMNS, read_reference_predictions
from gerec.bn import load_scene_network
from gerec.bn.fit import _REFERENCE_CONFUSION_PNN, row_normalise
from gerec.bn.network import SceneNetwork
from gerec.classes import CLASSES
from gerec.config import data_dir
from gerec.evaluation import read_cnn_predictions
from gerec.fileio import SafeDictWriter
from gerec.formatting import percent
from gerec.scene.simple import read_label_file

RULES = ("exact", "absent-once", "present-once", "reference")
MODULES = tuple(REFERENCE_COLUMNS)
TIE = 1e-9


def label_logits(net: SceneNetwork, present: np.ndarray, rule: str) -> np.ndarray:
    """log prior + the labels' log-likelihoods under ``rule`` (indices of present labels)."""
    absent = np.setdiff1d(np.flatnonzero(net.absent_mask), present)
    lp, lq = np.log(net.p_present[present]), np.log1p(-net.p_present[absent])
    if rule in ("absent-once", "reference"):
        lq = np.unique(lq, axis=0)
    if rule in ("present-once", "reference"):
        lp = np.unique(lp, axis=0)
    if rule == "reference":
        both = np.unique(np.vstack([np.exp(lp), np.exp(lq)]), axis=0)
        return np.log(net.prior) + np.log(both).sum(axis=0)
    return np.log(net.prior) + lp.sum(axis=0) + lq.sum(axis=0)


def posterior(logit: np.ndarray) -> np.ndarray:
    p = np.exp(logit - logit.max())
    return p / p.sum()


def decide(
    net: SceneNetwork, labels: dict[str, list[str]], cnn: dict[str, str | None], rule: str
) -> dict[str, dict[str, np.ndarray]]:
    """{image: {module: posterior}} under ``rule``."""
    index = {label: i for i, label in enumerate(net.labels)}
    out = {}
    for name, raw in labels.items():
        known, _ = net.split_labels(raw)
        logit = label_logits(net, np.array(sorted(index[k] for k in known), dtype=int), rule)
        fused = logit + net.cnn_log_likelihood(cnn.get(name))
        out[name] = {"top_down": posterior(logit), "fused": posterior(fused)}
    return out


def cause(image: str, module: str, wanted: str, runs: dict[str, dict]) -> str:
    """The first rule (in order of simplicity) whose decision equals the reference's."""
    chosen = runs["exact"][image][module]
    if abs(np.sort(chosen)[-1] - np.sort(chosen)[-2]) < TIE:
        return "tie"
    names = {"absent-once": "absent factors once", "present-once": "present factors once", "reference": "both"}
    for rule, label in names.items():
        if CLASSES[int(np.argmax(runs[rule][image][module]))] == wanted:
            return label
    return "unexplained"


def margin(probs: np.ndarray, ours: str, wanted: str) -> float:
    """P(gerec's class) - P(the reference's class): positive when this posterior prefers gerec's."""
    return float(probs[CLASSES.index(ours)] - probs[CLASSES.index(wanted)])


def report(net, labels, cnn, reference, rule: str, out_csv: Path | None) -> dict[str, Counter]:
    runs = {r: decide(net, labels, cnn, r) for r in RULES}
    for name in labels:  # the tool's reference rule is the library's (one rule, two codes)
        used = net.split_labels(labels[name])[0]
        lib = np.array(net.posterior(used, cnn.get(name)))
        assert np.allclose(lib, runs["reference"][name]["fused"], atol=1e-9), name
    rows: list = []
    summary: dict[str, Counter] = {m: Counter() for m in MODULES}
    for module in MODULES:
        for name in sorted(labels):
            ours = CLASSES[int(np.argmax(runs[rule][name][module]))]
            theirs = reference[name][module]
            if ours == theirs:
                continue
            why = cause(name, module, theirs, runs) if rule == "exact" else "unexplained"
            summary[module][why] += 1
            rows.append(
                {
                    "image": name,
                    "module": module,
                    "gerec": ours,
                    "reference": theirs,
                    "margin_exact": round(margin(runs["exact"][name][module], ours, theirs), 6),
                    "margin_reference_rule": round(margin(runs["reference"][name][module], ours, theirs), 6),
                    "cnn": cnn.get(name) or "",
                    "cause": why,
                    "labels": "|".join(net.split_labels(labels[name])[0]),
                }
            )
    n = len(labels)
    closest = min((abs(np.diff(np.sort(runs[rule][k][m])[-2:])[0]), k, m) for k in labels for m in MODULES)
    print(
        f"rule {rule!r}: {n} images; closest decision {closest[1]} {closest[2]}, top two classes {closest[0]:.2e} apart"
    )
    for module in MODULES:
        bad = sum(summary[module].values())
        print(f"  {module:<9} agreement {percent((n - bad) / n):>8}  ({n - bad}/{n}); differing {bad}")
    if rows:
        print("\nimage            module    gerec     reference margin(exact) margin(ref rule) cause")
        for r in rows:
            print(
                f"{r['image']:<16} {r['module']:<9} {r['gerec']:<9} {r['reference']:<9} "
                f"{r['margin_exact']:>13.4f} {r['margin_reference_rule']:>16.4f} {r['cause']}"
            )
    if out_csv is not None:
        with out_csv.open("w", newline="", encoding="utf-8") as handle:
            writer = SafeDictWriter(handle, fieldnames=list(rows[0]) if rows else ["image"])
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {out_csv}")
    return summary


def factor_stats(net: SceneNetwork) -> None:
    """How many labels share a training-count row, and how far apart distinct rows are."""
    rows, counts = np.unique(net.p_present, axis=0, return_counts=True)
    gaps = [np.abs(rows[i + 1 :] - rows[i]).max(axis=1).min() for i in range(len(rows) - 1)]
    print(
        f"network: {len(net.labels)} labels, {len(rows)} distinct rows of P(label | class); "
        f"{int((counts > 1).sum())} rows shared by {int(counts[counts > 1].sum())} labels "
        f"(largest group {int(counts.max())}); closest distinct rows differ by {min(gaps):.2e}"
    )


def variants(net: SceneNetwork, labels, cnn, reference) -> None:
    """Agreement (top-down / fused) of other candidate causes, each on top of the reference rule."""
    published = row_normalise(_REFERENCE_CONFUSION_PNN)  # Positive, Negative, Neutral taken as CLASSES
    floor = np.where(net.p_present == 1e-4, 1e-3, net.p_present)
    cases = {
        "reference rule (gerec now)": (net, labels),
        "exact inference (gerec before)": (net, labels),
        "+ hyphens in image labels read as spaces": (
            net,
            {k: [x.replace("-", " ") for x in v] for k, v in labels.items()},
        ),
        "+ CNN table in its published order, not reordered": (dataclasses.replace(net, cnn_table=published), labels),
        "+ zero floor 1e-3 instead of 1e-4": (dataclasses.replace(net, p_present=floor), labels),
        "+ CPD values rounded to float32": (
            dataclasses.replace(net, p_present=net.p_present.astype(np.float32).astype(float)),
            labels,
        ),
    }
    print("\ncandidate cause                                     top-down   fused")
    for title, (variant, lab) in cases.items():
        rule = "exact" if "exact" in title else "reference"
        run = decide(variant, lab, cnn, rule)
        rates = [np.mean([CLASSES[int(np.argmax(run[n][m]))] == reference[n][m] for n in lab]) for m in MODULES]
        print(f"{title:<50} {percent(rates[0]):>9} {percent(rates[1]):>9}")


def main(argv: list[str] | None = None) -> int:
    gaf = data_dir() / "gaf3"
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--labels", type=Path, default=gaf / "val_labels_dev.json")
    p.add_argument("--cnn-predictions", type=Path, default=gaf / "reference_cnn_val_dev.csv")
    p.add_argument("--reference-predictions", type=Path, default=gaf / "reference_predictions_val_dev.csv")
    p.add_argument(
        "--rule",
        choices=("exact", "reference"),
        default="reference",
        help="gerec's inference rule to list disagreements for (exact = before issue 20)",
    )
    p.add_argument("--csv", type=Path, help="write the listed images as CSV")
    p.add_argument("--variants", action="store_true", help="also measure other candidate causes")
    args = p.parse_args(argv)
    net = load_scene_network("reference")
    labels = read_label_file(args.labels)
    cnn = read_cnn_predictions(args.cnn_predictions)
    reference = read_reference_predictions(args.reference_predictions)
    labels = {k: v for k, v in labels.items() if k in reference}
    factor_stats(net)
    summary = report(net, labels, cnn, reference, args.rule, args.csv)
    print("\ncause                  " + "  ".join(f"{m:>9}" for m in MODULES))
    for why in sorted(set().union(*summary.values())) or ["(no disagreement)"]:
        print(f"{why:<22} " + "  ".join(f"{summary[m][why]:>9d}" for m in MODULES))
    if args.variants:
        variants(net, labels, cnn, reference)
    return 0


if __name__ == "__main__":
    sys.exit(main())
