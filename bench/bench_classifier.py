#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of amc.classifier .

1. Throughput: vector source (noise, repeating) -> head -> amc.classifier -> null sink (and the
   same with amc.classifier_sink), in frames/s and Msps, against bare InferenceSession.run on the
   same model, the same thread settings and the same batch size, alternated in the same run.
   The ratio block/bare is the figure of merit (target >= 0.8), from wall-clock rates and from
   frames per CPU-second of the whole process (all threads; robust to other jobs on the machine).
   The bare loop is measured both at max_batch and at the mean batch the block actually used.
2. Latency from a frame's last sample to its tag: a Python source paced at fractions (default
   10 % and 50 %) of the block's measured capacity stamps the wall time at which each chunk leaves it; a Python sink stamps when
   each amc:label tag arrives. latency = tag arrival - departure of the frame's last sample.

Model: --model PATH|NAME; default the shipped amc-default if it exists, else a Conv1d CNN made
here with torch (2x1024 input, 4 conv layers 32-64-64-128, global pooling, 24 classes; ~28 MFLOP
per frame), exported with torch.onnx.export(dynamo=False) and given amc metadata.

Run from the repo root:
  PYTHONPATH=build/test_modules GR_AMC_DATA_DIR=gr-amc .venv/bin/python bench/bench_classifier.py
"""
import argparse
import json
import os
import platform
import statistics
import tempfile
import time

import numpy as np
import pmt
from gnuradio import amc, blocks, gr

from gnuradio.amc import contract, runtime
from gnuradio.amc.training import zoo
from gnuradio.amc import fileio
from gnuradio.amc.training.export import contract_metadata, export_onnx


def make_cnn(path, frame_len=1024, classes=contract.CLASSES_2018):
    import onnx
    import torch
    from torch import nn
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv1d(2, 32, 7, padding=3), nn.BatchNorm1d(32), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(64, 64, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(64, 128, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(128, len(classes)))
    net.eval()
    torch.onnx.export(net, torch.zeros(1, 2, frame_len), path, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}}, opset_version=17, dynamo=False)
    m = onnx.load(path)
    onnx.helper.set_model_props(m, contract.encode_metadata({
        contract.META_CLASSES: list(classes), contract.META_FRAME_LENGTH: frame_len,
        contract.META_INPUT_LAYOUT: "N,2,L", contract.META_REPRESENTATION: "iq",
        contract.META_NORMALIZATION: "rms", contract.META_OUTPUT: "logits",
        contract.META_MODEL: "bench-cnn (untrained)"}))
    onnx.save(m, path)
    return path, sum(p.numel() for p in net.parameters())


def make_cnn_subprocess(path):
    """make_cnn in a child process, so that torch is not loaded into the measuring process."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--make-cnn", path],
                         capture_output=True, text=True, check=True).stdout
    return path, int(out.strip().split()[-1])


def make_zoo(name, path, frame_len=1024, classes=contract.CLASSES_2018):
    """An untrained model of the zoo (python/amc/zoo.py), exported as `gr-amc train` exports it:
    the same graph, hence the same inference cost, as a trained one."""
    import torch
    torch.manual_seed(0)
    net = zoo.build(name, len(classes), frame_len).eval()
    rep, layout = zoo.model_spec(name)
    x = contract.to_model_input(np.ones((2, frame_len), np.complex64), rep, layout)
    meta = contract_metadata(name, classes, frame_len)
    meta[contract.META_MODEL] = f"{name} (untrained)"
    blob, _ = export_onnx(net, x, meta)
    fileio.atomic_write_bytes(blob, path)
    return path, zoo.count_parameters(net)


def make_zoo_subprocess(name, path):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--make-zoo", name, path],
                         capture_output=True, text=True, check=True).stdout
    return path, int(out.strip().split()[-1])


def bare_rate(runner, batch, seconds):
    """frames/s of bare session.run on float32 input of the model's shape (batch frames per call); for a model
    with a front end (amc.front_end) its features are computed in every call too (runtime.feeds), as the block
    does."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(contract.input_shape(runner.layout, runner.frame_len, batch)).astype(np.float32)
    sess, out = runner.session, runner.output_name
    sess.run([out], runtime.feeds(sess, x, runner.metadata))
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        sess.run([out], runtime.feeds(sess, x, runner.metadata))
        n += batch
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def block_rate(model, n_samples, sink, max_batch, threads):
    rng = np.random.default_rng(1)
    pattern = ((rng.standard_normal(1 << 16) + 1j * rng.standard_normal(1 << 16)) * 0.5).astype(np.complex64)
    tb = gr.top_block()
    src = blocks.vector_source_c(pattern.tolist(), True)
    head = blocks.head(gr.sizeof_gr_complex, n_samples)
    blk = (amc.classifier_sink if sink else amc.classifier)(model, max_batch=max_batch, threads=threads)
    batches = []
    run = blk._runner.run

    def counting_run(x):
        batches.append(x.shape[0])
        return run(x)
    blk._runner.run = counting_run
    if sink:
        tb.connect(src, head, blk)
    else:
        tb.connect(src, head, blk, blocks.null_sink(gr.sizeof_gr_complex))
    t0, c0 = time.perf_counter(), time.process_time()
    tb.run()
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return blk.classified() / dt, n_samples / dt / 1e6, batches, blk.classified() / cpu


class _paced_source(gr.sync_block):
    def __init__(self, rate, chunk, n_total):
        gr.sync_block.__init__(self, "paced_source", None, [np.complex64])
        rng = np.random.default_rng(2)
        self.data = ((rng.standard_normal(1 << 16) + 1j * rng.standard_normal(1 << 16)) * 0.5).astype(np.complex64)
        self.rate, self.chunk, self.n_total = rate, chunk, n_total
        self.sent = 0
        self.stamps = []  # (absolute index one past the chunk's last sample, wall time)
        self.t0 = None

    def work(self, input_items, output_items):
        if self.sent >= self.n_total:
            return -1
        if self.t0 is None:
            self.t0 = time.perf_counter()
        n = min(self.chunk, len(output_items[0]), self.n_total - self.sent)
        due = self.t0 + (self.sent + n) / self.rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        i = self.sent % len(self.data)
        k = min(n, len(self.data) - i)
        output_items[0][:k] = self.data[i:i + k]
        n = k
        self.sent += n
        self.stamps.append((self.sent, time.perf_counter()))
        return n


class _tag_timer(gr.sync_block):
    def __init__(self):
        gr.sync_block.__init__(self, "tag_timer", [np.complex64], None)
        self.arrivals = []  # (tag offset, wall time)
        self.key = pmt.intern(contract.TAG_LABEL)

    def work(self, input_items, output_items):
        n = len(input_items[0])
        now = time.perf_counter()
        for t in self.get_tags_in_window(0, 0, n, self.key):
            self.arrivals.append((t.offset, now))
        return n


def latency(model, rate, seconds, chunk, max_batch, threads):
    n_total = int(rate * seconds)
    src = _paced_source(rate, chunk, n_total)
    blk = amc.classifier(model, max_batch=max_batch, threads=threads)
    runner_L = blk.frame_len()
    snk = _tag_timer()
    tb = gr.top_block()
    tb.connect(src, blk, snk)
    tb.run()
    ends = np.array([s for s, _ in src.stamps])
    times = np.array([t for _, t in src.stamps])
    lat = []
    for off, t in snk.arrivals:
        last = off + runner_L  # one past the frame's last sample
        i = int(np.searchsorted(ends, last))  # first chunk that contains the last sample
        lat.append(t - times[i])
    return np.array(lat)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--model", default=None, help="ONNX path or shipped name (default: amc-default if shipped, else a torch CNN)")
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=4.0, help="per measurement")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--latency-seconds", type=float, default=6.0)
    ap.add_argument("--latency-fractions", default="0.1,0.5",
                    help="source rates for the latency runs, as fractions of the measured capacity")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    ap.add_argument("--zoo", default=None, metavar="NAME",
                    help="bench an untrained model of the zoo (e.g. mnv4s, the shipped default's architecture)")
    ap.add_argument("--make-cnn", metavar="PATH", default=None, help="only write the CNN model to PATH")
    ap.add_argument("--make-zoo", nargs=2, metavar=("NAME", "PATH"), default=None,
                    help="only write an untrained zoo model to PATH")
    args = ap.parse_args()
    if args.make_cnn:
        print("parameters", make_cnn(args.make_cnn)[1])
        return 0
    if args.make_zoo:
        print("parameters", make_zoo(*args.make_zoo)[1])
        return 0

    tmp = tempfile.mkdtemp(prefix="bench_classifier_")
    if args.model:
        model, desc = args.model, args.model
    elif args.zoo:
        model, nparams = make_zoo_subprocess(args.zoo, os.path.join(tmp, f"{args.zoo}.onnx"))
        desc = f"untrained zoo model {args.zoo} ({nparams} parameters, exported like gr-amc train does)"
    elif "amc-default" in amc.paths.shipped_models():
        model, desc = "amc-default", "shipped amc-default"
    else:
        model, nparams = make_cnn_subprocess(os.path.join(tmp, "bench-cnn.onnx"))
        desc = f"torch Conv1d CNN made by this script ({nparams} parameters, untrained, 1024x2 in, 24 classes)"
    runner = amc.classifier_sink(model, max_batch=args.max_batch, threads=args.threads)._runner
    L = runner.frame_len
    load0 = os.getloadavg()[0]
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
          f"python {platform.python_version()}, GNU Radio {gr.version()}")
    print(f"model: {desc}; frame_len {L}, {len(runner.classes)} classes; max_batch {args.max_batch}, threads {args.threads}")

    # calibrate the flowgraph length from the bare rate
    bare0 = bare_rate(runner, args.max_batch, 1.0)[0]
    n_samples = int(bare0 * args.seconds) * L
    keys = ("bare", "bare_cpu", "bare_mean_batch", "bare_mean_batch_cpu", "block", "block_cpu", "block_msps",
            "sink", "sink_cpu", "sink_msps")
    res = {k: [] for k in keys}
    all_batches = []
    for r in range(args.repeats):
        fps, cps = bare_rate(runner, args.max_batch, args.seconds)
        res["bare"].append(fps)
        res["bare_cpu"].append(cps)
        fps, msps, batches, cps = block_rate(model, n_samples, False, args.max_batch, args.threads)
        res["block"].append(fps)
        res["block_msps"].append(msps)
        res["block_cpu"].append(cps)
        all_batches += batches
        mean_b = max(1, int(round(np.mean(batches))))
        fps, cps = bare_rate(runner, mean_b, args.seconds)
        res["bare_mean_batch"].append(fps)
        res["bare_mean_batch_cpu"].append(cps)
        fps, msps, batches, cps = block_rate(model, n_samples, True, args.max_batch, args.threads)
        res["sink"].append(fps)
        res["sink_msps"].append(msps)
        res["sink_cpu"].append(cps)
        print(f"  round {r + 1}: frames/s (frames per CPU-s): bare {res['bare'][-1]:.0f} ({res['bare_cpu'][-1]:.0f}) "
              f"at batch {args.max_batch}, bare {res['bare_mean_batch'][-1]:.0f} ({res['bare_mean_batch_cpu'][-1]:.0f}) "
              f"at batch {mean_b}, classifier {res['block'][-1]:.0f} ({res['block_cpu'][-1]:.0f}) = "
              f"{res['block_msps'][-1]:.3f} Msps, classifier_sink {res['sink'][-1]:.0f} ({res['sink_cpu'][-1]:.0f})",
              flush=True)
    med = {k: statistics.median(v) for k, v in res.items()}
    b = np.array(all_batches)
    summary = {
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs",
        "load_average_start": load0,
        "model": desc, "frame_len": L, "max_batch": args.max_batch, "threads": args.threads,
        "repeats": args.repeats, "seconds_per_measurement": args.seconds,
        "median": med, "rounds": res,
        "ratio_classifier_vs_bare": med["block"] / med["bare"],
        "ratio_classifier_vs_bare_cpu": med["block_cpu"] / med["bare_cpu"],
        "ratio_classifier_vs_bare_at_mean_batch": med["block"] / med["bare_mean_batch"],
        "ratio_classifier_vs_bare_at_mean_batch_cpu": med["block_cpu"] / med["bare_mean_batch_cpu"],
        "ratio_sink_vs_bare": med["sink"] / med["bare"],
        "ratio_sink_vs_bare_cpu": med["sink_cpu"] / med["bare_cpu"],
        "block_batch_mean": float(b.mean()), "block_batch_max": int(b.max()),
        "block_batch_share_full": float(np.mean(b == args.max_batch)),
    }
    print(f"throughput (median of {args.repeats}): bare ORT {med['bare']:.0f} frames/s at batch {args.max_batch}; "
          f"classifier {med['block']:.0f} frames/s = {med['block_msps']:.3f} Msps; classifier_sink {med['sink']:.0f} frames/s")
    print(f"ratios block/bare, wall-clock (per CPU-second): classifier {summary['ratio_classifier_vs_bare']:.2f} "
          f"({summary['ratio_classifier_vs_bare_cpu']:.2f}); vs bare at the block's mean batch {b.mean():.1f}: "
          f"{summary['ratio_classifier_vs_bare_at_mean_batch']:.2f} ({summary['ratio_classifier_vs_bare_at_mean_batch_cpu']:.2f}); "
          f"classifier_sink {summary['ratio_sink_vs_bare']:.2f} ({summary['ratio_sink_vs_bare_cpu']:.2f})")

    # latency at fractions of the block's capacity
    summary["latency"] = []
    for frac in (float(f) for f in args.latency_fractions.split(",")):
        rate = frac * med["block_msps"] * 1e6
        lat = latency(model, rate, args.latency_seconds, 256, args.max_batch, args.threads)
        row = {"fraction_of_capacity": frac, "rate_sps": rate, "frames": int(len(lat)),
               "median_ms": float(np.median(lat) * 1e3), "p95_ms": float(np.percentile(lat, 95) * 1e3),
               "max_ms": float(np.max(lat) * 1e3)}
        summary["latency"].append(row)
        print(f"latency last sample -> tag at {rate / 1e6:.3f} Msps ({frac:.0%} of capacity, source chunks of 256): "
              f"median {row['median_ms']:.2f} ms, p95 {row['p95_ms']:.2f} ms, max {row['max_ms']:.2f} ms "
              f"over {len(lat)} frames", flush=True)
    summary["load_average_end"] = os.getloadavg()[0]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
