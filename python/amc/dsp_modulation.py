#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Pure-numpy modulators behind ``amc.modulation_source`` (usable without GNU Radio).

:class:`Modulator` makes an endless, seeded, unit-average-power complex baseband stream for any
class of RadioML 2018.01A or 2016.10a. It generates internally in fixed-size blocks (a fixed number
of symbols, or a fixed number of audio samples) and serves reads of any length from a buffer, so
``read(a); read(b)`` equals ``read(a + b)`` bit for bit.

Signal definitions (also in docs/generation.md):

* Linear classes (OOK, ASK, PAM, PSK, APSK, QAM): i.i.d. uniform symbols (``log2 M`` random bits
  each), unit-average-power constellation, root-raised-cosine pulse (``rolloff``, 12-symbol span).
* OQPSK: QPSK whose Q branch is delayed by half a symbol (sps/2 samples) before the RRC pulse.
* CPM classes: GMSK (h=0.5, Gaussian BT=0.3, 4-symbol pulse), CPFSK (binary, h=0.5, rectangular
  1-symbol pulse, as the 2016 generator's ``cpfsk_bc(0.5, ...)``), GFSK (binary, h=0.8/pi, BT=0.35,
  4-symbol pulse: the 2016 generator's ``gfsk_mod(sensitivity=0.1, bt=0.35)`` at 8 sps).
* Analog classes: audio at 25 kHz (speech-like synthesis or a WAV file), modulated, interpolated by
  8 to the nominal 200 kS/s output rate (the analog classes ignore ``sps`` and ``rolloff``).
"""
import numpy as np
from scipy import signal

from .contract import CLASSES_2016, CLASSES_2018
from . import dsp_audio
from .dsp_filters import (BlockBuffer, PolyphaseInterpolator, StreamingFIR, gaussian_freq_pulse,
                          hilbert_taps, lowpass_taps, rrc_taps)

#: Nominal output sample rate (Hz) that the analog classes are defined at.
NOMINAL_RATE = 200e3
#: Audio rate (Hz) and interpolation factor from audio rate to the output rate.
AUDIO_RATE = dsp_audio.AUDIO_RATE
AUDIO_INTERP = int(round(NOMINAL_RATE / AUDIO_RATE))
#: RRC span in symbols.
RRC_SPAN = 12
#: Symbols per internal block of the digital generators.
SYMBOL_BLOCK = 2048

#: AM modulation index (audio peak is 1): carrier + M_AM * audio.
M_AM = 0.8
#: Peak frequency deviation (Hz at NOMINAL_RATE) of FM (narrowband) and WBFM (broadcast).
FM_DEVIATION = 5e3
WBFM_DEVIATION = 75e3
#: WBFM pre-emphasis time constant (s).
WBFM_TAU = 75e-6

ALL_CLASSES = tuple(dict.fromkeys(CLASSES_2018 + CLASSES_2016))

# APSK rings: (points, radius, phase offset of the first point). Radii follow DVB-S2 (16APSK 4+12
# gamma=2.85 at rate 2/3; 32APSK 4+12+16 gamma1=2.84, gamma2=5.27 at rate 3/4) and, for 64/128APSK
# (not in DVB-S2), ring counts and radii close to DVB-S2X's (64APSK 4+12+20+28 with radii
# 1, 2.4, 4.3, 7.0; 128APSK 16+16+16+16+16+48 with radii 1, 1.715, 2.118, 2.681, 2.75, 3.75).
APSK_RINGS = {
    "16APSK": ((4, 1.0, np.pi / 4), (12, 2.85, np.pi / 12)),
    "32APSK": ((4, 1.0, np.pi / 4), (12, 2.84, np.pi / 12), (16, 5.27, np.pi / 16)),
    "64APSK": ((4, 1.0, np.pi / 4), (12, 2.4, np.pi / 12), (20, 4.3, np.pi / 20), (28, 7.0, np.pi / 28)),
    "128APSK": ((16, 1.0, 0.0), (16, 1.715, np.pi / 16), (16, 2.118, 0.0), (16, 2.681, np.pi / 16),
                (16, 2.75, 0.0), (48, 3.75, np.pi / 48)),
}

ANALOG = {
    # name: (kind, carrier)
    "AM-DSB-WC": ("dsb", True), "AM-DSB-SC": ("dsb", False), "AM-DSB": ("dsb", True),
    "AM-SSB-WC": ("ssb", True), "AM-SSB-SC": ("ssb", False), "AM-SSB": ("ssb", True),
    "FM": ("fm", FM_DEVIATION), "WBFM": ("wbfm", WBFM_DEVIATION),
}
CPM = {
    # name: (modulation index h, pulse, BT, pulse length in symbols)
    "GMSK": (0.5, "gauss", 0.3, 4),
    "CPFSK": (0.5, "rect", None, 1),
    "GFSK": (0.8 / np.pi, "gauss", 0.35, 4),
}


def _unit_power(points):
    points = np.asarray(points, dtype=np.complex128)
    return points / np.sqrt(np.mean(np.abs(points) ** 2))


def _square_qam(M):
    m = int(round(np.sqrt(M)))
    lv = 2 * np.arange(m) - (m - 1)
    return (lv[None, :] + 1j * lv[:, None]).ravel()


def _cross_qam(M):
    if M == 32:
        lv, lim = 2 * np.arange(6) - 5, 3
    elif M == 128:
        lv, lim = 2 * np.arange(12) - 11, 7
    else:
        raise ValueError(M)
    p = (lv[None, :] + 1j * lv[:, None]).ravel()
    keep = ~((np.abs(p.real) > lim) & (np.abs(p.imag) > lim))
    return p[keep]


def constellation(name):
    """Unit-average-power constellation points of a linear class (None for OQPSK/CPM/analog)."""
    if name == "OOK":
        p = [0.0, 1.0]
    elif name in ("4ASK", "8ASK"):
        p = np.arange(int(name[0]), dtype=float)                  # unipolar amplitude levels
    elif name == "PAM4":
        p = [-3.0, -1.0, 1.0, 3.0]                                   # bipolar
    elif name == "BPSK":
        p = [1.0, -1.0]
    elif name == "QPSK":
        p = np.exp(1j * (np.pi / 4 + np.pi / 2 * np.arange(4)))
    elif name in ("8PSK", "16PSK", "32PSK"):
        M = int(name[:-3])
        p = np.exp(2j * np.pi * np.arange(M) / M)
    elif name in APSK_RINGS:
        p = np.concatenate([r * np.exp(1j * (ph + 2 * np.pi * np.arange(n) / n))
                            for n, r, ph in APSK_RINGS[name]])
    elif name in ("16QAM", "64QAM", "256QAM", "QAM16", "QAM64"):
        p = _square_qam(int(name.replace("QAM", "")))
    elif name in ("32QAM", "128QAM"):
        p = _cross_qam(int(name[:-3]))
    else:
        return None
    return _unit_power(p)


def kind_of(name):
    """'linear', 'oqpsk', 'cpm' or 'analog'."""
    if name == "OQPSK":
        return "oqpsk"
    if name in CPM:
        return "cpm"
    if name in ANALOG:
        return "analog"
    return "linear"


def check_params(modulation, samples_per_symbol, rolloff, seed):
    """Validate the modulation source's parameters; raise ValueError naming the bad one."""
    if not isinstance(modulation, str) or modulation not in ALL_CLASSES:
        raise ValueError(f"modulation: unknown class {modulation!r}; allowed: {', '.join(ALL_CLASSES)}")
    if isinstance(samples_per_symbol, bool) or not isinstance(samples_per_symbol, (int, np.integer)) \
            and not (isinstance(samples_per_symbol, float) and samples_per_symbol.is_integer()):
        raise ValueError(f"samples_per_symbol: must be an integer >= 2, got {samples_per_symbol!r}")
    if int(samples_per_symbol) < 2:
        raise ValueError(f"samples_per_symbol: must be an integer >= 2, got {samples_per_symbol!r}")
    try:
        r = float(rolloff)
    except (TypeError, ValueError):
        raise ValueError(f"rolloff: must be a number in (0, 1], got {rolloff!r}")
    if not (0.0 < r <= 1.0):
        raise ValueError(f"rolloff: must be in (0, 1], got {rolloff!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")


class Modulator:
    """Endless seeded complex baseband of one class; ``read(n)`` returns the next n complex64 samples.

    Parameters are those of ``amc.modulation_source`` (validated here). ``audio_file`` (WAV) drives the
    analog classes instead of the built-in speech-like source; ``speech_pauses=False`` makes the built-in
    source continuous speech (no pauses between words).
    """

    def __init__(self, modulation, samples_per_symbol=8, rolloff=0.35, seed=0, audio_file="", speech_pauses=True):
        check_params(modulation, samples_per_symbol, rolloff, seed)
        if not isinstance(speech_pauses, (bool, np.bool_)):
            raise ValueError(f"speech_pauses: must be True or False, got {speech_pauses!r}")
        if audio_file and not speech_pauses:
            raise ValueError("speech_pauses: False applies to the built-in speech-like audio only; with an "
                             "audio_file the file's own pauses are used (cut them from the file instead)")
        self.speech_pauses = bool(speech_pauses)
        self.modulation = modulation
        self.sps = int(samples_per_symbol)
        self.rolloff = float(rolloff)
        self.seed = int(seed)
        self.kind = kind_of(modulation)
        ss = np.random.SeedSequence([self.seed, 0xA3C])
        bits_ss, audio_ss = ss.spawn(2)
        self.rng = np.random.default_rng(bits_ss)
        self.audio_file = audio_file or ""
        if self.kind == "linear":
            self.points = constellation(modulation)
            self.bits_per_symbol = int(round(np.log2(len(self.points))))
            self.taps = rrc_taps(self.sps, self.rolloff, RRC_SPAN)
            self._shaper = PolyphaseInterpolator(self.taps, self.sps)
            produce = self._linear_block
        elif self.kind == "oqpsk":
            self.points = constellation("QPSK")
            self.bits_per_symbol = 2
            self.taps = rrc_taps(self.sps, self.rolloff, RRC_SPAN)
            tq = rrc_taps(self.sps, self.rolloff, RRC_SPAN + 1)          # centred sps/2 later
            ti = np.concatenate([self.taps, np.zeros(len(tq) - len(self.taps))])
            self._shi = PolyphaseInterpolator(ti, self.sps)
            self._shq = PolyphaseInterpolator(tq, self.sps)
            produce = self._oqpsk_block
        elif self.kind == "cpm":
            h, pulse, bt, length = CPM[modulation]
            self.h = h
            self.bits_per_symbol = 1
            if pulse == "rect":
                g = np.full(self.sps, 1.0 / self.sps)
            else:
                g = gaussian_freq_pulse(self.sps, bt, length)
            self.freq_pulse = g
            self._shaper = PolyphaseInterpolator(g, self.sps)
            self._phase = 0.0
            produce = self._cpm_block
        else:
            self._init_analog(np.random.default_rng(audio_ss))
            produce = self._analog_block
        if self.audio_file and self.kind != "analog":
            # validate it anyway so a bad path is reported, but digital classes do not use it
            dsp_audio.load_wav(self.audio_file)
        # warm up: run one internal block through the filters and discard it, so the stream starts in
        # steady state (no filter start-up transient)
        produce()
        self._buf = BlockBuffer(produce, np.complex64)

    # ---- digital -------------------------------------------------------------------------
    def _symbols(self, n):
        """n symbol indices from log2(M) random bits each (MSB first)."""
        k = self.bits_per_symbol
        bits = self.rng.integers(0, 2, size=(n, k), dtype=np.uint8)
        return bits @ (1 << np.arange(k - 1, -1, -1))

    def _linear_block(self):
        s = self.points[self._symbols(SYMBOL_BLOCK)]
        if np.all(s.imag == 0):
            return self._shaper.process(s.real).astype(np.complex128)
        return self._shaper.process(s)

    def _oqpsk_block(self):
        s = self.points[self._symbols(SYMBOL_BLOCK)]
        return self._shi.process(s.real) + 1j * self._shq.process(s.imag)

    def _cpm_block(self):
        a = 2.0 * self._symbols(SYMBOL_BLOCK) - 1.0               # +-1
        dphi = (np.pi * self.h) * self._shaper.process(a)
        ph = np.cumsum(np.concatenate([[self._phase], dphi]))
        self._phase = float(np.mod(ph[-1], 2 * np.pi))
        return np.exp(1j * ph[:-1])

    # ---- analog --------------------------------------------------------------------------
    def _init_analog(self, rng):
        kind, arg = ANALOG[self.modulation]
        self.analog_kind = kind
        if self.audio_file:
            self.audio = dsp_audio.WavAudio(self.audio_file, rng)
            pa = self.audio.power
        else:
            self.audio = dsp_audio.SpeechLikeAudio(rng, pauses=self.speech_pauses)
            pa = dsp_audio.speech_power(self.speech_pauses)
        self.audio_power = pa
        L = AUDIO_INTERP
        self._interp = PolyphaseInterpolator(lowpass_taps(12 * L + 1, 6e3 / NOMINAL_RATE, gain=L), L)
        self._phase = 0.0
        if kind == "dsb":
            self.carrier = arg
            self.scale = 1.0 / np.sqrt((1.0 + M_AM ** 2 * pa) if arg else pa)
        elif kind == "ssb":
            self.carrier = arg
            ht = hilbert_taps(129)
            self._hilb = StreamingFIR(ht)
            d = np.zeros(129)
            d[64] = 1.0
            self._delay = StreamingFIR(d)
            self.scale = 1.0 / np.sqrt((1.0 + 2 * M_AM ** 2 * pa) if arg else 2 * pa)
        elif kind == "fm":
            self.deviation = arg
            self.scale = 1.0
        else:   # wbfm: 75 us pre-emphasis (bilinear), gain normalised so speech peaks stay near 1
            self.deviation = arg
            fs = AUDIO_RATE
            tau = WBFM_TAU
            # H(s) = 1 + s*tau, with a pole well above the audio band to make it realisable
            p = 2 * np.pi * 10e3
            b, a = signal.bilinear([tau, 1.0], [1.0 / p, 1.0], fs=fs)
            gmax = np.max(np.abs(signal.freqz(b, a, worN=[4000.0], fs=fs)[1]))
            self._pre_b, self._pre_a = b / gmax, a
            self._pre_z = np.zeros(max(len(a), len(b)) - 1)
            self.scale = 1.0

    def _analog_block(self):
        a = self.audio.next_block()
        kind = self.analog_kind
        if kind == "dsb":
            base = (1.0 + M_AM * a) if self.carrier else a
            return (self._interp.process(base) * self.scale).astype(np.complex128)
        if kind == "ssb":
            an = self._delay.process(a) + 1j * self._hilb.process(a)     # analytic: upper sideband
            base = (1.0 + M_AM * an) if self.carrier else an
            return self._interp.process(base) * self.scale
        if kind == "wbfm":
            a, self._pre_z = signal.lfilter(self._pre_b, self._pre_a, a, zi=self._pre_z)
            a = np.clip(a, -1.0, 1.0)
        m = self._interp.process(a)
        k = 2 * np.pi * self.deviation / NOMINAL_RATE
        ph = np.cumsum(np.concatenate([[self._phase], k * m]))
        self._phase = float(np.mod(ph[-1], 2 * np.pi))
        return np.exp(1j * ph[:-1])

    # ---- public --------------------------------------------------------------------------
    def read(self, n):
        """The next ``n`` samples (complex64)."""
        return self._buf.read(int(n))
