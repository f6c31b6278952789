"""``cut-faces IMAGES_DIR OUT_DIR``: aligned face crops of labelled group photos, by class.

Each photo's class comes from its name or folder (:func:`gerec.classes.true_class_of`: GAF's
``pos_``/``neu_``/``neg_`` prefixes or a class-named parent folder); its faces are detected,
aligned and written to ``OUT_DIR/<class>/<photo>_f<k>.png``, ready for ``train-faces OUT_DIR``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from gerec.classes import CLASSES


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``cut-faces`` command."""
    p = sub.add_parser("cut-faces", help="write aligned face crops of labelled group photos into OUT_DIR/<class>/")
    p.add_argument("images", type=Path, help="folder of labelled group photos (searched recursively)")
    p.add_argument("out", type=Path, help="output folder; one subfolder per class is created")
    p.add_argument("--size", type=int, default=128, help="side of the square aligned crops (default 128)")
    p.add_argument("--min-confidence", type=float, default=0.90, help="MTCNN face confidence threshold")
    p.set_defaults(func=run)


def cut_faces(images: Path, out: Path, size: int = 128, min_confidence: float = 0.90) -> Counter[str]:
    """Detect, align and write the faces of every labelled photo; returns faces written per class."""
    import cv2

    from gerec.classes import true_class_of
    from gerec.cli.common import find_images, progress
    from gerec.errors import InvalidDataset, InvalidImage
    from gerec.faces import FaceDetector, align_faces
    from gerec.imaging import load_image

    if not images.is_dir():
        raise InvalidDataset(f"{images}: not a folder of photos")
    photos = find_images([images])
    labelled = [(p, true_class_of(str(p))) for p in photos]
    skipped = sum(1 for _, cls in labelled if cls is None)
    if not any(cls for _, cls in labelled):
        raise InvalidDataset(f"{images}: no photo with a class (pos_/neu_/neg_ prefix or a class-named folder)")
    detector = FaceDetector(min_confidence=min_confidence)
    counts: Counter[str] = Counter()
    for cls in CLASSES:
        (out / cls).mkdir(parents=True, exist_ok=True)
    todo = [(path, cls) for path, cls in labelled if cls is not None]
    for path, cls in progress(todo, "cutting faces"):
        try:
            photo = load_image(path)
        except InvalidImage as exc:
            print(f"skipped {path}: {exc}", file=sys.stderr)
            continue
        faces = detector.detect(photo.pixels)
        crops = align_faces(photo.pixels, faces, size)
        for face, crop in zip(faces, crops):
            target = out / cls / f"{path.stem}_f{face.index}.png"
            cv2.imwrite(str(target), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
            counts[cls] += 1
    if skipped:
        print(f"{skipped} photo(s) without a class were left out", file=sys.stderr)
    return counts


def run(args: argparse.Namespace) -> int:
    """Cut the faces and print how many were written per class."""
    counts = cut_faces(args.images, args.out, args.size, args.min_confidence)
    print("  ".join(f"{cls}: {counts.get(cls, 0)}" for cls in CLASSES) + f"  -> {args.out}")
    return 0
