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
    """Root-raised-cosine pulse sampled at an integer ``sps`` samples per symbol over ``span`` symbols
    (a matched filter for tests and receivers).

    ``shift`` delays the pulse by that many samples (may be fractional).
    Returns ``span*sps + 1`` taps normalised so that sum(h**2) == sps (unit-power output for
    unit-power symbols).
    """
    n = np.arange(span * sps + 1, dtype=np.float64)
    h = rrc_pulse((n - span * sps / 2.0 - shift) / sps, rolloff)
    return h * np.sqrt(sps / np.sum(h ** 2))


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


# ------------------------------------------------------------------------------------------------
# Pulse shaping at any (non-integer) number of samples per symbol, at any timing phase
# ------------------------------------------------------------------------------------------------
#: Timing phases per symbol of a PulseBank: a pulse is evaluated at the nearest of SHAPER_PHASES
#: equally spaced points of the symbol period (timing error at most 1/(2*SHAPER_PHASES) symbol).
SHAPER_PHASES = 1024


def rrc_pulse(x, rolloff):
    """Root-raised-cosine pulse at x symbols from its centre (continuous time, peak 1 - b + 4b/pi)."""
    x = np.asarray(x, dtype=np.float64)
    b = float(rolloff)
    h = np.empty_like(x)
    at0 = np.abs(x) < 1e-9
    sing = np.abs(np.abs(4.0 * b * x) - 1.0) < 1e-9
    reg = ~(at0 | sing)
    t = x[reg]
    h[reg] = (np.sin(np.pi * t * (1 - b)) + 4 * b * t * np.cos(np.pi * t * (1 + b))) / (
        np.pi * t * (1 - (4 * b * t) ** 2))
    h[at0] = 1.0 - b + 4.0 * b / np.pi
    h[sing] = (b / np.sqrt(2.0)) * ((1 + 2 / np.pi) * np.sin(np.pi / (4 * b))
                                    + (1 - 2 / np.pi) * np.cos(np.pi / (4 * b)))
    return h


def gaussian_pulse(x, bt):
    """Gaussian pulse (the impulse response of a Gaussian filter of bandwidth-time product ``bt``)
    at x symbols from its centre: exp(-2 pi^2 bt^2 x^2 / ln 2)."""
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-2.0 * np.pi ** 2 * float(bt) ** 2 * x ** 2 / np.log(2.0))


def rect_pulse(x):
    """Rectangular (NRZ) pulse: 1 on [-1/2, 1/2) symbols, 0 elsewhere."""
    x = np.asarray(x, dtype=np.float64)
    return ((x >= -0.5) & (x < 0.5)).astype(np.float64)


def cpm_phase_pulse(kind, bt, length):
    """The phase pulse q(x) of a binary CPM (x in symbols, centred): the integral of the frequency pulse,
    0 before -length/2 and 1 after +length/2.  ``kind`` 'rect' (CPFSK: a 1-symbol rectangle) or 'gauss'
    (GMSK/GFSK: a 1-symbol rectangle through a Gaussian filter of bandwidth-time product ``bt``, truncated
    to ``length`` symbols).  Returns a function of x."""
    if kind == "rect":
        return lambda x: np.clip(np.asarray(x, dtype=np.float64) + 0.5, 0.0, 1.0)
    grid = np.linspace(-length / 2.0, length / 2.0, 4096 * length + 1)
    k = 2.0 * np.pi * bt / np.sqrt(np.log(2.0))
    g = 0.5 * (special.erfc(k * (grid - 0.5) / np.sqrt(2.0)) - special.erfc(k * (grid + 0.5) / np.sqrt(2.0)))
    q = np.concatenate([[0.0], np.cumsum(0.5 * (g[1:] + g[:-1]) * np.diff(grid))])
    q /= q[-1]
    return lambda x: np.interp(np.asarray(x, dtype=np.float64), grid, q, left=0.0, right=1.0)


class PulseBank:
    """A pulse p(x) (x in symbols, zero outside [-half, half]) tabulated for FractionalShaper:
    ``H[q, j] = p(q / phases + half - j)``, q = 0..phases-1, j = 0..2*half.

    ``energy`` is the integral of p(x)**2 over x (symbols) and ``dc2`` the mean over the timing phase u
    of (sum_k p(u - k))**2: a shaped stream of independent symbols of variance v and mean m has average
    power v * energy + |m|**2 * dc2 per sample, at any samples per symbol."""

    def __init__(self, pulse, half, phases=SHAPER_PHASES):
        self.half, self.phases = int(half), int(phases)
        J = 2 * self.half + 1
        x = np.arange(phases)[:, None] / phases + self.half - np.arange(J)[None, :]
        H = np.asarray(pulse(x), dtype=np.float64)
        H[np.abs(x) > self.half] = 0.0
        self.H = H
        self.energy = float(np.sum(H ** 2) / phases)
        self.dc2 = float(np.mean(np.sum(H, axis=1) ** 2))

    def scaled(self, gain):
        """The same bank with its pulse multiplied by ``gain``."""
        other = object.__new__(PulseBank)
        other.half, other.phases = self.half, self.phases
        other.H = self.H * gain
        other.energy, other.dc2 = self.energy * gain ** 2, self.dc2 * gain ** 2
        return other


class FractionalShaper:
    """y[n] = sum_k s[k] p(n / sps + offset - k): symbols s[k] (k = ..., -1, 0, 1, ...) shaped by a
    PulseBank's pulse at ``sps`` samples per symbol (any real number > 1), output sample n taken at time
    n / sps + offset symbols: the symbol k is centred on sample (k - offset) * sps.

    :meth:`needed` says which symbols a run of output samples uses, :meth:`shape` computes it from a
    symbol array holding at least those; both depend only on the absolute sample indices, so the output
    does not depend on how a stream is cut into runs."""

    def __init__(self, bank, sps, offset=0.0):
        self.bank, self.sps, self.offset = bank, float(sps), float(offset)

    def _grid(self, n0, count):
        u = (n0 + np.arange(count, dtype=np.float64)) / self.sps + self.offset
        i = np.floor(u)
        q = np.rint((u - i) * self.bank.phases).astype(np.intp)
        wrap = q == self.bank.phases
        q[wrap] = 0
        return i.astype(np.intp) + wrap, q

    def needed(self, n0, count):
        """(first, last) symbol index that output samples n0 .. n0+count-1 use."""
        h = self.bank.half
        first = int(np.floor(n0 / self.sps + self.offset)) - h
        last = int(np.floor((n0 + count - 1) / self.sps + self.offset)) + 1 + h
        return first, last

    def shape(self, sym, k0, n0, count):
        """Output samples n0 .. n0+count-1 from ``sym`` (1-D, real or complex), whose element 0 is the
        symbol of index k0."""
        i, q = self._grid(n0, count)
        J = 2 * self.bank.half + 1
        win = np.lib.stride_tricks.sliding_window_view(sym, J)[i - self.bank.half - k0]
        H = self.bank.H[q]
        if np.iscomplexobj(win):
            y = np.empty(count, dtype=np.complex128)
            y.real = np.einsum("nj,nj->n", H, win.real)
            y.imag = np.einsum("nj,nj->n", H, win.imag)
            return y
        return np.einsum("nj,nj->n", H, win)


class SymbolBuffer:
    """Symbols by absolute index k >= ``first``, drawn in fixed-size blocks from ``draw(n)`` (so the
    sequence does not depend on how it is read); :meth:`get` returns (array, index of its element 0)
    covering [lo, hi] and forgets symbols below lo."""

    def __init__(self, draw, first, block=2048):
        self._draw, self._block = draw, int(block)
        self.k0 = int(first)
        self.buf = None

    def get(self, lo, hi):
        if lo < self.k0:
            raise ValueError(f"symbol {lo} was already dropped (buffer starts at {self.k0})")
        while self.buf is None or self.k0 + len(self.buf) <= hi:
            new = np.asarray(self._draw(self._block))
            self.buf = new if self.buf is None else np.concatenate([self.buf, new])
        if lo > self.k0:
            self.buf = self.buf[lo - self.k0:]
            self.k0 = lo
        return self.buf, self.k0
