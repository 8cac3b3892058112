#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the classifier's `smoothing` buys on one stream (docs/classifier.md, "What smoothing buys").

The block reports the mean of the probabilities of the last k usable frames.  This measures that average's
accuracy on streams of the batch generator: each stream is one shard of `--frames` consecutive frames of one
emitter (class, symbol rate, roll-off and timing drawn per shard) through one continuing channel (the preset's
fading, clock and carrier walks), at one SNR; the classes are drawn per stream.  Accuracy at k counts every
output of the block once the first k frames of a stream are in (frames k..S of each stream), through
`ModelRunner` (the block's own model path).

    PYTHONPATH=build/test_modules GR_AMC_DATA_DIR=gr-amc .venv/bin/python scripts/smoothing_gain.py \\
        [--model amc-default] [--preset wild] [--streams 576] [--frames 16] [--snrs 0 8 10 20]
"""
import argparse

import numpy as np

from gnuradio.amc import batch
from gnuradio.amc.classifier import ModelRunner


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="amc-default")
    ap.add_argument("--preset", default="wild")
    ap.add_argument("--streams", type=int, default=576, help="streams per SNR")
    ap.add_argument("--frames", type=int, default=16, help="frames per stream (the largest k)")
    ap.add_argument("--snrs", type=int, nargs="+", default=[0, 8, 10, 20])
    ap.add_argument("--seed", type=int, default=9100, help="streams of SNR s use seed + s")
    a = ap.parse_args()
    runner = ModelRunner(a.model)
    n = a.frames
    ks = [k for k in (1, 2, 4, 8, 16, 32, 64) if k <= n]
    print(f"{a.model} on {a.preset}: {a.streams} streams of {n} frames per SNR; accuracy of the mean probability "
          f"over the last k frames")
    print("| SNR (dB) | " + " | ".join(f"k = {k}" for k in ks) + " |")
    print("|---" * (len(ks) + 1) + "|")
    for snr in a.snrs:
        x, labels, _, _ = batch.frames(a.preset, a.streams * n, a.seed + snr, shard_size=n, snrs=[snr])
        probs, status = runner.classify(x)
        if np.any(status != 0):
            raise SystemExit(f"{int(np.sum(status != 0))} frames were not usable")
        p = probs.reshape(a.streams, n, -1)
        truth = np.asarray(labels).reshape(a.streams, n)[:, :1]
        c = np.concatenate([np.zeros_like(p[:, :1]), np.cumsum(p, 1)], 1)
        row = []
        for k in ks:
            mean_k = c[:, k:] - c[:, :n + 1 - k]           # sums over frames j-k+1..j, j = k-1..n-1
            row.append(np.mean(mean_k.argmax(2) == truth))
        print(f"| {snr} | " + " | ".join(f"{v:.3f}" for v in row) + " |", flush=True)


if __name__ == "__main__":
    main()
