"""scripts/gpu_train.sh, the training path for a lent GPU machine (no GNU Radio, results only as files under
$OUT), run end to end here on the CPU with a tiny budget: the default model on a generated config."""
import json
import os
import subprocess
import sys

import onnx
import torch

from gnuradio.amc import contract


def test_gpu_script_trains_and_exports_on_a_tiny_budget(root, tmp_path):
    cfg = tmp_path / "tiny.yml"
    cfg.write_text("name: tiny\nclasses: [BPSK, QPSK, GMSK]\nsnrs: [10, 20]\nframes_per_class_snr: 8\n"
                   "frame_length: 128\nchannel: {preset: awgn}\nsource: {samples_per_symbol: {min: 4, max: 8}}\n")
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GR_AMC_DATA_DIR")}
    env.update(OUT=str(out), PRESET=str(cfg), MINUTES="1", EPOCHS="2", DECAY="1", FRAMES="96", BATCH="32",
               WORKERS="1", PYTHON=sys.executable, OMP_NUM_THREADS="1")
    p = subprocess.run([os.path.join(root, "scripts", "gpu_train.sh"), "--val-frames", "48", "--stream-shard-size", "8"],
                       env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "rn1d on " in p.stderr and "device cpu" in p.stderr
    rep = json.loads((out / "amc-default.train.json").read_text())
    assert rep["training"]["schedule"] == "wsd" and rep["training"]["epochs_run"] == 2
    assert rep["training"]["decay_epochs"] == 1
    meta = {m.key: m.value for m in onnx.load(str(out / "amc-default.onnx")).metadata_props}
    assert json.loads(meta[contract.META_CLASSES]) == ["BPSK", "QPSK", "GMSK"]
    assert meta[contract.META_FRAME_LENGTH] == "128"
    assert torch.load(str(out / "amc-default.stable.ckpt"), weights_only=True)["state"]["epoch"] == 1
    assert "epoch   2/2" in (out / "amc-default.log").read_text()
    # a longer schedule continues from the stable checkpoint (RESUME, as a later machine would be given it)
    stable = tmp_path / "stable.ckpt"
    stable.write_bytes((out / "amc-default.stable.ckpt").read_bytes())
    env.update(EPOCHS="3", RESUME=str(stable))
    p = subprocess.run([os.path.join(root, "scripts", "gpu_train.sh"), "--val-frames", "48", "--stream-shard-size", "8"],
                       env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
    rep = json.loads((out / "amc-default.train.json").read_text())
    assert [e["epoch"] for e in rep["history"]] == [1, 2, 3]
    assert [e["lr"] for e in rep["history"]][:2] == [2e-3, 2e-3]
