# SPDX-License-Identifier: GPL-3.0-or-later
"""gr-amc generate on a Dask cluster started with Dask's own command lines on 127.0.0.1: the merged file is
byte for byte the local pool's, with a worker killed in the middle of the run and with shards returned as bytes
(--transfer); a worker that would make other frames is refused by name before anything runs."""
import os
import signal
import socket
import subprocess
import sys
import time

import distributed
import pytest
import yaml
from conftest import run_cli

DASK = os.path.join(os.path.dirname(sys.executable), "dask")
CFG = {"name": "dk", "classes": ["BPSK", "GMSK"], "snrs": [0, 10], "frames_per_class_snr": 24, "frame_length": 128,
       "normalization": "rms", "format": "hdf5", "seed": 11, "shard_size": 2, "skip_samples": 256,
       "channel": {"preset": "rml2018"}}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-thread workers, each started like on a cluster node: `dask scheduler`,
    `dask worker ADDRESS`.  Yields (address, {name: worker Popen})."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("dask")
    env = dict(os.environ, MALLOC_TRIM_THRESHOLD_="")
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=open(logs / "scheduler.log", "w"), stderr=subprocess.STDOUT, env=env,
                              start_new_session=True)]
    workers = {}
    for name in ("w1", "w2"):
        workers[name] = subprocess.Popen(
            [DASK, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard", "--name", name,
             "--local-directory", str(logs / name)],
            stdout=open(logs / f"{name}.log", "w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
        procs.append(workers[name])
    try:
        with distributed.Client(address, timeout=60) as c:
            c.wait_for_workers(2, timeout=120)
        yield address, workers
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("ref")
    (d / "c.yml").write_text(yaml.safe_dump(CFG))
    run_cli("generate", "--config", d / "c.yml", "--output", d / "ref.h5", "--workers", 2, "--quiet", check=True,
            timeout=600)
    return d / "c.yml", (d / "ref.h5").read_bytes()


def test_transfer_to_a_client_without_shared_folders(cluster, reference, tmp_path):
    address, _ = cluster
    cfg, ref = reference
    p = run_cli("generate", "--config", cfg, "--output", tmp_path / "t.h5", "--scheduler", address, "--transfer",
                "--parts-dir", tmp_path / "private-parts", check=True, timeout=600)
    assert "2 worker(s), fingerprints agree" in p.stderr
    assert (tmp_path / "t.h5").read_bytes() == ref
    assert sorted(os.listdir(tmp_path)) == ["t.h5"]                  # the parts folder is removed after merging


def test_a_worker_killed_mid_run_changes_nothing(cluster, reference, tmp_path):
    """SIGKILL of a whole worker (its nanny too: a lost node) while shards are running: Dask runs its tasks on the
    other worker, and the file is the same bytes as the local pool's."""
    address, workers = cluster
    cfg, ref = reference
    out, parts = tmp_path / "k.h5", tmp_path / "k.h5.parts"
    cmd = [sys.executable, "-m", "gnuradio.amc.cli", "generate", "--config", str(cfg), "--output", str(out),
           "--scheduler", address, "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        done = [f for f in os.listdir(parts) if f.endswith(".h5")] if parts.is_dir() else []
        if len(done) >= 6:
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    os.killpg(workers["w2"].pid, signal.SIGKILL)
    workers["w2"].wait()
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    assert out.read_bytes() == ref
    assert 6 <= len(done) < 48


def test_a_worker_that_makes_other_frames_is_refused_by_name():
    from gnuradio.amc import generation

    class Client:        # what DaskExecutor.check_workers asks of distributed.Client
        def run(self, fn):
            mine = fn()
            return {"tcp://10.0.0.7:40001": mine, "tcp://10.0.0.8:40002": (mine[0], "0" * 64)}

    ex = generation.DaskExecutor.__new__(generation.DaskExecutor)
    ex.client = Client()
    with pytest.raises(ValueError, match=r"Dask worker tcp://10.0.0.8:40002 does not make the same frames: its frames "
                                         r"of the reference shard differ"):
        ex.check_workers()

    class OldClient(Client):
        def run(self, fn):
            return {"tcp://10.0.0.9:40003": ("0.0.1", fn()[1])}
    ex.client = OldClient()
    with pytest.raises(ValueError, match=r"Dask worker tcp://10.0.0.9:40003 .*gr-amc 0.0.1, this client"):
        ex.check_workers()
