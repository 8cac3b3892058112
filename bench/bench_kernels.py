#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of the C++ kernels (framer + normalizer), on ONE core (the process pins itself).

1. Flowgraph throughput: source -> head -> amc.framer(1024, 1024) -> amc.normalizer(1024, rms) -> null sink,
   against source -> head -> blocks.stream_to_vector(1024) -> null sink, alternated in the same run.
2. amc.normalize_frames (C++ via pybind11) against the best numpy expression of the same thing
   (rms per frame, zero-power rows stay zero, NaN/Inf rows zeroed) on (4096, 1024) complex64.
3. The order-feature front end (amc.order_features) at each version it computes, alternated, on 512 frames of
   the `wild` preset: milliseconds per frame.

Run from the repo root:  make build && PYTHONPATH=build/test_modules .venv/bin/python bench/bench_kernels.py
(--parts front-end for part 3 alone)
"""
import argparse
import os
import platform
import statistics
import time

import numpy as np
from gnuradio import blocks, gr

from gnuradio import amc

L = 1024


def flowgraph_rate(kind, n_samples, pattern):
    tb = gr.top_block()
    src = blocks.vector_source_c(pattern, True)
    head = blocks.head(gr.sizeof_gr_complex, n_samples)
    if kind == "framer+normalizer":
        chain = [amc.framer(L, L), amc.normalizer(L, "rms")]
    else:
        chain = [blocks.stream_to_vector(gr.sizeof_gr_complex, L)]
    snk = blocks.null_sink(gr.sizeof_gr_complex * L)
    tb.connect(src, head, *chain, snk)
    t0 = time.perf_counter()
    tb.run()
    return n_samples / (time.perf_counter() - t0)


def numpy_rms(x):
    p = np.mean(x.real ** 2 + x.imag ** 2, axis=1)
    ok = np.isfinite(p) & (p > 0)
    scale = np.zeros_like(p)
    np.divide(1.0, np.sqrt(p, where=ok, out=np.ones_like(p)), where=ok, out=scale)
    y = x * scale[:, None].astype(np.float32)
    y[~ok] = 0
    return y


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=100_000_000, help="samples per flowgraph run")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--core", type=int, default=0, help="CPU core to pin to")
    ap.add_argument("--parts", default="flowgraph,normalize,front-end",
                    help="comma-separated parts to run: flowgraph, normalize, front-end (default all)")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    if not parts <= {"flowgraph", "normalize", "front-end"}:
        ap.error(f"--parts: unknown {', '.join(sorted(parts - {'flowgraph', 'normalize', 'front-end'}))}")
    os.sched_setaffinity(0, {args.core})

    rng = np.random.default_rng(0)
    pattern = (rng.standard_normal(1 << 16) + 1j * rng.standard_normal(1 << 16)).astype(np.complex64).tolist()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, pinned to core {args.core};"
          f" GNU Radio {gr.version()}")

    if "flowgraph" in parts:
        bench_flowgraph(args, pattern)
    if "normalize" in parts:
        bench_normalize(args, rng)
    if "front-end" in parts:
        bench_front_end(args)


def bench_flowgraph(args, pattern):
    rates = {"framer+normalizer": [], "stream_to_vector": []}
    for _ in range(args.repeats):  # alternate so both see the same machine load
        for kind in rates:
            rates[kind].append(flowgraph_rate(kind, args.samples, pattern))
    med = {k: statistics.median(v) for k, v in rates.items()}
    for k, v in med.items():
        print(f"flowgraph {k:18s}: median {v / 1e6:7.1f} Msps  (runs: {', '.join(f'{r / 1e6:.0f}' for r in rates[k])})")
    print(f"ratio stream_to_vector / (framer+normalizer): {med['stream_to_vector'] / med['framer+normalizer']:.2f}x"
          f"  (target <= 2x; pair target >= 100 Msps)")


def bench_normalize(args, rng):
    x = (rng.standard_normal((4096, L)) + 1j * rng.standard_normal((4096, L))).astype(np.complex64) * 7
    x[5] = 0
    x[9, 3] = np.nan
    y_c, _ = amc.normalize_frames(x, "rms")
    y_n = numpy_rms(x)
    np.testing.assert_allclose(y_c, y_n, rtol=1e-4, atol=1e-6)
    t_c = timed(lambda: amc.normalize_frames(x, "rms"), args.repeats * 4)
    t_n = timed(lambda: numpy_rms(x), args.repeats * 4)
    n = x.size
    print(f"normalize_frames (C++): median {t_c * 1e3:7.2f} ms for {x.shape} = {n / t_c / 1e6:7.1f} Msps")
    print(f"numpy expression      : median {t_n * 1e3:7.2f} ms = {n / t_n / 1e6:7.1f} Msps")
    print(f"speed-up C++ / numpy: {t_n / t_c:.2f}x  (target >= 2x)")


def bench_front_end(args):
    from gnuradio.amc import batch
    from gnuradio.amc.amc_python import ORDER_FEATURES_MIN_VERSION, ORDER_FEATURES_VERSION, order_features
    x, _, _, _ = batch.frames("wild", 512, 5, shard_size=8)
    x = np.ascontiguousarray(x, np.complex64)
    versions = list(range(ORDER_FEATURES_MIN_VERSION, ORDER_FEATURES_VERSION + 1))
    times = {v: [] for v in versions}
    for _ in range(args.repeats):  # alternated: both see the same machine load
        for v in versions:
            t0 = time.perf_counter()
            order_features(x, v)
            times[v].append((time.perf_counter() - t0) / len(x))
    med = {v: statistics.median(t) for v, t in times.items()}
    for v in versions:
        print(f"order_features version {v}: median {med[v] * 1e3:.3f} ms/frame  "
              f"(runs: {', '.join(f'{t * 1e3:.3f}' for t in times[v])})")
    print(f"ratio version {versions[-1]} / version {versions[0]}: {med[versions[-1]] / med[versions[0]]:.2f}x")


if __name__ == "__main__":
    main()
