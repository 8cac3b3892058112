#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: peak memory of `gr-amc train` on HDF5 files, in memory against streamed, and streamed on a file
several times the memory it may use (a memory cgroup caps it).

Makes a RadioML 2018.01A-layout file of --size-gib GiB (frames of the `wild` preset, 1024 samples, tiled) and one
of --small-gib GiB, then runs, each as its own process tree whose memory (the sum of the proportional set sizes of the
training process and its DataLoader workers) is sampled every 0.1 s:

  baseline      python importing torch, ONNX Runtime and gr-amc's training code (the floor of every run)
  in memory     small file, --streaming off (the whole file read, normalized and split in memory)
  streamed      small file, --streaming on
  streamed, cap big file under a memory cgroup of --cap-gib GiB, --streaming auto (it must choose to stream)
  in memory, cap big file under the same cap, --streaming off (expected to be killed by the cgroup's OOM killer)
  reader, cap   one epoch of the streaming reader alone over the big file (frames/s, no training)

Each training run is one epoch of `rn1d` on --max-frames frames (the split's validation and test sets capped at
1024 frames when streamed).  The cap needs root and a cgroup v1 or v2 memory controller; without it those runs
are skipped and said so.

    PYTHONPATH=build/test_modules GR_AMC_DATA_DIR=gr-amc .venv/bin/python bench/bench_streaming.py \\
        [--size-gib 6] [--small-gib 0.5] [--cap-gib 1.5] [--dir /tmp/amc-bench-streaming] [--keep]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time


PY = sys.executable


def _pss(pid):
    """Proportional set size of a process (its resident pages, shared ones divided among their sharers, so that
    a sum over forked DataLoader workers does not count the parent's pages twice); VmRSS without smaps_rollup."""
    for name, key in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        try:
            with open(f"/proc/{pid}/{name}") as f:
                for line in f:
                    if line.startswith(key):
                        return int(line.split()[1]) * 1024
        except OSError:
            continue
    return 0


def memory_tree(pid):
    """Memory of process `pid` and all its descendants (sum of their proportional set sizes)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d))
        except (OSError, ValueError, IndexError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += _pss(p)
        todo += children.get(p, [])
    return total


class Cgroup:
    """A memory cgroup with a limit (v2, or v1's memory controller); None from make() where neither works."""

    @staticmethod
    def make(name, limit):
        for base, lim in (("/sys/fs/cgroup", "memory.max"), ("/sys/fs/cgroup/memory", "memory.limit_in_bytes")):
            if not os.path.exists(os.path.join(base, lim if base.endswith("memory") else "cgroup.controllers")):
                continue
            path = os.path.join(base, name)
            try:
                os.makedirs(path, exist_ok=True)
                with open(os.path.join(path, lim), "w") as f:
                    f.write(str(int(limit)))
                if base.endswith("memory"):
                    try:
                        with open(os.path.join(path, "memory.memsw.limit_in_bytes"), "w") as f:
                            f.write(str(int(limit)))
                    except OSError:
                        pass
                return Cgroup(path)
            except OSError:
                continue
        return None

    def __init__(self, path):
        self.path = path

    def wrap(self, cmd):
        return ["sh", "-c", f'echo $$ > {self.path}/cgroup.procs && exec "$@"', "sh"] + list(cmd)

    def remove(self):
        try:
            os.rmdir(self.path)
        except OSError:
            pass


def measure(cmd, cgroup=None, env=None):
    """Run cmd; -> dict(peak_rss: peak memory of its process tree in bytes, seconds, rc, tail of its output)."""
    full = cgroup.wrap(cmd) if cgroup else cmd
    t0 = time.perf_counter()
    p = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    peak = 0
    out = []
    os.set_blocking(p.stdout.fileno(), False)
    while p.poll() is None:
        peak = max(peak, memory_tree(p.pid))
        chunk = p.stdout.read()
        if chunk:
            out.append(chunk)
        time.sleep(0.1)
    rest = p.stdout.read()
    if rest:
        out.append(rest)
    text = b"".join(out).decode(errors="replace")
    return dict(peak_rss=peak, seconds=time.perf_counter() - t0, rc=p.returncode, text=text, tail=text[-600:])


def make_file(path, gib, base):
    """A RadioML-layout file of about `gib` GiB: the frames of `base` tiled (X contiguous, as gr-amc writes)."""
    import h5py
    with h5py.File(base, "r") as src:
        X, Y, Z = src["X"][...], src["Y"][...], src["Z"][...]
        attrs = dict(src.attrs)
    n = int(gib * 2 ** 30 // (X.shape[1] * 8))
    with h5py.File(path + ".tmp", "w") as f:
        dx = f.create_dataset("X", (n,) + X.shape[1:], X.dtype)
        dy = f.create_dataset("Y", (n,) + Y.shape[1:], Y.dtype)
        dz = f.create_dataset("Z", (n,) + Z.shape[1:], Z.dtype)
        for a in range(0, n, len(X)):
            b = min(n, a + len(X))
            dx[a:b], dy[a:b], dz[a:b] = X[:b - a], Y[:b - a], Z[:b - a]
        for k, v in attrs.items():
            f.attrs[k] = v
    os.replace(path + ".tmp", path)
    return n


READER = r"""
import sys, time
from gnuradio.amc.training import data
files = data.StreamedFiles(sys.argv[1])
rows = np.arange(len(files))
t0 = time.perf_counter()
it, n = data.make_file_loader(files, rows, 0, 1, 128, "iq", "N,2,L", int(sys.argv[2]))
k = sum(len(y) for _, y in it)
print(f"READ {k} {time.perf_counter() - t0:.2f}")
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-gib", type=float, default=6.0)
    ap.add_argument("--small-gib", type=float, default=0.5)
    ap.add_argument("--cap-gib", type=float, default=1.5)
    ap.add_argument("--max-frames", type=int, default=8192)
    ap.add_argument("--dir", default="/tmp/amc-bench-streaming")
    ap.add_argument("--keep", action="store_true", help="keep the files for another run")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    gramc = [PY, "-m", "gnuradio.amc.cli"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    base = os.path.join(a.dir, "base.h5")
    if not os.path.exists(base):
        subprocess.run(gramc + ["generate", "--preset", "wild", "-n", "4", "--shard-size", "4", "--seed", "5",
                                "--quiet", "--overwrite", "--output", base], check=True, env=env)
    files = {}
    for name, gib in (("small", a.small_gib), ("big", a.size_gib)):
        path = os.path.join(a.dir, f"{name}.h5")
        want = int(gib * 2 ** 30 // 8192)
        if not (os.path.exists(path) and os.path.getsize(path) >= want * 8192):
            make_file(path, gib, base)
        files[name] = path
    train = gramc + ["train", "-m", "rn1d", "--epochs", "1", "--max-frames", str(a.max_frames), "--val-frames",
                     "1024", "--batch-size", "128", "--threads", "1", "--workers", "1", "--seed", "1"]

    def out(tag):
        return ["-o", os.path.join(a.dir, f"{tag}.onnx")]

    cap = Cgroup.make("gr-amc-bench-streaming", a.cap_gib * 2 ** 30)
    runs = [("baseline", [PY, "-c", "import torch, onnxruntime; from gnuradio.amc.training import fit"], None),
            ("in memory", train + [files["small"], "--streaming", "off"] + out("mem"), None),
            ("streamed", train + [files["small"], "--streaming", "on"] + out("str"), None)]
    if cap:
        runs += [("streamed, cap", train + [files["big"], "--streaming", "auto"] + out("cap"), cap),
                 ("in memory, cap", train + [files["big"], "--streaming", "off"] + out("capmem"), cap),
                 ("reader, cap (workers 0)", [PY, "-c", READER, files["big"], "0"], cap),
                 ("reader, cap (workers 2)", [PY, "-c", READER, files["big"], "2"], cap)]
    else:
        print("no memory cgroup could be made (needs root and a cgroup memory controller): the capped runs are "
              "skipped")
    sizes = {k: os.path.getsize(v) for k, v in files.items()}
    print(f"files: small {sizes['small'] / 2**30:.2f} GiB, big {sizes['big'] / 2**30:.2f} GiB; cap "
          f"{a.cap_gib:g} GiB; {a.max_frames} training frames per run")
    results = []
    try:
        for name, cmd, cg in runs:
            r = measure([str(c) for c in cmd], cg, env)
            note = "ok" if r["rc"] == 0 else (f"killed (signal {-r['rc']})" if r["rc"] < 0 else f"exit {r['rc']}")
            if r["rc"] == -signal.SIGKILL and cg:
                note = "killed by the cgroup's OOM killer"
            extra = ""
            if "READ" in r["tail"]:
                k, s = r["tail"].split("READ")[1].split()[:2]
                extra = f"; {int(k) / float(s):,.0f} frames/s ({int(k) * 8192 / float(s) / 2**20:,.0f} MiB/s)"
            if name == "streamed, cap":
                extra += ("; --streaming auto chose to stream" if "streaming the dataset files" in r["text"] else
                          "; --streaming auto did NOT stream")
            print(f"{name:26s} peak {r['peak_rss'] / 2**20:8,.0f} MiB  {r['seconds']:7.1f} s  {note}{extra}")
            if r["rc"] != 0 and "OOM" not in note and "cap" not in name:
                print(r["tail"])
            results.append(dict(name=name, peak_rss_mib=round(r["peak_rss"] / 2**20), seconds=round(r["seconds"], 1),
                                outcome=note))
    finally:
        if cap:
            cap.remove()
        if not a.keep:
            shutil.rmtree(a.dir, ignore_errors=True)
    print(json.dumps(dict(sizes_gib={k: round(v / 2**30, 2) for k, v in sizes.items()}, cap_gib=a.cap_gib,
                          results=results)))
    base_rss = results[0]["peak_rss_mib"]
    mem = results[1]["peak_rss_mib"] - base_rss
    print(f"in memory: {mem:,} MiB above the baseline, {mem / (sizes['small'] / 2**20):.2f} x the small file")
    for r in results[2:4]:
        print(f"{r['name']}: {r['peak_rss_mib'] - base_rss:,} MiB above the baseline")

if __name__ == "__main__":
    sys.exit(main())
