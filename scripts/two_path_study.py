#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which 16QAM frames miss their grid under multipath, and does a receiver that models the channel instead of
inverting it fit them? (docs/studies.md, "QAM orders under multipath")  numpy and the C++ front end; seeded; a
measurement, not a shipped front end.

Frames: 16QAM of the batch generator at 4..6 samples/symbol (roll-off 0.2..0.5, AWGN-free source), then the
`rml2018` channel's three paths (0, 1.8, 3.4 samples; 0, -2, -10 dB; Rician K = 4 per path, drawn here so that
the gains are known), 30 dB of noise, 1024 samples.  Per frame, binned by |g1 / g0| (second path against the
first), the fraction of frames that fit the 16QAM grid (residual / d_min^2 < e^-3) for:

  front end      amc.order_features, its 16QAM decision-directed fit (7-tap equalizer, least squares)
  7-tap DD       the same idea in numpy: blind rate and timing, matched filter at 2 samples/symbol, the CMA's
                 taps, the 4th power's carrier, 3 rounds of slicing, linear phase and least-squares taps
  + channel      then, from those decisions, rounds of: the channel (17 taps at 2 samples/symbol) by least
                 squares, an MMSE equalizer of 21 taps designed from it and the residual noise, new decisions
                 and phase (the better of the two fits counts)

and, for the frames with 0.5 <= |g1/g0| < 1.3, whether acquisition is the limit: the 7-tap fit started instead
from the CMA's output with the carrier found by brute force (41 frequencies within +-0.02 cycles/symbol x 8
phases, the lowest residual), or from a plain matched filter with the spike at each of the 7 taps; and the fit
with longer equalizers, the CMA run longer (taps, steps, step size; the decision-directed rounds use as many taps).

    PYTHONPATH=build/test_modules GR_AMC_DATA_DIR=gr-amc .venv/bin/python scripts/two_path_study.py [--frames 300]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import blind_equalizer_study as bes  # noqa: E402  (rate/timing, matched filter, constellation)

from gnuradio import amc  # noqa: E402
from gnuradio.amc import batch  # noqa: E402

PTS = bes.constellation("16QAM")
DMIN2 = np.min(np.abs(PTS[1:] - PTS[0])) ** 2
FIT = np.exp(-3.0)


def frames(n, seed):
    cfg = {"name": "t", "classes": ["16QAM"], "snrs": [30], "frames_per_class_snr": 8, "frame_length": 1400,
           "normalization": "rms", "format": "hdf5", "seed": 1, "shard_size": 1, "skip_samples": 256,
           "source": {"samples_per_symbol": {"min": 4, "max": 6}, "rolloff": {"min": 0.2, "max": 0.5}},
           "channel": {"preset": "awgn"}}
    x, _, _, _ = batch.frames(cfg, n, seed, shard_size=1)
    rng = np.random.default_rng(seed + 1)
    out, rel = [], []
    for s in x:
        k = 4.0
        los = np.exp(1j * rng.uniform(0, 2 * np.pi, 3)) * np.sqrt(k / (k + 1))
        scat = (rng.normal(size=3) + 1j * rng.normal(size=3)) * np.sqrt(0.5 / (k + 1))
        g = (los + scat) * np.array([1.0, 10 ** (-2 / 20), 10 ** (-10 / 20)])
        y = sum(gi * bes.interp(s, np.arange(len(s)) - d) for gi, d in zip(g, (0.0, 1.8, 3.4)))[200:1224]
        p = np.mean(np.abs(y) ** 2)
        y = y + np.sqrt(p / 2000) * (rng.normal(size=len(y)) + 1j * rng.normal(size=len(y)))   # 30 dB
        out.append(y)
        rel.append(abs(g[1]) / abs(g[0]))
    return np.asarray(out, np.complex64), np.asarray(rel)


def slice16(y):
    return PTS[np.argmin(np.abs(y[:, None] - PTS[None, :]), 1)]


def linear_phase(y, d):
    k = np.arange(len(y))
    a = np.stack([np.ones(len(y)), k - k.mean()], 1)
    wt = np.abs(d)
    coef = np.linalg.lstsq(a * wt[:, None], np.angle(y * np.conj(d)) * wt, rcond=None)[0]
    return np.exp(-1j * (a @ coef))


def residual(y):
    y = y / np.sqrt(np.mean(np.abs(y) ** 2))
    d = slice16(y)
    return np.mean(np.abs(y - d) ** 2) / DMIN2, y, d


def taps_input(x2, taps=7):
    ns = (len(x2) - taps) // 2
    return x2[np.arange(ns)[:, None] * 2 + np.arange(taps)[None, :]]


def carrier4(y):
    """Derotation from the 4th power's line (its mean is negative real for QAM)."""
    nfft = 1 << 12
    spec = np.fft.fft((y / np.sqrt(np.mean(np.abs(y) ** 2))) ** 4, nfft)
    i = int(np.argmax(np.abs(spec)))
    f = np.fft.fftfreq(nfft)[i]
    return np.exp(-1j * ((np.angle(spec[i]) - np.pi) / 4 + 2 * np.pi * f / 4 * np.arange(len(y))))


# (taps, steps, step size); the first is the front end's CMA
CMA_VARIANTS = [(7, 30, 0.05), (7, 100, 0.1), (11, 100, 0.1), (15, 150, 0.1)]


def cma_start(x2, taps=7, steps=30, mu=0.05):
    """The CMA's output and its taps w (y = taps_input(x2) @ w)."""
    y = bes.cma(x2, taps, steps, mu)
    return y, np.linalg.lstsq(taps_input(x2, taps), y, rcond=None)[0]


def dd_fit(x2, w, rot=None, steps=3, ridge=1e-2):
    """The decision-directed fit from taps w and, unless a derotation rot is given, the 4th power's carrier (the
    best of 4 rotations): (residual, decisions, per-symbol derotation)."""
    taps = len(w)
    X = taps_input(x2, taps)
    ns = len(X)
    if rot is None:
        y = X @ w
        base = carrier4(y)
        rot = min((residual(y * base * np.exp(1j * a))[0], a) for a in np.arange(4) * np.pi / 8)
        rot = base * np.exp(1j * rot[1])
    for _ in range(steps):
        _, yy, d = residual((X @ w) * rot)
        rot = rot * linear_phase(yy, d)
        xr = X * rot[:, None]
        w = np.linalg.solve(xr.conj().T @ xr + ridge * ns * np.eye(taps), xr.conj().T @ d)
    res, yy, d = residual((X @ w) * rot)
    return res, d, rot


def other_starts(x2, y, w):
    """Residuals of the fit from (a) the CMA's output y (taps w) with the brute-force carrier, (b) the best of the
    spikes at each tap."""
    k = np.arange(len(y))
    rots = [np.exp(-1j * (2 * np.pi * f * k + a)) for f in np.linspace(-0.02, 0.02, 41)
            for a in np.arange(8) * np.pi / 16]
    rot = min(rots, key=lambda r: residual(y * r)[0])
    brute = dd_fit(x2, w, rot=rot)[0]
    return brute, min(dd_fit(x2, np.eye(len(w), dtype=complex)[sp])[0] for sp in range(len(w)))


def channel_fit(x2, d, rot, rounds=3, lo=-6, hi=10, neq=21):
    """From decisions d (aligned with x2[2k + 2]): the channel by least squares, an MMSE equalizer from it."""
    ns = len(d)
    n = np.arange(len(x2))
    best = np.inf
    for _ in range(rounds):
        xd = x2 * rot[np.minimum(n // 2, ns - 1)]
        m = np.arange(lo, hi + 1)
        q = n[:, None] - 2 - m[None, :]
        ok = (q % 2 == 0) & (q >= 0) & (q // 2 < ns)
        D = np.where(ok, d[np.clip(q // 2, 0, ns - 1)], 0)
        g = np.linalg.lstsq(D, xd, rcond=None)[0]
        s2 = max(np.mean(np.abs(xd - D @ g) ** 2), 1e-4)
        c = neq // 2
        syms = np.arange(-(neq + hi) // 2 - 1, (neq - lo) // 2 + 2)
        tap = np.arange(neq)[:, None] - c - 2 * syms[None, :]
        H = np.where((tap >= lo) & (tap <= hi), g[np.clip(tap - lo, 0, len(g) - 1)], 0)
        w = np.linalg.solve(H @ H.conj().T + s2 * np.eye(neq), H[:, list(syms).index(0)])
        pad = np.concatenate([np.zeros(c), xd, np.zeros(neq)])
        y = pad[2 + 2 * np.arange(ns)[:, None] + np.arange(neq)[None, :]] @ np.conj(w)
        _, y, d = residual(y)
        ph = linear_phase(y, d)
        rot = rot * ph
        res, _, d = residual(y * ph)
        best = min(best, res)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    x, rel = frames(args.frames, args.seed)
    cpp = amc.order_features(x)[:, amc.order_features_size(1)] < -3.0      # the 16QAM fit's log residual
    sps, t0 = amc.blind_symbol_rate(x)
    dd, ch, acq = [], [], []
    for i, xi in enumerate(x):
        xi = xi / np.sqrt(np.mean(np.abs(xi) ** 2))
        x2 = bes.matched_samples(xi.astype(np.complex128), sps[i], t0[i], 2)
        x2 = x2 / np.sqrt(np.mean(np.abs(x2) ** 2))
        y, w = cma_start(x2, *CMA_VARIANTS[0])
        res, d, rot = dd_fit(x2, w)
        dd.append(res < FIT)
        ch.append(min(res, channel_fit(x2, d, rot)) < FIT)
        if 0.5 <= rel[i] < 1.3:
            acq.append([res < FIT] + [r < FIT for r in other_starts(x2, y, w)]
                       + [dd_fit(x2, cma_start(x2, *v)[1])[0] < FIT for v in CMA_VARIANTS[1:]])
    dd, ch, acq = np.array(dd), np.array(ch), np.array(acq)
    print(f"{len(x)} frames of 16QAM, 4..6 samples/symbol, 30 dB, rml2018 paths with known gains: fraction that "
          f"fits the grid")
    print("| abs(g1/g0) | frames | front end | 7-tap DD (numpy) | + channel model |")
    print("|---|---|---|---|---|")
    for lo, hi in ((0, 0.5), (0.5, 0.8), (0.8, 1.0), (1.0, 1.3), (1.3, np.inf)):
        s = (rel >= lo) & (rel < hi)
        print(f"| {lo}-{hi} | {s.sum()} | {cpp[s].mean():.2f} | {dd[s].mean():.2f} | {ch[s].mean():.2f} |")
    print(f"| all | {len(x)} | {cpp.mean():.2f} | {dd.mean():.2f} | {ch.mean():.2f} |")
    a = acq.mean(0)
    print(f"\n{len(acq)} frames with 0.5 <= abs(g1/g0) < 1.3, the 7-tap fit from: the CMA and the 4th power {a[0]:.2f}; "
          f"the CMA and a brute-force carrier {a[1]:.2f}; the best of 7 spikes {a[2]:.2f}; any of them "
          f"{acq[:, :3].any(1).mean():.2f}")
    print("longer equalizers (taps, CMA steps, step size): " + "; ".join(
        f"{v} {r:.2f}" for v, r in zip(CMA_VARIANTS, [a[0]] + list(a[3:]))))


if __name__ == "__main__":
    main()
