#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: gr-amc generate on Dask against the local process pool, side by side in one run.

Measures, over interleaved rounds (median): the Dask start-up (a LocalCluster of N worker processes, one thread
each, plus the fingerprint check every run makes first), and frames/s of the same dataset through the local pool
and through Dask with the same number of workers (cluster start-up excluded), with and without --transfer.

    PYTHONPATH=build/test_modules GR_AMC_DATA_DIR=gr-amc .venv/bin/python bench/bench_dask.py [--workers 1] [--rounds 3]
"""
import argparse
import os
import statistics
import tempfile
import time

from gnuradio.amc import generation

CFG = {"name": "bench", "classes": ["BPSK", "QPSK", "16QAM", "GMSK"], "snrs": [0, 20], "frames_per_class_snr": 32,
       "frame_length": 1024, "normalization": "rms", "format": "hdf5", "seed": 3, "shard_size": 8,
       "skip_samples": 1024, "channel": {"preset": "rml2018"}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    os.environ["MALLOC_TRIM_THRESHOLD_"] = ""
    frames = len(CFG["classes"]) * len(CFG["snrs"]) * CFG["frames_per_class_snr"]
    res = {"local pool": [], "dask": [], "dask --transfer": [], "dask start-up": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            order = ["local pool", "dask", "dask --transfer"]
            for name in order if r % 2 == 0 else order[::-1]:
                out = os.path.join(tmp, f"{r}-{name.replace(' ', '_')}.h5")
                if name == "local pool":
                    t0 = time.perf_counter()
                    generation.generate(CFG, out, workers=a.workers, quiet=True)
                    res[name].append(frames / (time.perf_counter() - t0))
                    continue
                t0 = time.perf_counter()
                with generation.DaskExecutor("local", workers=a.workers, transfer="transfer" in name) as ex:
                    res["dask start-up"].append(time.perf_counter() - t0)
                    t1 = time.perf_counter()
                    generation.generate(CFG, out, quiet=True, executor=ex)
                    res[name].append(frames / (time.perf_counter() - t1))
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"{frames} frames of {CFG['frame_length']} samples in {frames // CFG['shard_size']} shards, "
          f"{a.workers} worker(s), {a.rounds} rounds, medians:")
    for k in ("local pool", "dask", "dask --transfer"):
        print(f"  {k:16s} {med[k]:7.1f} frames/s ({med[k] / a.workers:.1f} per worker, "
              f"{med[k] / med['local pool']:.2f}x the local pool)")
    print(f"  dask start-up (LocalCluster + fingerprint check): {med['dask start-up']:.1f} s")


if __name__ == "__main__":
    main()
