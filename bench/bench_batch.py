#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The batch generator (gnuradio.amc.batch, numpy only) against gr-amc generate's shard flowgraph, on the
same shards of the `wild` preset (rml2018 channel: every impairment), alternated in one process.

Prints frames per CPU-second (process time) and per wall second of each front door, medians over rounds.

    PYTHONPATH=build/test_modules GR_AMC_DATA_DIR=gr-amc .venv/bin/python bench/bench_batch.py [--rounds 5]
"""
import argparse
import os
import statistics
import tempfile
import time

from gnuradio.amc import batch, dataset_config, generation


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--shard-size", type=int, default=64)
    ap.add_argument("--shards", type=int, default=8, help="shards per round and front door")
    a = ap.parse_args()
    cfg, _ = dataset_config.load_config("wild", shard_size=a.shard_size, frames_per_class_snr=a.shard_size)
    tmp = tempfile.mkdtemp()
    res = {"batch": ([], []), "flowgraph": ([], [])}
    for r in range(a.rounds):
        jobs = [dataset_config.stream_job(cfg, 99, r * a.shards + i) for i in range(a.shards)]
        for name in ("batch", "flowgraph") if r % 2 == 0 else ("flowgraph", "batch"):
            c0, w0 = time.process_time(), time.perf_counter()
            for j in jobs:
                if name == "batch":
                    batch.shard_frames(j)
                else:
                    j = dict(j, path=os.path.join(tmp, f"{r}_{j['index']}.h5"))
                    generation.run_shard(j)
            n = sum(j["n"] for j in jobs)
            res[name][0].append(n / (time.process_time() - c0))
            res[name][1].append(n / (time.perf_counter() - w0))
    for name, (cpu, wall) in res.items():
        print(f"{name:9s}  {statistics.median(cpu):7.0f} frames/CPU-s  {statistics.median(wall):7.0f} frames/s wall"
              f"  (median of {a.rounds} rounds of {a.shards} shards x {a.shard_size} frames of 1024 samples)")
    print(f"ratio batch / flowgraph: {statistics.median(res['batch'][0]) / statistics.median(res['flowgraph'][0]):.2f} "
          f"per CPU-second")


if __name__ == "__main__":
    main()
