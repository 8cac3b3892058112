#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: what a rotation ensemble costs in the classifier block.

A K-rotation ensemble (`gr-amc variant MODEL --rotations 4`; release 2's amc-default was one) runs the network on
K turns of every frame.  This measures, alternated in one process over --repeats
rounds (medians reported), the same flowgraph -- vector_source_c (noise, repeating) -> head ->
amc.classifier(max_batch, threads) -> null_sink -- with the ensemble and with the network alone (taken out of
the ensemble by variants.rotation_ensemble_network, i.e. `gr-amc variant ENSEMBLE --rotations 1`), as
frames/s of wall time and frames per CPU-second of the process, and the ratio network / ensemble (expected
about K: the ensemble does K times the MACs).

Run from the repo root (release 2's default: `git show 71581dd:gr-amc/models/amc-default.onnx > r2.onnx`):
  PYTHONPATH=build/test_modules GR_AMC_DATA_DIR=gr-amc .venv/bin/python bench/bench_rotations.py --model r2.onnx
"""
import argparse
import os
import platform
import statistics
import sys
import tempfile

import onnx
from gnuradio import gr

from gnuradio.amc import contract, paths

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_classifier import block_rate  # noqa: E402  (the classifier benchmark's flowgraph)
from gnuradio.amc import variants


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a rotation ensemble (path or shipped name)")
    ap.add_argument("--frames", type=int, default=3000, help="frames per flowgraph run")
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    path = paths.resolve_model(args.model)
    proto = onnx.load(path)
    meta = {p.key: p.value for p in proto.metadata_props}
    if contract.META_ROTATIONS not in meta:
        print(f"{path} is not a rotation ensemble (no {contract.META_ROTATIONS})", file=sys.stderr)
        return 2
    K, L = int(meta[contract.META_ROTATIONS]), int(meta[contract.META_FRAME_LENGTH])
    with tempfile.TemporaryDirectory(prefix="bench_rotations_") as tmp:
        net = os.path.join(tmp, "network.onnx")
        onnx.save(variants.rotation_ensemble_network(proto), net)
        return bench(args, path, net, K, L)


def bench(args, path, net, K, L):
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
          f"python {platform.python_version()}, GNU Radio {gr.version()}")
    print(f"model: {path} ({K}-rotation ensemble) and its network; frame_len {L}; max_batch {args.max_batch}, "
          f"threads {args.threads}; {args.frames} frames per run, {args.repeats} rounds")
    res = {k: [] for k in ("ens", "ens_cpu", "net", "net_cpu")}
    for r in range(args.repeats):
        for key, model in (("net", net), ("ens", path)):
            fps, _msps, _b, cps = block_rate(model, args.frames * L, False, args.max_batch, args.threads)
            res[key].append(fps)
            res[key + "_cpu"].append(cps)
        print(f"  round {r + 1}: frames/s (per CPU-s): network {res['net'][-1]:.0f} ({res['net_cpu'][-1]:.0f}), "
              f"ensemble {res['ens'][-1]:.0f} ({res['ens_cpu'][-1]:.0f})", flush=True)
    med = {k: statistics.median(v) for k, v in res.items()}
    ratios = [n / e for n, e in zip(res["net"], res["ens"])]
    ratios_cpu = [n / e for n, e in zip(res["net_cpu"], res["ens_cpu"])]
    print(f"median frames/s: network {med['net']:.0f} ({med['net'] * L / 1e6:.2f} Msps), ensemble {med['ens']:.0f} "
          f"({med['ens'] * L / 1e6:.2f} Msps); per CPU-second: network {med['net_cpu']:.0f}, ensemble "
          f"{med['ens_cpu']:.0f}")
    print(f"median ratio network/ensemble (same round): {statistics.median(ratios):.2f} wall, "
          f"{statistics.median(ratios_cpu):.2f} CPU (the ensemble does {K}x the MACs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
