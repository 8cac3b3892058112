"""gr-amc variant and variants.rotation_ensemble: the ensemble graph computes the mean over turned frames (checked
against PyTorch on frames turned in numpy), is invariant to the turns it averages over, runs in the classifier
block, and the CLI writes int8/float16/rotation variants with the contract and refuses what it cannot do."""
import numpy as np
import onnx
import pytest
import torch

from conftest import run_classifier, run_cli, zoo_contract
from gnuradio.amc import contract
from gnuradio.amc.training import zoo
from gnuradio.amc.training.export import export_onnx
from gnuradio.amc import variants
from gnuradio.amc import runtime
from gnuradio.amc import onnx_graph
from gnuradio.amc import fileio

CLASSES = ["BPSK", "GMSK", "FM"]


def export(name, path, L, output="logits", seed=0):
    """An untrained zoo model with the contract, written to path; returns the torch model.  Its weights are
    doubled so that its output clearly depends on the input (at initialization some zoo models answer nearly
    the same for every frame)."""
    torch.manual_seed(seed)
    net = zoo.build(name, len(CLASSES), L).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(2.0)
    rep, layout = zoo.model_spec(name)
    x = contract.to_model_input(frames_of(4, L, 9), rep, layout)
    blob, _ = export_onnx(net, x, zoo_contract(name, CLASSES, L, output), output_kind=output)
    fileio.atomic_write_bytes(blob, str(path))
    return net


def frames_of(n, L, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, L)) + 1j * rng.standard_normal((n, L))
    return (z / np.sqrt(np.mean(np.abs(z) ** 2, axis=1, keepdims=True))).astype(np.complex64)


def torch_reference(net, frames, name, K, output):
    """Mean over k of log_softmax (logits models) or softmax (probs models) of the network on frames turned by
    exp(j 2 pi k / K), the turn done on the complex samples in numpy (zero samples stay zero, phase 0)."""
    rep, layout = zoo.model_spec(name)
    views = []
    with torch.no_grad():
        for k in range(K):
            turned = (frames * np.exp(2j * np.pi * k / K)).astype(np.complex64)
            turned[frames == 0] = 0              # a zero stays +0 (a turned -0 would get np.angle's pi)
            out = net(torch.from_numpy(contract.to_model_input(turned, rep, layout)))
            views.append(torch.log_softmax(out, -1) if output == "logits" else torch.softmax(out, -1))
    return torch.stack(views).mean(0).numpy()


@pytest.mark.parametrize("name, K, output", [("cnn1", 4, "logits"), ("mnv4s", 4, "logits"), ("gru", 4, "logits"),
                                             ("gru", 3, "logits"), ("cnn2", 8, "probs")])
def test_rotation_ensemble_is_the_mean_over_turned_frames(name, K, output, tmp_path):
    """The graph's output equals the PyTorch mean over K turned copies of each frame, for every input layout
    (N,2,L / N,1,2,L iq, N,L,2 amplitude/phase with the phase wrapped), both output kinds and K not a multiple
    of 4.  With K = 4 the output does not change when the frames are turned by 90 degrees."""
    L = 32
    path = tmp_path / "m.onnx"
    net = export(name, path, L, output)
    proto = onnx.load(str(path))
    ens = variants.rotation_ensemble(proto, K)
    meta = {p.key: p.value for p in ens.metadata_props}
    assert meta.pop(contract.META_ROTATIONS) == str(K)
    assert meta == {p.key: p.value for p in proto.metadata_props}
    rep, layout = zoo.model_spec(name)
    frames = frames_of(6, L, 1)
    run = lambda f: runtime.onnx_predict(ens.SerializeToString(), contract.to_model_input(f, rep, layout))
    got = run(frames)
    assert got.shape == (6, len(CLASSES))
    np.testing.assert_allclose(got, torch_reference(net, frames, name, K, output), rtol=1e-4, atol=1e-4)
    plain = runtime.onnx_predict(str(path), contract.to_model_input(frames, rep, layout))
    assert np.abs(got - (np.log(torch.softmax(torch.from_numpy(plain), -1).numpy()) if output == "logits"
                         else plain)).max() > 1e-2          # the views differ: the ensemble is not the network
    if K == 4:
        np.testing.assert_allclose(run((frames * 1j).astype(np.complex64)), got, rtol=1e-4, atol=1e-4)
    # one batch or frame by frame: the same answer (the views of a frame never mix with other frames)
    np.testing.assert_allclose(np.concatenate([run(frames[i:i + 1]) for i in range(6)]), got, rtol=1e-5,
                               atol=1e-5)
    # MACs: K times the network's
    assert onnx_graph.count_macs(ens, L) == K * onnx_graph.count_macs(proto, L)
    with pytest.raises(ValueError, match="already a rotation ensemble"):
        variants.rotation_ensemble(ens, 2)
    with pytest.raises(ValueError, match="at least 2 rotations"):
        variants.rotation_ensemble(proto, 1)
    fixed = onnx.ModelProto()
    fixed.CopyFrom(proto)
    fixed.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    with pytest.raises(ValueError, match="batch size is fixed at 1"):
        variants.rotation_ensemble(fixed, 4)
    old = onnx.ModelProto()
    old.CopyFrom(proto)
    old.opset_import[0].version = 9
    with pytest.raises(ValueError, match="opset is 9; a rotation ensemble needs opset 13"):
        variants.rotation_ensemble(old, 4)


def test_amplitude_phase_views_wrap_as_the_contract_does(tmp_path):
    """Samples a turn puts on the negative real axis get phase/pi = +1 inside the graph, as np.angle gives it
    (not -1), and zero samples keep phase 0: the ensemble of a GRU equals the PyTorch reference on frames made of
    such samples (a wrong wrap moves the GRU's log-probabilities by several hundredths)."""
    L = 32
    path = tmp_path / "gru.onnx"
    net = export("gru", path, L)
    ens = variants.rotation_ensemble(onnx.load(str(path)), 4)
    pattern = np.array([1, -1, 1j, -1j, 0, 1 + 1j, -1 - 1j, 0.5], np.complex64)
    frames = np.stack([np.roll(np.resize(pattern, L), s) for s in range(3)]).astype(np.complex64)
    got = runtime.onnx_predict(ens.SerializeToString(), contract.to_model_input(frames, "ap", "N,L,2"))
    np.testing.assert_allclose(got, torch_reference(net, frames, "gru", 4, "logits"), rtol=1e-4, atol=1e-4)


def test_classifier_block_runs_a_rotation_ensemble(tmp_path):
    """amc.classifier runs the ensemble file as any model: amc:probs are the softmax of the ensemble's output,
    one tag per frame at the frame's first sample."""
    import pmt
    from gnuradio import amc
    L, n = 32, 4
    src_path, ens_path = tmp_path / "m.onnx", tmp_path / "m-rot4.onnx"
    net = export("mnv4s", src_path, L)
    onnx.save(variants.rotation_ensemble(onnx.load(str(src_path)), 4), str(ens_path))
    stream = frames_of(n, L, 5).ravel() * 2.5
    clf, all_tags = run_classifier(ens_path, stream)
    assert clf.metadata()[contract.META_ROTATIONS] == "4"
    tags = all_tags[contract.TAG_PROBS]
    assert [t.offset for t in tags] == [k * L for k in range(n)]
    probs = np.array([pmt.f32vector_elements(t.value) for t in tags])
    frames, _ = amc.normalize_frames(stream.reshape(n, L), "rms")
    expected = torch.softmax(torch.from_numpy(torch_reference(net, np.asarray(frames), "mnv4s", 4, "logits")), -1)
    np.testing.assert_allclose(probs, expected.numpy(), atol=1e-4)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("variant")
    path = d / "tiny.h5"
    run_cli("generate", "--preset", "demo", "--classes", *CLASSES, "--snrs", "20", "-n", "24",
            "--frame-length", 64, "--seed", 12, "--workers", 1, "--quiet", "--output", path, check=True)
    return d, path


def test_variant_cli(tiny):
    """`gr-amc variant`: a rotation ensemble, an int8 twin calibrated on a dataset (static QDQ) or not (dynamic),
    a float16 twin, chained (int8, then its ensemble); an ensemble taken apart, re-wrapped and made float16; the
    contract is kept; evaluate reports the ensemble with K times the MACs; mistakes are refused with a message
    naming them."""
    d, data = tiny
    src = d / "cnn1.onnx"
    export("cnn1", src, 64)
    base = {p.key: p.value for p in onnx.load(str(src)).metadata_props}

    def meta(path):
        return {p.key: p.value for p in onnx.load(str(path)).metadata_props}

    p = run_cli("variant", src, "-o", d / "r4.onnx", "--rotations", 4, check=True)
    assert f"wrote {d / 'r4.onnx'}" in p.stdout and "averaged over 4 rotations" in p.stdout
    assert meta(d / "r4.onnx") == dict(base, **{contract.META_ROTATIONS: "4"})

    run_cli("variant", src, "-o", d / "q.onnx", "--int8", "--calibration", data, "--seed", 2, check=True)
    assert meta(d / "q.onnx")["amc.quantization"].startswith("int8 static")
    run_cli("variant", src, "-o", d / "qd.onnx", "--int8", check=True)
    assert meta(d / "qd.onnx")["amc.quantization"].startswith("int8 dynamic")
    p = run_cli("variant", src, "-o", d / "h.onnx", "--fp16", check=True)
    assert meta(d / "h.onnx")["amc.quantization"].startswith("float16") and "float16" in p.stdout
    run_cli("variant", d / "q.onnx", "-o", d / "q-r4.onnx", "--rotations", 4, check=True)
    m = meta(d / "q-r4.onnx")
    assert m[contract.META_ROTATIONS] == "4" and m["amc.quantization"].startswith("int8 static")

    out = d / "eval"
    run_cli("evaluate", data, "-m", src, d / "r4.onnx", d / "q-r4.onnx", "--no-latency", "--confusion-snrs",
            "-o", out, check=True)
    md = (out / "report.md").read_text()
    assert "| r4 | cnn1 x4 rotations | " in md and "| q-r4 | cnn1 int8 x4 rotations | " in md
    import json
    rep = {r["name"]: r for r in json.loads((out / "report.json").read_text())["models"]}
    assert rep["r4"]["macs"] == 4 * rep["cnn1"]["macs"] and rep["r4"]["rotations"] == 4
    assert rep["cnn1"]["rotations"] is None

    def refused(*args):
        p = run_cli("variant", *args)
        assert p.returncode == 2, p.stdout + p.stderr
        return p.stderr

    # an ensemble in: --rotations 1 gives its network back, --rotations K re-wraps it, --fp16/--int8 wrap the
    # network's variant again with the same K
    run_cli("variant", d / "r4.onnx", "-o", d / "back.onnx", "--rotations", 1, check=True)
    assert meta(d / "back.onnx") == base
    x = contract.to_model_input(frames_of(5, 64, 4), "iq", "N,2,L")
    np.testing.assert_allclose(runtime.onnx_predict(str(d / "back.onnx"), x), runtime.onnx_predict(str(src), x),
                               atol=1e-6)
    run_cli("variant", d / "r4.onnx", "-o", d / "r8.onnx", "--rotations", 8, check=True)
    assert meta(d / "r8.onnx")[contract.META_ROTATIONS] == "8"
    assert onnx_graph.count_macs(onnx.load(str(d / "r8.onnx")), 64) == 2 * rep["r4"]["macs"]
    p = run_cli("variant", d / "r4.onnx", "-o", d / "r4h.onnx", "--fp16", check=True)
    assert "as a 4-rotation ensemble like its input" in p.stdout
    m = meta(d / "r4h.onnx")
    assert m[contract.META_ROTATIONS] == "4" and m["amc.quantization"].startswith("float16")
    np.testing.assert_allclose(runtime.onnx_predict(str(d / "r4h.onnx"), x),
                               runtime.onnx_predict(str(d / "r4.onnx"), x), atol=2e-2)

    assert "--rotations 1 takes the network out" in refused(src, "-o", d / "r1.onnx", "--rotations", 1)
    assert "--rotations must be >= 1" in refused(src, "-o", d / "r1.onnx", "--rotations", 0)
    assert "is the input model" in refused(src, "-o", src, "--rotations", 4)
    (d / "link.onnx").symlink_to(src)
    assert "is the input model" in refused(d / "link.onnx", "-o", src, "--rotations", 4)
    assert "already quantized (int8 dynamic" in refused(d / "qd.onnx", "-o", d / "x.onnx", "--int8")
    assert "already quantized (float16" in refused(d / "h.onnx", "-o", d / "x.onnx", "--fp16")
    assert "cannot write" in refused(src, "-o", d / "tiny.h5" / "x.onnx", "--fp16")
    assert "--calibration is only used with --int8" in refused(src, "-o", d / "x.onnx", "--fp16",
                                                               "--calibration", data)
    assert "--seed is only used with --int8 --calibration" in refused(src, "-o", d / "x.onnx", "--int8", "--seed", 3)
    assert "not found" in refused(d / "nope.onnx", "-o", d / "x.onnx", "--fp16")
    assert "not allowed with argument" in refused(src, "-o", d / "x.onnx", "--fp16", "--int8")
    assert "one of the arguments" in refused(src, "-o", d / "x.onnx")
    assert not (d / "x.onnx").exists() and not (d / "r1.onnx").exists()


def test_fine_tuning_from_a_rotation_ensemble_starts_from_its_network(tiny, tmp_path):
    """--init-weights ENSEMBLE.onnx (release 2's amc-default was one) reads the network inside it: with a vanishing
    learning rate the fine-tuned file is the plain network again, computing what the file the ensemble was made
    from computes; rotation_ensemble_network takes the ensemble apart into exactly that network."""
    d, data = tiny
    base, ens = tmp_path / "base.onnx", tmp_path / "base-r4.onnx"
    run_cli("train", data, "-m", "cnn1", "--seed", 8, "-o", base, "--epochs", 1, "--batch-size", 48, "--threads", 1,
            "-q", check=True)
    run_cli("variant", base, "-o", ens, "--rotations", 4, check=True)
    net = variants.rotation_ensemble_network(onnx.load(str(ens)))
    assert {p.key: p.value for p in net.metadata_props} == {p.key: p.value for p in onnx.load(str(base)).metadata_props}
    assert [n.op_type for n in net.graph.node] == [n.op_type for n in onnx.load(str(base)).graph.node]
    x = contract.to_model_input(frames_of(8, 64, 3), "iq", "N,2,L")
    ref = runtime.onnx_predict(str(base), x)
    np.testing.assert_allclose(runtime.onnx_predict(net.SerializeToString(), x), ref, atol=1e-6)
    p = run_cli("train", data, "-m", "cnn1", "--seed", 9, "-o", tmp_path / "tuned.onnx", "--epochs", 1, "--lr",
                "1e-9", "--batch-size", 48, "--threads", 1, "--init-weights", ens, check=True)
    assert f"initialized from the weights of the network inside the 4-rotation ensemble {ens}" in p.stdout
    tuned = onnx.load(str(tmp_path / "tuned.onnx"))
    assert contract.META_ROTATIONS not in {p.key for p in tuned.metadata_props}
    np.testing.assert_allclose(runtime.onnx_predict(str(tmp_path / "tuned.onnx"), x), ref, atol=1e-4)
