# SPDX-License-Identifier: GPL-3.0-or-later
"""amc.classifier / amc.classifier_sink refuse every bad input at construction with a clear error:
missing file, not ONNX, metadata missing (the error names the keys and the parameters that can
supply them), shapes that contradict the metadata, and bad parameter values."""

import pytest

from amc_fixtures import tiny_models as tm
from gnuradio import amc  # noqa: E402

L = 32


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return tm.energy_model(str(tmp_path_factory.mktemp("m") / "energy.onnx"), frame_len=L)


@pytest.fixture(params=["classifier", "classifier_sink"])
def make(request):
    return getattr(amc, request.param)


def test_missing_file(make, tmp_path):
    path = str(tmp_path / "nope.onnx")
    with pytest.raises(FileNotFoundError) as e:
        make(path)
    assert path in str(e.value)


def test_unknown_shipped_name(make):
    with pytest.raises(FileNotFoundError) as e:
        make("no-such-shipped-model")
    assert "no-such-shipped-model" in str(e.value) and "shipped" in str(e.value)


@pytest.mark.parametrize("content", [b"this is not an onnx model\n", b"", bytes(range(256)) * 4])
def test_not_onnx(make, tmp_path, content):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(ValueError) as e:
        make(str(path))
    assert str(path) in str(e.value) and "not a valid ONNX model" in str(e.value)


def test_directory_is_not_a_model(make, tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        make(str(tmp_path))
    assert str(tmp_path) in str(e.value)


def test_missing_metadata_names_keys_and_parameters(make, tmp_path):
    path = tm.energy_model(str(tmp_path / "m.onnx"), frame_len=L,
                           drop_meta=("amc.classes", "amc.frame_length", "amc.representation"))
    with pytest.raises(ValueError) as e:
        make(path)
    msg = str(e.value)
    for key in ("amc.classes", "amc.frame_length", "amc.representation"):
        assert key in msg
    for param in ("classes=", "frame_len=", "representation="):
        assert param in msg
    assert "amc.input_layout" not in msg and "amc.normalization" not in msg
    # the same keys supplied as parameters: accepted
    blk = make(path, classes=["early", "late"], frame_len=L, representation="iq")
    assert blk.frame_len() == L and blk.classes() == ["early", "late"]


def test_no_metadata_at_all(make, tmp_path):
    import onnx
    path = tm.energy_model(str(tmp_path / "m.onnx"), frame_len=L)
    m = onnx.load(path)
    del m.metadata_props[:]
    onnx.save(m, path)
    with pytest.raises(ValueError) as e:
        make(path)
    msg = str(e.value)
    for key, param in (("amc.classes", "classes="), ("amc.frame_length", "frame_len="),
                       ("amc.input_layout", "input_layout="), ("amc.representation", "representation="),
                       ("amc.normalization", "normalization=")):
        assert key in msg and param in msg
    # amc.output is not stated and the model outputs probabilities: accepted when the rest is given
    blk = make(path, classes="early,late", frame_len=L, input_layout="N,2,L", representation="iq",
               normalization="rms")
    assert blk.metadata()["amc.output"] == "probs"


def test_unstated_output_that_is_not_probs(make, tmp_path):
    path = tm.energy_model(str(tmp_path / "m.onnx"), frame_len=L, output="logits",
                           drop_meta=("amc.output",))
    with pytest.raises(ValueError) as e:
        make(path)
    assert "amc.output" in str(e.value) and "output='logits'" in str(e.value)
    assert make(path, output="logits").metadata()["amc.output"] == "logits"


@pytest.mark.parametrize("kw,words", [
    (dict(frame_len=64), ["frame_len=64", "amc.frame_length=32"]),
    (dict(classes=["a", "b"]), ["classes=", "amc.classes"]),
    (dict(normalization="peak"), ["normalization='peak'", "amc.normalization='rms'"]),
    (dict(input_layout="N,L,2"), ["input_layout='N,L,2'", "amc.input_layout"]),
    (dict(representation="ap"), ["representation='ap'", "amc.representation"]),
    (dict(output="logits"), ["output='logits'", "amc.output"]),
])
def test_parameter_contradicting_metadata(make, good, kw, words):
    with pytest.raises(ValueError) as e:
        make(good, **kw)
    for w in words:
        assert w in str(e.value)


def test_shape_contradicts_frame_length(make, tmp_path):
    # the graph takes 64-sample frames, the metadata says 32
    path = tm.energy_model(str(tmp_path / "m.onnx"), frame_len=64, meta={"amc.frame_length": "32"})
    with pytest.raises(ValueError) as e:
        make(path)
    msg = str(e.value)
    assert "[N, 2, 64]" in msg or "['N', 2, 64]" in msg
    assert "amc.frame_length=32" in msg and "(N, 2, 32)" in msg


def test_shape_contradicts_layout(make, tmp_path):
    path = tm.energy_model(str(tmp_path / "m.onnx"), frame_len=L, meta={"amc.input_layout": "N,1,2,L"})
    with pytest.raises(ValueError) as e:
        make(path)
    assert "rank 3" in str(e.value) and "amc.input_layout=N,1,2,L" in str(e.value)
    path = tm.energy_model(str(tmp_path / "m2.onnx"), frame_len=L, meta={"amc.input_layout": "N,L,2"})
    with pytest.raises(ValueError) as e:
        make(path)
    assert "amc.input_layout=N,L,2" in str(e.value) and "(N, 32, 2)" in str(e.value)


def test_output_size_contradicts_classes(make, tmp_path):
    path = tm.energy_model(str(tmp_path / "m.onnx"), frame_len=L, n_outputs=2,
                           meta={"amc.classes": '["a", "b", "c"]'})
    with pytest.raises(ValueError) as e:
        make(path)
    assert "3 classes" in str(e.value) and "(N, 3)" in str(e.value)


@pytest.mark.parametrize("meta,words", [
    ({"amc.classes": "not json"}, ["amc.classes", "invalid"]),
    ({"amc.classes": "[]"}, ["amc.classes", "non-empty"]),
    ({"amc.classes": '["a", "a"]'}, ["duplicate"]),
    ({"amc.frame_length": "abc"}, ["amc.frame_length", "invalid"]),
    ({"amc.normalization": "loud"}, ["amc.normalization='loud'", "rms"]),
    ({"amc.representation": "polar"}, ["amc.representation='polar'", "iq, ap"]),
    ({"amc.input_layout": "2,L"}, ["amc.input_layout='2,L'", "N,2,L"]),
    ({"amc.output": "scores"}, ["amc.output='scores'", "probs, logits"]),
])
def test_invalid_metadata_values(make, tmp_path, meta, words):
    path = tm.energy_model(str(tmp_path / "m.onnx"), frame_len=L, meta=meta)
    with pytest.raises(ValueError) as e:
        make(path)
    for w in words:
        assert w in str(e.value), str(e.value)


@pytest.mark.parametrize("kw,words", [
    (dict(hop=-1), ["hop", "-1"]),
    (dict(hop=2.5), ["hop", "2.5"]),
    (dict(max_batch=0), ["max_batch", ">= 1", "0"]),
    (dict(threads=-2), ["threads", "-2"]),
    (dict(smoothing=0), ["smoothing", ">= 1"]),
    (dict(threshold=1.5), ["threshold", "[0, 1]", "1.5"]),
    (dict(threshold=-0.1), ["threshold", "[0, 1]"]),
    (dict(threshold="high"), ["threshold", "'high'"]),
    (dict(realtime="yes"), ["realtime", "'yes'"]),
    (dict(model=""), ["model", "''"]),
    (dict(model=None), ["model", "None"]),
])
def test_bad_parameter_values(make, good, kw, words):
    kw = dict(kw)
    model = kw.pop("model", good)
    with pytest.raises(ValueError) as e:
        make(model, **kw)
    for w in words:
        assert w in str(e.value), str(e.value)


def test_classes_parameter_forms(make, tmp_path):
    path = tm.energy_model(str(tmp_path / "m.onnx"), frame_len=L, drop_meta=("amc.classes",))
    for classes in (["early", "late"], ("early", "late"), "early,late", '["early", "late"]'):
        assert make(path, classes=classes).classes() == ["early", "late"]
    with pytest.raises(ValueError) as e:
        make(path, classes="a,a")
    assert "duplicate" in str(e.value)


def test_model_that_fails_to_run(make, tmp_path):
    # declared input has a symbolic frame length, but the graph only works for 32 samples
    # (Slice past the end is fine; so reshape to a wrong size instead through the layout)
    import onnx
    from onnx import TensorProto, helper
    path = str(tmp_path / "m.onnx")
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"]),
             helper.make_node("Softmax", ["r"], ["y"], axis=1)]
    graph = helper.make_graph(
        nodes, "bad", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, L])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        initializer=[helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 3])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    helper.set_model_props(m, {"amc.classes": '["a", "b"]', "amc.frame_length": str(L),
                               "amc.input_layout": "N,2,L", "amc.representation": "iq",
                               "amc.normalization": "rms", "amc.output": "probs"})
    onnx.save(m, path)
    with pytest.raises(ValueError) as e:
        make(path)
    assert path in str(e.value) and "fails on a batch" in str(e.value)
