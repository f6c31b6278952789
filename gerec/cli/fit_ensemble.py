"""``fit-ensemble [--data train.npz] [--record-test test.npz]``: fit the face ensemble's members'
test-time views, weights and face confusion on the validation split (see
:mod:`gerec.emotion.fitting`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gerec.cli.common import add_face_data_option, add_registry_option


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``fit-ensemble`` command."""
    from gerec.emotion.fit_faces import FIT_FACES
    from gerec.emotion.fitting import FitOptions
    from gerec.emotion.views import TTA_MODES
    from gerec.emotion.weighting import AUTO_SCORE, CRITERIA, CV_DESIGN

    p = sub.add_parser("fit-ensemble", help="fit the face ensemble's views and weights on the validation split")
    add_face_data_option(
        p, "FER-2013 train.npz: the validation split is carved from it (10 %%, stratified, seed 0), under $GEREC_DATA"
    )
    add_registry_option(
        p,
        "the ensemble registry whose members are fitted; its weights, views and temperatures are "
        "rewritten in place, once, when the fit is done",
    )
    p.add_argument("--step", type=float, default=0.05, help="weight grid step")
    p.add_argument(
        "--max-members",
        type=_at_least_one,
        default=3,
        help="at most this many members get a weight (inference and saliency cost grow with each)",
    )
    p.add_argument("--max-grid", type=int, default=1_000_000, help="widen the step beyond this many points")
    p.add_argument(
        "--criterion",
        choices=("auto", *CRITERIA),
        default="auto",
        help="weight by 3-class validation accuracy, 3-class log-loss, or the mean of 3-class and 7-class "
        f"accuracy; auto picks the one with the best {AUTO_SCORE} ({CV_DESIGN})",
    )
    p.add_argument(
        "--faces",
        choices=FIT_FACES,
        default=FIT_FACES[0],
        help="score choices on the validation faces and a copy of them under group-photo corruptions "
        "(the robust training mix, seeded), or on the clean faces only",
    )
    p.add_argument(
        "--sanity-faces",
        type=int,
        default=FitOptions.sanity_faces,
        help="run the saliency sanity check on this many validation faces per weighted member (0: skip)",
    )
    p.add_argument(
        "--tta-modes",
        type=_modes,
        default=FitOptions.tta_modes,
        help=f"comma-separated test-time view modes each member may choose among, of {', '.join(TTA_MODES)} "
        f"(default {','.join(FitOptions.tta_modes)})",
    )
    p.add_argument(
        "--record-test",
        type=Path,
        default=None,
        help="only record the fitted ensemble's test figures (report only; nothing is chosen)",
    )
    p.set_defaults(func=run)


def _at_least_one(text: str) -> int:
    """``--max-members``: a whole number, 1 or more (1: the best single member, weight 1)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"at least one member must get a weight, got {value}")
    return value


def _modes(text: str) -> tuple[str, ...]:
    """``--tta-modes``: comma-separated TTA mode names, each known."""
    from gerec.emotion.views import covering_mode

    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    try:
        covering_mode(modes)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return modes


def run(args: argparse.Namespace) -> int:
    """Fit (or, with ``--record-test``, only measure) and rewrite the registry."""
    from gerec.emotion.fitting import FitOptions, fit, record_test

    if args.record_test:
        record_test(args.registry, args.record_test)
    else:
        options = FitOptions(
            args.step, args.max_grid, args.max_members, args.criterion, args.faces, args.sanity_faces, args.tta_modes
        )
        fit(args.registry, args.data, options)
    return 0
