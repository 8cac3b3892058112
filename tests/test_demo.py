# SPDX-License-Identifier: GPL-3.0-or-later
"""`gr-amc demo` (the main job behind `make demo`) on a small run with the shipped default model."""
import json
import os

from conftest import DATA_DIR


def test_demo_small_run(cli, tmp_path):
    assert os.path.isfile(os.path.join(DATA_DIR, "models", "amc-default.onnx"))
    p = cli("demo", "--output", tmp_path, "--classes", "BPSK", "FM", "--snrs", "0", "20", "--frames", "6",
            check=True)
    out = p.stdout
    # the dataset was generated with the module's blocks and read back
    assert os.path.isfile(tmp_path / "demo_dataset.h5")
    assert "model accuracy on the generated demo dataset" in out
    # the per-modulation table: one row per modulation, one column per SNR
    rows = [line for line in out.splitlines() if line.startswith(("BPSK ", "FM "))]
    assert len(rows) == 2 and all(line.count("%") == 2 for line in rows), out
    res = json.load(open(tmp_path / "demo_results.json"))
    assert sorted(res["accuracy"]) == ["BPSK@0", "BPSK@20", "FM@0", "FM@20"]
    assert all(0.0 <= v <= 1.0 for v in res["accuracy"].values())
    png = tmp_path / "accuracy_vs_snr.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and str(png) in out
    # safe to run twice (make demo twice): the second run remakes its own files, same results
    first = (tmp_path / "demo_dataset.h5").read_bytes()
    p2 = cli("demo", "--output", tmp_path, "--classes", "BPSK", "FM", "--snrs", "0", "20", "--frames", "6",
             check=True)
    assert "model accuracy on the generated demo dataset" in p2.stdout
    assert (tmp_path / "demo_dataset.h5").read_bytes() == first
    assert json.load(open(tmp_path / "demo_results.json"))["accuracy"] == res["accuracy"]


def test_demo_bad_arguments(cli, tmp_path):
    p = cli("demo", "--output", tmp_path, "--classes", "NOTACLASS", "--skip-dataset")
    assert p.returncode == 2 and "NOTACLASS not in the model's classes" in p.stderr
    p = cli("demo", "--output", tmp_path, "--model", "no-such-model")
    assert p.returncode == 2 and "no-such-model" in p.stderr and "shipped" in p.stderr
