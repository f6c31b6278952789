"""``fit-bn HISTOGRAM.csv -o models/scene_bn.json``: fit the reference scene network."""

from __future__ import annotations

import argparse
from pathlib import Path

from gerec.bn.fit import REFERENCE_ZERO_FLOOR, fit_reference
from gerec.fileio import replaced_atomically
from gerec.stopping import stop_signals


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``fit-bn`` command."""
    p = sub.add_parser("fit-bn", help="fit the scene network from a label histogram")
    p.add_argument("histogram", type=Path, help="CSV: label,positive,neutral,negative + a 'total' row")
    p.add_argument("-o", "--out", type=Path, default=Path("models/scene_bn.json"))
    p.add_argument(
        "--zero-floor",
        type=float,
        default=REFERENCE_ZERO_FLOOR,
        help="probability used for a count of 0 (reference: 1e-4)",
    )
    p.add_argument(
        "--exact-inference",
        action="store_true",
        help="count every evidence factor; by default identical factors count once, as the "
        "reference's pgmpy < 0.1.11 did (docs/reproduction.md)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Fit the network, check it in pgmpy, and write it. The file is replaced in one step: a stop
    signal while it is written leaves the previous network (and no temporary file) and exits with
    128 + the signal."""
    from gerec.bn.pgmpy_model import build_pgmpy_network

    net = fit_reference(args.histogram, zero_floor=args.zero_floor, collapse_identical_factors=not args.exact_inference)
    build_pgmpy_network(net)  # check_model() on the real structure before writing it
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with stop_signals(), replaced_atomically(args.out) as tmp:
        net.save(tmp)
    print(f"wrote {args.out}: {len(net.labels)} labels + CNN node, checked in pgmpy")
    return 0
