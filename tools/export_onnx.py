"""Write the ONNX exports gerec runs without TensorFlow, in the project's venv.

    python tools/export_onnx.py            # every export, into models/
    python tools/export_onnx.py --check    # exit 1 if any export in models/ is missing or differs

Exports (each records the SHA-256 of its source file; conversion is deterministic):

- every registry member with ``"backend": "onnx"`` whose weights are a Keras file in models/:
  ``models/<stem>.onnx`` (:func:`gerec.onnx_export.keras_to_onnx`); members whose weights are
  an ONNX graph already (trained outside Keras, e.g. by ``tools/train_pretrained_face.py``) are
  left as they are;
- MTCNN's three networks, from the weights packaged in ``mtcnn==1.0.0``:
  ``models/mtcnn_{pnet,rnet,onet}.onnx`` (:func:`gerec.faces.mtcnn_export.export_mtcnn`).

Run it again after retraining a member: a stale export is refused at load time (the member then
runs its Keras file, with a warning).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def export_members(folder: Path) -> list[Path]:
    """The ONNX members' exports, written into ``folder``."""
    from gerec.tf_quiet import quiet_tensorflow

    quiet_tensorflow()
    import keras

    from gerec.emotion.ensemble import onnx_export_path
    from gerec.emotion.registry import read_registry, resolve_weights
    from gerec.onnx_export import keras_to_onnx
    from gerec.versions import file_sha256

    spec = read_registry()
    written = []
    for member in spec.members:
        if member.backend != "onnx" or member.is_graph:  # a graph is its own weights: nothing to export
            continue
        source = resolve_weights(member, spec.directory)
        model = keras.models.load_model(str(source), compile=False)
        out = folder / onnx_export_path(source).name
        out.write_bytes(keras_to_onnx(model, file_sha256(source), member.name))
        written.append(out)
    return written


def export_all(folder: Path) -> list[Path]:
    """Every export, written into ``folder``."""
    from gerec.faces.mtcnn_export import export_mtcnn

    return export_members(folder) + export_mtcnn(folder)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with models/ instead of writing")
    args = parser.parse_args()
    from gerec.config import models_dir

    models = models_dir()
    if not args.check:
        for path in export_all(models):
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        differ = [
            p.name
            for p in export_all(Path(tmp))
            if not (models / p.name).is_file() or (models / p.name).read_bytes() != p.read_bytes()
        ]
    print("all exports up to date" if not differ else f"missing or different: {', '.join(differ)}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
