"""The saliency sanity check on validation faces: each member's map with its class head randomised.

    python tools/saliency_sanity.py [--faces 20] [--seed 0] [--member NAME]

For each member of the registry (or one), the Spearman rank correlation between its map and the
map after its last layer's weights are randomised (:mod:`gerec.sanity`), on ``--faces`` faces
drawn with ``--seed`` from the validation split of FER-2013 ``train.npz`` (``$GEREC_DATA``; no
labels used). Prints per member the median and how many faces fall below 0.5 (the test's bar).
The test (``tests/test_explain.py``) checks the heaviest member on 3 fixture faces; this shows
every member on more faces, without touching the test split.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from gerec.config import fer_train_file
    from gerec.emotion.data import load_face_set
    from gerec.emotion.ensemble import FaceEnsemble
    from gerec.sanity import PASS_BELOW, SANITY_FACES, SanityFigures, map_rank_correlations, sample_faces

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=SANITY_FACES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--member", default="", help="one member's name (default: every member)")
    args = parser.parse_args(argv)
    val = load_face_set(fer_train_file()).validation()
    faces = sample_faces(val.images, args.faces, args.seed)
    ensemble = FaceEnsemble.load()
    names = ensemble.names
    if args.member and args.member not in names:
        parser.error(f"no member {args.member!r}; the registry has {', '.join(names)}")
    print(f"{len(faces)} validation faces (seed {args.seed}); members {', '.join(names)}")
    for k, name in enumerate(names):
        if args.member and name != args.member:
            continue
        with tempfile.TemporaryDirectory() as folder:
            rho = map_rank_correlations(ensemble.members, ensemble.weights, k, faces, Path(folder))
        figures = SanityFigures.of(rho)
        print(
            f"{name:<20} median rho {figures.median_rho:+.2f}, below {PASS_BELOW}: {figures.changed} "
            f"of {figures.faces}  [{', '.join(f'{r:+.2f}' for r in rho)}]",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
