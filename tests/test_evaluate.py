"""gr-amc evaluate: the arithmetic against predictions whose answer is known, MAC counting against hand-computed
graphs, and the whole command on a constant-output ONNX model."""
import json
import os

import h5py
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from gnuradio.amc import cli as amc_cli, contract
from gnuradio.amc.training import zoo
from gnuradio.amc import onnx_graph
from gnuradio.amc.training.export import export_onnx
from gnuradio.amc import evaluation


# ---------------------------------------------------------------------------------------------------------------
# helpers

def write_h5(path, frames, labels, snrs, classes, normalization="rms", seed=5):
    x = np.stack([frames.real, frames.imag], -1).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["X"] = x
        f["Y"] = np.eye(len(classes), dtype=np.int64)[labels]
        f["Z"] = np.asarray(snrs, np.int64)[:, None]
        f.attrs["classes"] = json.dumps(list(classes))
        f.attrs["config"] = json.dumps({"name": "unit", "normalization": normalization})
        f.attrs["seed"] = seed


def constant_model(path, classes, frame_length, winner, layout="N,2,L", extra_meta=None):
    """An ONNX model whose logits are the same for every frame: class `winner` (index into `classes`) wins."""
    shape = ["N"] + list(contract.input_shape(layout, frame_length)[1:])
    logits = np.full((1, len(classes)), -1.0, np.float32)
    logits[0, winner] = 3.0
    axes = list(range(1, len(shape)))
    nodes = [
        helper.make_node("ReduceSum", ["input", "axes"], ["s"], keepdims=0),       # (N,)
        helper.make_node("Mul", ["s", "zero"], ["z"]),
        helper.make_node("Unsqueeze", ["z", "ax1"], ["z1"]),                         # (N, 1)
        helper.make_node("Add", ["z1", "logits"], ["output"]),                       # (N, C)
    ]
    inits = [numpy_helper.from_array(np.array(axes, np.int64), "axes"),
             numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
             numpy_helper.from_array(np.array([1], np.int64), "ax1"),
             numpy_helper.from_array(logits, "logits")]
    g = helper.make_graph(nodes, "const", [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", len(classes)])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    meta = {contract.META_CLASSES: list(classes), contract.META_FRAME_LENGTH: frame_length,
            contract.META_INPUT_LAYOUT: layout, contract.META_REPRESENTATION: "iq",
            contract.META_NORMALIZATION: "rms", contract.META_OUTPUT: "logits", contract.META_MODEL: "const"}
    meta.update(extra_meta or {})
    for k, v in contract.encode_metadata(meta).items():
        e = m.metadata_props.add()
        e.key, e.value = k, v
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return path


# ---------------------------------------------------------------------------------------------------------------
# arithmetic

def test_compute_metrics_known_answer():
    classes = ["A", "B", "C"]
    labels = np.array([0, 0, 1, 1, 2, 2, 0, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0, 0, -1, 2, 2])
    snrs = np.array([0, 0, 0, 0, 0, 10, 10, 10, 20, 20])
    m = evaluation.compute_metrics(pred, labels, snrs, classes)
    assert m["frames"] == 10
    assert m["overall"] == pytest.approx(7 / 10)
    assert m["per_snr"] == {0.0: pytest.approx(4 / 5), 10.0: pytest.approx(1 / 3), 20.0: 1.0}
    # mean of the per-SNR accuracies at >= 10 dB, not the frame-weighted mean
    assert m["high_snr"] == pytest.approx((1 / 3 + 1.0) / 2)
    assert m["per_class"] == {"A": pytest.approx(2 / 3), "B": pytest.approx(2 / 3), "C": pytest.approx(3 / 4)}
    cm = np.array(m["confusion"])
    assert cm.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 3]]
    # the prediction -1 (a class the data does not have) is counted in no column
    assert cm.sum() == 9


def test_compute_metrics_rejects_length_mismatch():
    with pytest.raises(ValueError, match="same length"):
        evaluation.compute_metrics([0, 1], [0], [0, 0], ["A", "B"])


# ---------------------------------------------------------------------------------------------------------------
# MACs and weights from the ONNX graph

def test_count_macs_conv_gemm_gru():
    L, H = 16, 5
    w_conv = np.zeros((8, 2, 3), np.float32)                 # Conv1d 2 -> 8, k3, pad 1: out (1, 8, 16)
    w_gru = np.zeros((1, 3 * H, 8), np.float32)
    r_gru = np.zeros((1, 3 * H, H), np.float32)
    w_fc = np.zeros((4, H), np.float32)                      # Gemm transB: (1, H) x (H, 4)
    nodes = [
        helper.make_node("Conv", ["input", "wc"], ["c"], pads=[1, 1]),                     # (1, 8, L)
        helper.make_node("Transpose", ["c"], ["t"], perm=[2, 0, 1]),                       # (L, 1, 8)
        helper.make_node("GRU", ["t", "wg", "rg"], ["", "h"], hidden_size=H),              # h (1, 1, H)
        helper.make_node("Squeeze", ["h", "ax0"], ["hs"]),                                 # (1, H)
        helper.make_node("Gemm", ["hs", "wf"], ["output"], transB=1),                      # (1, 4)
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in
             ((w_conv, "wc"), (w_gru, "wg"), (r_gru, "rg"), (w_fc, "wf"), (np.array([0], np.int64), "ax0"))]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 2, L])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 4])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    conv = 8 * L * 2 * 3
    gru = L * (3 * H * 8 + 3 * H * H)
    gemm = 4 * H
    assert onnx_graph.count_macs(m) == conv + gru + gemm
    assert onnx_graph.count_weights(m) == w_conv.size + w_gru.size + r_gru.size + w_fc.size


def test_count_macs_of_exported_models_match_torch_layers():
    """MACs of exported zoo models against a count made with torch forward hooks on the same layers."""
    import torch
    for name in ("mnv4s", "cnn1", "lstm2"):
        L = 64
        net = zoo.build(name, 5, L).eval()
        rep, layout = zoo.model_spec(name)
        x = contract.to_model_input(np.exp(1j * np.arange(3 * L) / 5).reshape(3, L).astype(np.complex64), rep,
                                    layout)
        macs = []

        def hook(mod, inp, out):
            if isinstance(mod, (torch.nn.Conv1d, torch.nn.Conv2d)):
                macs.append(out[0].numel() * mod.weight[0].numel())
            elif isinstance(mod, torch.nn.Linear):
                macs.append(mod.in_features * mod.out_features)
            elif isinstance(mod, torch.nn.LSTM):
                macs.append(sum(p.numel() for n, p in mod.named_parameters() if n.startswith("weight")) * L)
        handles = [mod.register_forward_hook(hook) for mod in net.modules()]
        with torch.no_grad():
            net(torch.from_numpy(x[:1]))
        for h in handles:
            h.remove()
        expected = int(sum(macs))
        assert expected > 0
        meta = {contract.META_CLASSES: list("abcde"), contract.META_FRAME_LENGTH: L}
        blob, _ = export_onnx(net, x, meta)
        assert onnx_graph.count_macs(onnx.load_from_string(blob)) == expected, name


# ---------------------------------------------------------------------------------------------------------------
# the command

@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp("evaluate")
    rng = np.random.default_rng(3)
    classes = ["BPSK", "QPSK", "8PSK"]
    n, L = 120, 32
    labels = rng.integers(0, 3, n)
    snrs = rng.choice([-4, 0, 10, 12], n)
    frames = (rng.standard_normal((n, L)) + 1j * rng.standard_normal((n, L))).astype(np.complex64)
    path = str(d / "test.h5")
    write_h5(path, frames, labels, snrs, classes)
    return dict(dir=d, path=path, labels=labels, snrs=snrs, classes=classes, L=L)


def test_evaluate_command_on_constant_models(dataset, capsys):
    d, labels, snrs = dataset["dir"], dataset["labels"], dataset["snrs"]
    m1 = constant_model(str(d / "always_qpsk.onnx"), dataset["classes"], dataset["L"], winner=1)
    # different class order and an extra class the data lacks: labels are matched by name
    m2 = constant_model(str(d / "always_8psk.onnx"), ["16QAM", "8PSK", "BPSK", "QPSK"], dataset["L"], winner=1,
                        layout="N,1,2,L")
    out = d / "report"
    rc = amc_cli.main(["evaluate", dataset["path"], "-m", m1, m2, "-o", str(out), "--confusion-snrs", "0", "10",
                   "--latency-seconds", "0.05"])
    assert rc == 0
    rep = json.loads((out / "report.json").read_text())
    assert [r["name"] for r in rep["models"]] == ["always_qpsk", "always_8psk"]
    for r, cls in zip(rep["models"], (1, 2)):
        m = r["metrics"]
        assert m["overall"] == pytest.approx(np.mean(labels == cls))
        for s in (-4, 0, 10, 12):
            assert m["per_snr"][str(float(s))] == pytest.approx(np.mean(labels[snrs == s] == cls))
        assert m["high_snr"] == pytest.approx(np.mean([np.mean(labels[snrs == s] == cls) for s in (10, 12)]))
        assert m["per_class"][dataset["classes"][cls]] == 1.0
        cm = np.array(m["confusion"])
        assert cm[:, cls].tolist() == [int(np.sum(labels == k)) for k in range(3)]
        assert r["latency_ms_b1"] > 0 and r["latency_ms_b64"] > 0
        assert r["bytes"] == os.path.getsize(r["path"])
        assert r["macs"] == 0                         # no Conv/Gemm/MatMul/RNN in the graph
    md = (out / "report.md").read_text()
    assert "| Model | -4 | 0 | 10 | 12 | ≥10 dB | overall |" in md
    assert f"| always_qpsk | {np.mean(labels[snrs == -4] == 1):.3f} |" in md
    for f in ("accuracy_vs_snr.png", "confusion_always_qpsk_0dB.png", "confusion_always_8psk_10dB.png"):
        assert (out / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_refuses_frame_length_and_class_mismatch(dataset, capsys):
    d = dataset["dir"]
    bad_len = constant_model(str(d / "len64.onnx"), dataset["classes"], 64, winner=0)
    assert amc_cli.main(["evaluate", dataset["path"], "-m", bad_len, "-o", str(d / "r2"), "--no-latency"]) == 2
    err = capsys.readouterr().err
    assert "frames of 64 samples" in err and "32" in err
    bad_cls = constant_model(str(d / "cls.onnx"), ["BPSK", "QPSK"], dataset["L"], winner=0)
    assert amc_cli.main(["evaluate", dataset["path"], "-m", bad_cls, "-o", str(d / "r3"), "--no-latency"]) == 2
    assert "['8PSK']" in capsys.readouterr().err
    assert amc_cli.main(["evaluate", dataset["path"], "-m", str(d / "nope.onnx"), "-o", str(d / "r4")]) == 2
    assert "nope.onnx" in capsys.readouterr().err


def test_sweeps_report_per_class_accuracy(tmp_path):
    """--sweep timing sps: a table per sweep with one row per digital class and one column per value; the
    frames come from the batch generator (AWGN), so a model of random weights gives values in [0, 1]."""
    import json as _json
    from conftest import run_cli
    out = tmp_path / "sw"
    p = run_cli("evaluate", "-m", "amc-gru", "--sweep", "timing", "sps", "--sweep-frames", 4, "-o", out,
                check=True, timeout=600)
    res = _json.loads((out / "sweeps.json").read_text())
    assert [r["kind"] for r in res] == ["timing", "sps"]
    t = res[0]
    assert t["values"] == [k / 8 for k in range(8)]
    assert "WBFM" not in t["classes"] and "AM-DSB" not in t["classes"] and "QAM64" in t["classes"]
    assert all(len(a) == 8 and all(0 <= x <= 1 for x in a) for a in t["accuracy"].values())
    md = (out / "sweeps.md").read_text()
    assert "| class | 0/8 | 1/8 |" in md and "| **mean** |" in md and (out / "amc-gru_sweep_sps.png").is_file()
    p = run_cli("evaluate", "-m", "amc-gru")
    assert p.returncode == 2 and "give a test dataset file, or --sweep KIND" in p.stderr
