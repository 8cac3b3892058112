"""gr-amc train and the model zoo: a short training run on a tiny dataset made by `gr-amc generate` (loss falls,
ONNX export matches PyTorch and carries the contract, int8 variant), resume, export checks, errors, and the
classifier block running every exported zoo model."""
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from conftest import run_cli

from gnuradio.amc import contract, datasets, fileio, model_file, onnx_graph, runtime, variants
from gnuradio.amc.cli import train as cli_train
from gnuradio.amc.training import data as tdata
from gnuradio.amc.training import fit, zoo
from gnuradio.amc.training.export import export_onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = ["BPSK", "GMSK", "FM"]
L = 64


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """3 classes x 1 SNR x 96 frames of 64 samples from the demo preset (seed 11)."""
    from conftest import run_cli
    d = tmp_path_factory.mktemp("train")
    path = d / "tiny.h5"
    run_cli("generate", "--preset", "demo", "--classes", *CLASSES, "--snrs", "20", "-n", "96",
            "--frame-length", L, "--seed", 11, "--workers", 1, "--quiet", "--output", path, check=True)
    return d, path


def model_inputs(path, name):
    from gnuradio.amc.runtime import normalize
    data = datasets.load_data(str(path))
    rep, layout = zoo.model_spec(name)
    frames = normalize(data["frames"], "rms")[0]
    return contract.to_model_input(frames, rep, layout), data


def test_train_loss_falls_and_export_matches_pytorch(tiny):
    from conftest import run_cli
    d, path = tiny
    out, rep = d / "mnv4s.onnx", d / "mnv4s.json"
    p = run_cli("train", path, "-m", "mnv4s", "-o", out, "--epochs", 6, "--batch-size", 16, "--lr", "3e-3",
                "--seed", 3, "--threads", 1, "--int8", "--report", rep, check=True)
    assert "epoch   1/6" in p.stdout and "wrote" in p.stdout
    report = json.loads(rep.read_text())
    hist = report["history"]
    assert len(hist) == report["training"]["epochs_run"] >= 3
    assert hist[-1]["train_loss"] < 0.8 * hist[0]["train_loss"]
    assert min(h["val_loss"] for h in hist) < hist[0]["val_loss"]
    assert report["test_accuracy"] > 0.6                      # 3 classes: chance is 0.33

    # the contract in metadata_props
    proto = onnx.load(str(out))
    meta = contract.decode_metadata({e.key: e.value for e in proto.metadata_props})
    assert meta[contract.META_CLASSES] == CLASSES
    assert meta[contract.META_FRAME_LENGTH] == L
    assert meta[contract.META_INPUT_LAYOUT] == "N,1,2,L"
    assert meta[contract.META_REPRESENTATION] == "iq"
    assert meta[contract.META_NORMALIZATION] == "rms"
    assert meta[contract.META_OUTPUT] == "logits"
    assert meta[contract.META_MODEL] == "mnv4s"
    assert meta[contract.META_DATASET] == "demo seed 11"
    assert meta[contract.META_SEED] == "3"
    tr = meta[contract.META_TRAINING]
    assert tr["command"].startswith("gr-amc train ") and str(path) in tr["command"]
    assert tr["split"] == "6:2:2" and tr["optimizer"] == "Adam" and tr["epochs_run"] == len(hist)

    # ONNX Runtime against PyTorch with the best weights from the checkpoint, batch 1 and a larger batch
    x, data = model_inputs(path, "mnv4s")
    ck = torch.load(str(out) + ".ckpt", weights_only=False)
    net = zoo.build("mnv4s", len(CLASSES), L)
    net.load_state_dict(ck["state"]["best_state"])
    net.eval()
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x})[0]
    np.testing.assert_allclose(got, ref, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(sess.run(None, {"input": x[5:6]})[0], ref[5:6], atol=1e-4, rtol=1e-4)

    # int8 variant: smaller, same contract, accuracy change reported
    q = onnx.load(str(d / "mnv4s-int8.onnx"))
    qmeta = {e.key: e.value for e in q.metadata_props}
    assert qmeta["amc.quantization"].startswith("int8 static")
    assert all(qmeta[k] == e.value for k, e in ((e.key, e) for e in proto.metadata_props))
    assert report["int8"]["bytes"] < 0.5 * report["bytes"]
    assert abs(report["int8"]["accuracy_change"] - (report["int8"]["accuracy"] - report["int8"]["accuracy_float"])) \
        < 1e-9
    assert "int8" in p.stdout and "test accuracy" in p.stdout


def test_resume_gives_the_same_model_as_an_uninterrupted_run(tiny):
    from conftest import run_cli
    d, path = tiny
    common = ["train", path, "-m", "cnn1", "--batch-size", 48, "--seed", 5, "--threads", 1, "-q"]
    run_cli(*common, "-o", d / "straight.onnx", "--epochs", 3, "--report", d / "straight.json", check=True)
    run_cli(*common, "-o", d / "resumed.onnx", "--epochs", 2, check=True)
    p = run_cli(*common[:-1], "-o", d / "resumed.onnx", "--epochs", 3, "--resume", "--report",
                d / "resumed.json", check=True)
    assert "resumed from" in p.stdout and "after epoch 2" in p.stdout
    a = json.loads((d / "straight.json").read_text())["history"]
    b = json.loads((d / "resumed.json").read_text())["history"]
    assert [h["epoch"] for h in b] == [1, 2, 3]
    for ha, hb in zip(a, b):
        assert ha["train_loss"] == pytest.approx(hb["train_loss"], abs=1e-5)
        assert ha["val_loss"] == pytest.approx(hb["val_loss"], abs=1e-5)
    x, _ = model_inputs(path, "cnn1")
    outs = [ort.InferenceSession(str(d / f), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
            for f in ("straight.onnx", "resumed.onnx")]
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)


def test_cosine_schedule_and_resume_on_it(tiny):
    from conftest import run_cli
    d, path = tiny
    common = ["train", path, "-m", "cnn1", "--batch-size", 48, "--seed", 6, "--threads", 1, "-q",
              "--schedule", "cosine", "--lr", "4e-3", "--patience", 50]
    run_cli(*common, "-o", d / "cos.onnx", "--epochs", 2, "--report", d / "cos2.json", check=True)
    run_cli(*common, "-o", d / "cos.onnx", "--epochs", 4, "--resume", "--report", d / "cos4.json", check=True)
    lrs2 = [h["lr"] for h in json.loads((d / "cos2.json").read_text())["history"]]
    rep = json.loads((d / "cos4.json").read_text())
    lrs4 = [h["lr"] for h in rep["history"]]
    # 2-epoch run: 4e-3, 4e-3*(1+cos(pi/2))/2 = 2e-3; the resumed run keeps those and goes on with E = 4
    assert lrs2 == pytest.approx([4e-3, 2e-3], rel=1e-9)
    assert lrs4[:2] == pytest.approx(lrs2, rel=1e-9)
    assert lrs4[2:] == pytest.approx([4e-3 * (1 + np.cos(np.pi * k / 4)) / 2 for k in (2, 3)], rel=1e-9)
    assert rep["training"]["schedule"] == "cosine"
    assert fit.cosine_lr(1.0, 1, 10) == 1.0 and fit.cosine_lr(1.0, 6, 10) == pytest.approx(0.5)


def test_init_weights_fine_tunes_from_another_run(tiny):
    from conftest import run_cli
    d, path = tiny
    common = ["train", path, "-m", "cnn1", "--batch-size", 48, "--threads", 1]
    run_cli(*common, "--seed", 8, "-o", d / "base.onnx", "--epochs", 3, "-q", check=True)
    p = run_cli(*common, "--seed", 9, "-o", d / "tuned.onnx", "--epochs", 1, "--lr", "1e-9",
                "--init-weights", d / "base.onnx.ckpt", "--report", d / "tuned.json", check=True)
    assert "initialized from the best weights of" in p.stdout
    # with a learning rate of 1e-9 the fine-tuned model is the base run's best model
    base = torch.load(str(d / "base.onnx.ckpt"), weights_only=False)["state"]["best_state"]
    tuned = torch.load(str(d / "tuned.onnx.ckpt"), weights_only=False)["state"]["best_state"]
    for k in base:
        if base[k].is_floating_point():
            np.testing.assert_allclose(tuned[k].numpy(), base[k].numpy(), atol=1e-6, err_msg=k)
    rep = json.loads((d / "tuned.json").read_text())
    assert rep["training"]["init_weights"] == str(d / "base.onnx.ckpt")
    # another model's checkpoint, or no checkpoint at all: clear errors
    p = run_cli(*common, "-m", "resnet", "-o", d / "x.onnx", "--init-weights", d / "base.onnx.ckpt")
    assert p.returncode == 2 and "is for model 'cnn1'" in p.stderr
    (d / "junk.ckpt").write_bytes(b"not a checkpoint")
    p = run_cli(*common, "-o", d / "x.onnx", "--init-weights", d / "junk.ckpt")
    assert p.returncode == 2 and "is not a gr-amc training checkpoint" in p.stderr
    p = run_cli(*common, "-o", d / "x.onnx", "--init-weights", d / "nope.ckpt")
    assert p.returncode == 2 and "does not exist" in p.stderr


def test_init_weights_from_an_exported_onnx_file(tiny, tmp_path):
    """--init-weights FILE.onnx (or a shipped model's name) reads the weights back from the exported graph: with a
    vanishing learning rate the fine-tuned file computes what the base file computed; a file of another model,
    class list or normalization, a quantized file and a missing file are refused with clear errors."""
    from conftest import run_cli
    d, path = tiny
    common = ["train", path, "--batch-size", 48, "--threads", 1]
    run_cli(*common, "-m", "cnn1", "--seed", 8, "-o", tmp_path / "base.onnx", "--epochs", 2, "-q", check=True)
    p = run_cli(*common, "-m", "cnn1", "--seed", 9, "-o", tmp_path / "tuned.onnx", "--epochs", 1, "--lr", "1e-9",
                "--init-weights", tmp_path / "base.onnx", "--report", tmp_path / "tuned.json", check=True)
    assert f"initialized from the weights of {tmp_path / 'base.onnx'}" in p.stdout
    x, _ = model_inputs(path, "cnn1")
    base, tuned = (ort.InferenceSession(str(tmp_path / f), providers=["CPUExecutionProvider"]).run(
        None, {"input": x})[0] for f in ("base.onnx", "tuned.onnx"))
    np.testing.assert_allclose(tuned, base, atol=1e-4)
    import hashlib
    tr = json.loads((tmp_path / "tuned.json").read_text())["training"]
    assert tr["init_weights"] == str(tmp_path / "base.onnx")
    assert tr["init_weights_sha256"] == hashlib.sha256((tmp_path / "base.onnx").read_bytes()).hexdigest()

    def refused(*extra):
        p = run_cli(*common, "-o", tmp_path / "x.onnx", "--epochs", 1, *extra)
        assert p.returncode == 2 and not (tmp_path / "x.onnx").exists()
        return p.stderr
    assert "is model 'cnn1', 3 classes, frame length 64; this run has 'resnet'" in refused(
        "-m", "resnet", "--init-weights", tmp_path / "base.onnx")
    assert "trained on 'rms'-normalized frames, this run uses 'peak'; give --normalization rms" in refused(
        "-m", "cnn1", "--normalization", "peak", "--init-weights", tmp_path / "base.onnx")
    # a shipped model by name: 24 classes of 1024 samples do not fit this 3-class, 64-sample data set; the
    # default's network is int8, its float file is the one to fine-tune
    assert "is model 'rn1d', 24 classes, frame length 1024" in refused("-m", "rn1d", "--init-weights",
                                                                       "amc-default-fp32")
    from gnuradio.amc.training.fusion import network_of
    from gnuradio.amc.training.onnx_import import WeightImportError, onnx_weight_nodes
    with pytest.raises(WeightImportError, match="the graph is quantized .*fine-tune from the float model"):
        onnx_weight_nodes(network_of("amc-default")[0])
    assert len(onnx_weight_nodes(network_of("amc-default-fp32")[0])) >= 20
    assert "not found" in refused("-m", "cnn1", "--init-weights", tmp_path / "missing.onnx")
    variants.quantize_file(str(tmp_path / "base.onnx"), str(tmp_path / "base-int8.onnx"), calib_inputs=x[:32])
    assert "the graph is quantized" in refused("-m", "cnn1", "--init-weights", tmp_path / "base-int8.onnx")


@pytest.mark.parametrize("name", zoo.MODEL_NAMES)
def test_onnx_weights_import_every_zoo_model(name):
    """Every zoo model exported and read back into a freshly built one computes the same function; folded
    BatchNorms get the statistics of their input, so the training-mode output stays close to the eval-mode one."""
    from gnuradio.amc.training.onnx_import import WeightImportError, import_onnx_weights
    Lz, n_cls = 64, 5
    torch.manual_seed(3)
    net = zoo.build(name, n_cls, Lz)
    rep, layout = zoo.model_spec(name)
    rng = np.random.default_rng(4)
    z = (rng.standard_normal((300, Lz)) + 1j * rng.standard_normal((300, Lz))).astype(np.complex64)
    x = contract.to_model_input(z * np.linspace(0.5, 1.5, 300)[:, None].astype(np.float32), rep, layout)
    net.train()
    with torch.no_grad():                 # a few training-mode passes give the BatchNorms non-trivial statistics
        for _ in range(3):
            net(torch.from_numpy(x))
    net.eval()
    blob, _ = export_onnx(net, x[:64], {contract.META_MODEL: name})
    proto = onnx.load_from_string(blob)
    torch.manual_seed(5)                  # other random weights: the import must overwrite every one
    fresh = zoo.build(name, n_cls, Lz)
    diff, n_bn = import_onnx_weights(fresh, proto, x)
    assert diff < 1e-4
    assert n_bn == sum(isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) for m in net.modules())
    fresh.eval()
    with torch.no_grad():
        np.testing.assert_allclose(fresh(torch.from_numpy(x)).numpy(), net(torch.from_numpy(x)).numpy(),
                                   atol=1e-4, rtol=1e-4)
    if n_bn:
        for m in fresh.modules():         # eval-mode identity restored with the input's own statistics
            if isinstance(m, torch.nn.BatchNorm2d):
                np.testing.assert_allclose(m.weight.detach().numpy() ** 2, m.running_var.numpy() + m.eps,
                                           rtol=1e-5)
        fresh.train()
        with torch.no_grad():
            train_mode = fresh(torch.from_numpy(x)).numpy()
        fresh.eval()
        with torch.no_grad():
            eval_mode = fresh(torch.from_numpy(x)).numpy()
        assert np.mean(train_mode.argmax(1) == eval_mode.argmax(1)) > 0.9
    other = zoo.build(name, n_cls + 1, Lz)
    with pytest.raises(WeightImportError, match=r"layer \d+ \((Gemm|Conv)\).*the ONNX graph has shape"):
        import_onnx_weights(other, proto, x)


def test_widen_gru_keeps_the_function():
    torch.manual_seed(1)
    net = zoo.build("gru", 4, 32, hidden=8).eval()
    x = torch.randn(16, 32, 2)
    wide = zoo.widen_gru(net, 13).eval()
    assert wide.rnn.hidden_size == 13 and zoo.count_parameters(wide) == zoo.count_parameters(
        zoo.build("gru", 4, 32, hidden=13))
    with torch.no_grad():
        np.testing.assert_allclose(wide(x).numpy(), net(x).numpy(), atol=1e-6)
        assert float(wide.rnn.weight_ih_l0[13:21].abs().sum()) > 0      # new units: random inputs ...
        assert float(wide.rnn.weight_hh_l0[:8, 8:].abs().sum()) == 0    # ... no say in the old units yet
    with pytest.raises(ValueError, match="cannot narrow a gru from 8 to 6"):
        zoo.widen_gru(net, 6)
    with pytest.raises(ValueError, match="not a zoo gru model"):
        zoo.widen_gru(zoo.build("lstm2", 4, 32), 200)


def test_init_weights_widens_a_smaller_gru(tiny, tmp_path):
    """--hidden H with --init-weights from a gru with fewer units (checkpoint or ONNX file) starts from the same
    function: with a vanishing learning rate the wider file computes what the smaller one computed."""
    from conftest import run_cli
    d, path = tiny
    common = ["train", path, "-m", "gru", "--batch-size", 48, "--threads", 1, "--epochs", 1]
    run_cli(*common, "--hidden", 6, "--seed", 8, "-o", tmp_path / "small.onnx", "-q", check=True)
    x, _ = model_inputs(path, "gru")
    from gnuradio.amc.runtime import onnx_predict
    small = onnx_predict(str(tmp_path / "small.onnx"), x)
    for src in ("small.onnx", "small.onnx.ckpt"):
        out = tmp_path / f"wide-{src.replace('.', '-')}.onnx"
        p = run_cli(*common, "--hidden", 10, "--seed", 9, "-o", out, "--lr", "1e-9", "--init-weights",
                    tmp_path / src, check=True)
        assert "widened the gru from 6 to 10 hidden units" in p.stdout
        assert "parameters: " + f"{zoo.count_parameters(zoo.build('gru', 3, L, hidden=10)):,}" in p.stdout
        np.testing.assert_allclose(onnx_predict(str(out), x), small, atol=1e-4)
    p = run_cli(*common, "--hidden", 4, "-o", tmp_path / "x.onnx", "--init-weights", tmp_path / "small.onnx")
    assert p.returncode == 2 and "6 hidden units, this run 4 (--hidden): a gru can be widened, not narrowed" \
        in p.stderr and not (tmp_path / "x.onnx").exists()
    # the other recurrent model (no --hidden) fine-tunes from its own checkpoint as before
    lstm = ["train", path, "-m", "lstm2", "--batch-size", 48, "--threads", 1, "--epochs", 1, "-q"]
    run_cli(*lstm, "-o", tmp_path / "l.onnx", check=True)
    run_cli(*lstm, "-o", tmp_path / "l2.onnx", "--init-weights", tmp_path / "l.onnx.ckpt", check=True)


def test_fp16_variant_halves_the_gru_file(tiny, tmp_path):
    """--fp16 writes OUTPUT-fp16.onnx: float16 weights cast back to float32 at load. Half the size (the GRU,
    which int8 cannot shrink, included), the same contract, the same weight and MAC counts, outputs within
    float16 rounding of the float file's, and it runs in the classifier block and reads back into PyTorch."""
    import pmt
    from conftest import run_cli
    from gnuradio import amc, blocks, gr
    from gnuradio.amc.training.onnx_import import import_onnx_weights
    d, path = tiny
    out, rep = tmp_path / "g.onnx", tmp_path / "g.json"
    p = run_cli("train", path, "-m", "gru", "--hidden", 24, "-o", out, "--epochs", 2, "--batch-size", 32,
                "--seed", 4, "--threads", 1, "--fp16", "--report", rep, check=True)
    half = tmp_path / "g-fp16.onnx"
    assert f"wrote {half}" in p.stdout and "float16 weights" in p.stdout
    report = json.loads(rep.read_text())["fp16"]
    assert (report["bytes"], report["float_bytes"]) == (half.stat().st_size, out.stat().st_size)
    assert report["accuracy_change"] == pytest.approx(report["accuracy"] - report["accuracy_float"], abs=1e-12)
    f32, f16 = onnx.load(str(out)), onnx.load(str(half))
    m32 = {e.key: e.value for e in f32.metadata_props}
    m16 = {e.key: e.value for e in f16.metadata_props}
    assert m16.pop("amc.quantization").startswith("float16 weights") and m16 == m32
    assert {t.data_type for t in f16.graph.initializer if np.prod(t.dims) > 1} == {onnx.TensorProto.FLOAT16}
    n_weights = zoo.count_parameters(zoo.build("gru", len(CLASSES), L, hidden=24))
    assert onnx_graph.count_weights(f16) == onnx_graph.count_weights(f32) == n_weights
    # 2 of every weight's 4 bytes saved, less a few dozen bytes per Cast node (the rest of this tiny file is
    # its metadata, which stays)
    assert 2 * n_weights > report["float_bytes"] - report["bytes"] > 2 * n_weights - 120 * len(f16.graph.initializer)
    assert onnx_graph.count_macs(f16) == onnx_graph.count_macs(f32) > 0
    x, _ = model_inputs(path, "gru")
    ref, got = runtime.onnx_predict(str(out), x), runtime.onnx_predict(str(half), x)
    np.testing.assert_allclose(got, ref, atol=2e-2 * np.abs(ref).max())
    assert np.mean(got.argmax(1) == ref.argmax(1)) >= 0.97
    # the weights read back into PyTorch are the float16 values: PyTorch then computes what the file computes
    net = zoo.build("gru", len(CLASSES), L, hidden=24)
    diff, _ = import_onnx_weights(net, f16, x)
    assert diff < 1e-4
    # the classifier block runs it: one amc:label tag per frame, the file's own prediction
    stream = datasets.load_data(str(path))["frames"][:4].reshape(-1)
    tb = gr.top_block()
    snk = blocks.vector_sink_c()
    src, clf = blocks.vector_source_c(stream.tolist(), False), amc.classifier(model=str(half))  # kept alive
    tb.connect(src, clf, snk)
    tb.run()
    labels = [pmt.symbol_to_string(t.value) for t in snk.tags() if pmt.symbol_to_string(t.key) == contract.TAG_LABEL]
    assert labels == [CLASSES[i] for i in got[:4].argmax(1)]
    with pytest.raises(ValueError, match="already quantized"):
        variants.float16_file(str(half), str(tmp_path / "again.onnx"))
    # gr-amc evaluate names the kind of file in its size table
    run_cli("evaluate", path, "-m", out, half, "--names", "f32", "f16", "-o", tmp_path / "ev", check=True)
    md = (tmp_path / "ev" / "report.md").read_text()
    assert "| f32 | gru | " in md and "| f16 | gru float16 | " in md


def test_clip_grad_bounds_every_step(tiny, tmp_path):
    """--clip-grad clips the gradient norm before each Adam step: clipped to 1e-12 (far below Adam's eps of 1e-8)
    the steps vanish and fine-tuning leaves the weights where they started; unclipped, the same run moves them."""
    from conftest import run_cli
    d, path = tiny
    common = ["train", path, "-m", "cnn1", "--batch-size", 48, "--threads", 1, "-q"]
    run_cli(*common, "--seed", 8, "-o", tmp_path / "base.onnx", "--epochs", 1, check=True)
    base = torch.load(str(tmp_path / "base.onnx.ckpt"), weights_only=False)["weights"]

    def tuned(tag, *extra):
        run_cli(*common, "--seed", 9, "-o", tmp_path / f"{tag}.onnx", "--epochs", 1, "--lr", "1e-2",
                "--init-weights", tmp_path / "base.onnx.ckpt", "--report", tmp_path / f"{tag}.json", *extra,
                check=True)
        return torch.load(str(tmp_path / f"{tag}.onnx.ckpt"), weights_only=False)["weights"]

    clipped, free = tuned("clipped", "--clip-grad", "1e-12"), tuned("free")
    moved = 0.0
    for k in base:
        if base[k].is_floating_point() and "running" not in k:
            np.testing.assert_allclose(clipped[k].numpy(), base[k].numpy(), atol=1e-5, err_msg=k)
            moved = max(moved, float((free[k] - base[k]).abs().max()))
    assert moved > 1e-3
    assert json.loads((tmp_path / "clipped.json").read_text())["training"]["clip_grad"] == 1e-12
    assert json.loads((tmp_path / "free.json").read_text())["training"]["clip_grad"] is None
    p = run_cli(*common, "-o", tmp_path / "x.onnx", "--clip-grad", "-1")
    assert p.returncode == 2 and "--clip-grad must be a finite number >= 0" in p.stderr


def test_several_files_train_as_one(tiny, tmp_path):
    """Files made with different seeds are joined (frames copied once, in order) and trained on as one data set;
    files that disagree on classes or frame length are refused with both names in the message."""
    from conftest import run_cli
    d, path = tiny

    def make(name, classes=CLASSES, n=48, length=L, seed=12):
        out = tmp_path / name
        run_cli("generate", "--preset", "demo", "--classes", *classes, "--snrs", "20", "-n", n,
                "--frame-length", length, "--seed", seed, "--workers", 1, "--quiet", "--output", out, check=True)
        return out

    second = make("second.h5")
    a, b = datasets.load_data(str(path)), datasets.load_data(str(second))
    both = tdata.load_training_data([str(path), str(second)])
    assert both["frames"].shape == (96 * 3 + 48 * 3, L) and both["frames"].dtype == np.complex64
    from gnuradio.amc.runtime import normalize   # each file re-normalized by the C++ kernel
    np.testing.assert_array_equal(both["frames"], np.concatenate(
        [normalize(x["frames"], "rms")[0] for x in (a, b)]))
    np.testing.assert_allclose(both["frames"], np.concatenate([a["frames"], b["frames"]]), atol=1e-6)
    np.testing.assert_array_equal(both["labels"], np.concatenate([a["labels"], b["labels"]]))
    np.testing.assert_array_equal(both["snrs"], np.concatenate([a["snrs"], b["snrs"]]))
    assert both["classes"] == CLASSES and both["normalization"] == "rms"
    assert both["names"] == ["demo seed 11", "demo seed 12"]

    out, rep = tmp_path / "both.onnx", tmp_path / "both.json"
    p = run_cli("train", path, second, "-m", "cnn1", "-o", out, "--epochs", 1, "--batch-size", 48, "--seed", 2,
                "--threads", 1, "--report", rep, check=True)
    assert f"on {path} + {second}: 432 frames of {L} samples" in p.stdout
    report = json.loads(rep.read_text())
    assert report["training"]["frames"] == 432
    assert report["training"]["data"] == "tiny.h5 + second.h5"
    assert report["metadata"][contract.META_DATASET] == "demo seed 11 + demo seed 12"

    with pytest.raises(ValueError, match=r"other.h5' has the classes \['BPSK', 'GMSK'\]; .*tiny.h5' has"):
        tdata.load_training_data([str(path), str(make("other.h5", classes=["BPSK", "GMSK"], n=8))])
    with pytest.raises(ValueError, match=r"short.h5' has frames of 32 samples; .*tiny.h5' has 64"):
        tdata.load_training_data([str(path), str(make("short.h5", n=8, length=32))])


def test_train_errors(tiny, tmp_path, capsys):
    from gnuradio.amc import cli as amc_cli
    d, path = tiny

    def err(*argv):
        with pytest.raises(SystemExit) if "vgg" in argv else _no_exit():
            rc = amc_cli.main(["train", *map(str, argv)])
            assert rc == 2
        return capsys.readouterr().err

    e = err(tmp_path / "missing.h5", "-m", "gru", "-o", tmp_path / "m.onnx")
    assert "missing.h5" in e and "does not exist" in e
    assert "m.onnx.ckpt' does not exist" in err(path, "-m", "gru", "-o", tmp_path / "m.onnx", "--resume")
    assert "must end with .onnx" in err(path, "-m", "gru", "-o", tmp_path / "m.pt")
    assert "invalid choice: 'vgg'" in err(path, "-m", "vgg", "-o", tmp_path / "m.onnx")
    assert "--hidden applies to the gru model only" in err(path, "-m", "cnn1", "--hidden", 8, "-o",
                                                           tmp_path / "m.onnx")
    assert "only 0 frames left" in err(path, "-m", "cnn1", "-o", tmp_path / "m.onnx", "--min-snr", 30)
    assert not (tmp_path / "m.onnx").exists()


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_export_refuses_a_graph_that_differs_from_pytorch():
    class Drifting(torch.nn.Module):        # the traced graph freezes a value that PyTorch redraws every call
        def forward(self, x):
            return x.mean(dim=2) + float(np.random.uniform(1, 2))
    x = np.ones((4, 2, 16), np.float32)
    with pytest.raises(RuntimeError, match="differs from PyTorch.*not written"):
        export_onnx(Drifting(), x, {contract.META_MODEL: "drift"})


def test_zoo_sizes():
    assert zoo.count_parameters(zoo.build("mnv4", 24, 1024)) == 2_501_816
    net = zoo.build("gru", 11, 128)
    x = np.zeros((2, 128, 2), np.float32)
    meta = {contract.META_CLASSES: list(contract.CLASSES_2016), contract.META_FRAME_LENGTH: 128,
            contract.META_TRAINING: {"command": "x" * 300}}
    blob, _ = export_onnx(net, x, meta)
    assert len(blob) <= 73_500
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        zoo.build("vgg", 3, 64)
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        zoo.build("cnn1", 1, 64)


@pytest.mark.parametrize("name, classes, frame_length", [("amc-default", contract.CLASSES_2018, 1024),
                                                          ("amc-default-fp32", contract.CLASSES_2018, 1024),
                                                          ("amc-gru", contract.CLASSES_2016, 128)])
def test_shipped_models_carry_the_contract(name, classes, frame_length):
    """The shipped files: found by name, the contract of their preset, outputs of the class count, and the GRU
    within the seed paper's 73.5 kB."""
    import os
    from gnuradio.amc import paths
    path = paths.resolve_model(name)
    _, meta = model_file.read_contract(path)
    assert meta[contract.META_CLASSES] == list(classes) and meta[contract.META_FRAME_LENGTH] == frame_length
    assert meta[contract.META_NORMALIZATION] == ("l1" if name == "amc-gru" else "rms")
    assert meta[contract.META_OUTPUT] == "logits"
    rep, layout = zoo.model_spec(meta[contract.META_MODEL])
    assert (meta[contract.META_REPRESENTATION], meta[contract.META_INPUT_LAYOUT]) == (rep, layout)
    z = np.exp(2j * np.pi * 0.01 * np.arange(2 * frame_length)).reshape(2, frame_length).astype(np.complex64)
    from gnuradio.amc.runtime import onnx_predict
    assert onnx_predict(path, contract.to_model_input(z, rep, layout)).shape == (2, len(classes))
    if name == "amc-gru":
        assert os.path.getsize(path) <= 73_500
    # networks trained on the fly on the receiver-like presets (docs/models.md); the default with its fusion head
    assert meta[contract.META_MODEL] == ("gru" if name == "amc-gru" else "rn1d")
    assert meta["amc.dataset"] == ("wild2016" if name == "amc-gru" else "wild")
    assert meta.get(contract.META_ROTATIONS) is None


@pytest.mark.parametrize("name", zoo.MODEL_NAMES)
def test_classifier_block_runs_exported_zoo_model(name, tmp_path):
    """Every zoo model, exported by export_onnx, runs in amc.classifier; the block's amc:probs equal the
    softmax of PyTorch's logits on the same frames."""
    import pmt
    from conftest import run_classifier, zoo_contract
    from gnuradio import amc
    n_frames, Lz, classes = 5, 32, ["BPSK", "QPSK", "8PSK"]
    torch.manual_seed(0)
    net = zoo.build(name, len(classes), Lz).eval()
    rep, layout = zoo.model_spec(name)
    rng = np.random.default_rng(1)
    stream = (rng.standard_normal(n_frames * Lz + 7) + 1j * rng.standard_normal(n_frames * Lz + 7)) * 3
    stream = stream.astype(np.complex64)
    frames, _ = amc.normalize_frames(amc.frame_signal(stream, Lz, Lz), "rms")
    x = contract.to_model_input(frames, rep, layout)
    blob, _ = export_onnx(net, x, zoo_contract(name, classes, Lz))
    path = tmp_path / f"{name}.onnx"
    fileio.atomic_write_bytes(blob, str(path))
    with torch.no_grad():
        expected = torch.softmax(net(torch.from_numpy(x)), dim=-1).numpy()

    _, all_tags = run_classifier(path, stream)
    tags = all_tags[contract.TAG_PROBS]
    assert [t.offset for t in tags] == [k * Lz for k in range(n_frames)]
    probs = np.array([pmt.f32vector_elements(t.value) for t in tags])
    np.testing.assert_allclose(probs, expected, atol=1e-4)
    labels = [pmt.symbol_to_string(t.value) for t in all_tags[contract.TAG_LABEL]]
    assert labels == [classes[i] for i in expected.argmax(1)]


def test_probs_export_of_every_zoo_model():
    """--output-kind probs: the graph ends in a softmax, its output equals the softmax of PyTorch's logits for every
    zoo model (those with batch norm and dropout included), and the model is left in eval mode (the export check
    once ran the network in training mode and refused every such model)."""
    classes = ["BPSK", "QPSK", "8PSK"]
    rng = np.random.default_rng(3)
    frames = (rng.standard_normal((6, 32)) + 1j * rng.standard_normal((6, 32))).astype(np.complex64)
    for name in zoo.MODEL_NAMES:
        torch.manual_seed(0)
        net = zoo.build(name, len(classes), 32).eval()
        rep, layout = zoo.model_spec(name)
        x = contract.to_model_input(frames, rep, layout)
        blob, diff = export_onnx(net, x, {contract.META_CLASSES: classes}, output_kind="probs")
        assert not any(m.training for m in net.modules()), name
        with torch.no_grad():
            expected = torch.softmax(net(torch.from_numpy(x)), -1).numpy()
        sess = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
        got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
        np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)
        assert "Softmax" in {n.op_type for n in onnx.load_from_string(blob).graph.node}, name


def test_train_on_the_fly(tmp_path):
    """--generate: fresh frames every epoch from the batch generator (never the same shard twice), fixed
    validation/test sets from their own seeds, the contract from the config; loss falls on an easy task."""
    from conftest import run_cli
    from gnuradio.amc import dataset_config
    from gnuradio.amc.training import stream as training_stream
    cfg = tmp_path / "easy.yml"
    cfg.write_text("name: easy\nclasses: [BPSK, QPSK, GMSK]\nsnrs: [20]\nframes_per_class_snr: 8\n"
                   "frame_length: 128\nchannel: {preset: awgn}\nsource: {samples_per_symbol: {min: 4, max: 8}}\n")
    out = tmp_path / "m.onnx"
    p = run_cli("train", "--generate", cfg, "-m", "cnn1", "-o", out, "--epochs", 3, "--frames-per-epoch", 384,
                "--val-frames", 96, "--stream-shard-size", 8, "--batch-size", 32, "--lr", "3e-3",
                "--report", tmp_path / "r.json", "--threads", 1, check=True, timeout=600)
    assert "fresh frames per epoch" in p.stdout
    rep = json.loads((tmp_path / "r.json").read_text())
    h = rep["history"]
    assert len(h) == 3 and h[-1]["train_loss"] < h[0]["train_loss"]
    assert all(0 <= e["generation_cpu_seconds"] <= e["cpu_seconds"] for e in h)
    assert rep["training"]["data"] == f"generated: {cfg}" and rep["training"]["frames_per_epoch"] == 384
    meta = {m.key: m.value for m in onnx.load(str(out)).metadata_props}
    assert json.loads(meta[contract.META_CLASSES]) == ["BPSK", "QPSK", "GMSK"]
    assert meta[contract.META_FRAME_LENGTH] == "128" and meta[contract.META_DATASET] == "easy"
    # the epochs' shards are disjoint, and none is a validation or test shard
    c, _ = dataset_config.load_config(str(cfg))
    e1, e2 = (list(training_stream.shard_range(e, 384, 8)) for e in (1, 2))
    assert e1[-1] + 1 == e2[0] and len(e1) == 48
    seeds = lambda seed, idx: {dataset_config.stream_job(c, seed, i)["source_seed"] for i in idx}
    train_seeds = seeds(0, e1 + e2)
    assert not train_seeds & seeds(training_stream.VALIDATION_OFFSET, range(24))
    assert not train_seeds & seeds(training_stream.TEST_OFFSET, range(24))
    # errors
    p = run_cli("train", "--generate", "nosuch", "-m", "cnn1", "-o", out)
    assert p.returncode == 2 and "--generate: unknown preset 'nosuch'" in p.stderr
    p = run_cli("train", "-m", "cnn1", "-o", out)
    assert p.returncode == 2 and "give dataset file(s) or --generate" in p.stderr


def test_wsd_learning_rates():
    """wsd: the constant rate up to epochs - decay, then a half cosine that never reaches 0."""
    assert [fit.wsd_lr(1e-3, e, 10, 3) for e in range(1, 8)] == [1e-3] * 7
    np.testing.assert_allclose([fit.wsd_lr(1e-3, e, 10, 3) for e in (8, 9, 10)],
                               [1e-3 * (1 + np.cos(np.pi * k / 4)) / 2 for k in (1, 2, 3)])
    assert fit.wsd_lr(1e-3, 10, 10, 3) > 0
    assert fit.stable_checkpoint_path("/x/m.onnx.ckpt") == "/x/m.onnx.stable.ckpt"
    assert fit.stable_checkpoint_path("/x/m.pt") == "/x/m.pt.stable.ckpt"


def test_wsd_run_continues_from_its_stable_checkpoint(tmp_path):
    """A wsd run keeps its last constant-rate epoch in CHECKPOINT.stable.ckpt; a longer schedule resumed from it
    repeats none of the decay and gives the same epochs as the first run up to that point. --min-snr/--max-snr
    narrow the training stream (an empty window is refused); --decay-epochs is checked."""
    from conftest import run_cli
    cfg = tmp_path / "easy.yml"
    cfg.write_text("name: easy\nclasses: [BPSK, GMSK]\nsnrs: [10, 20]\nframes_per_class_snr: 8\n"
                   "frame_length: 64\nchannel: {preset: awgn}\n")
    out = tmp_path / "m.onnx"
    common = ["train", "--generate", cfg, "-m", "cnn1", "-o", out, "--frames-per-epoch", 64, "--val-frames", 32,
              "--stream-shard-size", 8, "--batch-size", 32, "--lr", "2e-3", "--schedule", "wsd",
              "--decay-epochs", 1, "--threads", 1, "--seed", 5, "--quiet"]
    run_cli(*common, "--epochs", 3, "--report", tmp_path / "a.json", check=True, timeout=600)
    a = json.loads((tmp_path / "a.json").read_text())
    assert [e["lr"] for e in a["history"]] == [2e-3, 2e-3, pytest.approx(1e-3)]
    assert a["training"]["schedule"] == "wsd" and a["training"]["decay_epochs"] == 1
    stable = tmp_path / "m.onnx.stable.ckpt"
    ck = torch.load(str(stable), weights_only=True)
    assert ck["state"]["epoch"] == 2 and [e["epoch"] for e in ck["state"]["history"]] == [1, 2]
    # continue the same schedule, longer: from the stable checkpoint, not from the decayed end
    (tmp_path / "m.onnx.ckpt").write_bytes(stable.read_bytes())
    run_cli(*common, "--epochs", 5, "--report", tmp_path / "b.json", "--resume", check=True, timeout=600)
    b = json.loads((tmp_path / "b.json").read_text())
    assert [e["epoch"] for e in b["history"]] == [1, 2, 3, 4, 5]
    assert b["history"][:2] == a["history"][:2]
    assert [e["lr"] for e in b["history"][2:]] == [2e-3, 2e-3, pytest.approx(1e-3)]
    assert torch.load(str(stable), weights_only=True)["state"]["epoch"] == 4
    # the SNR window applies to the generated training stream
    import argparse
    parser = argparse.ArgumentParser()
    cli_train.configure_parser(parser)
    args = parser.parse_args(["--generate", str(cfg), "-m", "cnn1", "-o", str(out), "--val-frames", "16",
                              "--stream-shard-size", "4", "--min-snr", "15"])
    gen = fit._generated_data(fit.TrainOptions(**vars(args)), "iq", "N,2,L")
    assert gen["stream_cfg"]["snrs"] == [20] and gen["cfg"]["snrs"] == [10, 20]
    p = run_cli(*common, "--epochs", 3, "--min-snr", 25)
    assert p.returncode == 2 and "--min-snr/--max-snr: no SNR of" in p.stderr and "is left to train on" in p.stderr
    p = run_cli(*common, "--epochs", 3, "--decay-epochs", 4)
    assert p.returncode == 2 and "--decay-epochs must be in 1..--epochs (3), got 4" in p.stderr


def test_a_resumed_run_has_its_own_time_budget_and_takes_a_slim_checkpoint(tmp_path):
    """max_minutes bounds this run, not the hours a schedule resumed across sessions already trained; a
    checkpoint without the optimizer's moments (small enough to commit) resumes with a fresh Adam state."""
    cfg = tmp_path / "easy.yml"
    cfg.write_text("name: easy\nclasses: [BPSK, GMSK]\nsnrs: [10, 20]\nframes_per_class_snr: 8\n"
                   "frame_length: 64\nchannel: {preset: awgn}\n")
    out = str(tmp_path / "m.onnx")
    common = dict(model="cnn1", output=out, generate=str(cfg), frames_per_epoch=64, val_frames=32,
                  stream_shard_size=8, batch_size=32, schedule="wsd", decay_epochs=1, threads=1, seed=5, quiet=True)
    fit.train(**common, epochs=2)
    ck = torch.load(out + ".ckpt", weights_only=True)
    ck["state"]["train_seconds"] = 1e6                    # "trained for days before"
    torch.save(ck, out + ".ckpt")
    slim = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "slim_checkpoint.py"), out + ".ckpt",
                           out + ".ckpt"], capture_output=True, text=True)
    assert slim.returncode == 0 and "epoch 2" in slim.stdout, slim.stderr
    ck = torch.load(out + ".ckpt", weights_only=True)
    assert "optimizer" not in ck and "scheduler" not in ck and ck["state"]["epoch"] == 2
    report = fit.train(**common, epochs=4, resume=True, max_minutes=10.0)
    assert [e["epoch"] for e in report["history"]] == [1, 2, 3, 4]
    assert report["training"]["stop"] == "max epochs"
    bad = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "slim_checkpoint.py"), out, out + ".x"],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "is not a gr-amc training checkpoint" in bad.stderr


@pytest.mark.parametrize("name, model, classes", [("amc-default-mix", "rn1d", 24), ("amc-gru", "gru", 11)])
def test_committed_checkpoints_continue_their_schedules(name, model, classes):
    """checkpoints/NAME.stable.ckpt (docs/models.md, "Continuing the schedule"): the last constant-rate epoch of a
    training run (the GRU's; the default's fine-tuning on wild-mix), small enough to commit, that loads into its
    network."""
    path = os.path.join(ROOT, "checkpoints", f"{name}.stable.ckpt")
    assert os.path.getsize(path) < 2 * 2 ** 20
    ck = torch.load(path, weights_only=True)
    assert ck["model"] == model and len(ck["classes"]) == classes
    net = zoo.build(model, classes, ck["frame_length"])
    net.load_state_dict(ck["weights"])
    assert ck["state"]["epoch"] >= 1 and len(ck["state"]["history"]) == ck["state"]["epoch"]


def test_torchrun_two_processes_train_like_one(tmp_path):
    """`torchrun --nproc-per-node 2 -m gnuradio.amc.cli train` (gloo on CPU): each rank takes half of every batch
    of the same seeded shuffle, DistributedDataParallel averages the gradients, so the run equals the
    single-process one (the GRU has no batch statistics); rank 0 alone writes the model, report and checkpoint."""
    import shutil
    data = tmp_path / "d.h5"
    run_cli("generate", "--preset", "demo", "--classes", "BPSK", "QPSK", "--snrs", "10", "-n", "80",
            "--frame-length", "32", "--shard-size", "16", "--workers", 1, "--output", data, "--quiet", check=True)
    common = ["train", str(data), "-m", "gru", "--hidden", "8", "--epochs", "3", "--batch-size", "32", "--lr", "1e-2",
              "--threads", "1", "--seed", "3", "--quiet"]
    run_cli(*common, "-o", tmp_path / "one.onnx", "--report", tmp_path / "one.json", check=True, timeout=600)
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    assert shutil.which(torchrun), torchrun
    p = subprocess.run([torchrun, "--standalone", "--nproc-per-node", "2", "-m", "gnuradio.amc.cli", *common,
                        "-o", str(tmp_path / "two.onnx"), "--report", str(tmp_path / "two.json")],
                       capture_output=True, text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    one, two = (json.loads((tmp_path / f"{n}.json").read_text())["history"] for n in ("one", "two"))
    assert [e["epoch"] for e in two] == [1, 2, 3]
    for a, b in zip(one, two):
        for k in ("train_loss", "train_acc", "val_loss", "val_acc"):
            assert b[k] == pytest.approx(a[k], abs=2e-4), (k, a, b)
    x = np.random.default_rng(0).standard_normal((16, 32, 2)).astype(np.float32)
    from gnuradio.amc.runtime import onnx_predict
    np.testing.assert_allclose(onnx_predict(str(tmp_path / "two.onnx"), x), onnx_predict(str(tmp_path / "one.onnx"), x),
                               atol=1e-4)
    assert sorted(f.name for f in tmp_path.iterdir() if f.name.startswith("two")) == [
        "two.json", "two.onnx", "two.onnx.ckpt"]
