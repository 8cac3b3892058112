# SPDX-License-Identifier: GPL-3.0-or-later
"""The order-feature front end (amc.order_features, C++) and fusion heads (gr-amc fuse): the front end finds the
symbol rate blind and tells PSK orders apart; a head trained over a network that cannot separate them does;
the composed file runs wherever a model file runs (ModelRunner, the classifier block, evaluate) and its
contract (amc.front_end) is checked like every other key."""
import json

import numpy as np
import onnx
import pytest
import torch

from conftest import run_cli, run_classifier, zoo_contract
from gnuradio.amc import amc_python, batch, contract, fileio, runtime
from gnuradio.amc.classifier import ModelRunner
from gnuradio.amc.model_file import ModelFileError, read_contract
from gnuradio.amc.training import fusion, zoo
from gnuradio.amc.training.export import export_onnx

CLASSES = ["QPSK", "8PSK", "16PSK"]
L = 512
CONFIG = f"""name: psk-orders
description: three PSK orders on AWGN at 24 dB, 4..8 samples/symbol, random timing
classes: [{', '.join(CLASSES)}]
snrs: [24]
frames_per_class_snr: 64
frame_length: {L}
normalization: rms
format: hdf5
seed: 3
shard_size: 8
skip_samples: 256
source:
  samples_per_symbol: {{min: 4, max: 8, scale: log}}
  rolloff: {{min: 0.25, max: 0.45}}
channel:
  preset: awgn
"""


@pytest.fixture(scope="module")
def fused(tmp_path_factory):
    """An untrained cnn1 over the three PSK orders (it cannot tell them apart) and a head fused over it."""
    d = tmp_path_factory.mktemp("fusion")
    cfg = d / "psk.yml"
    cfg.write_text(CONFIG)
    torch.manual_seed(0)
    net = zoo.build("cnn1", len(CLASSES), L).eval()
    rep, layout = zoo.model_spec("cnn1")
    x, _, _, _ = batch.frames(str(cfg), 8, 5)
    blob, _ = export_onnx(net, contract.to_model_input(x, rep, layout), zoo_contract("cnn1", CLASSES, L))
    base = d / "base.onnx"
    fileio.atomic_write_bytes(blob, str(base))
    out, rep_path = d / "fused.onnx", d / "fused.json"
    p = run_cli("fuse", base, "--generate", cfg, "-o", out, "--frames", 3072, "--val-frames", 768,
                "--epochs", 20, "--hidden", 64, "--seed", 4, "--report", rep_path, "-q", check=True)
    assert "error" not in p.stderr
    return {"dir": d, "config": str(cfg), "base": base, "fused": out, "report": json.loads(rep_path.read_text())}


def test_front_end_finds_the_symbol_rate_blind():
    cfg = {"name": "t", "classes": ["QPSK", "16QAM", "8PSK"], "snrs": [20], "frames_per_class_snr": 8,
           "frame_length": 1024, "normalization": "rms", "format": "hdf5", "seed": 1, "shard_size": 1,
           "skip_samples": 256, "source": {"samples_per_symbol": {"min": 4, "max": 16, "scale": "log"},
                                           "rolloff": {"min": 0.2, "max": 0.5}},
           "channel": {"preset": "awgn"}}
    x, _, _, params = batch.frames(cfg, 60, 11, shard_size=1)
    true = np.array([p["samples_per_symbol"] for p in params])
    sps, t0 = amc_python.blind_symbol_rate(x)
    err = np.abs(sps / true - 1)
    assert np.median(err) < 0.001 and np.mean(err < 0.005) >= 0.9, np.sort(err)[-8:]
    assert np.all((t0 >= 0) & (t0 < sps))


def test_front_end_refuses_and_zeroes_bad_frames():
    assert amc_python.ORDER_FEATURES_SIZE == 307 and amc_python.ORDER_FEATURES_VERSION == 2
    assert amc_python.ORDER_FEATURES_MIN_VERSION == 1
    assert [amc_python.order_features_size(v) for v in (1, 2)] == [169, 307]
    assert contract.FRONT_ENDS["order-features"] == {1: 169, 2: 307}
    x = np.zeros((3, 512), np.complex64)
    x[1] = np.exp(2j * np.pi * 0.1 * np.arange(512))
    x[2, 7] = np.nan
    f = amc_python.order_features(x)
    assert f.shape == (3, 307) and f.dtype == np.float32
    assert not f[0].any() and not f[2].any() and f[1].any()
    # version 1 (the files fused before version 2) is version 2's first 169 features
    f1 = amc_python.order_features(x, version=1)
    assert f1.shape == (3, 169)
    np.testing.assert_array_equal(f1, f[:, :169])
    for bad in (0, 3):
        with pytest.raises(ValueError, match="version must be 1..2, got %d" % bad):
            amc_python.order_features(x, version=bad)
    with pytest.raises(ValueError, match="2-D"):
        amc_python.order_features(x[0])
    with pytest.raises(ValueError, match="128"):
        amc_python.order_features(x[:, :64])


def test_fuse_learns_the_orders_the_network_cannot(fused):
    info = fused["report"]["fusion"]
    assert info["val_accuracy_network"] < 0.5          # an untrained network: about one class in three
    assert info["val_accuracy"] >= 0.9, info
    assert info["command"].startswith("gr-amc fuse ") and info["presets"] == [fused["config"]]
    assert (info["weight_decay"], info["dropout"]) == (1e-4, 0.0)
    # on frames of another seed, through the classifier's own path
    runner = ModelRunner(str(fused["fused"]))
    assert runner.front_end == {"name": "order-features", "version": 2, "input": "features", "size": 307}
    x, y, _, _ = batch.frames(fused["config"], 384, 99)
    probs, status = runner.classify(x)
    assert np.all(status == 0)
    assert np.mean(probs.argmax(1) == y) >= 0.85


@pytest.mark.parametrize("args, message", [(["--dropout", "1.5"], "--dropout must be in"),
                                           (["--weight-decay", "-1"], "--weight-decay >= 0"),
                                           (["--frames", "100"], "--frames must be >= 1024")])
def test_fuse_refuses_bad_settings(fused, tmp_path, args, message):
    p = run_cli("fuse", fused["base"], "--generate", fused["config"], "-o", tmp_path / "x.onnx", *args)
    assert p.returncode != 0 and message in p.stderr
    assert not (tmp_path / "x.onnx").exists()


def test_a_version_1_file_still_runs(fused, tmp_path):
    """Files fused before version 2 (release 4's amc-default) declare order-features version 1 and get its 169
    features: a head trained on version-1 features, composed at version 1, runs through ModelRunner with the
    answers of the network plus that head."""
    proto, meta = read_contract(str(fused["fused"]))
    net = fusion.base_network(proto, meta)
    tr = fusion.head_data(net.SerializeToString(), meta, [fused["config"]], 1024, 5, version=1)
    va = fusion.head_data(net.SerializeToString(), meta, [fused["config"]], 256, 6, version=1)
    assert tr[1].shape == (1024, 169)
    head, _, _ = fusion.train_head(tr, va, hidden=16, epochs=2, seed=1)
    path = tmp_path / "v1.onnx"
    fileio.atomic_write_bytes(fusion.compose(net, head, meta, {"seed": 1}, version=1), str(path))
    runner = ModelRunner(str(path))
    assert runner.front_end == {"name": "order-features", "version": 1, "input": "features", "size": 169}
    x, _, _, _ = batch.frames(fused["config"], 16, 8)
    xin = runtime.contract_input(x, meta)
    with torch.no_grad():
        want = head(torch.from_numpy(runtime.onnx_predict(net.SerializeToString(), xin)),
                    torch.from_numpy(runtime.order_features_of(xin, meta[contract.META_REPRESENTATION],
                                                               meta[contract.META_INPUT_LAYOUT], 1))).numpy()
    np.testing.assert_allclose(runtime.onnx_predict(str(path), xin), want, atol=1e-4)
    with pytest.raises(ValueError, match="the head takes 169 features; order-features version 2 makes 307"):
        fusion.compose(net, head, meta, {"seed": 1})


def test_composed_file_holds_the_network_unchanged(fused):
    proto, meta = read_contract(str(fused["fused"]))
    assert meta[contract.META_FUSION]["network_output"] == "output"
    assert [i.name for i in proto.graph.input] == ["input", "features"]
    net = fusion.base_network(proto, meta)
    x, _, _, _ = batch.frames(fused["config"], 32, 7)
    xin = runtime.contract_input(x, meta)
    want = runtime.onnx_predict(str(fused["base"]), xin)
    got = runtime.onnx_predict(net.SerializeToString(), xin)
    np.testing.assert_allclose(got, want, atol=1e-5)
    # the head changes the answers (it is not a copy of the network's logits)
    assert np.max(np.abs(runtime.onnx_predict(str(fused["fused"]), xin) - want)) > 0.5


def test_classifier_block_runs_a_fused_model(fused):
    x, _, _, _ = batch.frames(fused["config"], 6, 21)
    clf, tags = run_classifier(fused["fused"], x.reshape(-1))
    labels = [str(t.value) for t in tags["amc:label"]]
    assert [t.offset for t in tags["amc:label"]] == [k * L for k in range(6)]
    probs, _ = ModelRunner(str(fused["fused"])).classify(x)
    assert labels == [CLASSES[i] for i in probs.argmax(1)]


def test_evaluate_and_fine_tuning_take_a_fused_file(fused, tmp_path):
    data = tmp_path / "psk.h5"
    run_cli("generate", "--config", fused["config"], "-n", 16, "--seed", 31, "--workers", 1, "--quiet",
            "--output", data, check=True)
    run_cli("evaluate", data, "-m", fused["fused"], "-o", tmp_path / "ev", check=True)
    rep = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert rep["models"][0]["metrics"]["overall"] >= 0.85
    p = run_cli("train", data, "-m", "cnn1", "-o", tmp_path / "ft.onnx", "--epochs", 1,
                "--init-weights", fused["fused"], check=True)
    assert "the network (without its fusion head) of" in p.stdout


def _with_meta(src, dst, **changes):
    m = onnx.load(str(src))
    props = {p.key: p.value for p in m.metadata_props}
    for k, v in changes.items():
        if v is None:
            props.pop(k, None)
        else:
            props[k] = v if isinstance(v, str) else json.dumps(v)
    del m.metadata_props[:]
    for k, v in props.items():
        m.metadata_props.add(key=k, value=v)
    onnx.save(m, str(dst))
    return str(dst)


@pytest.mark.parametrize("value, message", [
    ("{not json", "not valid JSON"),
    ({"name": "order-features", "version": 1}, "name, version, input and size"),
    ({"name": "cyclic", "version": 1, "input": "features", "size": 169}, "front end 'cyclic'"),
    ({"name": "order-features", "version": 3, "input": "features", "size": 307}, "version 3; this gr-amc computes versions 1, 2"),
    ({"name": "order-features", "version": 2, "input": "feats", "size": 307}, "names the input 'feats'"),
    ({"name": "order-features", "version": 2, "input": "features", "size": 12}, "version 2 makes 307 features, the model says size 12"),
    # a version-1 key on a head that takes version 2's 307 features
    ({"name": "order-features", "version": 1, "input": "features", "size": 169}, r"says tensor\(float\) \(N, 169\)"),
])
def test_a_wrong_front_end_key_is_refused(fused, tmp_path, value, message):
    bad = _with_meta(fused["fused"], tmp_path / "bad.onnx", **{contract.META_FRONT_END: value})
    with pytest.raises(ModelFileError, match=message):
        ModelRunner(bad)


def test_a_second_input_without_the_key_is_refused(fused, tmp_path):
    bad = _with_meta(fused["fused"], tmp_path / "bad.onnx", **{contract.META_FRONT_END: None})
    with pytest.raises(ModelFileError, match="has 2 inputs"):
        ModelRunner(bad)


def test_variants_of_a_fused_file_keep_the_head(fused, tmp_path):
    """int8 / float16: the network's variant with the same head and front end; rotation ensembles are refused."""
    x, _, _, _ = batch.frames(fused["config"], 64, 17)
    meta = read_contract(str(fused["fused"]))[1]
    xin = runtime.contract_input(x, meta)
    ref = runtime.onnx_predict(str(fused["fused"]), xin)
    for how in ("--int8", "--fp16"):
        out = tmp_path / f"v{how}.onnx"
        run_cli("variant", fused["fused"], how, "-o", out, check=True)
        proto, vmeta = read_contract(str(out))
        assert vmeta[contract.META_FRONT_END] == meta[contract.META_FRONT_END]
        assert [i.name for i in proto.graph.input] == ["input", "features"]
        got = runtime.onnx_predict(str(out), xin)
        assert np.mean(got.argmax(1) == ref.argmax(1)) >= 0.9
        if how == "--int8":
            assert vmeta["amc.quantization"].startswith("int8")
            assert any(n.op_type in ("QuantizeLinear", "MatMulInteger", "DynamicQuantizeLinear")
                       for n in proto.graph.node)
        head_nodes = [n for n in proto.graph.node if n.name.startswith(fusion.HEAD_PREFIX)]
        assert head_nodes and all(n.op_type not in ("QuantizeLinear", "DequantizeLinear") for n in head_nodes)
    p = run_cli("variant", fused["fused"], "--rotations", 4, "-o", tmp_path / "r.onnx")
    assert p.returncode == 2 and "not made into a rotation ensemble" in p.stderr


def test_probability_networks_are_refused(fused, tmp_path):
    probs = _with_meta(fused["base"], tmp_path / "probs.onnx", **{contract.META_OUTPUT: "probs"})
    p = run_cli("fuse", probs, "--generate", fused["config"], "-o", tmp_path / "f.onnx", "--frames", 1024)
    assert p.returncode == 2 and "outputs logits" in p.stderr
