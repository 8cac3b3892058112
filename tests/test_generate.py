# SPDX-License-Identifier: GPL-3.0-or-later
"""`gr-amc generate` end to end (subprocess, from the build tree): a demo-sized run, byte-identical
output for 1 and 2 workers, resume after kill -9, bad configs named, the three formats agreeing on
frames, labels and SNRs, and the RadioML 2016.10a pickle layout."""
import json
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from conftest import run_cli

# tiny: 2 classes x 2 SNRs x 6 frames of 128 samples, shards of 4 -> 8 shards (two of 4 + 2 frames per key)
TINY = {
    "name": "tiny", "classes": ["BPSK", "GMSK"], "snrs": [0, 10], "frames_per_class_snr": 6,
    "frame_length": 128, "normalization": "rms", "format": "hdf5", "seed": 7, "shard_size": 4,
    "skip_samples": 256, "channel": {"preset": "rml2018"},
}


def write_config(tmp_path, name="c.yml", **changes):
    cfg = dict(TINY, **changes)
    p = tmp_path / name
    p.write_text(yaml.safe_dump(cfg))
    return p


def load(path):
    from gnuradio.amc import datasets
    return datasets.load_dataset(str(path))


def test_demo_preset_run(tmp_path):
    out = tmp_path / "demo.h5"
    p = run_cli("generate", "--preset", "demo", "-n", 8, "--output", out, "--workers", 2, check=True, timeout=300)
    assert "frames/s" in p.stderr and "ETA" in p.stderr          # the progress line
    assert sorted(os.listdir(tmp_path)) == ["demo.h5"]          # parts folder removed, no temp files
    ds = load(out)
    demo = yaml.safe_load(open(os.path.join(os.environ["GR_AMC_DATA_DIR"], "presets", "demo.yml")))
    assert ds.classes == demo["classes"]
    assert ds.x.shape == (len(demo["classes"]) * len(demo["snrs"]) * 8, demo["frame_length"])
    # order: classes in config order, SNRs in config order, 8 frames each
    want_labels = np.repeat(np.arange(len(demo["classes"])), len(demo["snrs"]) * 8)
    want_snrs = np.tile(np.repeat(demo["snrs"], 8), len(demo["classes"]))
    np.testing.assert_array_equal(ds.labels, want_labels)
    np.testing.assert_array_equal(ds.snrs, want_snrs)
    np.testing.assert_allclose(np.mean(np.abs(ds.x) ** 2, axis=1), 1.0, rtol=1e-4)   # rms normalization
    assert len({f.tobytes() for f in ds.x}) == len(ds.x)          # every frame is a different realisation
    cfg = json.loads(ds.attrs["config"])
    assert cfg["frames_per_class_snr"] == 8 and cfg["classes"] == demo["classes"]
    assert ds.attrs["seed"] == demo["seed"]
    assert "workers" not in cfg and "out" not in cfg              # nothing run-specific in the file


def test_workers_do_not_change_output(tmp_path):
    cfg = write_config(tmp_path)
    outs = []
    for w in (1, 2):
        out = tmp_path / f"w{w}.h5"
        run_cli("generate", "--config", cfg, "--output", out, "--workers", w, "--quiet", check=True, timeout=300)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    # and a different seed gives different data
    out = tmp_path / "s8.h5"
    run_cli("generate", "--config", cfg, "--seed", 8, "--output", out, "--quiet", check=True, timeout=300)
    assert not np.array_equal(load(out).x, load(tmp_path / "w1.h5").x)


def test_resume_after_kill(tmp_path):
    # 2 classes x 2 SNRs x 40 frames in shards of 2: 80 shards, so the run is still going when killed
    cfg = write_config(tmp_path, frames_per_class_snr=40, shard_size=2)
    out = tmp_path / "r.h5"
    parts = tmp_path / "r.h5.parts"
    cmd = [sys.executable, "-m", "gnuradio.amc.cli", "generate", "--config", str(cfg), "--output", str(out),
           "--workers", "1", "--quiet"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            done = [f for f in os.listdir(parts) if f.endswith(".h5")] if parts.is_dir() else []
            if len(done) >= 6:
                break
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert not out.exists()                                       # no output that looks complete
    kept = {f: os.stat(parts / f) for f in os.listdir(parts) if f.endswith(".h5")}
    assert 6 <= len(kept) < 80
    p = run_cli("generate", "--config", cfg, "--output", out, "--keep-parts", check=True, timeout=300)
    assert f"resuming: {len(kept)} of 80 shards already done" in p.stderr
    for f, st in kept.items():                                    # finished shards were kept, not redone
        now = os.stat(parts / f)
        assert (now.st_ino, now.st_mtime_ns) == (st.st_ino, st.st_mtime_ns), f
    assert not [f for f in os.listdir(parts) if ".tmp" in f]
    ref = tmp_path / "ref.h5"
    run_cli("generate", "--config", cfg, "--output", ref, "--workers", 2, "--quiet", check=True, timeout=300)
    assert out.read_bytes() == ref.read_bytes()


def test_formats_agree(tmp_path):
    cfg = write_config(tmp_path)
    outs = {"hdf5": tmp_path / "d.h5", "pickle": tmp_path / "d.pkl", "sigmf": tmp_path / "d.sigmf-meta"}
    for fmt, out in outs.items():
        run_cli("generate", "--config", cfg, "--format", fmt, "--output", out, "--quiet", check=True, timeout=300)
    assert sorted(os.listdir(tmp_path)) == ["c.yml", "d.h5", "d.pkl", "d.sigmf-data", "d.sigmf-meta"]
    h, p, s = (load(outs[f]) for f in ("hdf5", "pickle", "sigmf"))
    want_labels = np.repeat([0, 1], 12)
    want_snrs = np.tile(np.repeat([0, 10], 6), 2)
    for ds in (h, p, s):
        assert ds.classes == ["BPSK", "GMSK"]
        np.testing.assert_array_equal(ds.labels, want_labels)
        np.testing.assert_array_equal(ds.snrs, want_snrs)
    np.testing.assert_array_equal(p.x, h.x)
    np.testing.assert_array_equal(s.x, h.x)
    # the pickle is the RadioML 2016.10a layout, loadable the usual way
    with open(outs["pickle"], "rb") as f:
        d = pickle.load(f, encoding="latin1")
    assert sorted(d) == [("BPSK", 0), ("BPSK", 10), ("GMSK", 0), ("GMSK", 10)]
    for (cls, snr), a in d.items():
        assert a.dtype == np.float32 and a.shape == (6, 2, 128)
        sel = (h.labels == h.classes.index(cls)) & (h.snrs == snr)
        np.testing.assert_array_equal(a[:, 0, :] + 1j * a[:, 1, :], h.x[sel])
    # SigMF: one annotation per frame with label and SNR
    meta = json.load(open(tmp_path / "d.sigmf-meta"))
    ann = meta["annotations"]
    assert [a["core:label"] for a in ann] == ["BPSK"] * 12 + ["GMSK"] * 12
    assert [a["amc:snr_db"] for a in ann] == list(want_snrs.astype(float))
    assert [a["core:sample_start"] for a in ann] == [128 * i for i in range(24)]


@pytest.mark.parametrize("changes, message", [
    ({"colour": "red"}, "unknown key 'colour'; allowed keys: name, description, classes"),
    ({"classes": ["BPSK", "QPSK2"]}, "key 'classes': unknown class 'QPSK2'; allowed: OOK, 4ASK"),
    ({"snrs": []}, "key 'snrs': [] is not a valid SNR list"),
    ({"snrs": [0, 2.5]}, "key 'snrs': 2.5 is not an integer SNR"),
    ({"snrs": {"start": 0, "stop": 10, "stride": 2}}, "allowed: start, stop, step"),
    ({"frame_length": 0}, "key 'frame_length': must be an integer >= 1, got 0"),
    ({"frames_per_class_snr": "many"}, "key 'frames_per_class_snr': must be an integer >= 1"),
    ({"format": "csv"}, "key 'format': unknown value 'csv'; allowed: hdf5, pickle, sigmf"),
    ({"normalization": "l2"}, "key 'normalization': unknown value 'l2'; allowed: rms, peak, l1, iq_std, none"),
    ({"channel": {"preset": "rml2020"}}, "key 'channel.preset': unknown channel preset 'rml2020'; allowed: "),
    ({"channel": {"preset": "awgn", "bogus": 1}}, "key 'channel.bogus': not an argument of amc.radioml_channel"),
    ({"source": {"sps": 4}}, "key 'source.sps': not an argument of amc.modulation_source; allowed: "),
    ({"channel": []}, "key 'channel': an empty list; give at least one channel mapping"),
    ({"channel": [{"preset": "awgn"}, "rml2018"]}, "key 'channel[1]': must be a mapping of block arguments"),
    ({"channel": [{"preset": "awgn"}, {"preset": "rml2020"}]}, "key 'channel[1].preset': unknown channel preset"),
    ({"channel": [{"preset": "awgn"}, {"k_factr": 4}]}, "key 'channel[1].k_factr': not an argument of amc.radio"),
    ({"channel": [{"preset": "awgn"}, {"samp_rate": 1e6}]}, "the entries of a channel mixture must share one "
                                                             "sample rate (a dataset has one), got 200000, 1e+06 Hz"),
    ({"channel": "rml2018"}, "key 'channel': must be a mapping of block arguments or a list of them"),
])
def test_bad_config_names_the_key(tmp_path, capsys, changes, message):
    from gnuradio.amc import cli
    cfg = write_config(tmp_path, **changes)
    # an --output without a known extension, so the config's format counts
    rc = cli.main(["generate", "--config", str(cfg), "--output", str(tmp_path / "x.out")])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err
    assert str(cfg) in err                                        # names the file
    assert sorted(os.listdir(tmp_path)) == ["c.yml"]              # nothing made


def test_bad_command_line(tmp_path):
    p = run_cli("generate", "--preset", "rml1999", "--output", tmp_path / "x.h5")
    assert p.returncode == 2
    assert "unknown preset 'rml1999'; available presets: demo, rml2016a, rml2018a" in p.stderr
    assert "Traceback" not in p.stderr
    p = run_cli("generate", "--preset", "demo", "--format", "pickle", "--output", tmp_path / "x.h5")
    assert p.returncode == 2 and "has the extension of format hdf5, but --format is pickle" in p.stderr
    p = run_cli("generate", "--preset", "demo", "--snrs=-5:5:0", "--output", tmp_path / "x.h5")
    assert p.returncode == 2 and "step 0 does not go from -5 to 5" in p.stderr
    (tmp_path / "x.h5").write_bytes(b"old")
    p = run_cli("generate", "--preset", "demo", "-n", 1, "--output", tmp_path / "x.h5")
    assert p.returncode == 2 and "already exists; use --overwrite" in p.stderr
    assert (tmp_path / "x.h5").read_bytes() == b"old"


def test_presets_are_valid():
    """Every shipped preset passes the config check; rml2016a / rml2018a have the RadioML shapes."""
    from gnuradio.amc import contract, dataset_config
    shapes = {}
    assert {"demo", "rml2016a", "rml2018a", "wild", "wild2016", "wild-mix"} <= set(dataset_config.preset_names())
    for name in dataset_config.preset_names():
        shapes[name], _ = dataset_config.load_config(name)
    a16, a18 = shapes["rml2016a"], shapes["rml2018a"]
    assert (a16["classes"], a16["snrs"], a16["frames_per_class_snr"], a16["frame_length"], a16["format"],
            a16["normalization"], a16["channel"]["preset"]) == (
        list(contract.CLASSES_2016), list(range(-20, 20, 2)), 1000, 128, "pickle", "l1", "rml2016")
    assert (a18["classes"], a18["snrs"], a18["frames_per_class_snr"], a18["frame_length"], a18["format"],
            a18["normalization"], a18["channel"]["preset"]) == (
        list(contract.CLASSES_2018), list(range(-20, 32, 2)), 4096, 1024, "hdf5", "rms", "rml2018")


def test_complete_output_with_leftover_parts_and_merge_temps(tmp_path):
    """A run stopped after its final rename but before it removed OUT.parts: the same command recognizes the
    complete output, removes the parts folder and exits 0, leaving the file as it was.  What a merge killed
    before its rename leaves beside the output (the writers' .tmp files and .tmpdir folders) is removed by the
    next run; other files of the folder are not touched."""
    cfg = write_config(tmp_path)
    out = tmp_path / "c.h5"
    args = ["generate", "--config", cfg, "--output", out, "--workers", 1, "--quiet"]
    run_cli(*args, "--keep-parts", check=True, timeout=300)
    before = out.read_bytes()
    assert (tmp_path / "c.h5.parts").is_dir()
    stale_file, stale_dir = tmp_path / "c.h5.ab12CD_9.tmp", tmp_path / "c.h5.zz99yy88.tmpdir"
    stale_file.write_bytes(b"half a merge")
    stale_dir.mkdir()
    (stale_dir / "spool.npy").write_bytes(b"x")
    unrelated = tmp_path / "c.h5.notes.txt"
    unrelated.write_text("mine")
    p = run_cli(*args)
    assert p.returncode == 0, p.stderr
    assert "is complete" in p.stderr and "removed it" in p.stderr
    assert not (tmp_path / "c.h5.parts").exists() and out.read_bytes() == before
    assert not stale_file.exists() and not stale_dir.exists() and unrelated.read_text() == "mine"
    # without a parts folder of the same config, an existing output is still refused
    p = run_cli(*args)
    assert p.returncode == 2 and "already exists; use --overwrite" in p.stderr
    # a merge killed before its rename: the temporaries go when the run is repeated (here with --overwrite)
    stale_file.write_bytes(b"half a merge")
    run_cli(*args, "--overwrite", check=True, timeout=300)
    assert not stale_file.exists() and out.read_bytes() == before


def test_five_random_kills_then_resume_give_the_same_bytes(tmp_path):
    """Five SIGKILLs at seeded random moments (start-up, shard work, merge), each followed by the same command:
    the file is byte-identical to an uninterrupted run, and nothing temporary is left anywhere."""
    from amc_fixtures.kill_loop import kill_loop
    cfg = write_config(tmp_path, frames_per_class_snr=200, shard_size=2)     # 400 shards: ~10 s of work
    out = tmp_path / "k.h5"
    log = kill_loop(cfg, out, kills=5, seed=7, min_s=1.5, max_s=4.0)
    assert len(log) == 5 and not any(r["ended"] for r in log), log
    assert max(r["shards_done"] for r in log) > 0, log              # kills landed in the shard work too
    ref = tmp_path / "ref.h5"
    run_cli("generate", "--config", cfg, "--output", ref, "--workers", 2, "--quiet", check=True, timeout=300)
    assert out.read_bytes() == ref.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["c.yml", "k.h5", "ref.h5"]


def _pool_workers():
    """PIDs of this process's spawned multiprocessing workers (not its resource tracker)."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if ppid == os.getpid() and b"spawn_main" in cmd:
            out.append(int(pid))
    return out


def test_a_killed_worker_is_replaced_and_its_shard_run_again(tmp_path, capsys):
    """SIGKILL of one worker process in the middle of a run (what the OOM killer does): no hang, the broken pool
    is replaced, the shards that were lost run again, and the file equals a one-worker run's."""
    import threading
    from gnuradio.amc import generation
    cfg = dict(TINY, frames_per_class_snr=24, shard_size=2)         # 48 shards
    out, ref = tmp_path / "k.h5", tmp_path / "ref.h5"
    parts = tmp_path / "k.h5.parts"
    killed = []

    def killer():
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            done = [f for f in os.listdir(parts) if f.endswith(".h5")] if parts.is_dir() else []
            workers = _pool_workers()
            if len(done) >= 4 and workers:
                os.kill(workers[0], signal.SIGKILL)
                killed.append((workers[0], len(done)))
            time.sleep(0.01)
    t = threading.Thread(target=killer, daemon=True)
    t.start()
    files = generation.generate(cfg, str(out), workers=2, quiet=True)
    t.join()
    assert killed, "no worker was killed (the run ended first)"
    assert files == [str(out)]
    assert "a worker process died; running" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["k.h5"]                 # parts and temporaries removed
    generation.generate(cfg, str(ref), workers=1, quiet=True)
    a, b = load(out), load(ref)
    assert (a.x == b.x).all() and (a.labels == b.labels).all() and (a.snrs == b.snrs).all()


def test_a_shard_whose_worker_always_dies_stops_the_run_with_a_message(tmp_path):
    """A worker that dies on every try of the same shard: the run stops after the retries, naming the shard, and
    keeps what is finished."""
    from gnuradio.amc import generation

    class Dying:     # an executor whose workers die on shard 3, every time
        def __init__(self):
            self.pool = generation.LocalPool(1)

        def submit(self, fn, job):
            import concurrent.futures as cf
            if job["index"] == 3:
                f = cf.Future()
                f.set_exception(cf.process.BrokenProcessPool("worker died"))
                return f
            return self.pool.submit(fn, job)

    ex = Dying()
    try:
        with pytest.raises(generation.GenerationError, match=r"shard .*: its worker process died 3 times"):
            generation.generate(dict(TINY, frames_per_class_snr=4, shard_size=2), str(tmp_path / "d.h5"),
                                executor=ex, quiet=True)
    finally:
        ex.pool.shutdown()
    kept = [f for f in os.listdir(tmp_path / "d.h5.parts") if f.endswith(".h5")]
    assert len(kept) == 7 and not (tmp_path / "d.h5").exists()


def test_a_channel_mixture_draws_one_entry_per_shard(tmp_path):
    """`channel` as a list: each shard draws one entry from its parameter seed (uniformly; repeated entries weigh
    more), the source draws stay as without the mixture, and a shard is the very shard a config with its drawn
    entry alone makes (flowgraph generator and batch generator alike)."""
    import collections

    from gnuradio.amc import batch, dataset_config, datasets
    flat = {"preset": "rml2018", "delays": [0.0], "mags": [1.0]}
    mix, _ = dataset_config.load_config("wild", channel=[{"preset": "rml2018"}, {"preset": "rml2018"}, flat],
                                        classes=["QPSK", "16QAM"], snrs=[10, 20], frames_per_class_snr=4,
                                        shard_size=2, skip_samples=64)
    plain, _ = dataset_config.load_config("wild", classes=["QPSK", "16QAM"], snrs=[10, 20], frames_per_class_snr=4,
                                          shard_size=2, skip_samples=64)
    drawn = collections.Counter(str(dataset_config.stream_job(mix, 5, i)["channel"]) for i in range(3000))
    assert sorted(drawn.values())[0] == pytest.approx(1000, abs=90) and len(drawn) == 2   # 2:1, as listed
    jobs = dataset_config.plan_shards(mix)
    assert [j["source"] for j in jobs] == [j["source"] for j in dataset_config.plan_shards(plain)]
    kinds = [j["channel"] for j in jobs]
    assert {"preset": "rml2018"} in kinds and flat in kinds
    out = tmp_path / "mix.h5"
    cfg_path = tmp_path / "mix.yml"
    cfg_path.write_text(yaml.safe_dump({k: v for k, v in mix.items()}))
    run_cli("generate", "--config", cfg_path, "--workers", 1, "--quiet", "--output", out, check=True, timeout=300)
    ds = datasets.load_dataset(str(out))
    x, _, _, _ = batch.dataset_frames(mix)
    np.testing.assert_array_equal(ds.x, x)                # the flowgraph and the batch generator agree
    for j in jobs:                                         # each shard as its drawn channel alone makes it
        alone = dict(mix, channel=j["channel"])
        xj, _, _, _ = batch.dataset_frames(alone)
        rows = slice(j["index"] * 2, j["index"] * 2 + 2)
        np.testing.assert_array_equal(x[rows], xj[rows])
    assert json.loads(ds.attrs["config"])["channel"] == mix["channel"]
