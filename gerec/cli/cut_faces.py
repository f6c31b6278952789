"""``cut-faces IMAGES_DIR OUT_DIR``: aligned face crops of labelled group photos, by class.

Each photo's class comes from its name or folder (:func:`gerec.classes.true_class_of`: GAF's
``pos_``/``neu_``/``neg_`` prefixes or a class-named parent folder); its faces are detected,
aligned and written to ``OUT_DIR/<class>/<photo>_f<k>.png`` (never over an existing file), ready
for ``train-faces OUT_DIR``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from gerec.classes import CLASSES
from gerec.errors import GerecError, InvalidDataset, OutputError
from gerec.fileio import printable


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``cut-faces`` command."""
    p = sub.add_parser("cut-faces", help="write aligned face crops of labelled group photos into OUT_DIR/<class>/")
    p.add_argument("images", type=Path, help="folder of labelled group photos (searched recursively)")
    p.add_argument("out", type=Path, help="output folder; one subfolder per class is created")
    p.add_argument("--size", type=int, default=128, help="side of the square aligned crops (default 128)")
    p.add_argument("--min-confidence", type=float, default=0.90, help="MTCNN face confidence threshold")
    p.set_defaults(func=run)


def _write_new(folder: Path, stem: str, crop_rgb: Any) -> tuple[Path, bool]:
    """Write a PNG under a name no file has yet (``stem.png``, else ``stem-2.png``...); checked.

    Returns the path written and whether the name had to change to avoid overwriting.
    """
    import cv2

    ok, buf = cv2.imencode(".png", cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OutputError(f"could not encode the crop {stem}.png")
    for n in range(1, 10_000):
        target = folder / (f"{stem}.png" if n == 1 else f"{stem}-{n}.png")
        try:
            with target.open("xb") as handle:  # exclusive: never replaces an existing file
                handle.write(buf.tobytes())
            return target, n > 1
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    raise OutputError(f"{folder}: too many files named {stem}-N.png")


def cut_faces(images: Path, out: Path, size: int = 128, min_confidence: float = 0.90) -> Counter[str]:
    """Detect, align and write the faces of every labelled photo; returns faces written per class.

    Every write is checked (a refused write is an :class:`OutputError`), and no existing file is
    ever replaced: a name already taken gets ``-2``, ``-3``... (counted under ``"renamed"``).
    A photo that cannot be read or analysed (any error but a refused write) is named on stderr,
    counted under ``"failed"``, and the next photo goes on.
    """
    from gerec.classes import true_class_of
    from gerec.cli.common import find_images, progress
    from gerec.faces import FaceDetector, align_faces
    from gerec.imaging import load_image

    if not images.is_dir():
        raise InvalidDataset(f"{images}: not a folder of photos")
    photos = find_images([images])
    labelled = [(p, true_class_of(str(p))) for p in photos]
    skipped = sum(1 for _, cls in labelled if cls is None)
    if not any(cls for _, cls in labelled):
        raise InvalidDataset(f"{images}: no photo with a class (pos_/neu_/neg_ prefix or a class-named folder)")
    for cls in CLASSES:
        try:
            (out / cls).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the output folder {out / cls}: {exc.strerror or exc}") from exc
    detector = FaceDetector(min_confidence=min_confidence)
    counts: Counter[str] = Counter()
    todo = [(path, cls) for path, cls in labelled if cls is not None]
    for path, cls in progress(todo, "cutting faces"):
        try:
            photo = load_image(path)
            faces = detector.detect(photo.pixels)
            crops = align_faces(photo.pixels, faces, size)
        except GerecError as exc:  # InvalidImage, ImageTooLarge...: this photo only
            message = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # noqa: BLE001 - one photo never stops the others (as in classify)
            message = f"unexpected {type(exc).__name__}: {exc}"
        else:
            message = ""
        if message:
            print(f"skipped {printable(str(path))}: {message}", file=sys.stderr)
            counts["failed"] += 1
            continue
        for face, crop in zip(faces, crops):
            _, renamed = _write_new(out / cls, printable(f"{path.stem}_f{face.index}"), crop)
            counts[cls] += 1
            counts["renamed"] += renamed
    if skipped:
        print(f"{skipped} photo(s) without a class were left out", file=sys.stderr)
    return counts


def run(args: argparse.Namespace) -> int:
    """Cut the faces and print how many were written per class; exit 1 when some photos failed."""
    counts = cut_faces(args.images, args.out, args.size, args.min_confidence)
    print("  ".join(f"{cls}: {counts.get(cls, 0)}" for cls in CLASSES) + f"  -> {args.out}")
    if counts["renamed"]:
        print(
            f"{counts['renamed']} crop(s) got a -N suffix: a file of that name was already there "
            "(same photo name in another folder, or an earlier run)",
            file=sys.stderr,
        )
    if counts["failed"]:
        print(f"{counts['failed']} photo(s) could not be read or analysed", file=sys.stderr)
    return 1 if counts["failed"] else 0
