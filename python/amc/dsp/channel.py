#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Pure-numpy RadioML-style channel behind ``amc.radioml_channel`` (usable without GNU Radio).

Impairments, in RML22's order:

1. sample-rate offset (SRO): a random walk of the offset in Hz (one Gaussian step of ``sro_std`` Hz per
   output sample, reflected at +-``sro_max`` Hz); each output sample advances the input time by
   ``1 + sro/samp_rate`` input samples (as GNU Radio's ``channels.sro_model``); the signal is
   interpolated there with a 16-tap Kaiser-windowed sinc (a cubic Farrow structure).
2. multipath selective fading: paths at ``delays`` (samples, fractional allowed: each is a causal
   truncated sinc, normalised to unit energy, as ``channels.selective_fading_model``), magnitudes
   ``mags`` (normalised so that sum(mags**2) = 1: unit average power gain), each path an independent
   Rayleigh or Rician (``k_factor``) fader made of 8 sinusoids with maximum Doppler ``doppler_hz``
   (sum of sinusoids with random angles and phases), evaluated on a grid of at most 64 samples (at
   least 64 points per Doppler period) and linearly interpolated.
3. carrier frequency offset (CFO): a random walk in Hz (``cfo_std`` Hz per sample, reflected at
   +-``cfo_max`` Hz), integrated into the carrier phase. Both walks start at 0 (as GNU Radio's models),
   or with ``random_start`` at a uniformly random point of their range.
4. random phase: one uniform phase in [0, 2 pi) per stream.
5. AWGN: complex Gaussian noise of variance 10**(-snr_db/10) (Es/N0: the channel input has unit
   average power and the fading unit average gain, so this is the signal-to-noise power ratio in the
   simulated band). The ``rml2016-compat`` preset instead uses noise *amplitude* 10**(-snr_db/10)
   (variance 10**(-snr_db/5)), reproducing the 2016 generator's bug: the true SNR is twice the label in dB.

Every random process has its own generator spawned from the seed and is consumed in fixed-size
blocks, and every recursion (random walks, phases, input time) is a sequential cumulative sum carried
between calls, so the output depends only on the parameters and seed, never on the chunking.
"""
import functools
import math

import numpy as np

PRESETS = {
    # 2016.10a generator: dynamic_channel_model(200e3, 0.01, 50, 0.01, 500, 8, 1, True, 4,
    #                                           [0, 0.9, 1.7], [1, 0.8, 0.3], 8, 10**(-snr/10), 0x1337)
    "rml2016": dict(samp_rate=200e3, sro_std=0.01, sro_max=50.0, cfo_std=0.01, cfo_max=500.0,
                    fading="rician", k_factor=4.0, doppler_hz=1.0, delays=[0.0, 0.9, 1.7],
                    mags=[1.0, 0.8, 0.3], random_phase=True, noise=True, random_start=False),
    "rml2016-compat": dict(samp_rate=200e3, sro_std=0.01, sro_max=50.0, cfo_std=0.01, cfo_max=500.0,
                           fading="rician", k_factor=4.0, doppler_hz=1.0, delays=[0.0, 0.9, 1.7],
                           mags=[1.0, 0.8, 0.3], random_phase=False, noise=True, random_start=False),
    # gr-amc's documented choice for 2018.01A-like data (the original parameters were never published):
    # symbol-clock offset walk within +-50 ppm and carrier offset walk within +-500 Hz (0.25 % of the
    # sample rate), both starting at a uniformly random point of their range so that every stream (every
    # dataset shard) sees different offsets; a 3-path Rician (K=4) channel with the delay spread and
    # gains of MATLAB's RadioML-like example ([0 1.8 3.4] samples, [0 -2 -10] dB) and 4 Hz Doppler;
    # random phase; AWGN.
    "rml2018": dict(samp_rate=200e3, sro_std=0.01, sro_max=10.0, cfo_std=0.05, cfo_max=500.0,
                    fading="rician", k_factor=4.0, doppler_hz=4.0, delays=[0.0, 1.8, 3.4],
                    mags=[1.0, 10 ** (-2 / 20), 10 ** (-10 / 20)], random_phase=True, noise=True,
                    random_start=True),
    "awgn": dict(samp_rate=200e3, sro_std=0.0, sro_max=0.0, cfo_std=0.0, cfo_max=0.0,
                 fading="none", k_factor=0.0, doppler_hz=0.0, delays=[0.0], mags=[1.0],
                 random_phase=False, noise=True, random_start=False),
}
FADING_MODES = ("none", "rayleigh", "rician")
COMPAT_SEED = 0x1337
#: Sinusoids per fader (as the 2016 generator's N=8).
N_SINUSOIDS = 8
#: Fading gains are evaluated every D samples (a power of two <= FADING_DECIM, at least 64 points per
#: Doppler period) and linearly interpolated.
FADING_DECIM = 64
#: SRO interpolator: 2*SRO_HALF-tap Kaiser-windowed sinc, as a Farrow structure of degree SRO_DEGREE.
SRO_HALF = 8
SRO_DEGREE = 3
_RAND_BLOCK = 1 << 15
#: ChannelModel.pull works in pieces of at most this many samples.
PULL_PIECE = 8192


def _num(name, v, allowed):
    if isinstance(v, bool):
        raise ValueError(f"{name}: expected {allowed}, got {v!r}")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected {allowed}, got {v!r}")
    if not math.isfinite(f):
        raise ValueError(f"{name}: expected {allowed}, got {v!r}")
    return f


def _bool(name, v):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)) and v in (0, 1):
        return bool(v)
    raise ValueError(f"{name}: expected True or False (or None for the preset's value), got {v!r}")


def _list(name, v):
    if isinstance(v, (str, bytes)) or not hasattr(v, "__len__"):
        raise ValueError(f"{name}: expected a list of non-negative numbers, got {v!r}")
    out = [_num(name, x, "a list of finite non-negative numbers") for x in v]
    if not out:
        raise ValueError(f"{name}: expected a non-empty list of non-negative numbers, got {v!r}")
    if any(x < 0 for x in out):
        raise ValueError(f"{name}: values must be >= 0, got {v!r}")
    return out


def resolve_params(preset="rml2018", snr_db=10.0, seed=0, **overrides):
    """Validate the channel's parameters, filling every None from the preset. Returns a dict."""
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ValueError(f"preset: unknown preset {preset!r}; allowed: {', '.join(PRESETS)}")
    p = dict(PRESETS[preset])
    p["preset"] = preset
    p["snr_db"] = _num("snr_db", snr_db, "a finite number of dB (Es/N0)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")
    p["seed"] = COMPAT_SEED if preset == "rml2016-compat" else int(seed)
    p["requested_seed"] = int(seed)
    for k, v in overrides.items():
        if k not in PRESETS["rml2016"]:
            raise ValueError(f"unknown channel parameter {k!r}; allowed: {', '.join(PRESETS['rml2016'])}")
        if v is not None:
            p[k] = v
    p["samp_rate"] = _num("samp_rate", p["samp_rate"], "a positive sample rate in Hz")
    if p["samp_rate"] <= 0:
        raise ValueError(f"samp_rate: must be > 0 Hz, got {p['samp_rate']!r}")
    fs = p["samp_rate"]
    for k in ("sro_std", "sro_max", "cfo_std", "cfo_max", "doppler_hz", "k_factor"):
        p[k] = _num(k, p[k], "a finite number >= 0")
        if p[k] < 0:
            raise ValueError(f"{k}: must be >= 0, got {p[k]!r}")
    if p["sro_max"] >= fs / 2:
        raise ValueError(f"sro_max: must be < samp_rate/2 = {fs / 2:g} Hz, got {p['sro_max']!r}")
    if p["cfo_max"] >= fs / 2:
        raise ValueError(f"cfo_max: must be < samp_rate/2 = {fs / 2:g} Hz, got {p['cfo_max']!r}")
    if p["doppler_hz"] >= fs / 64:
        raise ValueError(f"doppler_hz: must be < samp_rate/64 = {fs / 64:g} Hz, got {p['doppler_hz']!r}")
    fad = p["fading"]
    if fad is False:
        fad = "none"
    if not isinstance(fad, str) or fad.lower() not in FADING_MODES:
        raise ValueError(f"fading: unknown mode {fad!r}; allowed: {', '.join(FADING_MODES)} (or None for the preset's)")
    p["fading"] = fad.lower()
    p["delays"] = _list("delays", p["delays"])
    p["mags"] = _list("mags", p["mags"])
    if len(p["delays"]) != len(p["mags"]):
        raise ValueError(f"delays/mags: must have the same length, got {len(p['delays'])} delays "
                         f"{p['delays']} and {len(p['mags'])} mags {p['mags']}")
    if max(p["delays"]) > 64:
        raise ValueError(f"delays: at most 64 samples, got {p['delays']}")
    if sum(m * m for m in p["mags"]) <= 0:
        raise ValueError(f"mags: at least one magnitude must be > 0, got {p['mags']}")
    p["random_phase"] = _bool("random_phase", p["random_phase"])
    p["noise"] = _bool("noise", p["noise"])
    p["random_start"] = _bool("random_start", p["random_start"])
    return p


class RandStream:
    """Standard normal numbers (float32) served from fixed-size blocks: peek/take of any length give the
    same sequence however the requests are split."""

    def __init__(self, rng, block=_RAND_BLOCK):
        self.rng, self.block = rng, block
        self.buf = np.zeros(0, dtype=np.float32)
        self.pos = 0

    def peek(self, n):
        while len(self.buf) - self.pos < n:
            self.buf = np.concatenate([self.buf[self.pos:],
                                       self.rng.standard_normal(self.block, dtype=np.float32)])
            self.pos = 0
        return self.buf[self.pos:self.pos + n]

    def take(self, n):
        v = self.peek(n).copy()
        self.pos += n
        return v

    def advance(self, n):
        self.peek(n)
        self.pos += n


def _fold(w, m):
    """Reflect a free walk into [-m, m] (the walk reflected at the bounds); values inside the bounds are
    returned unchanged (bit for bit), values outside are folded back."""
    if len(w) == 0 or (w.min() >= -m and w.max() <= m):
        return w
    t = np.mod(w + m, 4 * m)
    return np.where(np.abs(w) <= m, w, np.where(t < 2 * m, t - m, 3 * m - t))


class RandomWalk:
    """Per-sample Gaussian random walk (std per step) reflected at +-max; starts at 0, or with
    ``random_start`` at a uniform point of [-max, max] (then std 0 gives a constant random offset)."""

    def __init__(self, rng, std, maxdev, random_start=False):
        self.std, self.max = float(std), float(maxdev)
        self.enabled = self.max > 0 and (self.std > 0 or random_start)
        self.w = float(rng.uniform(-self.max, self.max)) if (self.enabled and random_start) else 0.0
        self.stream = RandStream(rng)

    def peek(self, n):
        """(values for the next n samples, free-walk states after each)."""
        if not self.enabled or n == 0:
            return np.zeros(n), None
        if self.std == 0:
            return np.full(n, self.w), np.full(n, self.w)
        w = np.empty(n + 1)
        w[0] = self.w
        np.multiply(self.stream.peek(n), self.std, out=w[1:], dtype=np.float64)
        np.cumsum(w, out=w)                     # sequential: the same sums however the stream is cut
        w = w[1:]
        return _fold(w, self.max), w

    def commit(self, n, states):
        if self.enabled and self.std > 0 and n > 0:
            self.stream.advance(n)
            self.w = float(states[n - 1])


@functools.lru_cache(maxsize=4)
def _farrow_coefs(half=SRO_HALF, degree=SRO_DEGREE, beta=6.0):
    """Farrow coefficients c[p, t] (t < half) of a 2*half-tap Kaiser-windowed sinc interpolator:
    the tap multiplying x[i0 + t - (half-1)] at fractional delay mu is sum_p c[p, t] (mu - 1/2)**p, and by
    symmetry the tap of x[i0 + half - t] is sum_p (-1)**p c[p, t] (mu - 1/2)**p."""
    mus = np.linspace(0.0, 1.0, 1025)
    t = np.arange(2 * half) - (half - 1)
    x = t[None, :] - mus[:, None]
    win = np.i0(beta * np.sqrt(np.clip(1 - (x / half) ** 2, 0, None))) / np.i0(beta)
    h = np.sinc(x) * win
    h = h / h.sum(axis=1, keepdims=True)
    V = np.vander(mus - 0.5, degree + 1, increasing=True)
    c = np.linalg.lstsq(V, h, rcond=None)[0]                       # (degree+1, 2*half)
    sign = (-1.0) ** np.arange(degree + 1)
    c = 0.5 * (c[:, :half] + sign[:, None] * c[:, ::-1][:, :half])
    return c


def _fir_f32(xf, base, n, taps):
    """sum_t taps[t] * x[base - t] for n consecutive outputs, on a float32 view of complex64 data
    (one multiply-add per tap, in a fixed order: the result does not depend on n)."""
    y = np.zeros(2 * n, dtype=np.float32)
    for t, c in enumerate(taps):
        if c != 0.0:
            s = 2 * (base - t)
            y += np.float32(c) * xf[s:s + 2 * n]
    return y


class ChannelModel:
    """Streaming channel: ``push(x)`` input, ``pull(nmax)`` -> (output complex64, input times or None).

    The input time array gives, for each output sample, its position on the input's sample axis
    (only with SRO; without it output sample m is input sample m).
    """

    def __init__(self, **params):
        p = resolve_params(**params)
        self.p = p
        self.fs = p["samp_rate"]
        names = ("sro", "fading", "cfo", "phase", "noise")
        rngs = dict(zip(names, (np.random.default_rng(s)
                                for s in np.random.SeedSequence([p["seed"], 0xC4A]).spawn(len(names)))))
        # SRO
        self.sro = RandomWalk(rngs["sro"], p["sro_std"], p["sro_max"], p["random_start"])
        self.use_sro = self.sro.enabled
        if self.use_sro:
            self._farrow = [[np.float32(v) for v in row] for row in _farrow_coefs()]
            self.tau_next = 0.0
            self._hist = np.zeros(SRO_HALF, dtype=np.complex64)   # zeros before the stream starts
            self._hist_start = -SRO_HALF
        else:
            self._pending = []
            self._npending = 0
        self.n_in = 0
        self.n_out = 0
        # fading
        self.use_fading = p["fading"] != "none"
        if self.use_fading:
            rng = rngs["fading"]
            mags = np.asarray(p["mags"], dtype=float)
            mags = mags / np.sqrt(np.sum(mags ** 2))
            self.ntaps = max(8, int(math.ceil(max(p["delays"]))) + 6)
            t = np.arange(self.ntaps)
            coefs = []
            for d in p["delays"]:
                s = np.sinc(t - d)
                s[np.abs(s) < 1e-12] = 0.0                       # integer delays are exact
                coefs.append(s / np.sqrt(np.sum(s ** 2)))
            self.path_taps = np.array(coefs)                 # (K, T)
            self.mags = mags
            K = len(mags)
            self.kf = p["k_factor"] if p["fading"] == "rician" else 0.0
            self.alpha = rng.uniform(0, 2 * np.pi, size=(K, N_SINUSOIDS))
            self.phi = rng.uniform(0, 2 * np.pi, size=(K, N_SINUSOIDS))
            self.los_theta = rng.uniform(0, 2 * np.pi, size=K)
            self.los_phi = rng.uniform(0, 2 * np.pi, size=K)
            self.fd = p["doppler_hz"]
            D = FADING_DECIM
            while D > 1 and self.fd * 64 * D > self.fs:
                D //= 2
            self.decim = D
            self._fhist = np.zeros(self.ntaps - 1, dtype=np.complex64)
        # CFO and phase
        self.cfo = RandomWalk(rngs["cfo"], p["cfo_std"], p["cfo_max"], p["random_start"])
        self.theta = 0.0
        self.phase0 = float(rngs["phase"].uniform(0, 2 * np.pi)) if p["random_phase"] else 0.0
        # noise
        self.noise = RandStream(rngs["noise"])
        if p["preset"] == "rml2016-compat":
            self.noise_var = (10.0 ** (-p["snr_db"] / 10.0)) ** 2
        else:
            self.noise_var = 10.0 ** (-p["snr_db"] / 10.0)
        self.noise_std = np.float32(math.sqrt(self.noise_var / 2.0))

    # ---- input ---------------------------------------------------------------------------
    def push(self, x):
        x = np.array(x, dtype=np.complex64)           # a copy: the caller's buffer may be reused
        if len(x) == 0:
            return
        if self.use_sro:
            self._hist = np.concatenate([self._hist, x])
        else:
            self._pending.append(x)
            self._npending += len(x)
        self.n_in += len(x)

    # ---- stages --------------------------------------------------------------------------
    def _sro_stage(self, nmax):
        empty = np.zeros(0, dtype=np.complex64), np.zeros(0)
        if nmax <= 0:
            return empty
        last = self.n_in - 1                                 # last input index available
        vals, states = self.sro.peek(nmax)
        tau = np.empty(nmax + 1)
        tau[0] = self.tau_next
        np.divide(vals, self.fs, out=tau[1:])
        tau[1:] += 1.0
        np.cumsum(tau, out=tau)
        i0 = np.floor(tau[:-1]).astype(np.int64)
        c = int(np.searchsorted(i0 + SRO_HALF, last, side="right"))
        if c == 0:
            return empty
        taus = tau[:c]
        i0 = i0[:c]
        mu = (taus - i0 - 0.5).astype(np.float32)
        # Farrow branch outputs v_p[r] for every base r in [r0, r1]
        r0, r1 = int(i0[0]), int(i0[-1])
        L = r1 - r0 + 1
        xf = self._hist.view(np.float32)
        h = SRO_HALF
        base = r0 - self._hist_start
        sums, diffs = [], []
        for t in range(h):
            a = xf[2 * (base + t - (h - 1)):2 * (base + t - (h - 1) + L)]
            b = xf[2 * (base + h - t):2 * (base + h - t + L)]
            sums.append(a + b)
            diffs.append(a - b)
        g = i0 - r0
        y = None
        for p in range(SRO_DEGREE, -1, -1):
            src = sums if p % 2 == 0 else diffs
            v = np.zeros(2 * L, dtype=np.float32)
            for t in range(h):
                v += self._farrow[p][t] * src[t]
            vp = v.view(np.complex64)[g]
            y = vp if y is None else y * mu + vp
        self.sro.commit(c, states)
        self.tau_next = float(tau[c])
        # drop input no longer needed
        keep_from = int(math.floor(self.tau_next)) - (h - 1) - 1
        drop = keep_from - self._hist_start
        if drop > 0:
            self._hist = self._hist[drop:]
            self._hist_start += drop
        return y, taus

    def _pass_stage(self, nmax):
        n = min(nmax, self._npending)
        if n <= 0:
            return np.zeros(0, dtype=np.complex64), None
        buf = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        y, rest = buf[:n], buf[n:]
        self._pending = [rest] if len(rest) else []
        self._npending = len(rest)
        return y, None

    def _gains(self, m0, n):
        """Per-path complex fading gains times the path magnitudes, (K, n) complex64, for output samples
        m0..m0+n-1: evaluated every
        ``decim`` samples (absolute grid) and linearly interpolated."""
        D = self.decim
        a0 = m0 // D
        a1 = (m0 + n - 1) // D + 1
        ta = (np.arange(a0, a1 + 1) * D / self.fs)[:, None, None]            # (A,1,1) seconds
        w = 2 * np.pi * self.fd
        diff = np.exp(1j * (w * ta * np.cos(self.alpha)[None] + self.phi[None])).sum(axis=2)
        diff = diff / np.sqrt(N_SINUSOIDS)                                     # (A, K)
        los = np.exp(1j * (w * ta[:, :, 0] * np.cos(self.los_theta)[None] + self.los_phi[None]))
        k = self.kf
        ga = (np.sqrt(1.0 / (k + 1.0)) * diff + np.sqrt(k / (k + 1.0)) * los) * self.mags[None, :]
        ga = np.ascontiguousarray(ga.T.astype(np.complex64))                  # (K, A), path magnitudes in
        frac = (np.arange(D, dtype=np.float32) / np.float32(D))[None, None, :]
        full = ga[:, :-1, None] + frac * (ga[:, 1:, None] - ga[:, :-1, None])  # (K, A-1, D)
        off = m0 - a0 * D
        return full.reshape(ga.shape[0], -1)[:, off:off + n]

    def _fading_stage(self, z, m0):
        n = len(z)
        T = self.ntaps
        buf = np.concatenate([self._fhist, z])
        self._fhist = buf[n:].copy()
        xf = buf.view(np.float32)
        g = self._gains(m0, n)
        y = np.zeros(n, dtype=np.complex64)
        for k in range(len(self.mags)):
            u = _fir_f32(xf, T - 1, n, self.path_taps[k]).view(np.complex64)
            u *= g[k]
            y += u
        return y

    def pull(self, nmax):
        """Up to ``nmax`` output samples (complex64) and their input times (None without SRO).

        Works in pieces of at most PULL_PIECE samples (numpy is fastest when its temporaries stay in
        cache); the result is the same for any piece size."""
        ys, ts = [], []
        left = int(nmax)
        while left > 0:
            y, t = self._pull_piece(min(left, PULL_PIECE))
            if len(y) == 0:
                break
            ys.append(y)
            ts.append(t)
            left -= len(y)
        if not ys:
            return np.zeros(0, dtype=np.complex64), (np.zeros(0) if self.use_sro else None)
        if len(ys) == 1:
            return ys[0], ts[0]
        return np.concatenate(ys), (np.concatenate(ts) if self.use_sro else None)

    def _pull_piece(self, nmax):
        if self.use_sro:
            z, taus = self._sro_stage(nmax)
        else:
            z, taus = self._pass_stage(nmax)
        n = len(z)
        if n == 0:
            return np.zeros(0, dtype=np.complex64), taus
        m0 = self.n_out
        if self.use_fading:
            z = self._fading_stage(z, m0)
        if self.cfo.enabled or self.phase0 != 0.0:
            f, states = self.cfo.peek(n)
            th = np.empty(n + 1)
            th[0] = self.theta
            np.multiply(f, 2 * np.pi / self.fs, out=th[1:])
            np.cumsum(th, out=th)
            self.cfo.commit(n, states)
            self.theta = float(th[n])
            ph = np.mod(th[:n] + self.phase0, 2 * np.pi).astype(np.float32)
            rot = np.empty(n, dtype=np.complex64)
            rot.real = np.cos(ph)
            rot.imag = np.sin(ph)
            z = z * rot
        if self.p["noise"]:
            w = self.noise.peek(2 * n).view(np.complex64)
            z = z + self.noise_std * w
            self.noise.advance(2 * n)
        self.n_out += n
        return np.asarray(z, dtype=np.complex64), taus

    def apply(self, x):
        """Push ``x`` and pull everything that can be produced (with SRO, the last few samples wait
        for more input)."""
        self.push(x)
        outs = []
        while True:
            y, _ = self.pull(1 << 16)
            if len(y) == 0:
                break
            outs.append(y)
        return np.concatenate(outs) if outs else np.zeros(0, dtype=np.complex64)
