#!/usr/bin/env python3
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA for amc.radioml_channel: exact SNR (signal and noise measured separately, same seed with the noise
on and off), the 2016 compat noise bug, CFO/SRO walks inside their bounds, fading statistics and delays,
tag offsets (with and without SRO), chunking independence, seeds, bad parameters."""
import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio import amc
from gnuradio.amc import contract

FS = 200e3


def run(chan_kw, n, source=None, data=None, tags=(), max_noutput=None, src_seed=1, repeat=False):
    """source (class name) or data (complex array) -> radioml_channel(**chan_kw) -> head(n) -> sink."""
    tb = gr.top_block()
    if data is not None:
        src = blocks.vector_source_c(np.asarray(data, dtype=np.complex64).tolist(), repeat, 1, list(tags))
    else:
        src = amc.modulation_source(source or "QPSK", seed=src_seed)
    ch = amc.radioml_channel(**chan_kw)
    head = blocks.head(gr.sizeof_gr_complex, n)
    snk = blocks.vector_sink_c()
    if max_noutput:
        for b in (src, ch, head):
            b.set_max_noutput_items(max_noutput)
    tb.connect(src, ch, head, snk)
    tb.run()
    out_tags = [(t.offset, pmt.symbol_to_string(t.key), pmt.to_python(t.value)) for t in snk.tags()]
    return np.array(snk.data(), dtype=np.complex64).astype(np.complex128), out_tags


def measured_snr_db(chan_kw, n, source="QPSK", frame=1024):
    """SNR over many frames: the channel run twice with the same seed, noise off and on; the difference
    is exactly the noise."""
    clean, _ = run(dict(chan_kw, noise=False), n, source=source)
    noisy, _ = run(dict(chan_kw, noise=True), n, source=source)
    noise = noisy - clean
    nf = n // frame
    ps = np.mean(np.abs(clean[:nf * frame].reshape(nf, frame)) ** 2, axis=1)
    pn = np.mean(np.abs(noise[:nf * frame].reshape(nf, frame)) ** 2, axis=1)
    return 10 * np.log10(np.mean(ps) / np.mean(pn)), clean, noise


def tone(n, f):
    return np.exp(2j * np.pi * f * np.arange(n))


def tag(offset, key, value):
    t = gr.tag_t()
    t.offset = offset
    t.key = pmt.intern(key)
    t.value = value
    return t


class qa_radioml_channel(gr_unittest.TestCase):

    def test_awgn_snr_exact(self):
        for snr in (-10.0, 0.0, 10.0, 30.0):
            with self.subTest(snr=snr):
                got, clean, noise = measured_snr_db(dict(preset="awgn", snr_db=snr, seed=3), 100 * 1024)
                self.assertAlmostEqual(got, snr, delta=0.1)
                # circular noise: equal I/Q power, uncorrelated, zero mean
                vi, vq = np.var(noise.real), np.var(noise.imag)
                self.assertAlmostEqual(vi / vq, 1.0, delta=0.03)
                self.assertLess(abs(np.mean(noise.real * noise.imag)) / vi, 0.02)
                self.assertAlmostEqual(vi + vq, 10 ** (-snr / 10), delta=0.02 * 10 ** (-snr / 10))
        # without noise the awgn preset is the identity
        src, _ = run(dict(preset="awgn", noise=False), 5000)
        ref, _ = run(dict(preset="awgn", snr_db=0.0, noise=False, seed=9), 5000)
        self.assertTrue(np.array_equal(src, ref))

    def test_snr_with_all_impairments(self):
        # fast fading (2 kHz Doppler) so that 400 frames average over many fades: the fading has unit
        # average power gain, so the label is the SNR of the received signal
        for preset in ("rml2018", "rml2016"):
            with self.subTest(preset=preset):
                got, clean, _ = measured_snr_db(dict(preset=preset, snr_db=6.0, seed=5, doppler_hz=2000.0),
                                                400 * 1024, source="16QAM")
                self.assertAlmostEqual(got, 6.0, delta=0.5)
                self.assertAlmostEqual(float(np.mean(np.abs(clean) ** 2)), 1.0, delta=0.1)

    def test_rml2016_compat_noise_bug_and_fixed_seed(self):
        kw = dict(preset="rml2016-compat", fading="none", sro_std=0.0, cfo_std=0.0)
        for label in (4.0, 10.0):
            with self.subTest(label=label):
                got, _, _ = measured_snr_db(dict(kw, snr_db=label, seed=1), 100 * 1024)
                self.assertAlmostEqual(got, 2 * label, delta=0.3)          # true SNR = 2x the label in dB
        a, tags_a = run(dict(preset="rml2016-compat", snr_db=10.0, seed=1), 20000)
        b, _ = run(dict(preset="rml2016-compat", snr_db=10.0, seed=2), 20000)
        self.assertTrue(np.array_equal(a, b))                                # seed ignored (0x1337)
        self.assertIn((0, contract.TAG_SNR, 10.0), tags_a)                  # the tag carries the label
        c, _ = run(dict(preset="rml2016", snr_db=10.0, seed=1), 20000)
        d, _ = run(dict(preset="rml2016", snr_db=10.0, seed=2), 20000)
        self.assertFalse(np.array_equal(c, d))
        got, _, _ = measured_snr_db(dict(preset="rml2016", snr_db=10.0, fading="none", sro_std=0.0, seed=1),
                                    100 * 1024)
        self.assertAlmostEqual(got, 10.0, delta=0.1)                        # fixed in rml2016

    def test_cfo_walk_within_bounds(self):
        n = 200000
        y, _ = run(dict(preset="awgn", noise=False, cfo_std=2.0, cfo_max=300.0), n, data=np.ones(n))
        self.assertLess(float(np.max(np.abs(np.abs(y) - 1))), 1e-5)
        f = np.angle(y[1:] * np.conj(y[:-1])) * FS / (2 * np.pi)
        self.assertLessEqual(float(np.max(np.abs(f))), 300.0 + 0.1)
        self.assertGreater(float(np.max(np.abs(f))), 250.0)                 # it does wander to the bound
        steps = np.diff(f)
        steps = steps[np.abs(f[1:]) < 290]                                   # away from the reflections
        self.assertAlmostEqual(float(np.std(steps)), 2.0, delta=0.1)        # std per sample, in Hz
        # rml2016 units: 0.01 Hz per sample, at most 500 Hz. The steps are tiny, so look at the frequency
        # (averaged over 100 samples) 2000 samples apart: std 0.01 * sqrt(2000) Hz
        n = 1000000
        y, _ = run(dict(preset="rml2016", noise=False, fading="none", sro_std=0.0, random_phase=False),
                   n, data=np.ones(1), repeat=True)
        f = np.angle(y[1:] * np.conj(y[:-1])) * FS / (2 * np.pi)
        self.assertLess(float(np.max(np.abs(f))), 500.0)
        fw = np.angle(y[100::100] * np.conj(y[:-100:100])) * FS / (2 * np.pi * 100)
        d = fw[20:] - fw[:-20]
        self.assertAlmostEqual(float(np.std(d)) / (0.01 * np.sqrt(2000)), 1.0, delta=0.12)

    def test_sro_walk_within_bounds_and_tag_mapping(self):
        n = 200000
        f0 = 0.01
        x = tone(n + 2000, f0)
        in_tags = [tag(k, contract.TAG_TRUTH, pmt.intern("QPSK")) for k in range(0, n + 2000, 1000)]
        y, tags = run(dict(preset="awgn", noise=False, sro_std=1.0, sro_max=100.0, tag_interval=0), n,
                      data=x, tags=in_tags)
        self.assertEqual(len(y), n)
        self.assertLess(float(np.max(np.abs(np.abs(y[20:]) - 1))), 2e-3)   # clean interpolation
        # the tone's phase says where on the input's time axis each output sample was taken
        tau = np.unwrap(np.angle(y)) / (2 * np.pi * f0)
        self.assertAlmostEqual(float(tau[0]), 0.0, delta=0.01)
        W = 2000
        sro = ((tau[W:] - tau[:-W]) / W - 1.0) * FS                          # Hz, averaged over W samples
        self.assertLessEqual(float(np.max(np.abs(sro))), 100.0 + 1.0)
        self.assertGreater(float(np.max(np.abs(sro))), 60.0)
        # every input tag lands on the output sample nearest to its input time
        truth = [(o, v) for o, k, v in tags if k == contract.TAG_TRUTH]
        snr = [o for o, k, v in tags if k == contract.TAG_SNR]
        self.assertEqual(snr, [0])
        self.assertGreater(len(truth), 150)
        for i, (o, v) in enumerate(truth):
            self.assertEqual(v, "QPSK")
            self.assertLessEqual(abs(tau[o] - 1000 * i), 0.5 + 1e-3)

    def test_random_start(self):
        # std 0 with a random start: a constant offset, uniform in +-max, different per seed
        n = 50000
        cfos = []
        for seed in range(6):
            y, _ = run(dict(preset="awgn", noise=False, cfo_std=0.0, cfo_max=300.0, random_start=True, seed=seed),
                       n, data=np.ones(1), repeat=True)
            f = np.angle(y[1:] * np.conj(y[:-1])) * FS / (2 * np.pi)
            self.assertLess(float(np.std(f)), 0.05)
            cfos.append(float(np.mean(f)))
        self.assertLess(max(abs(c) for c in cfos), 300.0)
        self.assertEqual(len(set(round(c, 3) for c in cfos)), 6)
        self.assertGreater(max(cfos) - min(cfos), 100.0)
        # a constant sample-rate offset: the tone comes out at f0 * (1 + sro/fs), |sro| <= 100 Hz
        f0 = 0.05
        y, _ = run(dict(preset="awgn", noise=False, sro_std=0.0, sro_max=100.0, random_start=True, seed=3),
                   n, data=tone(n + 1000, f0))
        ratio = np.mean(np.angle(y[101:] * np.conj(y[100:-1]))) / (2 * np.pi * f0)
        self.assertLess(abs(ratio - 1) * FS, 100.0)
        self.assertGreater(abs(ratio - 1) * FS, 1.0)
        # the rml2018 preset starts its walks at random points; rml2016 (as GNU Radio) at zero
        self.assertTrue(amc.radioml_channel("rml2018").params["random_start"])
        self.assertFalse(amc.radioml_channel("rml2016").params["random_start"])

    def test_tags_without_sro(self):
        y, tags = run(dict(preset="rml2018", sro_max=0.0, snr_db=12.5, tag_interval=512), 10000,
                      source="8PSK", max_noutput=300)
        truth = [o for o, k, v in tags if k == contract.TAG_TRUTH]
        snr = [(o, v) for o, k, v in tags if k == contract.TAG_SNR]
        self.assertEqual(truth, list(range(0, 10000, 1024)))
        self.assertEqual(snr, [(k, 12.5) for k in range(0, 10000, 512)])

    def test_tags_with_sro_preset(self):
        # rml2016: at most 50 Hz = 250 ppm, so a tag moves by at most 250e-6 * offset + 1 samples
        y, tags = run(dict(preset="rml2016", sro_std=0.5), 100000, source="BPSK", max_noutput=777)
        truth = [o for o, k, v in tags if k == contract.TAG_TRUTH]
        self.assertEqual(len(truth), len(range(0, 100000 - 100, 1024)) + (1 if 99 * 1024 < 100000 - 1 else 0))
        for i, o in enumerate(truth):
            self.assertLessEqual(abs(o - 1024 * i), 250e-6 * 1024 * i + 1)
        self.assertEqual([o for o, k, v in tags if k == contract.TAG_SNR], list(range(0, 100000, 1024)))

    def test_finite_stream_end(self):
        # a finite input is processed to its end: all of it without SRO, all but the ~9 samples of
        # interpolation context with SRO
        n = 20000
        x = tone(n, 0.01)
        for kw, lo, hi in ((dict(preset="awgn"), n, n),
                           (dict(preset="rml2016", sro_std=0.5), n * (1 - 50 / FS) - 12, n * (1 + 50 / FS))):
            with self.subTest(**kw):
                tb = gr.top_block()
                snk = blocks.vector_sink_c()
                ch = amc.radioml_channel(**kw)       # keep a reference: a Python block must outlive run()
                tb.connect(blocks.vector_source_c(x.astype(np.complex64).tolist(), False), ch, snk)
                tb.run()
                self.assertGreaterEqual(len(snk.data()), lo)
                self.assertLessEqual(len(snk.data()), hi)

    def test_chunking_independence(self):
        for preset in ("rml2018", "rml2016", "rml2016-compat", "awgn"):
            with self.subTest(preset=preset):
                kw = dict(preset=preset, snr_db=8.0, seed=7, sro_std=0.2)
                a, ta = run(kw, 60000, source="64QAM")
                b, tb_ = run(kw, 60000, source="64QAM", max_noutput=97)
                c, tc = run(kw, 60000, source="64QAM", max_noutput=4099)
                self.assertTrue(np.array_equal(a, b))
                self.assertTrue(np.array_equal(a, c))
                self.assertEqual(ta, tb_)
                self.assertEqual(ta, tc)

    def test_seeds(self):
        a, _ = run(dict(preset="rml2018", seed=1), 20000)
        b, _ = run(dict(preset="rml2018", seed=1), 20000)
        c, _ = run(dict(preset="rml2018", seed=2), 20000)
        self.assertTrue(np.array_equal(a, b))
        self.assertFalse(np.array_equal(a, c))

    def test_fading_statistics(self):
        n = 300000
        base = dict(preset="awgn", noise=False, doppler_hz=1000.0, delays=[0.0], mags=[1.0])
        for fading, k, kurt in (("rayleigh", 0.0, 2.0), ("rician", 4.0, (2 + 4 * 4 + 16) / 25.0)):
            with self.subTest(fading=fading):
                g, _ = run(dict(base, fading=fading, k_factor=k, seed=4), n, data=np.ones(n))
                p = np.abs(g) ** 2
                self.assertAlmostEqual(float(np.mean(p)), 1.0, delta=0.12)           # unit average gain
                self.assertAlmostEqual(float(np.mean(p ** 2) / np.mean(p) ** 2), kurt, delta=0.3)
                # Doppler spectrum: confined to |f| <= doppler_hz
                spec = np.abs(np.fft.fft(g - (np.mean(g) if fading == "rician" else 0))) ** 2
                fr = np.abs(np.fft.fftfreq(n, 1 / FS))
                self.assertGreater(spec[fr <= 1050].sum() / spec.sum(), 0.999)
        # no fading: the identity
        g, _ = run(dict(base, fading="none"), 1000, data=np.ones(2000))
        self.assertTrue(np.array_equal(g, np.ones(1000)))

    def test_multipath_delays(self):
        rng = np.random.default_rng(0)
        n = 20000
        x = (rng.standard_normal(n + 100) + 1j * rng.standard_normal(n + 100)) / np.sqrt(2)
        for delays, mags, lags in (([0.0, 3.0], [1.0, 0.5], [0, 3]), ([0.0, 2.0, 5.0], [1.0, 0.7, 0.4], [0, 2, 5])):
            with self.subTest(delays=delays):
                y, _ = run(dict(preset="awgn", noise=False, fading="rayleigh", doppler_hz=0.0, delays=delays,
                                mags=mags, seed=3), n, data=x)
                # least-squares impulse response over lags 0..9
                L = 10
                A = np.stack([x[L - 1 - l:n - l] for l in range(L)], axis=1)
                h = np.linalg.lstsq(A, y[L - 1:n], rcond=None)[0]
                e = np.abs(h) ** 2
                self.assertLess(float(e[[l for l in range(L) if l not in lags]].sum() / e.sum()), 1e-8)
                self.assertTrue(np.all(e[lags] > 1e-6 * e.sum()))
        # fractional delays spread over neighbouring taps (truncated sinc)
        y, _ = run(dict(preset="awgn", noise=False, fading="rayleigh", doppler_hz=0.0, delays=[1.5],
                        mags=[1.0], seed=3), n, data=x)
        A = np.stack([x[9 - l:n - l] for l in range(10)], axis=1)
        e = np.abs(np.linalg.lstsq(A, y[9:n], rcond=None)[0]) ** 2
        self.assertAlmostEqual(float(e[1] / e[2]), 1.0, delta=1e-3)

    def test_presets_resolve_to_documented_values(self):
        ch = amc.radioml_channel("rml2016")
        p = ch.params
        self.assertEqual((p["samp_rate"], p["sro_std"], p["sro_max"], p["cfo_std"], p["cfo_max"]),
                         (200e3, 0.01, 50.0, 0.01, 500.0))
        self.assertEqual((p["fading"], p["k_factor"], p["doppler_hz"], p["delays"], p["mags"]),
                         ("rician", 4.0, 1.0, [0.0, 0.9, 1.7], [1.0, 0.8, 0.3]))
        self.assertEqual(amc.radioml_channel("rml2016-compat", seed=5).params["seed"], 0x1337)
        p = amc.radioml_channel("awgn").params
        self.assertEqual((p["sro_std"], p["cfo_std"], p["fading"], p["random_phase"], p["noise"]),
                         (0.0, 0.0, "none", False, True))
        p = amc.radioml_channel("rml2018", doppler_hz=70.0, fading="rayleigh").params
        self.assertEqual((p["doppler_hz"], p["fading"], p["delays"]), (70.0, "rayleigh", [0.0, 1.8, 3.4]))

    def test_bad_parameters(self):
        cases = [
            (dict(preset="rml2019"), "preset", "rml2016-compat"),
            (dict(snr_db=float("nan")), "snr_db", "finite"),
            (dict(snr_db="high"), "snr_db", "finite"),
            (dict(sro_std=-1.0), "sro_std", ">= 0"),
            (dict(cfo_max=-5.0), "cfo_max", ">= 0"),
            (dict(cfo_max=1e6), "cfo_max", "samp_rate/2"),
            (dict(delays=[0, 1], mags=[1.0]), "delays/mags", "same length"),
            (dict(delays=[0, -1], mags=[1.0, 1.0]), "delays", ">= 0"),
            (dict(mags=[0.0, 0.0, 0.0]), "mags", "> 0"),
            (dict(fading="ricean"), "fading", "rayleigh"),
            (dict(doppler_hz=1e5), "doppler_hz", "samp_rate/64"),
            (dict(samp_rate=0), "samp_rate", "> 0"),
            (dict(seed=-3), "seed", "non-negative"),
            (dict(noise="yes"), "noise", "True or False"),
            (dict(random_start=2), "random_start", "True or False"),
            (dict(tag_interval=-1), "tag_interval", ">= 0"),
        ]
        for kw, name, allowed in cases:
            with self.subTest(**{k: str(v) for k, v in kw.items()}):
                with self.assertRaises(ValueError) as cm:
                    amc.radioml_channel(**kw)
                msg = str(cm.exception)
                self.assertIn(name, msg)
                self.assertIn(allowed, msg)


if __name__ == "__main__":
    gr_unittest.run(qa_radioml_channel)
