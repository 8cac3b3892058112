#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Does a blind constant-modulus equalizer pay on one frame of the `rml2018` channel? (docs/studies.md, "The fusion
head and the front end".)  numpy only, seeded; a measurement, not a shipped front end.

Frames of the batch generator (`wild` draws: 4..16 samples/symbol, roll-off 0.2..0.5, random timing), 1024
samples, 30 dB, the rml2018 channel (second path 1.8 samples late and 2 dB down) or AWGN alone.  For each frame,
the symbol-level signal-to-interference ratio (SIR: constellation power over the error to the nearest point of
the true constellation, after the best gain, phase and carrier-offset fit, median over frames) of four receivers:

  genie          true symbol rate, the timing nearest the true alphabet (of 16 per symbol), RRC matched filter (roll-off 0.35), symbol-spaced samples
  blind          symbol rate and timing from the spectral line of |x|^2 (cyclostationarity), same filter
  blind + CMA    the blind samples at 2 per symbol into a fractionally spaced constant-modulus equalizer
                 (7 taps, centre-spike start, 30 steps of block gradient descent on the frame)
  genie + CMA    the same equalizer on the genie's timing

    PYTHONPATH=build/test_modules GR_AMC_DATA_DIR=gr-amc .venv/bin/python scripts/blind_equalizer_study.py [--frames 60]
"""
import argparse

import numpy as np

from gnuradio.amc import batch, dataset_config
from gnuradio.amc.dsp import modulation


def constellation(name):
    """Unit-power symbol alphabet of a linear class, from the generator's own modulator tables."""
    pts = np.asarray(modulation.constellation(name), np.complex128)
    return pts / np.sqrt(np.mean(np.abs(pts) ** 2))


def rrc(sps, beta=0.35, span=8):
    t = np.arange(-span * sps, span * sps + 1) / sps
    h = np.empty_like(t)
    for i, ti in enumerate(t):
        if abs(ti) < 1e-9:
            h[i] = 1 - beta + 4 * beta / np.pi
        elif abs(abs(4 * beta * ti) - 1) < 1e-9:
            h[i] = beta / np.sqrt(2) * ((1 + 2 / np.pi) * np.sin(np.pi / (4 * beta))
                                        + (1 - 2 / np.pi) * np.cos(np.pi / (4 * beta)))
        else:
            h[i] = (np.sin(np.pi * ti * (1 - beta)) + 4 * beta * ti * np.cos(np.pi * ti * (1 + beta))) / (
                np.pi * ti * (1 - (4 * beta * ti) ** 2))
    return h / np.sqrt(np.sum(h ** 2))


def interp(x, t, half=8):
    """x at fractional sample times t: Kaiser-windowed sinc of 2*half taps."""
    n0 = np.floor(t).astype(int)
    k = np.arange(-half + 1, half + 1)
    idx = n0[:, None] + k[None, :]
    d = t[:, None] - idx
    w = np.sinc(d) * np.kaiser(2 * half, 6.0)[None, :]
    ok = (idx >= 0) & (idx < len(x))
    return np.sum(np.where(ok, x[np.clip(idx, 0, len(x) - 1)], 0) * w, axis=1)


def symbol_rate_and_timing(x, lo=3.5, hi=17.0, nfft=1 << 16, lags=6):
    """(samples per symbol, time of a symbol instant) from the cyclic autocorrelation at the symbol rate: the
    spectral lines of the lag products x(n) x*(n - tau), tau = 0..lags-1, added in power (one lag alone, |x|^2, can
    be cancelled by a second path at some symbol rates)."""
    n = np.arange(len(x))
    win = np.hanning(len(x))
    f = np.fft.fftfreq(nfft)
    band = (f >= 1 / hi) & (f <= 1 / lo)
    total = np.zeros(nfft)
    for tau in range(lags):
        p = x * np.conj(np.roll(x, tau))
        p[:tau] = 0
        p = p - p.mean()
        total += np.abs(np.fft.fft(p * win, nfft)) ** 2
    # a line stands above the continuous part of the lag products' spectrum, which grows towards 0: find the
    # largest ratio to the local floor (the mean over +-8 bins of the frame's resolution, the +-1.5 nearest left out)
    res = nfft // len(x)
    kern = np.ones(16 * res + 1)
    kern[8 * res - 3 * res // 2:8 * res + 3 * res // 2 + 1] = 0
    floor = np.convolve(np.concatenate([total[-8 * res:], total, total[:8 * res]]), kern / kern.sum(), "valid")
    i = np.flatnonzero(band)[np.argmax(total[band] / np.maximum(floor[band], 1e-30))]
    a, b, c = total[i - 1:i + 2]
    delta = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    fs = f[i] + delta / nfft
    # timing from the line of |x|^2 at fs: |x|^2 of an RRC-shaped signal peaks at the symbol instants
    p = np.abs(x) ** 2
    ph = np.angle(np.sum((p - p.mean()) * np.exp(-2j * np.pi * fs * n)))
    t0 = (-ph / (2 * np.pi * fs)) % (1 / fs)
    return 1 / fs, t0


def matched_samples(x, sps, t0, per_symbol):
    """RRC-matched-filtered x sampled per_symbol times per symbol from t0 (filter delay removed)."""
    h = rrc(sps)
    y = np.convolve(x, h, mode="same")
    first = t0 + sps * np.ceil((8 * sps - t0) / sps)       # the first symbol instant away from the filter's edge
    t = first + np.arange(0, len(x), sps / per_symbol)
    t = t[t < len(x) - 8 * sps]
    return interp(y, t)


def cma(x2, taps=7, iters=30, mu=0.05):
    """Fractionally spaced CMA on one frame: x2 at 2 samples/symbol -> symbol-rate output.  Block gradient descent
    on the frame's constant-modulus cost mean((|y|^2 - R)^2), R = mean|y|^4 / mean|y|^2 of the current output (so
    that the output's gain does not matter; a stochastic update on 64-256 symbols jitters too much for QAM)."""
    x2 = x2 / np.sqrt(np.mean(np.abs(x2) ** 2))
    w = np.zeros(taps, complex)
    w[2 * (taps // 4)] = 1.0                 # the centre spike on a symbol instant (the even samples of x2)
    n_sym = (len(x2) - taps) // 2
    X = x2[np.arange(n_sym)[:, None] * 2 + np.arange(taps)[None, :]]
    for _ in range(iters):
        y = X @ w.conj()
        p2 = np.abs(y) ** 2
        r = np.mean(p2 ** 2) / np.mean(p2)
        grad = (X * (np.conj(y) * (p2 - r))[:, None]).mean(0)
        w -= mu * grad
        w /= np.sqrt(np.mean(np.abs(X @ w.conj()) ** 2))          # unit output power
    return X @ w.conj()


def sir_db(y, pts, m_fold):
    """SIR of symbol samples y against the alphabet pts after the best gain, phase and carrier-offset fit."""
    y = y / np.sqrt(np.mean(np.abs(y) ** 2))
    k = np.arange(len(y))
    z = y ** m_fold                                        # carrier offset: the peak of the m-th power's spectrum
    nfft = 1 << 14
    spec = np.abs(np.fft.fft(z, nfft))
    w = 2 * np.pi * np.fft.fftfreq(nfft)[int(np.argmax(spec))] / m_fold
    y = y * np.exp(-1j * w * k)
    best = -np.inf
    for rot in np.linspace(0, 2 * np.pi / m_fold, 90, endpoint=False):
        yr = y * np.exp(1j * rot)
        for g in (0.9, 0.95, 1.0, 1.05, 1.1):
            d = np.min(np.abs(g * yr[:, None] - pts[None, :]) ** 2, axis=1)
            best = max(best, 10 * np.log10(1.0 / max(np.mean(d), 1e-12)))
    return best


FOLD = {"8PSK": 8, "16PSK": 16, "16QAM": 4, "64QAM": 4, "16APSK": 4, "QPSK": 4}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60, help="frames per class and channel")
    ap.add_argument("--classes", nargs="+", default=["8PSK", "16PSK", "16QAM", "64QAM"])
    a = ap.parse_args()
    print("| channel | class | genie | blind | blind + CMA | genie + CMA | sps error (median) |")
    print("|---|---|---|---|---|---|---|")
    for chan in ("awgn", "rml2018"):
        ch = {"preset": "rml2018"} if chan == "rml2018" else {"preset": "awgn"}
        for cls in a.classes:
            cfg, _ = dataset_config.load_config("wild", classes=[cls], snrs=[30], channel=ch, normalization="rms")
            x, _, _, params = batch.frames(cfg, a.frames, 4242, shard_size=1)
            pts = constellation(cls)
            res = {k: [] for k in ("genie", "blind", "blind+cma", "genie+cma")}
            errs = []
            for xi, p in zip(x, params):
                sps_true = p["samples_per_symbol"]
                t_true = genie_timing(xi, sps_true, pts, FOLD[cls])
                sps_hat, t_hat = symbol_rate_and_timing(xi)
                errs.append(abs(sps_hat / sps_true - 1))
                g1 = matched_samples(xi, sps_true, t_true, 1)
                b1 = matched_samples(xi, sps_hat, t_hat, 1)
                res["genie"].append(sir_db(g1, pts, FOLD[cls]))
                res["blind"].append(sir_db(b1, pts, FOLD[cls]))
                res["blind+cma"].append(sir_db(cma(matched_samples(xi, sps_hat, t_hat, 2)), pts, FOLD[cls]))
                res["genie+cma"].append(sir_db(cma(matched_samples(xi, sps_true, t_true, 2)), pts, FOLD[cls]))
            med = {k: np.median(v) for k, v in res.items()}
            print(f"| {chan} | {cls} | {med['genie']:.1f} | {med['blind']:.1f} | {med['blind+cma']:.1f} | "
                  f"{med['genie+cma']:.1f} | {100 * np.median(errs):.2f} % |", flush=True)


def genie_timing(x, sps, pts, m_fold):
    """The genie's symbol timing for the true symbol rate: of 16 offsets within a symbol, the one whose matched
    samples are nearest the true alphabet (the genie knows the class)."""
    offs = np.arange(0, sps, sps / 16)
    return offs[int(np.argmax([sir_db(matched_samples(x, sps, t0, 1), pts, m_fold) for t0 in offs]))]


if __name__ == "__main__":
    main()
