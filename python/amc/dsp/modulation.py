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

from ..contract import CLASSES_2016, CLASSES_2018
from . import audio
from .filters import (BlockBuffer, FractionalShaper, PolyphaseInterpolator, PulseBank, StreamingFIR,
                          SymbolBuffer, cpm_phase_pulse, gaussian_pulse, hilbert_taps, lowpass_taps, rect_pulse,
                          rrc_pulse)

#: Nominal output sample rate (Hz) that the analog classes are defined at.
NOMINAL_RATE = 200e3
#: Audio rate (Hz) and interpolation factor from audio rate to the output rate.
AUDIO_RATE = audio.AUDIO_RATE
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


#: Pulses of the linear classes and OQPSK (``pulse`` parameter).
PULSES = ("rrc", "rect", "gaussian")
#: Allowed samples per symbol (any real number in this range).
SPS_RANGE = (2.0, 32.0)
#: Output samples per internal block of the digital generators.
OUTPUT_BLOCK = 8192


def _real(name, v, lo, hi, lo_open=False, hi_open=False, what=None):
    what = what or f"a number in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}: must be {what}, got {v!r}")
    f = float(v)
    if not np.isfinite(f) or f < lo or f > hi or (lo_open and f == lo) or (hi_open and f == hi):
        raise ValueError(f"{name}: must be {what}, got {v!r}")
    return f


def check_params(modulation, samples_per_symbol, rolloff, seed, pulse="rrc", bt=0.5, timing_offset=0.0):
    """Validate the modulation source's parameters; raise ValueError naming the bad one.  Returns
    (samples_per_symbol, rolloff, bt, timing_offset) as floats."""
    if not isinstance(modulation, str) or modulation not in ALL_CLASSES:
        raise ValueError(f"modulation: unknown class {modulation!r}; allowed: {', '.join(ALL_CLASSES)}")
    sps = _real("samples_per_symbol", samples_per_symbol, *SPS_RANGE,
                what=f"a number of samples per symbol in [{SPS_RANGE[0]:g}, {SPS_RANGE[1]:g}] (non-integer allowed)")
    r = _real("rolloff", rolloff, 0.0, 1.0, lo_open=True)
    if not isinstance(pulse, str) or pulse not in PULSES:
        raise ValueError(f"pulse: unknown pulse {pulse!r}; allowed: {', '.join(PULSES)}")
    b = _real("bt", bt, 0.1, 2.0, what="a bandwidth-time product in [0.1, 2]")
    t = _real("timing_offset", timing_offset, 0.0, 1.0, hi_open=True,
              what="a fraction of a symbol in [0, 1)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")
    return sps, r, b, t


def pulse_bank(pulse, rolloff=0.35, bt=0.5):
    """The PulseBank of a linear class's pulse (not yet scaled to unit power)."""
    if pulse == "rrc":
        return PulseBank(lambda x: rrc_pulse(x, rolloff), RRC_SPAN // 2)
    if pulse == "rect":
        return PulseBank(rect_pulse, 1)
    sigma = np.sqrt(np.log(2.0)) / (2.0 * np.pi * bt)             # std of the Gaussian, symbols
    return PulseBank(lambda x: gaussian_pulse(x, bt), max(2, int(np.ceil(5.0 * sigma))))


class Modulator:
    """Endless seeded complex baseband of one class; ``read(n)`` returns the next n complex64 samples.

    Parameters are those of ``amc.modulation_source`` (validated here). ``audio_file`` (WAV) drives the
    analog classes instead of the built-in speech-like source; ``speech_pauses=False`` makes the built-in
    source continuous speech (no pauses between words).

    Digital classes: symbol k is centred on output sample (k - timing_offset) * samples_per_symbol, so
    ``timing_offset`` (a fraction of a symbol) sets where sample 0 falls in the symbol period; any real
    ``samples_per_symbol`` in SPS_RANGE works (FractionalShaper).  The stream starts in steady state:
    the symbols before sample 0 are drawn too.
    """

    def __init__(self, modulation, samples_per_symbol=8, rolloff=0.35, seed=0, audio_file="", speech_pauses=True,
                 pulse="rrc", bt=0.5, timing_offset=0.0):
        sps, rolloff, bt, timing_offset = check_params(modulation, samples_per_symbol, rolloff, seed, pulse, bt,
                                                       timing_offset)
        if not isinstance(speech_pauses, (bool, np.bool_)):
            raise ValueError(f"speech_pauses: must be True or False, got {speech_pauses!r}")
        if audio_file and not speech_pauses:
            raise ValueError("speech_pauses: False applies to the built-in speech-like audio only; with an "
                             "audio_file the file's own pauses are used (cut them from the file instead)")
        self.speech_pauses = bool(speech_pauses)
        self.modulation = modulation
        self.sps = sps
        self.rolloff = rolloff
        self.pulse = pulse
        self.bt = bt
        self.timing_offset = timing_offset
        self.seed = int(seed)
        self.kind = kind_of(modulation)
        ss = np.random.SeedSequence([self.seed, 0xA3C])
        bits_ss, audio_ss = ss.spawn(2)
        self.rng = np.random.default_rng(bits_ss)
        self.audio_file = audio_file or ""
        self._n = 0                                      # next output sample of the digital generators
        if self.kind in ("linear", "oqpsk"):
            self.points = constellation("QPSK" if self.kind == "oqpsk" else modulation)
            self.bits_per_symbol = int(round(np.log2(len(self.points))))
            bank = pulse_bank(pulse, rolloff, bt)
            mean = complex(np.mean(self.points))
            var = float(np.mean(np.abs(self.points - mean) ** 2))
            bank = bank.scaled(1.0 / np.sqrt(var * bank.energy + abs(mean) ** 2 * bank.dc2))
            if self.kind == "oqpsk":                     # Q branch half a symbol after I
                self._shapers = (FractionalShaper(bank, sps, timing_offset),
                                 FractionalShaper(bank, sps, timing_offset - 0.5))
                produce = self._oqpsk_block
            else:
                self._shapers = (FractionalShaper(bank, sps, timing_offset),)
                self._real_points = bool(np.all(self.points.imag == 0))
                produce = self._linear_block
            draw = lambda n: self.points[self._symbols(n)]
        elif self.kind == "cpm":
            h, kind, bt_cpm, length = CPM[modulation]
            self.h = h
            self.bits_per_symbol = 1
            q = cpm_phase_pulse(kind, bt_cpm, length)
            step = 1.0 / sps
            # phase increment of sample n: pi h sum_k a_k (q(u_n - k) - q(u_n - 1/sps - k))
            bank = PulseBank(lambda x: q(x) - q(x - step), int(np.ceil(length / 2.0 + step)) + 1)
            self._shapers = (FractionalShaper(bank, sps, timing_offset),)
            self._phase = 0.0
            produce = self._cpm_block
            draw = lambda n: 2.0 * self._symbols(n) - 1.0
        else:
            self._init_analog(np.random.default_rng(audio_ss))
            produce = self._analog_block
        if self.kind != "analog":
            first = min(s.needed(0, 1)[0] for s in self._shapers)
            self._syms = SymbolBuffer(draw, first, SYMBOL_BLOCK)
        if self.audio_file and self.kind != "analog":
            # validate it anyway so a bad path is reported, but digital classes do not use it
            audio.load_wav(self.audio_file)
        if self.kind == "analog":
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

    def _fetch(self):
        n0, B = self._n, OUTPUT_BLOCK
        spans = [s.needed(n0, B) for s in self._shapers]
        sym, k0 = self._syms.get(min(a for a, _ in spans), max(b for _, b in spans))
        self._n += B
        return sym, k0, n0, B

    def _linear_block(self):
        sym, k0, n0, B = self._fetch()
        if self._real_points:
            return self._shapers[0].shape(sym.real, k0, n0, B).astype(np.complex128)
        return self._shapers[0].shape(sym, k0, n0, B)

    def _oqpsk_block(self):
        sym, k0, n0, B = self._fetch()
        return self._shapers[0].shape(sym.real, k0, n0, B) + 1j * self._shapers[1].shape(sym.imag, k0, n0, B)

    def _cpm_block(self):
        sym, k0, n0, B = self._fetch()
        dphi = (np.pi * self.h) * self._shapers[0].shape(sym, k0, n0, B)
        ph = np.cumsum(np.concatenate([[self._phase], dphi]))[1:]     # the phase at u_n
        self._phase = float(np.mod(ph[-1], 2 * np.pi))
        return np.exp(1j * ph)

    # ---- analog --------------------------------------------------------------------------
    def _init_analog(self, rng):
        kind, arg = ANALOG[self.modulation]
        self.analog_kind = kind
        if self.audio_file:
            self.audio = audio.WavAudio(self.audio_file, rng)
            pa = self.audio.power
        else:
            self.audio = audio.SpeechLikeAudio(rng, pauses=self.speech_pauses)
            pa = audio.speech_power(self.speech_pauses)
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
