"""Training on HDF5 files larger than memory (training.data.StreamedFiles, make_file_loader, `--streaming`): the
streamed reader gives the in-memory reader's frames bit for bit, an epoch reads every training frame exactly once
in blocks aligned to X's chunks (DataLoader workers each opening the file), processes of a torchrun share the
blocks and take the same number of steps, `--streaming auto` streams when the memory would not hold the in-memory
path, and a streamed run reaches the in-memory run's accuracy on a small file."""
import json

import h5py
import numpy as np
import pytest
from conftest import run_cli

from gnuradio.amc import contract
from gnuradio.amc.training import data as tdata
from gnuradio.amc.training import fit, zoo

CLASSES = ["OOK", "BPSK", "GMSK", "FM"]
L = 128


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two files of the demo preset (seeds 31 and 32; 4 classes x 2 SNRs, 120 and 40 frames per cell, 128 samples)
    and a chunked copy of the first (7 rows per HDF5 chunk)."""
    d = tmp_path_factory.mktemp("stream")
    out = []
    for seed, n in ((31, 120), (32, 40)):
        p = d / f"s{seed}.h5"
        run_cli("generate", "--preset", "demo", "--classes", *CLASSES, "--snrs", "10", "20", "-n", n,
                "--frame-length", L, "--shard-size", 20, "--seed", seed, "--workers", 1, "--quiet", "--output", p,
                check=True)
        out.append(p)
    chunked = d / "chunked.h5"
    with h5py.File(out[0], "r") as src, h5py.File(chunked, "w") as dst:
        for k in ("X", "Y", "Z"):
            dst.create_dataset(k, data=src[k][...], chunks=(7,) + src[k].shape[1:])
        for k, v in src.attrs.items():
            dst.attrs[k] = v
    return d, out[0], out[1], chunked


def test_streamed_files_give_the_in_memory_frames(files, monkeypatch):
    d, a, b, chunked = files
    monkeypatch.setattr(tdata, "BLOCK_BYTES", 8 * L * 10)          # blocks of 10 rows: many blocks per file
    mem = tdata.load_training_data([str(a), str(b)])
    st = tdata.StreamedFiles([str(a), str(b)])
    assert len(st) == len(mem["labels"]) == 4 * 2 * 160
    np.testing.assert_array_equal(st.labels, mem["labels"])
    np.testing.assert_array_equal(st.snrs, mem["snrs"])
    assert st.classes == mem["classes"] == CLASSES and st.normalization == "rms" and st.frame_length == L
    assert st.names == mem["names"] == ["demo seed 31", "demo seed 32"]
    assert st.block_rows == [10, 10] and st.chunk_rows == [0, 0]       # contiguous X: BLOCK_BYTES of rows
    assert st.frame_bytes == 8 * L * len(st)
    rows = np.sort(np.random.default_rng(0).choice(len(st), 300, replace=False))
    np.testing.assert_array_equal(st.gather(rows), mem["frames"][rows])     # the same normalized frames, bit for bit
    blocks = st.blocks(rows)
    assert all(stop - start <= 10 and start % 10 == 0 for _, start, stop, _ in blocks)
    assert np.array_equal(np.concatenate([blk[3] for blk in blocks]), rows)
    assert {blk[0] for blk in blocks} == {0, 1}                         # rows of both files

    ch = tdata.StreamedFiles(str(chunked))             # chunked X: blocks of whole chunks (10 rows -> 2 chunks of 7)
    assert ch.chunk_rows == [7] and ch.block_rows == [14]
    assert all(start % 7 == 0 for _, start, _, _ in ch.blocks(np.arange(len(ch))))
    one = tdata.load_training_data(str(a))
    np.testing.assert_array_equal(ch.gather(np.arange(len(ch))), one["frames"])


def _epoch(st, rows, batch, workers, rank=0, world=1, epoch=1):
    rep, layout = zoo.model_spec("cnn1")
    it, n = tdata.make_file_loader(st, rows, 5, epoch, batch, rep, layout, workers, rank=rank, world=world)
    got = [(x.numpy(), y.numpy()) for x, y in it]
    return got, n


@pytest.mark.parametrize("workers", [0, 2])
def test_an_epoch_reads_every_training_frame_once(files, monkeypatch, workers):
    d, a, b, _ = files
    monkeypatch.setattr(tdata, "BLOCK_BYTES", 8 * L * 16)
    st = tdata.StreamedFiles([str(a), str(b)])
    tr = np.sort(np.random.default_rng(1).choice(len(st), 700, replace=False))
    got, n = _epoch(st, tr, 64, workers)
    assert n == len(got) == -(-700 // 64) and [len(y) for _, y in got] == [64] * 10 + [60]
    x = np.concatenate([g[0] for g in got])
    y = np.concatenate([g[1] for g in got])
    rep, layout = zoo.model_spec("cnn1")
    want = contract.to_model_input(tdata.load_training_data([str(a), str(b)])["frames"][tr], rep, layout)
    key = {want[i].tobytes(): i for i in range(len(want))}
    seen = sorted(key[xi.tobytes()] for xi in x)         # each training frame once, with its own label
    assert seen == list(range(700))
    np.testing.assert_array_equal(y, st.labels[tr][[key[xi.tobytes()] for xi in x]])
    assert len(set(y[:64].tolist())) > 2                  # the first batch mixes classes (the file is sorted by class)
    again, _ = _epoch(st, tr, 64, workers, epoch=2)      # another epoch, another order of the same frames
    x2 = np.concatenate([g[0] for g in again])
    assert not np.array_equal(x2, x) and sorted(key[xi.tobytes()] for xi in x2) == seen


def test_torchrun_processes_share_the_blocks_and_take_the_same_steps(files, monkeypatch):
    d, a, b, _ = files
    monkeypatch.setattr(tdata, "BLOCK_BYTES", 8 * L * 16)
    st = tdata.StreamedFiles([str(a), str(b)])
    tr = np.arange(0, len(st), 2)
    ranks = [_epoch(st, tr, 32, 1, rank=r, world=2) for r in (0, 1)]
    (g0, n0), (g1, n1) = ranks
    assert n0 == n1 == len(g0) == len(g1)
    assert all(len(y) == 32 for g in (g0, g1) for _, y in g)        # whole batches only
    x0, x1 = (np.concatenate([x for x, _ in g]) for g in (g0, g1))
    assert not {r.tobytes() for r in x0} & {r.tobytes() for r in x1}  # no frame on both ranks
    _, common = tdata.epoch_plan(st, tr, 5, 1, 2)
    assert n0 == common // 32 and len(tr) - 2 * 16 * 2 <= 2 * common <= len(tr)


def test_auto_streams_only_what_memory_cannot_hold(files, monkeypatch):
    d, a, b, _ = files
    assert tdata.needs_streaming(10 << 30, 20 << 30)          # 3 x 10 GiB > 20 GiB
    assert not tdata.needs_streaming(6 << 30, 20 << 30)
    assert not tdata.needs_streaming(10 << 30, None)          # unknown memory: in memory, as before
    size = tdata.hdf5_frame_bytes(str(a))
    assert size == 8 * L * 4 * 2 * 120
    free = tdata.available_memory()
    assert free is not None and free > 0
    opt = fit.TrainOptions(model="cnn1", output=str(d / "x.onnx"), data=[str(a)], quiet=True)
    monkeypatch.setattr(tdata, "available_memory", lambda: 3 * size + 1)
    assert fit._stream_files(opt) is False
    monkeypatch.setattr(tdata, "available_memory", lambda: 3 * size - 1)
    assert fit._stream_files(opt) is True
    pkl = d / "p.pkl"
    run_cli("generate", "--preset", "demo", "--classes", "BPSK", "--snrs", "10", "-n", 4, "--frame-length", L,
            "--format", "pickle", "--seed", 3, "--workers", 1, "--quiet", "--output", pkl, check=True)
    assert fit._stream_files(fit.TrainOptions(model="cnn1", output="x.onnx", data=[str(pkl)])) is False
    with pytest.raises(ValueError, match=r"p.pkl': streaming reads HDF5 files .* only; train on it in memory "
                                         r"\(--streaming off\)"):
        tdata.StreamedFiles(str(pkl))
    with pytest.raises(fit.TrainingError, match="--streaming 'sometimes': allowed: auto, on, off"):
        fit._stream_files(fit.TrainOptions(model="cnn1", output="x.onnx", data=[str(a)], streaming="sometimes"))


def test_a_streamed_run_reaches_the_in_memory_accuracy(files, tmp_path):
    """The same split (the log's split line), the same validation and test frames, and the test accuracy of the
    in-memory run within 0.04 (only the order of the training frames differs)."""
    d, a, b, _ = files
    reports = {}
    for mode in ("off", "on"):
        rep = tmp_path / f"{mode}.json"
        p = run_cli("train", a, b, "-m", "mnv4s", "-o", tmp_path / f"{mode}.onnx", "--epochs", 8, "--batch-size",
                    32, "--lr", "3e-3", "--seed", 4, "--threads", 1, "--workers", 1 if mode == "on" else 0,
                    "--streaming", mode, "--report", rep, check=True)
        assert "split train/val/test 768/256/256" in p.stdout
        assert (".h5, streamed: 1280 frames" in p.stdout) == (mode == "on")
        reports[mode] = json.loads(rep.read_text())
    off, on = reports["off"], reports["on"]
    assert on["training"]["streamed"] is True and off["training"]["streamed"] is False
    assert on["training"]["frames"] == off["training"]["frames"] == 1280
    assert off["test_accuracy"] > 0.85 and on["test_accuracy"] > 0.85      # 4 classes: chance is 0.25
    assert abs(on["test_accuracy"] - off["test_accuracy"]) <= 0.04, (on["test_accuracy"], off["test_accuracy"])


def test_a_file_that_changes_under_a_streamed_run_is_named(files, tmp_path):
    d, a, _, _ = files
    path = tmp_path / "short.h5"
    path.write_bytes(a.read_bytes())
    st = tdata.StreamedFiles(str(path))
    with h5py.File(path, "r+") as f:                   # cut to 10 rows by someone else after the header was read
        del f["X"]
        f.create_dataset("X", data=np.zeros((10, L, 2), np.float32))
    with pytest.raises(ValueError, match=r"short.h5': cannot read rows 0\.\.959 of X \(changed or truncated while "
                                         r"training\?\): got 10 rows"):
        st.gather(np.arange(len(st)))


def test_torchrun_trains_on_a_streamed_file(files, tmp_path):
    """`torchrun --nproc-per-node 2 ... --streaming on` (gloo on CPU): the ranks read their own blocks, take the
    same number of steps (or DistributedDataParallel would hang), rank 0 alone writes the model and the report."""
    import os
    import shutil
    import subprocess
    import sys
    d, a, b, _ = files
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    assert shutil.which(torchrun), torchrun
    p = subprocess.run([torchrun, "--standalone", "--nproc-per-node", "2", "-m", "gnuradio.amc.cli", "train", str(a),
                        str(b), "-m", "gru", "--hidden", "8", "--epochs", "2", "--batch-size", "64", "--threads", "1",
                        "--seed", "3", "--streaming", "on", "--workers", "1", "-o", str(tmp_path / "two.onnx"),
                        "--report", str(tmp_path / "two.json")],
                       capture_output=True, text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    report = json.loads((tmp_path / "two.json").read_text())
    assert report["training"]["streamed"] is True and [e["epoch"] for e in report["history"]] == [1, 2]
    assert p.stdout.count("split train/val/test 768/256/256") == 1          # rank 0 speaks for the run
    assert sorted(f.name for f in tmp_path.iterdir()) == ["two.json", "two.onnx", "two.onnx.ckpt"]
