#!/usr/bin/env python3
"""HDF5 X layout: random single-frame reads (what a PyTorch Dataset's __getitem__ does) and sequential block
reads, for chunk sizes of 1, 8, 32 and 128 frames and a contiguous X (the original RadioML 2018.01A file's
layout), all in one run on the same machine.

    .venv/bin/python bench/bench_hdf5_layout.py [--frames 16384] [--length 1024] [--reads 4000]

Files are written to a temporary folder and read back warm (page cache), so the figures compare the layouts'
own cost (HDF5 chunk lookup and chunk reads), not the disk.  Median of 5 repeats per layout.
"""
import argparse
import os
import statistics
import tempfile
import time

import h5py
import numpy as np


def write(path, x, chunk):
    with h5py.File(path, "w") as f:
        if chunk:
            f.create_dataset("X", data=x, chunks=(chunk,) + x.shape[1:], track_times=False)
        else:
            f.create_dataset("X", data=x, track_times=False)


def random_reads(path, idx):
    with h5py.File(path, "r") as f:
        X = f["X"]
        t = time.perf_counter()
        for i in idx:
            X[int(i)]
        return (time.perf_counter() - t) / len(idx)


def sequential(path, block):
    with h5py.File(path, "r") as f:
        X = f["X"]
        t = time.perf_counter()
        for s in range(0, X.shape[0], block):
            X[s:s + block]
        return (time.perf_counter() - t) / X.shape[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=16384)
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--reads", type=int, default=4000)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((a.frames, a.length, 2)).astype("<f4")
    layouts = [("contiguous", 0), ("chunks of 1 frame", 1), ("chunks of 8 frames", 8),
               ("chunks of 32 frames", 32), ("chunks of 128 frames", 128)]
    with tempfile.TemporaryDirectory() as d:
        res = {}
        for name, chunk in layouts:
            p = os.path.join(d, f"{chunk}.h5")
            write(p, x, chunk)
            random_reads(p, rng.integers(0, a.frames, 200))   # warm the page cache
            rr = statistics.median(random_reads(p, rng.integers(0, a.frames, a.reads)) for _ in range(a.repeats))
            sq = statistics.median(sequential(p, 1024) for _ in range(a.repeats))
            res[name] = (rr, sq, os.path.getsize(p))
    base_r, base_s, _ = res["contiguous"]
    print(f"{a.frames} frames of {a.length} samples; median of {a.repeats} repeats\n")
    print("| X layout | random 1-frame read, us | vs contiguous | sequential (1024-frame blocks), us/frame "
          "| vs contiguous | file MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (rr, sq, size) in res.items():
        print(f"| {name} | {rr * 1e6:.1f} | {rr / base_r:.2f}x | {sq * 1e6:.2f} | {sq / base_s:.2f}x | "
              f"{size / 1e6:.1f} |")


if __name__ == "__main__":
    main()
