#!/usr/bin/env python3
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA for amc.modulation_source: every class has its defining property (decoded constellation,
constant envelope, carrier line or not, one-sided spectrum, OQPSK's half-symbol offset, occupied
bandwidth), unit power, truth tags at exact offsets, chunking independence, seeds, bad parameters.

The expected constellations below are written out independently of the generator's code."""
import os
import struct
import tempfile
import wave

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio import amc
from gnuradio.amc import contract
from gnuradio.amc.dsp import audio as dsp_audio
from gnuradio.amc.dsp.filters import rrc_pulse, rrc_taps

SPS = 8
FS = 200e3        # nominal rate of the analog classes


def run_source(modulation, n, seed=0, max_noutput=None, tag_interval=1024, **kw):
    tb = gr.top_block()
    src = amc.modulation_source(modulation, seed=seed, tag_interval=tag_interval, **kw)
    head = blocks.head(gr.sizeof_gr_complex, n)
    snk = blocks.vector_sink_c()
    if max_noutput:
        src.set_max_noutput_items(max_noutput)
        head.set_max_noutput_items(max_noutput)
    tb.connect(src, head, snk)
    tb.run()
    tags = [(t.offset, pmt.symbol_to_string(t.key), pmt.symbol_to_string(t.value)) for t in snk.tags()]
    return np.array(snk.data(), dtype=np.complex64), tags


# ---- independent definitions of the expected constellations (docs/generation.md) --------------
def expected_points(name):
    def psk(M, off=0.0):
        return np.exp(1j * (off + 2 * np.pi * np.arange(M) / M))

    def grid(m):
        lv = np.arange(-(m - 1), m, 2)
        return (lv[:, None] + 1j * lv[None, :]).ravel()

    def rings(spec):
        return np.concatenate([r * psk(n, ph) for n, r, ph in spec])

    table = {
        "OOK": np.array([0, 1.0]), "4ASK": np.arange(4.0), "8ASK": np.arange(8.0),
        "PAM4": np.array([-3, -1, 1, 3.0]), "BPSK": np.array([-1, 1.0]),
        "QPSK": psk(4, np.pi / 4), "8PSK": psk(8), "16PSK": psk(16), "32PSK": psk(32),
        "16APSK": rings([(4, 1, np.pi / 4), (12, 2.85, np.pi / 12)]),
        "32APSK": rings([(4, 1, np.pi / 4), (12, 2.84, np.pi / 12), (16, 5.27, np.pi / 16)]),
        "64APSK": rings([(4, 1, np.pi / 4), (12, 2.4, np.pi / 12), (20, 4.3, np.pi / 20), (28, 7.0, np.pi / 28)]),
        "128APSK": rings([(16, 1, 0), (16, 1.715, np.pi / 16), (16, 2.118, 0), (16, 2.681, np.pi / 16),
                          (16, 2.75, 0), (48, 3.75, np.pi / 48)]),
        "16QAM": grid(4), "QAM16": grid(4), "64QAM": grid(8), "QAM64": grid(8), "256QAM": grid(16),
        "32QAM": np.array([p for p in grid(6) if not (abs(p.real) > 3 and abs(p.imag) > 3)]),
        "128QAM": np.array([p for p in grid(12) if not (abs(p.real) > 7 and abs(p.imag) > 7)]),
    }
    p = table[name].astype(complex)
    return p / np.sqrt(np.mean(np.abs(p) ** 2))


LINEAR = ["OOK", "4ASK", "8ASK", "PAM4", "BPSK", "QPSK", "8PSK", "16PSK", "32PSK", "16APSK", "32APSK",
          "64APSK", "128APSK", "16QAM", "QAM16", "32QAM", "64QAM", "QAM64", "128QAM", "256QAM"]


def matched_symbols(x, sps=SPS, rolloff=0.35, phase=0):
    """Matched-filter x with the RRC pulse and take one sample per symbol at the ISI-free instants
    (the transmit and receive pulses each delay by half their 12-symbol span)."""
    h = rrc_taps(sps, rolloff, 12)
    y = np.convolve(x, h) / sps
    start = 12 * sps + phase
    r = y[start::sps]
    return r[20:len(x) // sps - 20]


def instantaneous_freq(x):
    """cycles/sample"""
    return np.angle(x[1:] * np.conj(x[:-1])) / (2 * np.pi)


def psd(x, nfft=1024):
    """Averaged periodogram (Hann), fftshifted; frequencies in cycles/sample."""
    x = x[: len(x) // nfft * nfft].reshape(-1, nfft) * np.hanning(nfft)
    p = np.mean(np.abs(np.fft.fft(x, axis=1)) ** 2, axis=0)
    return np.fft.fftshift(np.fft.fftfreq(nfft)), np.fft.fftshift(p)


def write_wav(path, x, rate, width=2, channels=1):
    x = np.asarray(x, dtype=float)
    if channels > 1:
        x = np.repeat(x[:, None], channels, axis=1).ravel()
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 2:
            w.writeframes((np.clip(x, -1, 1) * 32000).astype("<i2").tobytes())
        elif width == 3:
            v = (np.clip(x, -1, 1) * 8000000).astype(np.int32)
            w.writeframes(b"".join(struct.pack("<i", int(s))[:3] for s in v))


class qa_modulation_source(gr_unittest.TestCase):

    # ---- linear classes: decode the constellation -----------------------------------------
    def test_linear_classes_decode_to_their_alphabet(self):
        for name in LINEAR:
            with self.subTest(name=name):
                x, _ = run_source(name, 6000 * SPS, seed=11)
                self.assertAlmostEqual(float(np.mean(np.abs(x) ** 2)), 1.0, delta=0.04)
                r = matched_symbols(x)
                pts = expected_points(name)
                d = np.abs(r[:, None] - pts[None, :])
                nearest = np.argmin(d, axis=1)
                err = d[np.arange(len(r)), nearest]
                dmin = np.min(np.abs(pts[:, None] - pts[None, :]) + 9 * np.eye(len(pts)))
                # every symbol decodes unambiguously to an expected point, and every point occurs
                self.assertLess(float(np.max(err)), 0.3 * dmin, name)
                self.assertEqual(len(np.unique(nearest)), len(pts), name)
                # roughly uniform symbol use (random bits)
                counts = np.bincount(nearest, minlength=len(pts))
                self.assertGreater(counts.min(), 0.25 * len(r) / len(pts), name)

    def test_rolloff_sets_occupied_bandwidth(self):
        for beta in (0.2, 0.35, 0.8):
            with self.subTest(rolloff=beta):
                x, _ = run_source("QPSK", 2 ** 17, seed=2, rolloff=beta)
                f, p = psd(x, 512)
                edge = (1 + beta) / (2 * SPS)
                inner = (1 - beta) / (2 * SPS)
                total = p.sum()
                self.assertGreater(p[np.abs(f) <= edge * 1.05].sum() / total, 0.995)
                # the transition band really starts at (1-beta)/(2 sps): flat inside, falling after
                flat = p[np.abs(f) <= inner * 0.9]
                self.assertLess(10 * np.log10(flat.max() / flat.min()), 1.5)
                mid = p[np.argmin(np.abs(f - 1 / (2 * SPS)))]          # -3 dB at the Nyquist frequency
                self.assertAlmostEqual(10 * np.log10(mid / np.median(flat)), -3.0, delta=1.0)
                # decodes with the same roll-off
                r = matched_symbols(x, rolloff=beta)
                self.assertLess(float(np.max(np.abs(np.abs(r) - 1))), 0.1)

    def test_samples_per_symbol(self):
        for sps in (2, 4, 5):
            with self.subTest(sps=sps):
                x, _ = run_source("8PSK", 4000 * sps, seed=5, samples_per_symbol=sps)
                r = matched_symbols(x, sps=sps)
                ang = np.angle(r) / (2 * np.pi / 8)
                self.assertLess(float(np.max(np.abs(ang - np.round(ang)))), 0.08)
                self.assertLess(float(np.max(np.abs(np.abs(r) - 1))), 0.1)

    def test_fractional_samples_per_symbol_and_timing_decode(self):
        # symbol k is centred on sample (k - timing_offset) * sps: correlating with the pulse there gives the
        # symbols back, at non-integer sps and any timing offset
        for name, sps, off in (("8PSK", 5.5, 0.3), ("16QAM", 12.37, 0.77), ("8PSK", 2.5, 0.5),
                               ("BPSK", 31.9, 0.0)):
            with self.subTest(name=name, sps=sps, off=off):
                x, _ = run_source(name, int(3000 * sps), seed=9, samples_per_symbol=sps, timing_offset=off)
                self.assertAlmostEqual(float(np.mean(np.abs(x) ** 2)), 1.0, delta=0.05)
                n = np.arange(len(x))
                ks = np.arange(20, int(len(x) / sps) - 20)
                r = np.array([np.sum(x[int((k - off) * sps) - 8 * int(sps):int((k - off) * sps) + 8 * int(sps)]
                                     * rrc_pulse(n[int((k - off) * sps) - 8 * int(sps):
                                                   int((k - off) * sps) + 8 * int(sps)] / sps + off - k, 0.35))
                              for k in ks[:400]])
                r /= np.sqrt(np.mean(np.abs(r) ** 2))
                pts = expected_points(name)
                d = np.abs(r[:, None] - pts[None, :])
                err = d.min(axis=1)
                dmin = np.min(np.abs(pts[:, None] - pts[None, :]) + 9 * np.eye(len(pts)))
                self.assertLess(float(np.max(err)), 0.2 * dmin)

    def test_timing_offset_is_a_delay(self):
        # at 8 samples per symbol an offset of 3/8 symbol starts the same stream 3 samples later
        for name in ("QPSK", "OQPSK", "GMSK", "4ASK"):
            with self.subTest(name=name):
                x0, _ = run_source(name, 20000, seed=4)
                x3, _ = run_source(name, 20000, seed=4, timing_offset=3 / 8)
                if name == "GMSK":      # a CPM stream's phase starts at 0 on sample 0: equal up to one turn
                    x3 = x3 * (x0[3] / x3[0])
                np.testing.assert_allclose(x3[:-3], x0[3:], atol=2e-5)

    def test_pulses_set_the_spectrum(self):
        # rect: first spectral null at 1/sps; gaussian: -3 dB at bt/sps (one-sided); rrc: band edge
        # (1 + rolloff) / (2 sps); all at non-integer sps
        sps = 6.4
        f, p = psd(run_source("QPSK", 2 ** 17, seed=2, samples_per_symbol=sps, pulse="rect")[0])
        pk = p[np.argmin(np.abs(f))]
        null = p[np.argmin(np.abs(f - 1 / sps))]
        side = p[np.argmin(np.abs(f - 1.45 / sps))]            # the first sidelobe, about -13 dB
        self.assertLess(10 * np.log10(null / pk), -18)      # (not deeper: the rectangle aliases)
        self.assertGreater(10 * np.log10(side / null), 5)
        for bt in (0.3, 0.5):
            f, p = psd(run_source("QPSK", 2 ** 17, seed=2, samples_per_symbol=sps, pulse="gaussian", bt=bt)[0])
            # a Gaussian spectrum exp(-ln2 (f/B)^2), B = bt/sps: erf(sqrt(ln 2)) = 0.761 of the power within +-B
            self.assertAlmostEqual(p[np.abs(f) <= bt / sps].sum() / p.sum(), 0.761, delta=0.02)
        for beta in (0.15, 0.5):
            x, _ = run_source("16APSK", 2 ** 17, seed=2, samples_per_symbol=sps, rolloff=beta)
            f, p = psd(x)
            edge = (1 + beta) / (2 * sps)
            self.assertGreater(p[np.abs(f) <= edge * 1.05].sum() / p.sum(), 0.995)
            self.assertLess(p[np.abs(f) <= edge * 0.85].sum() / p.sum(), 0.995)

    def test_cpm_bandwidth_scales_with_samples_per_symbol(self):
        def bw99(x):
            f, p = psd(x)
            order = np.argsort(np.abs(f))
            c = np.cumsum(p[order]) / p.sum()
            return np.abs(f[order][np.searchsorted(c, 0.99)])
        for name in ("GMSK", "CPFSK", "GFSK"):
            with self.subTest(name=name):
                b4 = bw99(run_source(name, 2 ** 17, seed=3, samples_per_symbol=4.0)[0])
                b12 = bw99(run_source(name, 2 ** 17, seed=3, samples_per_symbol=12.5)[0])
                self.assertAlmostEqual(b4 / b12, 12.5 / 4.0, delta=0.12 * 12.5 / 4.0)
                x, _ = run_source(name, 2 ** 15, seed=3, samples_per_symbol=7.3, timing_offset=0.6)
                np.testing.assert_allclose(np.abs(x), 1.0, atol=1e-5)

    def test_oqpsk_half_symbol_offset(self):
        x, _ = run_source("OQPSK", 4000 * SPS, seed=4)
        self.assertAlmostEqual(float(np.mean(np.abs(x) ** 2)), 1.0, delta=0.03)
        on_time = matched_symbols(x)
        half = matched_symbols(x, phase=SPS // 2)
        a = 1 / np.sqrt(2)
        # I is clean at the symbol instants, Q half a symbol later ...
        self.assertLess(float(np.max(np.abs(np.abs(on_time.real) - a))), 0.05)
        self.assertLess(float(np.max(np.abs(np.abs(half.imag) - a))), 0.05)
        # ... and each is smeared by ISI at the other branch's instants
        self.assertGreater(float(np.std(np.abs(on_time.imag))), 0.15)
        self.assertGreater(float(np.std(np.abs(half.real))), 0.15)
        # so the envelope never goes near zero the way QPSK's does
        q, _ = run_source("QPSK", 4000 * SPS, seed=4)
        self.assertGreater(float(np.min(np.abs(x[200:-200]))), 2 * float(np.min(np.abs(q[200:-200]))))

    # ---- CPM -----------------------------------------------------------------------------
    def test_cpm_constant_envelope_and_deviation(self):
        # peak deviation h/(2T): GMSK h=0.5, CPFSK h=0.5, GFSK h=0.8/pi
        for name, h, smooth in (("GMSK", 0.5, True), ("CPFSK", 0.5, False), ("GFSK", 0.8 / np.pi, True)):
            with self.subTest(name=name):
                x, _ = run_source(name, 4000 * SPS, seed=6)
                self.assertLess(float(np.max(np.abs(np.abs(x) - 1))), 1e-5)
                f = instantaneous_freq(x.astype(np.complex128))
                peak = h / (2 * SPS)
                self.assertAlmostEqual(float(np.max(np.abs(f))) / peak, 1.0, delta=0.03)
                frac_low = float(np.mean(np.abs(f) < 0.5 * peak))
                if smooth:      # Gaussian-filtered: the frequency glides through zero between symbols
                    self.assertGreater(frac_low, 0.05)
                else:           # rectangular: exactly two frequencies
                    self.assertLess(float(np.max(np.abs(np.abs(f) - peak))), 1e-5)
                    # a phase step of +-pi*h per symbol, continuous
                    # (symbol k's rectangle spans (k -+ 1/2) symbols: take the phase at the boundaries)
                    dphi = np.angle(x[SPS + SPS // 2::SPS] * np.conj(x[SPS // 2:-SPS:SPS]))
                    self.assertLess(float(np.max(np.abs(np.abs(dphi) - np.pi * h))), 1e-4)

    # ---- analog --------------------------------------------------------------------------
    def test_am_carrier_line_and_sidebands(self):
        n = 400000                   # 2 s at the nominal 200 kS/s
        for name, carrier, ssb in (("AM-DSB-WC", True, False), ("AM-DSB", True, False),
                                   ("AM-DSB-SC", False, False), ("AM-SSB-WC", True, True),
                                   ("AM-SSB", True, True), ("AM-SSB-SC", False, True)):
            with self.subTest(name=name):
                x, _ = run_source(name, n, seed=8)
                x = x.astype(np.complex128)
                p = np.mean(np.abs(x) ** 2)
                dc = np.abs(np.mean(x)) ** 2 / p          # power fraction in the carrier line
                if carrier:
                    self.assertGreater(dc, 0.9)
                else:
                    self.assertLess(dc, 1e-3)
                ac = x - np.mean(x)
                f, s = psd(ac, 4096)
                fhz = f * FS
                band = (np.abs(fhz) > 200) & (np.abs(fhz) < 4000)
                pos = s[band & (fhz > 0)].sum()
                neg = s[band & (fhz < 0)].sum()
                if ssb:      # upper sideband only: the lower one at least 25 dB down
                    self.assertLess(10 * np.log10(neg / pos), -25.0)
                else:        # DSB: both sidebands, the signal is real
                    self.assertAlmostEqual(10 * np.log10(neg / pos), 0.0, delta=0.5)
                    self.assertLess(float(np.max(np.abs(x.imag))), 1e-6)
                # speech-band audio: 99 % of the modulation power within 4.5 kHz of the carrier
                self.assertGreater(s[np.abs(fhz) < 4500].sum() / s.sum(), 0.99)
                if carrier and not ssb:    # no over-modulation: the envelope stays positive
                    self.assertGreater(float(np.min(x.real)), 0.0)

    def test_fm_constant_envelope_and_deviation(self):
        widths = {}
        for name, dev in (("FM", 5e3), ("WBFM", 75e3)):
            with self.subTest(name=name):
                x, _ = run_source(name, 400000, seed=9)
                self.assertLess(float(np.max(np.abs(np.abs(x) - 1))), 1e-5)
                f = instantaneous_freq(x.astype(np.complex128)) * FS
                self.assertLess(float(np.max(np.abs(f))), dev * 1.02)
                self.assertGreater(float(np.max(np.abs(f))), dev * 0.4)
                self.assertLess(abs(float(np.mean(f))), dev * 0.02)      # no carrier offset
                fr, s = psd(x.astype(np.complex128), 2048)
                c = np.cumsum(s) / s.sum()
                widths[name] = (fr[np.searchsorted(c, 0.995)] - fr[np.searchsorted(c, 0.005)]) * FS
        self.assertGreater(widths["WBFM"], 5 * widths["FM"])

    def test_analog_unit_power(self):
        # long-term average: the speech-like audio has pauses, so measure over 10 s
        for name in ("AM-DSB-SC", "AM-SSB-SC", "AM-DSB-WC", "AM-SSB-WC"):
            with self.subTest(name=name):
                x, _ = run_source(name, 2000000, seed=12)
                self.assertAlmostEqual(float(np.mean(np.abs(x.astype(np.complex128)) ** 2)), 1.0, delta=0.12)

    def test_speech_power_constant(self):
        # the constant used for normalisation matches an independent measurement (other seed)
        self.assertAlmostEqual(dsp_audio.measure_speech_power(120, 4242) / dsp_audio.SPEECH_POWER, 1.0, delta=0.06)

    def test_speech_like_audio(self):
        a = dsp_audio.SpeechLikeAudio(np.random.default_rng(3))
        x = np.concatenate([a.next_block() for _ in range(60)])          # ~10 s at 25 kHz
        self.assertLess(float(np.max(np.abs(x))), 1.0)
        self.assertLess(abs(float(np.mean(x))), 0.01)
        f, s = psd(x.astype(complex), 1024)
        fhz = f * dsp_audio.AUDIO_RATE
        self.assertGreater(s[(np.abs(fhz) > 100) & (np.abs(fhz) < 4500)].sum() / s.sum(), 0.98)
        # syllables and pauses: the 20 ms energy fluctuates strongly and some windows are silent
        w = x[: len(x) // 500 * 500].reshape(-1, 500)
        e = np.mean(w ** 2, axis=1)
        self.assertGreater(float(np.mean(e < 0.01 * e.mean())), 0.05)
        self.assertGreater(float(np.std(e) / np.mean(e)), 0.7)

    def test_speech_pauses_off_is_continuous(self):
        # with pauses about a third of the 0.64 ms stretches (one 128-sample frame at 200 kS/s) are silent,
        # without them almost none; the power constant of the continuous variant matches a new measurement
        def silent_fraction(pauses):
            a = dsp_audio.SpeechLikeAudio(np.random.default_rng(5), pauses=pauses)
            x = np.concatenate([a.next_block() for _ in range(120)])      # ~20 s
            return float(np.mean(np.abs(x.reshape(-1, 16)).max(axis=1) < 0.01))
        self.assertGreater(silent_fraction(True), 0.2)
        self.assertLess(silent_fraction(False), 0.04)
        self.assertAlmostEqual(dsp_audio.measure_speech_power(60, 4242, pauses=False)
                               / dsp_audio.SPEECH_POWER_CONTINUOUS, 1.0, delta=0.06)
        # the default is speech_pauses=True
        a, _ = run_source("WBFM", 20000, seed=3)
        b, _ = run_source("WBFM", 20000, seed=3, speech_pauses=True)
        c, _ = run_source("AM-DSB-SC", 400000, seed=3, speech_pauses=False)
        self.assertTrue(np.array_equal(a, b))
        # continuous AM-DSB-SC: unit power, and its 0.64 ms stretches carry signal almost everywhere
        self.assertAlmostEqual(float(np.mean(np.abs(c.astype(np.complex128)) ** 2)), 1.0, delta=0.1)
        frame_power = np.mean(np.abs(c[: len(c) // 128 * 128].reshape(-1, 128)) ** 2, axis=1)
        self.assertLess(float(np.mean(frame_power < 1e-3)), 0.04)
        d, _ = run_source("AM-DSB-SC", 400000, seed=3)
        frame_power = np.mean(np.abs(d[: len(d) // 128 * 128].reshape(-1, 128)) ** 2, axis=1)
        self.assertGreater(float(np.mean(frame_power < 1e-3)), 0.15)

    def test_wav_file_drives_analog_classes(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "tone.wav")
            t = np.arange(8000 * 2) / 8000.0
            write_wav(path, 0.5 * np.sin(2 * np.pi * 1000 * t), 8000)
            stereo = os.path.join(d, "tone24.wav")
            write_wav(stereo, 0.5 * np.sin(2 * np.pi * 1000 * t), 8000, width=3, channels=2)
            for name, lines in (("AM-DSB-SC", (-1000, 1000)), ("AM-SSB-SC", (1000,))):
                for p in (path, stereo):
                    with self.subTest(name=name, wav=os.path.basename(p)):
                        x, _ = run_source(name, 2 ** 17, seed=1, audio_file=p)
                        self.assertAlmostEqual(float(np.mean(np.abs(x) ** 2)), 1.0, delta=0.02)
                        f, s = psd(x.astype(np.complex128), 2048)
                        fhz = f * FS
                        # all the power in lines at the tone frequency (+-1 bin of 98 Hz)
                        near = np.zeros_like(s, dtype=bool)
                        for fl in lines:
                            near |= np.abs(fhz - fl) < 250
                        self.assertGreater(s[near].sum() / s.sum(), 0.99)
            # the WAV is looped from a seeded random offset
            a, _ = run_source("AM-DSB-SC", 5000, seed=1, audio_file=path)
            b, _ = run_source("AM-DSB-SC", 5000, seed=2, audio_file=path)
            self.assertFalse(np.array_equal(a, b))

    # ---- stream contract -------------------------------------------------------------------
    def test_all_classes_chunking_seed_tags(self):
        n = 20000
        for name in dict.fromkeys(contract.CLASSES_2018 + contract.CLASSES_2016):
            with self.subTest(name=name):
                a, tags = run_source(name, n, seed=3)
                b, tags_b = run_source(name, n, seed=3, max_noutput=613)
                self.assertTrue(np.array_equal(a, b), name)       # bit-identical whatever the chunking
                self.assertEqual(tags, tags_b)
                self.assertEqual(tags, [(k, contract.TAG_TRUTH, name) for k in range(0, n, 1024)])
                c, _ = run_source(name, n, seed=4)
                self.assertFalse(np.array_equal(a, c), name)      # another seed, another stream
                self.assertTrue(np.all(np.isfinite(a)))

    def test_tag_interval(self):
        _, tags = run_source("BPSK", 5000, tag_interval=1000, max_noutput=333)
        self.assertEqual([t[0] for t in tags], [0, 1000, 2000, 3000, 4000])
        _, tags = run_source("BPSK", 5000, tag_interval=0)
        self.assertEqual(tags, [(0, contract.TAG_TRUTH, "BPSK")])

    def test_bad_parameters(self):
        with self.assertRaises(ValueError) as cm:
            amc.modulation_source("QPSK2")
        msg = str(cm.exception)
        self.assertIn("QPSK2", msg)
        for name in ("128APSK", "AM-SSB-SC", "QAM16", "WBFM"):
            self.assertIn(name, msg)
        for kw, word in ((dict(samples_per_symbol=1), "samples_per_symbol"),
                         (dict(samples_per_symbol=32.5), "samples_per_symbol"),
                         (dict(samples_per_symbol="8"), "samples_per_symbol"),
                         (dict(pulse="sinc"), "pulse"), (dict(bt=0.05), "bt"),
                         (dict(timing_offset=1.0), "timing_offset"), (dict(timing_offset=-0.1), "timing_offset"),
                         (dict(rolloff=0.0), "rolloff"), (dict(rolloff=1.5), "rolloff"),
                         (dict(seed=-1), "seed"), (dict(tag_interval=-5), "tag_interval"),
                         (dict(audio_file="/nonexistent/x.wav"), "audio_file")):
            with self.subTest(**{k: str(v) for k, v in kw.items()}):
                with self.assertRaises(ValueError) as cm:
                    amc.modulation_source("AM-DSB-SC", **kw)
                self.assertIn(word, str(cm.exception))
        with tempfile.NamedTemporaryFile(suffix=".wav") as f:
            f.write(b"this is not a wav file")
            f.flush()
            with self.assertRaises(ValueError) as cm:
                amc.modulation_source("FM", audio_file=f.name)
            self.assertIn("audio_file", str(cm.exception))
        with self.assertRaises(ValueError) as cm:
            amc.modulation_source("FM", speech_pauses="no")
        self.assertIn("speech_pauses", str(cm.exception))
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "tone.wav")
            write_wav(path, 0.5 * np.sin(2 * np.pi * 1000 * np.arange(8000) / 8000.0), 8000)
            with self.assertRaises(ValueError) as cm:
                amc.modulation_source("FM", audio_file=path, speech_pauses=False)
            self.assertIn("speech_pauses", str(cm.exception))
            self.assertIn("built-in", str(cm.exception))
        # rolloff 1 is allowed
        amc.modulation_source("QPSK", rolloff=1.0)


if __name__ == "__main__":
    gr_unittest.run(qa_modulation_source)
