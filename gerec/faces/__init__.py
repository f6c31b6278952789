"""Face detection (MTCNN) and alignment."""

from gerec.faces.align import ALIGNED_SIZE, align_face, align_faces, eye_angle
from gerec.faces.detect import FaceDetector, clip_box

__all__ = ["ALIGNED_SIZE", "FaceDetector", "align_face", "align_faces", "clip_box", "eye_angle"]
