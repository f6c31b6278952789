"""Face members run from their ONNX exports: same probabilities as Keras, no TensorFlow, stale
or damaged exports told apart, and the committed exports reproducible from the Keras files.
Members whose weights are an ONNX graph (no Keras file) run from that graph."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import keras_member
import numpy as np
import pytest
from keras_member import make_keras_member
from tool_module import load_tool

from gerec.config import FER_TRAIN_FILE, models_dir
from gerec.emotion.ensemble import FaceEnsemble, KerasMember, OnnxMember, onnx_export_path
from gerec.emotion.registry import REGISTRY_FILE, read_registry, resolve_weights
from gerec.errors import InvalidModelFile
from gerec.onnx_runtime import EXPORT_COMMAND

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = json.loads((models_dir() / REGISTRY_FILE).read_text(encoding="utf-8"))
ONNX_MEMBERS = [m for m in read_registry().members if m.backend == "onnx"]
EXPORTED_MEMBERS = [m for m in ONNX_MEMBERS if not m.is_graph]  # a Keras file and its export


def test_the_registry_runs_its_trained_members_from_onnx() -> None:
    assert ONNX_MEMBERS, "no member of models/ensemble.json has backend 'onnx'"
    ensemble = FaceEnsemble.load()
    assert {type(m) for m in ensemble.members} == {OnnxMember}


def test_onnx_and_keras_give_the_same_probabilities_on_real_faces(fer_dir: Path, tmp_path: Path) -> None:
    data = np.load(fer_dir / FER_TRAIN_FILE)
    faces = np.repeat(data["images"][:256, :, :, None], 3, axis=3)
    registry, _ = _one_member_registry(tmp_path)  # a Keras member and its export
    onnx = FaceEnsemble.load(registry, backend="onnx").predict(faces)
    keras = FaceEnsemble.load(registry, backend="keras").predict(faces)
    assert list(keras.members) == [keras_member.NAME]
    for name in keras.members:
        assert np.abs(onnx.members[name] - keras.members[name]).max() < 1e-5, name
    assert np.abs(onnx.ensemble - keras.ensemble).max() < 1e-5
    assert (onnx.ensemble.argmax(1) == keras.ensemble.argmax(1)).all()


def test_the_onnx_ensemble_never_imports_tensorflow() -> None:
    code = (
        "import sys, numpy as np\n"
        "from gerec.emotion.ensemble import FaceEnsemble\n"
        "p = FaceEnsemble.load().predict(np.full((2, 60, 60, 3), 120, np.uint8)).ensemble\n"
        "assert p.shape == (2, 3) and np.allclose(p.sum(1), 1)\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def _one_member_registry(tmp_path: Path, *, export: bool = True) -> tuple[Path, Path]:
    """A registry in ``tmp_path`` with one Keras member and (unless ``export`` is false) its export
    beside it (keras_member)."""
    entry, _ = make_keras_member(tmp_path, export=export)
    return tmp_path / REGISTRY_FILE, tmp_path / entry["weights"]


def test_a_missing_export_runs_the_keras_file_with_a_warning(tmp_path: Path) -> None:
    registry, _ = _one_member_registry(tmp_path, export=False)
    with pytest.warns(RuntimeWarning, match="not found.*export_onnx.py.*Keras file instead"):
        ensemble = FaceEnsemble.load(registry)
    assert isinstance(ensemble.members[0], KerasMember)


def test_a_stale_export_is_refused(tmp_path: Path) -> None:
    registry, weights = _one_member_registry(tmp_path)
    other = next(p for p in models_dir().glob("*.onnx") if p != onnx_export_path(models_dir() / weights.name))
    shutil.copy(other, onnx_export_path(weights))  # an export made from another file
    with pytest.warns(RuntimeWarning, match="exported from another version"):
        ensemble = FaceEnsemble.load(registry)
    assert isinstance(ensemble.members[0], KerasMember)


def test_a_damaged_export_is_an_invalid_model_file(tmp_path: Path) -> None:
    registry, weights = _one_member_registry(tmp_path)
    onnx_export_path(weights).write_bytes(b"\x08\x07 not a graph")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no silent fallback: the user must see the file is damaged
        with pytest.raises(InvalidModelFile, match=f"not a readable ONNX graph.*{EXPORT_COMMAND}"):
            FaceEnsemble.load(registry)


def test_the_exports_are_what_the_converter_writes(tmp_path: Path, monkeypatch) -> None:
    """tools/export_onnx.py writes for a Keras member what keras_to_onnx gives (every committed Keras
    member's export too, when models/ has one: it has none since issue 19's round 16)."""
    import keras

    from gerec.onnx_export import keras_to_onnx
    from gerec.versions import file_sha256

    for spec in EXPORTED_MEMBERS:
        source = resolve_weights(spec, models_dir())
        model = keras.models.load_model(str(source), compile=False)
        assert keras_to_onnx(model, file_sha256(source), spec.name) == onnx_export_path(source).read_bytes()
    _, weights = _one_member_registry(tmp_path)
    monkeypatch.setenv("GEREC_MODELS", str(tmp_path))
    (tmp_path / "out").mkdir()  # as --check writes into a temporary folder
    (written,) = load_tool("export_onnx").export_members(tmp_path / "out")
    assert written.name == onnx_export_path(weights).name
    assert written.read_bytes() == onnx_export_path(weights).read_bytes()  # deterministic, byte for byte


def test_the_converter_refuses_layers_it_does_not_know() -> None:
    import keras
    from keras import layers

    from gerec.onnx_export import keras_to_onnx

    model = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(2, 3, dilation_rate=2), layers.Flatten()])
    with pytest.raises(ValueError, match="dilated"):
        keras_to_onnx(model, "0" * 64, "m")
    model = keras.Sequential([keras.Input((8, 8, 1)), layers.AveragePooling2D(2), layers.Flatten()])
    with pytest.raises(ValueError, match="AveragePooling2D.*not supported"):
        keras_to_onnx(model, "0" * 64, "m")
    face = keras.Input((8, 8, 1))
    branch = layers.Conv2D(2, 3)(face)
    model = keras.Model(face, layers.Flatten()(layers.Conv2D(2, 3)(face)) + 0 * layers.Flatten()(branch))
    with pytest.raises(ValueError, match="not supported|not a chain"):
        keras_to_onnx(model, "0" * 64, "m")


def test_the_keras_internals_the_converter_reads_are_there() -> None:
    """keras_to_onnx walks the graph through private Keras attributes (no public way exists in
    Keras 3; see gerec/onnx_export.py): a Keras that drops or reshapes them fails here, by name."""
    import keras
    from keras import layers

    from gerec.onnx_export import _history_key

    face = keras.Input((8, 8, 1))
    conv = layers.Conv2D(1, 3, padding="same")
    add = layers.Add()
    out = layers.Flatten()(add([conv(face), face]))
    model = keras.Model(face, out)
    for tensor in (face, out):
        assert hasattr(tensor, "_keras_history"), f"keras {keras.__version__}: KerasTensor._keras_history is gone"
    operation, node_index, tensor_index = out._keras_history
    assert (operation.name, node_index, tensor_index) == (model.layers[-1].name, 0, 0)
    for layer in (conv, add):
        assert hasattr(layer, "_inbound_nodes"), f"keras {keras.__version__}: Operation._inbound_nodes is gone"
        (node,) = layer._inbound_nodes
        assert hasattr(node, "input_tensors") and hasattr(node, "output_tensors"), "Node's tensors are gone"
    (node,) = add._inbound_nodes
    assert [_history_key(t) for t in node.input_tensors] == [
        _history_key(conv._inbound_nodes[0].output_tensors[0]),
        _history_key(face),
    ]
    assert _history_key(node.output_tensors[0]) == (id(add), 0, 0)
    assert _history_key(model.inputs[0]) == _history_key(face)


def test_a_residual_member_converts_and_gives_the_keras_probabilities() -> None:
    """The residual architecture (branches joined by Add) exports like the chains do."""
    import onnxruntime as ort

    from gerec.emotion.architectures import build_model
    from gerec.onnx_export import keras_to_onnx

    model = build_model("resnet", 48, 7, 1, width=0.25)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # non-trivial batch-norm statistics, so a wrong layout would show
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = layer.get_weights()
            shape = gamma.shape
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, shape),
                    rng.normal(0, 0.2, shape),
                    rng.normal(0, 0.2, shape),
                    rng.uniform(0.5, 2, shape),
                ]
            )
    assert any(type(layer).__name__ == "Add" for layer in model.layers)
    faces = rng.uniform(0, 1, (5, 48, 48, 1)).astype(np.float32)
    blob = keras_to_onnx(model, "0" * 64, "resnet")
    assert blob == keras_to_onnx(model, "0" * 64, "resnet")  # deterministic
    session = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input": faces})
    np.testing.assert_allclose(got, model.predict(faces, verbose=0), atol=1e-5)


def test_without_onnxruntime_the_members_run_their_keras_files(tmp_path, monkeypatch) -> None:
    """An environment without onnxruntime (set up before gerec needed it) still scores faces, and says why."""
    registry, _ = _one_member_registry(tmp_path)  # its export is there: only the runtime is missing
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    with pytest.warns(RuntimeWarning, match="onnxruntime package is not installed.*make install"):
        ensemble = FaceEnsemble.load(registry)
    assert isinstance(ensemble.members[0], KerasMember)


def _graph_member(tmp_path: Path, backend: str = "onnx") -> tuple[Path, Any]:
    """A registry in ``tmp_path`` whose one member's weights are an ONNX graph (no Keras file beside
    it), and the Keras model the graph was made from."""
    from gerec.emotion.architectures import build_model
    from gerec.onnx_export import keras_to_onnx

    model = build_model("vgg", 48, 7, 1, width=0.125)
    (tmp_path / "graph.onnx").write_bytes(keras_to_onnx(model, "", "graph"))
    entry = {**keras_member.keras_entry(), "name": "graph", "weights": "graph.onnx", "backend": backend, "tta": "none"}
    registry = tmp_path / "ensemble.json"
    registry.write_text(json.dumps({**REGISTRY, "members": [entry]}), encoding="utf-8")
    return registry, model


@pytest.mark.parametrize("backend", [None, "keras", "onnx"])
def test_a_member_whose_weights_are_an_onnx_graph_runs_that_graph(tmp_path: Path, backend) -> None:
    registry, model = _graph_member(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no export to be stale, no Keras file to fall back to
        ensemble = FaceEnsemble.load(registry, backend=backend)
    (member,) = ensemble.members
    assert isinstance(member, OnnxMember) and member.onnx_path == tmp_path / "graph.onnx"
    faces = np.random.default_rng(0).integers(0, 256, (6, 48, 48)).astype(np.uint8)
    expected = model.predict(faces[..., None].astype(np.float32) / 255.0, verbose=0)
    np.testing.assert_allclose(member.predict_raw(faces), expected, atol=1e-5)


def test_an_onnx_graph_cannot_claim_the_keras_backend(tmp_path: Path) -> None:
    registry, _ = _graph_member(tmp_path, backend="keras")
    with pytest.raises(InvalidModelFile, match="graph.onnx' is an ONNX graph; backend must be onnx"):
        read_registry(registry)


def test_the_exporter_leaves_graph_members_alone(tmp_path: Path, monkeypatch) -> None:
    registry, _ = _graph_member(tmp_path)
    before = (tmp_path / "graph.onnx").read_bytes()
    monkeypatch.setenv("GEREC_MODELS", str(tmp_path))
    assert load_tool("export_onnx").export_members(tmp_path / "out") == []
    assert (tmp_path / "graph.onnx").read_bytes() == before


def test_the_models_page_says_a_graph_member_runs_its_graph_whatever_is_asked() -> None:
    from gerec_app.ensemble_tables import backend_text

    assert backend_text("keras") == "Keras (TensorFlow)"
    assert backend_text("keras", is_graph=True) == backend_text("onnx", is_graph=True)
    assert "ONNX graph, no Keras file" in backend_text("keras", is_graph=True)


def test_the_sanity_check_randomises_a_graph_members_head(tmp_path: Path) -> None:
    """gerec.sanity on a member that is an ONNX graph: its last MatMul/Gemm gets random weights in a
    copy (the member's own file untouched), and the maps before and after are compared face by face."""
    from gerec.sanity import map_rank_correlations, randomised_top

    registry, _ = _graph_member(tmp_path)
    (member,) = FaceEnsemble.load(registry).members
    before = (tmp_path / "graph.onnx").read_bytes()
    (tmp_path / "copy").mkdir()
    changed = randomised_top(member, tmp_path / "copy")
    assert isinstance(changed, OnnxMember) and changed.onnx_path == tmp_path / "copy" / "graph.onnx"
    assert (tmp_path / "graph.onnx").read_bytes() == before
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48)).astype(np.uint8)
    assert not np.allclose(changed.predict_raw(faces), member.predict_raw(faces), atol=1e-4)
    rho = map_rank_correlations([member], [1.0], 0, faces[:2], tmp_path / "copy")
    assert rho.shape == (2,) and np.isfinite(rho).all() and (np.abs(rho) <= 1).all()
