# SPDX-License-Identifier: GPL-3.0-or-later
"""The Python examples run headless on small inputs and do what they say."""
import json
import os
import subprocess
import sys
import warnings

import numpy as np

from conftest import ROOT

from amc_fixtures import tiny_models

EXAMPLES = os.path.join(ROOT, "examples")


def run_example(name, *args, timeout=600):
    p = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *map(str, args)], capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def test_custom_dataset(tmp_path):
    from gnuradio.amc import datasets
    out = tmp_path / "custom.h5"
    p = run_example("custom_dataset.py", "--classes", "BPSK", "GMSK", "--snrs", "-4", "12", "--frames", "8",
                    "--frame-length", "256", "--workers", "1", "--output", out)
    ds = datasets.load_dataset(str(out))
    assert ds.classes == ["BPSK", "GMSK"] and ds.x.shape == (32, 256)
    assert sorted(set(ds.snrs.tolist())) == [-4.0, 12.0]
    for c in range(2):
        for s in (-4.0, 12.0):
            assert np.sum((ds.labels == c) & (ds.snrs == s)) == 8
    np.testing.assert_allclose(np.mean(np.abs(ds.x) ** 2, axis=1), 1.0, rtol=1e-4)
    cfg = json.loads(ds.attrs["config"])
    assert cfg["channel"] == {"preset": "rml2018", "fading": "rayleigh", "doppler_hz": 20.0, "cfo_max": 50.0}
    assert cfg["source"]["samples_per_symbol"] == 4
    assert "BPSK" in p.stdout and "+12 dB: 8" in p.stdout


def _energy_recording(L, pattern, rng):
    """Frames of L samples whose power sits in the first ('early') or second ('late') half."""
    x = np.zeros((len(pattern), L), np.complex64)
    for i, lab in enumerate(pattern):
        half = slice(0, L // 2) if lab == "early" else slice(L // 2, L)
        x[i, half] = (rng.standard_normal(L // 2) + 1j * rng.standard_normal(L // 2))
        x[i] += 0.01 * (rng.standard_normal(L) + 1j * rng.standard_normal(L))
    return x.ravel()


def test_classify_file_raw_and_sigmf(tmp_path):
    L = 64
    model = tiny_models.energy_model(str(tmp_path / "energy.onnx"), frame_len=L, gain=2.0)
    rng = np.random.default_rng(3)
    pattern = ["early", "late", "late", "early", "late"] * 4
    raw = tmp_path / "capture.cf32"
    samples = _energy_recording(L, pattern, rng)
    samples.tofile(raw)
    run_example("classify_file.py", raw, "--model", model, "--samp-rate", "1e6", "--output", tmp_path / "res")
    meta = json.load(open(tmp_path / "res.sigmf-meta"))
    ann = meta["annotations"]
    assert [a["core:sample_start"] for a in ann] == [k * L for k in range(len(pattern))]
    assert [a["core:label"] for a in ann] == pattern
    assert all(a["core:sample_count"] == L and 0.5 < a["amc:confidence"] <= 1 for a in ann)
    assert meta["global"]["core:sample_rate"] == 1e6 and meta["global"]["amc:model"] == "energy.onnx"
    # no core:frequency: the edges are the whole band relative to baseband; no ground truth in a raw file
    assert {(a["core:freq_lower_edge"], a["core:freq_upper_edge"]) for a in ann} == {(-5e5, 5e5)}
    assert not any("amc:truth" in a for a in ann)
    np.testing.assert_array_equal(np.fromfile(tmp_path / "res.sigmf-data", np.complex64), samples)

    # a SigMF input keeps its own annotations; hop = 2 frames classifies every other frame
    run_example("classify_file.py", tmp_path / "res.sigmf-meta", "--model", model, "--hop", 2 * L,
                "--output", tmp_path / "again")
    ann2 = json.load(open(tmp_path / "again.sigmf-meta"))["annotations"]
    assert len(ann2) == len(pattern) + len(pattern) // 2
    by_start = {}
    for a in ann2:
        by_start.setdefault(a["core:sample_start"], []).append(a["core:label"])
    for k, lab in enumerate(pattern):
        assert by_start[k * L] == ([lab, lab] if k % 2 == 0 else [lab]), k


def test_classify_file_keeps_ground_truth_apart(tmp_path):
    """A gr-amc SigMF dataset (ground truth in core:label) at a known RF frequency: the predictions get
    core:label, the truth moves to amc:truth (with the SNR), the edges are at RF, and the sigmf validator
    accepts the result."""
    from sigmf import sigmffile, validate
    from gnuradio.amc import datasets
    L = 64
    model = tiny_models.energy_model(str(tmp_path / "energy.onnx"), frame_len=L, gain=2.0)
    pattern = ["early", "late", "late", "early", "late", "early"]
    frames = _energy_recording(L, pattern, np.random.default_rng(4)).reshape(len(pattern), L)
    w = datasets.open_writer(str(tmp_path / "truth"), "sigmf", L, classes=["early", "late"], sample_rate=2e6)
    w.append(frames, pattern, [3.0, 5.0, 5.0, 7.0, 7.0, 9.0])
    w.commit()
    meta_in = json.load(open(tmp_path / "truth.sigmf-meta"))
    meta_in["captures"][0]["core:frequency"] = 915e6
    json.dump(meta_in, open(tmp_path / "truth.sigmf-meta", "w"))
    run_example("classify_file.py", tmp_path / "truth.sigmf-meta", "--model", model, "--output", tmp_path / "pred")
    meta = json.load(open(tmp_path / "pred.sigmf-meta"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate.validate(meta)
        sigmffile.fromfile(str(tmp_path / "pred.sigmf-meta")).validate()
    assert meta["global"]["core:sample_rate"] == 2e6
    ann = meta["annotations"]
    truth = [a for a in ann if "amc:confidence" not in a]
    pred = [a for a in ann if "amc:confidence" in a]
    assert len(truth) == len(pred) == len(pattern)
    # the input's per-frame classes: under amc:truth, never under core:label
    assert [a["amc:truth"] for a in truth] == pattern and not any("core:label" in a for a in truth)
    assert [a["amc:snr_db"] for a in truth] == [3.0, 5.0, 5.0, 7.0, 7.0, 9.0]
    # the predictions: core:label, with the truth and SNR of the frame they classify, edges at RF
    assert [a["core:sample_start"] for a in pred] == [k * L for k in range(len(pattern))]
    assert [a["core:label"] for a in pred] == pattern
    assert [a["amc:truth"] for a in pred] == pattern
    assert [a["amc:snr_db"] for a in pred] == [3.0, 5.0, 5.0, 7.0, 7.0, 9.0]
    assert {(a["core:freq_lower_edge"], a["core:freq_upper_edge"]) for a in pred} == {(914e6, 916e6)}
    assert [a["core:sample_start"] for a in ann] == sorted(a["core:sample_start"] for a in ann)


def test_classify_file_errors(tmp_path):
    bad = tmp_path / "odd.cf32"
    bad.write_bytes(b"\0" * 12)
    p = subprocess.run([sys.executable, os.path.join(EXAMPLES, "classify_file.py"), str(bad)], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and "not a whole number of complex64 samples" in p.stderr
    ok = tmp_path / "ok.cf32"
    ok.write_bytes(b"\0" * 64)
    p = subprocess.run([sys.executable, os.path.join(EXAMPLES, "classify_file.py"), str(ok), "--model",
                        str(tmp_path / "missing.onnx")], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "missing.onnx" in p.stderr and "not found" in p.stderr
