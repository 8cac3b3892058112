#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Dataset generation speed: gr-amc's `rml2018a` preset next to TorchSig 2.2, in one run.

gr-amc:   `gr-amc generate --preset rml2018a -n N` (24 classes x 26 SNRs x N frames of 1024 samples, all
          impairments of the rml2018 channel, rms-normalized, written to HDF5, shards merged), timed as a
          subprocess (process start-up, shard flowgraphs and the merge included). By default two SNRs and
          256 frames per (class, SNR), i.e. one full shard of the preset each: 12,288 frames.
TorchSig: a TorchSigIterableDataset of all its signal classes with TorchSig's own impairment level 2
          (torchsig.transforms.impairments.Impairments(2): TX impairments + fading as component transforms,
          RX impairments + ML transforms as dataset transforms, exactly as torchsig.utils.defaults.default_dataset
          wires them) and 1024-sample examples holding one signal each; frames are generated in memory (not
          written), which can only favour TorchSig.

Both are measured as frames per CPU-second (user + system time of the whole process tree, from
getrusage(RUSAGE_CHILDREN)), i.e. frames/s per core, and as wall-clock frames/s.

TorchSig is installed by this script into bench/.venv-torchsig (never a gr-amc dependency). Notes on that
venv: torch 2.13.0 (the CPU build this machine's registry offers; the torch that matches the newest
torchaudio, 2.11, pulls several GB of CUDA wheels), and torchaudio's compiled extension, built for another
torch, is removed so that `import torchaudio` works: TorchSig uses torchaudio only for spectrogram outputs.

Usage (from the repository root, after `make build`):
    .venv/bin/python bench/bench_generate.py [-n 256] [--snrs 0,20] [--workers 1] [--torchsig-frames 600]
"""
import argparse
import glob
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, "bench", ".venv-torchsig")
VPY = os.path.join(VENV, "bin", "python")
TORCHSIG_PINS = ["torchsig==2.2.0", "torch==2.13.0"]

TORCHSIG_SCRIPT = r"""
import json, os, resource, sys, time, warnings
warnings.filterwarnings("ignore")
n_frames, seed = int(sys.argv[1]), int(sys.argv[2])
t_import = time.time()
import torchsig
from torchsig.datasets.datasets import TorchSigIterableDataset
from torchsig.transforms.impairments import Impairments
from torchsig.utils.defaults import TorchSigDefaults
md = TorchSigDefaults().default_dataset_metadata
md.update(num_iq_samples_dataset=1024, fft_size=64, fft_stride=64,
          signal_duration_in_samples_min=1024, signal_duration_in_samples_max=1024,
          num_signals_min=1, num_signals_max=1, cochannel_overlap_probability=0.0)
imp = Impairments(2)
ds = TorchSigIterableDataset(metadata=md, signal_generators="all", transforms=[imp.dataset_transforms],
                             component_transforms=[imp.signal_transforms], target_labels=["class_name"], seed=seed)
it = iter(ds)
for _ in range(5):                                   # warm-up (numba compilation, caches)
    next(it)
ru0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.time()
shapes = set()
for _ in range(n_frames):
    x, label = next(it)
    shapes.add((tuple(x.shape), str(x.dtype)))
wall = time.time() - t0
ru1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
print(json.dumps({"frames": n_frames, "wall_s": wall, "cpu_s": cpu, "version": torchsig.__version__,
                  "classes": len(ds.signal_generators), "shapes": sorted(map(str, shapes))}))
"""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def setup_torchsig():
    """Create bench/.venv-torchsig with TorchSig 2.2 (once). Returns None, or why it could not be set up."""
    if os.path.exists(VPY):
        ok = subprocess.run([VPY, "-c", "import torchsig, torchaudio"], capture_output=True, text=True)
        if ok.returncode == 0:
            return None
    log(f"==> installing TorchSig into {VENV} (a separate venv; not a gr-amc dependency)")
    if not os.path.exists(VPY):
        r = subprocess.run(["/usr/bin/python3", "-m", "venv", VENV], capture_output=True, text=True)
        if r.returncode:
            return f"python3 -m venv failed: {r.stderr.strip()}"
    with open(os.path.join(VENV, ".gitignore"), "w") as f:
        f.write("*\n")
    r = subprocess.run([VPY, "-m", "pip", "install", "-q", *TORCHSIG_PINS], capture_output=True, text=True)
    if r.returncode:
        return f"pip install {' '.join(TORCHSIG_PINS)} failed: {r.stderr.strip()[-2000:]}"
    # torchaudio (a TorchSig dependency) ships a C extension built for another torch release; without the
    # compiled library torchaudio imports as pure Python (TorchSig's IQ path does not use it).
    site = subprocess.run([VPY, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True).stdout.strip()
    for so in glob.glob(os.path.join(site, "torchaudio", "lib", "*.so")):
        os.remove(so)
    ok = subprocess.run([VPY, "-c", "import torchsig, torchaudio"], capture_output=True, text=True)
    if ok.returncode:
        return f"TorchSig installed but does not import: {ok.stderr.strip()[-2000:]}"
    return None


def timed(cmd, env=None):
    """Run cmd; return (CompletedProcess, wall seconds, CPU seconds of the whole process tree)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.time() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return p, wall, cpu


def bench_gr_amc(n, snrs, workers, keep):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(ROOT, "build", "test_modules") + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("GR_AMC_DATA_DIR", os.path.join(ROOT, "gr-amc"))
    tmp = tempfile.mkdtemp(prefix="bench_generate_")
    out = os.path.join(tmp, "rml2018a.h5")
    cmd = [sys.executable, "-m", "gnuradio.amc.cli", "generate", "--preset", "rml2018a", "-n", str(n),
           f"--snrs={snrs}", "--workers", str(workers), "--output", out, "--quiet"]
    log("==> gr-amc: " + " ".join(cmd[1:]))
    p, wall, cpu = timed(cmd, env)
    if p.returncode:
        raise SystemExit(f"gr-amc generate failed ({p.returncode}):\n{p.stderr[-3000:]}")
    import h5py
    with h5py.File(out, "r") as f:
        frames, shape = f["X"].shape[0], f["X"].shape
    size = os.path.getsize(out)
    if keep:
        log(f"    kept {out}")
    else:
        shutil.rmtree(tmp)
    return {"frames": frames, "wall_s": wall, "cpu_s": cpu, "X_shape": list(shape), "bytes": size,
            "command": "gr-amc " + " ".join(cmd[3:-3] + ["--output", "FILE.h5"])}


def bench_torchsig(n):
    log(f"==> TorchSig 2.2 (impairment level 2, 1024-sample frames): {n} frames")
    p, wall, cpu = timed([VPY, "-c", TORCHSIG_SCRIPT, str(n), "1"])
    if p.returncode:
        raise SystemExit(f"TorchSig run failed ({p.returncode}):\n{p.stderr[-3000:]}")
    res = json.loads(p.stdout.strip().splitlines()[-1])
    res["process_wall_s"], res["process_cpu_s"] = wall, cpu
    return res


def machine():
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=256,
                    help="gr-amc frames per (class, SNR); 256 = one full shard of the preset per (class, SNR)")
    ap.add_argument("--snrs", default="0,20",
                    help="gr-amc SNRs (a subset of the preset's -20..30 keeps the run short; the work per frame "
                         "does not depend on the SNR value)")
    ap.add_argument("--workers", type=int, default=1, help="gr-amc worker processes")
    ap.add_argument("--torchsig-frames", type=int, default=600, help="TorchSig frames to time")
    ap.add_argument("--skip-torchsig", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the gr-amc output file")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args()

    res = {"machine": machine(), "load_avg_before": os.getloadavg()}
    why = None if args.skip_torchsig else setup_torchsig()
    res["gr_amc"] = g = bench_gr_amc(args.n, args.snrs, args.workers, args.keep)
    if why is None and not args.skip_torchsig:
        res["torchsig"] = bench_torchsig(args.torchsig_frames)
    else:
        res["torchsig_error"] = why or "skipped"
    res["load_avg_after"] = os.getloadavg()

    print(f"machine: {res['machine']}; load average before/after: "
          f"{', '.join(f'{x:.1f}' for x in res['load_avg_before'])} / "
          f"{', '.join(f'{x:.1f}' for x in res['load_avg_after'])}")
    print(f"{'generator':<44} {'frames':>7} {'wall s':>8} {'CPU s':>8} {'frames/s':>9} {'frames/CPU-s':>13}")
    g_pc = g["frames"] / g["cpu_s"]
    print(f"{'gr-amc rml2018a (all impairments, to HDF5)':<44} {g['frames']:>7} {g['wall_s']:>8.1f} "
          f"{g['cpu_s']:>8.1f} {g['frames'] / g['wall_s']:>9.0f} {g_pc:>13.0f}")
    if "torchsig" in res:
        t = res["torchsig"]
        t_pc = t["frames"] / t["cpu_s"]
        print(f"{'TorchSig ' + t['version'] + ' level 2 (in memory)':<44} {t['frames']:>7} {t['wall_s']:>8.1f} "
              f"{t['cpu_s']:>8.1f} {t['frames'] / t['wall_s']:>9.0f} {t_pc:>13.0f}")
        res["ratio_per_core"] = g_pc / t_pc
        res["ratio_wall"] = (g["frames"] / g["wall_s"]) / (t["frames"] / t["wall_s"])
        print(f"ratio gr-amc / TorchSig: {res['ratio_per_core']:.1f}x per core (frames per CPU-second), "
              f"{res['ratio_wall']:.1f}x wall-clock (target: >= 10x per core)")
    else:
        print(f"TorchSig: not measured: {res['torchsig_error']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
