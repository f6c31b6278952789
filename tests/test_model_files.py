"""Model files: the JSON shape is checked field by field; corrupt and missing are told apart."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from keras_member import keras_entry

from gerec.bn import load_scene_network, network_path
from gerec.bn.network import ZERO_COUNT_FLOOR
from gerec.bn.network_file import load_network
from gerec.config import models_dir
from gerec.emotion.registry import REGISTRY_FILE, read_registry
from gerec.errors import InvalidModelFile, ModelFileMissing

REGISTRY = json.loads((models_dir() / REGISTRY_FILE).read_text(encoding="utf-8"))
NETWORK = json.loads((models_dir() / "scene_bn.json").read_text(encoding="utf-8"))


def write(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def member(**changes):
    entry = dict(next(m for m in REGISTRY["members"] if m.get("enabled", True)))
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not KeyError}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected an ensemble registry .a JSON object., got a list"),
        ({**REGISTRY, "members": None}, "field 'members' must be a list, got null"),
        ({**REGISTRY, "members": {"a": 1}}, "field 'members' must be a list, got an object"),
        ({**REGISTRY, "members": [3]}, "expected a member entry .a JSON object., got a whole number"),
        ({**REGISTRY, "members": [member(input_size="48")]}, "field 'input_size' must be a whole number, got text"),
        (
            {**REGISTRY, "members": [member(input_size=True)]},
            "field 'input_size' must be a whole number, got true/false",
        ),
        ({**REGISTRY, "members": [member(weights=KeyError)]}, "field 'weights' is missing"),
        ({**REGISTRY, "members": [member(mapping=[["happy", "Positive"]])]}, "field 'mapping' must be an object"),
        ({**REGISTRY, "members": [member(classes=[1, 2])]}, "field 'classes' must be a list of class names"),
        ({**REGISTRY, "members": [member(temperature="1.2")]}, "field 'temperature' must be a number, got text"),
        ({**REGISTRY, "members": [member(temperature=0)]}, "temperature must be a positive number, got 0"),
        ({**REGISTRY, "members": [member(temperature=-1.5)]}, "temperature must be a positive number"),
        ({**REGISTRY, "face_confusion": []}, "field 'face_confusion' must be an object, got a list"),
        ({**REGISTRY, "face_confusion": {"matrix": [[1, 2], [3]]}}, "face_confusion.matrix"),
        ({**REGISTRY, "format": "x"}, "field 'format' must be"),
    ],
)
def test_registry_shape_errors_name_the_field(tmp_path, data, message):
    with pytest.raises(InvalidModelFile, match=message):
        read_registry(write(tmp_path, "ensemble.json", data))


def confusion(rows):
    return {**REGISTRY, "face_confusion": {**REGISTRY["face_confusion"], "matrix": rows}}


ENABLED = [m for m in REGISTRY["members"] if m.get("enabled", True)]
ALL_NULL = {c: None for c in ENABLED[0]["classes"]}
ONLY_POSITIVE = {c: ("Positive" if c == "happy" else None) for c in ENABLED[0]["classes"]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (confusion([[0, 0, 0], [37, 292, 167], [33, 128, 1176]]), "row Positive is .0.0, 0.0, 0.0.; counts must be"),
        (confusion([[637, 26, 59], [37, 292, 167], [-33, 128, 1176]]), "row Negative is .*; counts must be non-neg"),
        (confusion([[637, 26, 59], [37, 292, 167], [33, float("nan"), 1176]]), "row Negative is .*nan"),
        (confusion([[637, 26, 59], [37, 292, 167], [33, True, 1176]]), "'face_confusion.matrix' must be a 3x3 table"),
        (confusion([[1, 2, 3, 4]] * 3), "'face_confusion.matrix' must be 3x3, got shape .3, 4."),
        ({**REGISTRY, "members": [member(mapping=ALL_NULL)]}, "'mapping' sends its classes to null only.*.0, 0, 0."),
        ({**REGISTRY, "members": [member(mapping=ONLY_POSITIVE)]}, "every face would score 100 % Positive"),
        ({**REGISTRY, "members": [member(), member()]}, "member names must be distinct; listed twice"),
        ({**REGISTRY, "members": [member(enabled="no")]}, "field 'enabled' must be true/false, got text"),
        ({**REGISTRY, "members": [member(weight=0)]}, "every enabled member has weight 0"),
        ({**REGISTRY, "members": [member(weight=float("nan"))]}, "weight a non-negative number"),
        ({**REGISTRY, "members": [member(weight=-1)]}, "weight a non-negative number"),
        (
            {**REGISTRY, "members": [member(classes=["happy", "happy"], mapping={"happy": "Positive"})]},
            "names a class twice",
        ),
    ],
)
def test_registry_values_are_checked_when_read(tmp_path, data, message):
    path = write(tmp_path, "ensemble.json", data)
    with pytest.raises(InvalidModelFile, match=f"{path}: .*{message}"):
        read_registry(path)


def test_the_committed_registry_has_positive_counts_and_members_that_score():
    spec = read_registry()
    assert spec.face_confusion is not None and (spec.face_confusion > 0).all()
    assert all(m.mapping_matrix().any(axis=0).sum() >= 2 for m in spec.members)


def test_the_committed_registry_still_reads():
    assert read_registry().members


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected a scene network .a JSON object., got a list"),
        ({**NETWORK, "labels": None}, "field 'labels' must be a list, got null"),
        ({**NETWORK, "labels": [1] * len(NETWORK["labels"])}, "field 'labels' must be a list of label names"),
        ({**NETWORK, "prior": "0.3"}, "field 'prior' must be a list, got text"),
        ({**NETWORK, "prior": [[0.3], "x"]}, "field 'prior' must be a table of numbers"),
        ({**NETWORK, "p_present": [0.5]}, "field 'p_present' must have"),
        ({**NETWORK, "label_weight": None}, "field 'label_weight' must be a number, got null"),
        ({k: v for k, v in NETWORK.items() if k != "cnn_table"}, "field 'cnn_table' is missing"),
    ],
)
def test_network_shape_errors_name_the_field(tmp_path, data, message):
    with pytest.raises(InvalidModelFile, match=message):
        load_network(write(tmp_path, "scene_bn_tuned.json", data))


def scaled_rows(table, factor):
    return [[v * factor for v in row] for row in table]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"label_weight": float("nan")}, "field 'label_weight' must be a number from 0 to 100, got nan"),
        ({"label_weight": float("inf")}, "field 'label_weight' must be a number from 0 to 100, got inf"),
        ({"cnn_weight": -3}, "field 'cnn_weight' must be a number from 0 to 100, got -3.0"),
        ({"cnn_weight": 1e6}, "field 'cnn_weight' must be a number from 0 to 100"),
        ({"prior": [float("nan"), 0.5, 0.5]}, "field 'prior' holds NaN or infinity"),
        ({"prior": [0.5, 0.5, 0.5]}, "field 'prior' must be positive and sum to 1"),
        ({"prior": [1.2, -0.1, -0.1]}, "field 'prior' must be positive and sum to 1"),
        ({"prior": [True, 0.5, 0.5]}, "field 'prior' must be a table of numbers, got true/false"),
        ({"prior": ["0.2", 0.4, 0.4]}, "field 'prior' must be a table of numbers, got text"),
        ({"cnn_table": scaled_rows(NETWORK["cnn_table"], 2)}, "field 'cnn_table': rows must be positive and sum to 1"),
        (
            {"cnn_table": [[1.0, 0.0, 0.0], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8]]},
            "field 'cnn_table': rows must be positive",
        ),
        ({"cnn_base_rate": [0.2, 0.2, 0.2]}, "field 'cnn_base_rate' must be 3 positive numbers summing to 1"),
        ({"cnn_base_rate": [float("inf"), 0.5, 0.5]}, "field 'cnn_base_rate' must be 3 positive numbers"),
        (
            {"p_present": [[float("nan")] * 3] + NETWORK["p_present"][1:]},
            "field 'p_present' holds NaN or infinity",
        ),
        ({"p_present": [[1.0, 0.5, 0.5]] + NETWORK["p_present"][1:]}, "field 'p_present': .* strictly in .0, 1."),
        ({"absent_mask": [1] * len(NETWORK["labels"])}, "field 'absent_mask' must be a table of true/false values"),
    ],
)
def test_network_values_out_of_range_name_the_file_and_the_field(tmp_path, changes, message):
    path = write(
        tmp_path, "scene_bn_tuned.json", {**NETWORK, **changes}
    )  # json writes NaN and Infinity as Python reads them
    with pytest.raises(InvalidModelFile, match=f"{path}: .*{message}"):
        load_network(path)


def test_the_committed_networks_still_read():
    for mode in ("reference", "tuned"):
        net = load_scene_network(mode)
        assert np.isfinite(net.posterior(net.labels[:3], "Positive")).all()


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ([[0, 0, 0], [1, 2, 3], [3, 2, 1]], "need at least one count in every row"),
        ([[5, -1, 1], [1, 2, 3], [3, 2, 1]], "must be a 3x3 table of non-negative numbers"),
        ([[5, float("nan"), 1], [1, 2, 3], [3, 2, 1]], "must be a 3x3 table of non-negative numbers"),
        ([[1, 2]], "must be a 3x3 table of non-negative numbers"),
    ],
)
def test_a_cnn_table_from_counts_refuses_empty_rows_and_bad_counts(counts, message):
    with pytest.raises(InvalidModelFile, match=f"CNN confusion counts {message}"):
        load_network(models_dir() / "scene_bn.json").with_cnn_table(counts)


def test_a_zero_count_in_the_cnn_table_becomes_the_reference_floor_not_an_error():
    net = load_network(models_dir() / "scene_bn.json")
    photo = net.with_cnn_table([[0, 0, 6], [1, 2, 3], [3, 2, 1]])
    assert photo.cnn_table[0, :2] == pytest.approx([ZERO_COUNT_FLOOR] * 2, rel=1e-3)
    assert np.allclose(photo.cnn_table.sum(axis=1), 1) and np.isfinite(photo.posterior([], "Positive")).all()
    counts = np.array([[1, 2, 3], [1, 2, 3], [3, 2, 1]])
    assert net.with_cnn_table(counts).cnn_table.tolist() == (counts / 6).tolist()  # no zero: plain row shares


def test_corrupt_and_missing_are_told_apart(tmp_path):
    (tmp_path / "scene_bn.json").write_bytes(b"\x00\x01 not json")
    with pytest.raises(InvalidModelFile, match="not valid JSON"):
        load_network(tmp_path / "scene_bn.json")
    with pytest.raises(ModelFileMissing, match="not found"):
        load_network(tmp_path / "nothing.json")


def test_missing_tuned_network_is_an_error_not_the_reference(tmp_path):
    shutil.copy(models_dir() / "scene_bn.json", tmp_path / "scene_bn.json")
    assert network_path("tuned", tmp_path).name == "scene_bn_tuned.json"
    with pytest.raises(ModelFileMissing, match="tuned scene network .* is missing.*--mode reference"):
        load_scene_network("tuned", tmp_path)
    assert load_scene_network("reference", tmp_path).labels


@pytest.mark.slow
def test_corrupt_keras_file_is_not_called_missing(tmp_path):
    from gerec.emotion.ensemble import FaceEnsemble

    kept = keras_entry()  # a Keras member (models/ ships none since issue 19's round 16)
    data = {**REGISTRY, "members": [kept]}
    (tmp_path / kept["weights"]).write_bytes(b"PK\x03\x04 damaged zip")
    # no ONNX export beside it: the member falls back to its Keras file, which is damaged
    with (
        pytest.warns(RuntimeWarning, match="onnx not found"),
        pytest.raises(InvalidModelFile, match="exists but is not a readable Keras model"),
    ):
        FaceEnsemble.load(write(tmp_path, "ensemble.json", data))


def models_with_registry(tmp_path: Path, registry) -> Path:
    """A models folder with the committed scene networks and ``registry`` as its ensemble.json."""
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("scene_bn.json", "scene_bn_tuned.json"):
        shutil.copy(models_dir() / name, folder / name)
    write(folder, "ensemble.json", registry)
    return folder


def test_a_broken_registry_stops_the_pipeline_when_it_is_built(tmp_path, monkeypatch):
    from gerec.pipeline import Pipeline, PipelineConfig
    from gerec.scene.chain import LabelerChain

    folder = models_with_registry(tmp_path, confusion([[0, 0, 0], [37, 292, 167], [33, 128, 1176]]))
    monkeypatch.setenv("GEREC_MODELS", str(folder))
    with pytest.raises(InvalidModelFile, match=f"{folder / 'ensemble.json'}: field 'face_confusion.matrix'"):
        Pipeline(PipelineConfig(mode="reference"), labeler=LabelerChain([]))
    (folder / "ensemble.json").write_text(json.dumps(REGISTRY), encoding="utf-8")
    pipe = Pipeline(PipelineConfig(mode="reference"), labeler=LabelerChain([]))
    assert pipe._ensemble is None  # reading the registry loads no member: the first photo does
