#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Small streaming DSP helpers (pure numpy) shared by the gr-amc generators.

Everything here works on fixed-size blocks with carried state, so that the output of a generator
depends only on its parameters and seed, never on how a scheduler chunks the stream.
"""
import numpy as np
from scipy import special


def rrc_taps(sps, rolloff, span, shift=0.0):
    """Root-raised-cosine pulse sampled at ``sps`` samples per symbol over ``span`` symbols.

    ``shift`` delays the pulse by that many samples (may be fractional; OQPSK uses sps/2).
    Returns ``span*sps + 1`` taps normalised so that sum(h**2) == sps (unit-power output for
    unit-power symbols).
    """
    n = np.arange(span * sps + 1, dtype=np.float64)
    t = (n - span * sps / 2.0 - shift) / sps        # time in symbols
    b = float(rolloff)
    h = np.empty_like(t)
    at0 = np.abs(t) < 1e-9
    sing = np.abs(np.abs(4.0 * b * t) - 1.0) < 1e-9
    reg = ~(at0 | sing)
    tr = t[reg]
    h[reg] = (np.sin(np.pi * tr * (1 - b)) + 4 * b * tr * np.cos(np.pi * tr * (1 + b))) / (
        np.pi * tr * (1 - (4 * b * tr) ** 2))
    h[at0] = 1.0 - b + 4.0 * b / np.pi
    h[sing] = (b / np.sqrt(2.0)) * ((1 + 2 / np.pi) * np.sin(np.pi / (4 * b))
                                    + (1 - 2 / np.pi) * np.cos(np.pi / (4 * b)))
    return h * np.sqrt(sps / np.sum(h ** 2))


def gaussian_freq_pulse(sps, bt, length):
    """Frequency pulse of GMSK/GFSK: a one-symbol rectangle convolved with a Gaussian of
    bandwidth-time product ``bt``, over ``length`` symbols, normalised to sum 1."""
    n = np.arange(length * sps, dtype=np.float64)
    t = (n - (length * sps - 1) / 2.0) / sps       # symbols, centred
    k = 2.0 * np.pi * bt / np.sqrt(np.log(2.0))
    # g(t) = Q(k (t - 1/2)) - Q(k (t + 1/2)),  Q(x) = erfc(x / sqrt 2) / 2
    g = 0.5 * (special.erfc(k * (t - 0.5) / np.sqrt(2.0)) - special.erfc(k * (t + 0.5) / np.sqrt(2.0)))
    return g / np.sum(g)


def lowpass_taps(numtaps, cutoff, gain=1.0):
    """Kaiser-windowed sinc low-pass; ``cutoff`` in cycles/sample (0..0.5); DC gain ``gain``."""
    n = np.arange(numtaps, dtype=np.float64) - (numtaps - 1) / 2.0
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(numtaps, 8.0)
    return h * (gain / np.sum(h))


def hilbert_taps(numtaps):
    """Odd-length FIR Hilbert transformer (Blackman window); group delay (numtaps-1)/2."""
    if numtaps % 2 == 0:
        raise ValueError("hilbert_taps: numtaps must be odd")
    n = np.arange(numtaps) - (numtaps - 1) // 2
    h = np.zeros(numtaps)
    odd = n % 2 != 0
    h[odd] = 2.0 / (np.pi * n[odd])
    return h * np.blackman(numtaps)


class PolyphaseInterpolator:
    """Zero-stuffing interpolation by an integer factor ``L`` followed by an FIR ``taps``, done as a
    polyphase matrix product: output sample k*L+p = sum_j x[k-j] * taps[j*L+p].

    State (the last K-1 inputs) is carried between calls, so consecutive calls give exactly the
    same samples as one call on the concatenated input. Works for real or complex input.
    """

    def __init__(self, taps, L):
        taps = np.asarray(taps, dtype=np.float64)
        self.L = int(L)
        self.K = -(-len(taps) // self.L)
        padded = np.zeros(self.K * self.L)
        padded[:len(taps)] = taps
        # row i multiplies x[k - (K-1-i)]
        self.H = np.ascontiguousarray(padded.reshape(self.K, self.L)[::-1, :])
        self.hist = None

    def process(self, x):
        x = np.asarray(x)
        if self.hist is None:
            self.hist = np.zeros(self.K - 1, dtype=x.dtype)
        buf = np.concatenate([self.hist.astype(x.dtype, copy=False), x])
        self.hist = buf[len(buf) - (self.K - 1):].copy() if self.K > 1 else buf[:0].copy()
        S = np.lib.stride_tricks.sliding_window_view(buf, self.K)
        if np.iscomplexobj(S):
            y = np.empty((S.shape[0], self.L), dtype=np.complex128)
            y.real = np.ascontiguousarray(S.real) @ self.H
            y.imag = np.ascontiguousarray(S.imag) @ self.H
        else:
            y = S @ self.H
        return y.reshape(-1)


class StreamingFIR:
    """Plain FIR filter with carried history (exactly equal to filtering the concatenated input)."""

    def __init__(self, taps):
        self.taps = np.asarray(taps, dtype=np.float64)
        self.hist = np.zeros(len(self.taps) - 1)

    def process(self, x):
        x = np.asarray(x, dtype=np.float64)
        buf = np.concatenate([self.hist, x])
        self.hist = buf[len(buf) - (len(self.taps) - 1):].copy()
        return np.convolve(buf, self.taps, mode="valid")


class BlockBuffer:
    """Serve arbitrary-length reads from a producer that makes fixed-size blocks.

    ``produce()`` must return the next block (1-D array). ``read(n)`` returns the next n samples
    as ``dtype``; the result does not depend on how the reads are split.
    """

    def __init__(self, produce, dtype=np.complex64):
        self._produce = produce
        self._dtype = dtype
        self._cur = np.zeros(0, dtype=dtype)
        self._pos = 0

    def read(self, n):
        out = np.empty(n, dtype=self._dtype)
        filled = 0
        while filled < n:
            avail = len(self._cur) - self._pos
            if avail == 0:
                self._cur = np.asarray(self._produce()).astype(self._dtype, copy=False)
                self._pos = 0
                continue
            take = min(avail, n - filled)
            out[filled:filled + take] = self._cur[self._pos:self._pos + take]
            self._pos += take
            filled += take
        return out
