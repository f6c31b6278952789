"""Per-photo time of gerec's bottom-up path vs the fer package's ``FER(mtcnn=True).detect_emotions``.

Ours: MTCNN detection (the mtcnn package's networks and weights exported to ONNX and run by ONNX
Runtime, the steps around them in numpy: see ``gerec.faces.mtcnn_onnx``), alignment, then every enabled ensemble
member once on all of the photo's faces (one batched call per member). Baseline: fer 22.4.0's
MTCNN (the same package, called eagerly as mtcnn does by default) + mini-Xception on the same
decoded pixels, given as BGR as fer documents. fer then hands those BGR pixels to MTCNN, which
expects RGB, so it finds fewer candidate faces and does less work; the same call on RGB pixels
is timed too ("fer-rgb", detection work like ours) and printed as a second ratio. Photos: the
shared ``group_photos``. All are warmed up on the first photo, then timed photo by photo,
alternating, in the same run; decoding is outside the timings.
The last line is ``ratio: <ours median / fer median>`` (fer as documented, BGR input).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import cv2

from gerec.cli.common import find_images
from gerec.config import data_dir
from gerec.emotion.ensemble import FaceEnsemble
from gerec.faces import FaceDetector, align_faces
from gerec.imaging import load_image


def main() -> None:
    photos_dir = data_dir() / "group_photos"
    if not photos_dir.is_dir():
        print(f"shared photos not found at {photos_dir}; nothing to time")
        sys.exit(0)
    from gerec.tf_quiet import quiet_tensorflow

    quiet_tensorflow()  # gerec's TensorFlow settings (oneDNN off) for both sides, before fer imports it
    from fer import FER

    photos = [load_image(p) for p in find_images([photos_dir])]
    detector = FaceDetector()
    eager_detector = FaceDetector(compile_graphs=False, runtime="keras")  # mtcnn's own eager calls
    ensemble = FaceEnsemble.load()
    baseline = FER(mtcnn=True)

    def ours(pixels):
        faces = detector.detect(pixels)
        ensemble.predict(align_faces(pixels, faces))
        return len(faces)

    def detect_only(d, pixels):
        t0 = time.perf_counter()
        d.detect(pixels)
        return time.perf_counter() - t0

    def fer(bgr):
        return len(baseline.detect_emotions(bgr))

    bgr = [cv2.cvtColor(p.pixels, cv2.COLOR_RGB2BGR) for p in photos]
    ours(photos[0].pixels), fer(bgr[0])  # warm-up (graph tracing, first calls)
    fer(photos[0].pixels)
    eager_detector.detect(photos[0].pixels)
    t_ours, t_fer, t_rgb, t_graph, t_eager = [], [], [], [], []
    print(f"members: {', '.join(ensemble.names)}")
    print(f"{'photo':<26}{'size':>11}{'faces':>7}{'fer faces':>10}{'ours s':>9}{'fer s':>8}{'fer-rgb s':>10}")
    for photo, image in zip(photos, bgr):
        t0 = time.perf_counter()
        n_ours = ours(photo.pixels)
        t1 = time.perf_counter()
        n_fer = fer(image)
        t2 = time.perf_counter()
        fer(photo.pixels)
        t3 = time.perf_counter()
        t_ours.append(t1 - t0)
        t_fer.append(t2 - t1)
        t_rgb.append(t3 - t2)
        t_graph.append(detect_only(detector, photo.pixels))
        t_eager.append(detect_only(eager_detector, photo.pixels))
        size = f"{photo.size[0]}x{photo.size[1]}"
        print(f"{photo.name:<26}{size:>11}{n_ours:>7}{n_fer:>10}{t1 - t0:>9.3f}{t2 - t1:>8.3f}{t3 - t2:>10.3f}")
    m_ours, m_fer, m_rgb = statistics.median(t_ours), statistics.median(t_fer), statistics.median(t_rgb)
    print(
        f"median per photo: ours {m_ours:.3f} s ({len(ensemble.names)} members), fer {m_fer:.3f} s, "
        f"fer-rgb {m_rgb:.3f} s"
    )
    m_graph, m_eager = statistics.median(t_graph), statistics.median(t_eager)
    print(
        f"detection alone, median per photo: ours (ONNX) {m_graph:.3f} s, mtcnn eager {m_eager:.3f} s "
        f"(ratio {m_graph / m_eager:.3f})"
    )
    print(f"ratio vs fer-rgb (same detection input): {m_ours / m_rgb:.3f}")
    print(f"ratio: {m_ours / m_fer:.3f}")


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
