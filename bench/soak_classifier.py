#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Soak test of amc.classifier: run at full speed for >= 10 minutes and check that memory does not grow.

Flowgraph: vector source (noise, repeating; one all-zero and one NaN frame in every 64) ->
amc.classifier(smoothing=4) -> null sink, with both message ports connected to a Python block
that counts the messages (so tags, dict messages and label pairs are all produced all the time).
The process's RSS is sampled every --interval seconds. Verdict: the mean RSS of the last quarter
of the run must not exceed the mean RSS of the second quarter (after warm-up) by more than
--tolerance-mib; exit status 1 otherwise.

Model: --model PATH|NAME; default the shipped amc-default if it exists, else the CNN that
bench_classifier.py makes with torch.

Run from the repo root:
  PYTHONPATH=build/test_modules GR_AMC_DATA_DIR=gr-amc .venv/bin/python bench/soak_classifier.py --minutes 10
"""
import argparse
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np
import pmt
from gnuradio import amc, blocks, gr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("VmRSS not found in /proc/self/status")


class msg_counter(gr.basic_block):
    def __init__(self):
        gr.basic_block.__init__(self, "msg_counter", None, None)
        self.n = {"classification": 0, "label": 0}
        for port in self.n:
            self.message_port_register_in(pmt.intern(port))
        self.set_msg_handler(pmt.intern("classification"), self._dict)
        self.set_msg_handler(pmt.intern("label"), self._label)

    def _dict(self, msg):
        self.n["classification"] += 1

    def _label(self, msg):
        self.n["label"] += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--zoo", default=None, metavar="NAME", help="soak an untrained zoo model (e.g. mnv4s)")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--interval", type=float, default=10.0, help="RSS sampling period (s)")
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--tolerance-mib", type=float, default=8.0)
    ap.add_argument("--json", default=None, help="write samples and verdict to this JSON file")
    args = ap.parse_args()

    if args.model:
        model, desc = args.model, args.model
    elif args.zoo:
        import bench_classifier
        model, nparams = bench_classifier.make_zoo_subprocess(
            args.zoo, os.path.join(tempfile.mkdtemp(prefix="soak_"), f"{args.zoo}.onnx"))
        desc = f"untrained zoo model {args.zoo} ({nparams} parameters)"
    elif "amc-default" in amc.paths.shipped_models():
        model, desc = "amc-default", "shipped amc-default"
    else:
        import bench_classifier
        model, nparams = bench_classifier.make_cnn_subprocess(os.path.join(tempfile.mkdtemp(prefix="soak_"), "bench-cnn.onnx"))
        desc = f"torch Conv1d CNN from bench_classifier.make_cnn ({nparams} parameters, untrained)"

    clf = amc.classifier(model, max_batch=args.max_batch, smoothing=4)
    L = clf.frame_len()
    rng = np.random.default_rng(3)
    pattern = ((rng.standard_normal(64 * L) + 1j * rng.standard_normal(64 * L)) * 0.5).astype(np.complex64)
    pattern[10 * L:11 * L] = 0            # an all-zero frame
    pattern[40 * L + 7] = np.nan          # a frame holding NaN
    tb = gr.top_block()
    src = blocks.vector_source_c(pattern.tolist(), True)
    cnt = msg_counter()
    tb.connect(src, clf, blocks.null_sink(gr.sizeof_gr_complex))
    tb.msg_connect(clf, "classification", cnt, "classification")
    tb.msg_connect(clf, "label", cnt, "label")

    print(f"soak: {desc}; frame_len {L}, max_batch {args.max_batch}, {args.minutes} min; "
          f"machine {platform.node()}, {os.cpu_count()} CPUs, GNU Radio {gr.version()}", flush=True)
    samples = []
    t0 = time.monotonic()
    tb.start()
    try:
        while True:
            time.sleep(args.interval)
            t = time.monotonic() - t0
            samples.append((t, rss_mib(), clf.classified()))
            print(f"  t={t:7.1f}s  RSS {samples[-1][1]:8.1f} MiB  frames {samples[-1][2]:>10d}  "
                  f"({samples[-1][2] / t:7.0f} frames/s)", flush=True)
            if t >= args.minutes * 60:
                break
    finally:
        tb.stop()
        tb.wait()
    ts = np.array([s[0] for s in samples])
    rss = np.array([s[1] for s in samples])
    T = ts[-1]
    q2 = rss[(ts > T / 4) & (ts <= T / 2)]
    q4 = rss[ts > 3 * T / 4]
    growth = float(q4.mean() - q2.mean())
    slope = float(np.polyfit(ts[ts > T / 4], rss[ts > T / 4], 1)[0] * 60) if np.sum(ts > T / 4) > 2 else 0.0
    ok = growth <= args.tolerance_mib
    frames = samples[-1][2]
    result = {"model": desc, "frame_len": L, "minutes": T / 60, "frames": frames, "frames_per_s": frames / T,
              "msps": frames * L / T / 1e6, "messages": dict(cnt.n), "unusable": clf.unusable(),
              "rss_q2_mib": float(q2.mean()), "rss_q4_mib": float(q4.mean()), "growth_mib": growth,
              "slope_mib_per_min_after_warmup": slope, "rss_min_mib": float(rss.min()),
              "rss_max_mib": float(rss.max()), "ok": ok, "samples": samples}
    print(f"soak {'OK' if ok else 'FAILED'}: {frames} frames in {T / 60:.1f} min ({frames / T:.0f} frames/s, "
          f"{frames * L / T / 1e6:.3f} Msps); messages {cnt.n}; RSS 2nd quarter {q2.mean():.1f} MiB, "
          f"last quarter {q4.mean():.1f} MiB (growth {growth:+.2f} MiB, slope {slope:+.3f} MiB/min after "
          f"warm-up; min {rss.min():.1f}, max {rss.max():.1f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
