#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Upper bound for telling QAM16 from QAM64 in one rml2016a frame (docs/studies.md, "The GRU").

An ideal coherent receiver: perfect timing and phase, AWGN only, the 16 symbols of a 128-sample frame at
8 samples/symbol, maximum-likelihood choice between the two constellations (symbols equally likely).  The
per-symbol Es/N0 is the gr-amc SNR label + 10 log10(8) dB.  Monte Carlo, seeded; numpy only.

    scripts/qam_coherent_bound.py [--frames N] [--symbols K]
"""
import argparse

import numpy as np


def square_qam(m):
    k = int(round(np.sqrt(m)))
    a = np.arange(k) * 2 - (k - 1)
    p = (a[:, None] + 1j * a[None, :]).ravel()
    return p / np.sqrt(np.mean(np.abs(p) ** 2))


def log_likelihood(r, points, n0):
    d = np.abs(r[..., None] - points) ** 2
    dmin = d.min(-1)
    return np.sum(np.log(np.mean(np.exp(-(d - dmin[..., None]) / n0), -1)) - dmin / n0, -1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20000, help="frames per class and SNR (default 20000)")
    ap.add_argument("--symbols", type=int, default=16, help="symbols per frame (default 16: 128 samples / 8)")
    ap.add_argument("--sps", type=int, default=8, help="samples per symbol (default 8)")
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    c = {16: square_qam(16), 64: square_qam(64)}
    gain = 10 * np.log10(a.sps)
    print("| SNR label (dB) | Es/N0 per symbol (dB) | QAM16 | QAM64 |\n|---|---|---|---|")
    for label in (-10, -4, 0, 4, 10, 18):
        n0 = 10 ** (-(label + gain) / 10)
        acc = []
        for m in (16, 64):
            s = c[m][rng.integers(0, m, (a.frames, a.symbols))]
            r = s + np.sqrt(n0 / 2) * (rng.standard_normal(s.shape) + 1j * rng.standard_normal(s.shape))
            says16 = log_likelihood(r, c[16], n0) > log_likelihood(r, c[64], n0)
            acc.append(float(np.mean(says16 == (m == 16))))
        print(f"| {label} | {label + gain:.1f} | {acc[0]:.3f} | {acc[1]:.3f} |")


if __name__ == "__main__":
    main()
