#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA for amc.normalizer and the normalize_frames binding: each mode's defining property,
zero-power and NaN/Inf frames, tags, chunking, bad parameters."""
import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio import amc

L = 256


def frames(n=12, seed=0):
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.01, 50.0, size=(n, 1))
    x = (rng.standard_normal((n, L)) + 0.3 + 1j * (0.5 * rng.standard_normal((n, L)) - 0.1)) * scale
    return x.astype(np.complex64)


def run_normalizer(x, mode, max_noutput=None, tags=()):
    tb = gr.top_block()
    src = blocks.vector_source_c(x.ravel().tolist(), False, L, list(tags))
    chunker = blocks.copy(gr.sizeof_gr_complex * L)
    norm = amc.normalizer(L, mode)
    snk = blocks.vector_sink_c(L)
    if max_noutput:
        chunker.set_max_noutput_items(max_noutput)
        norm.set_max_noutput_items(max_noutput)
    tb.connect(src, chunker, norm, snk)
    tb.run()
    return np.array(snk.data(), np.complex64).reshape(-1, L), norm, snk.tags()


class qa_normalizer(gr_unittest.TestCase):

    def test_rms(self):
        y, _, _ = run_normalizer(frames(), "rms")
        np.testing.assert_allclose(np.mean(np.abs(y) ** 2, axis=1), 1.0, rtol=1e-4)

    def test_peak(self):
        y, _, _ = run_normalizer(frames(), "peak")
        np.testing.assert_allclose(np.max(np.abs(y), axis=1), 1.0, rtol=1e-5)

    def test_l1(self):
        y, _, _ = run_normalizer(frames(), "l1")
        np.testing.assert_allclose(np.sum(np.abs(y), axis=1), 1.0, rtol=1e-4)

    def test_iq_std(self):
        y, _, _ = run_normalizer(frames(), "iq_std")
        np.testing.assert_allclose(np.std(y.real, axis=1), 1.0, rtol=1e-4)
        np.testing.assert_allclose(np.std(y.imag, axis=1), 1.0, rtol=1e-4)

    def test_none(self):
        x = frames()
        y, _, _ = run_normalizer(x, "none")
        np.testing.assert_array_equal(y, x)

    def test_shape_is_kept(self):
        # every mode except iq_std multiplies the frame by one positive real number
        x = frames()
        for mode in ("rms", "peak", "l1"):
            y, _, _ = run_normalizer(x, mode)
            g = y[:, :1] / x[:, :1]
            np.testing.assert_allclose(g.imag, 0, atol=1e-6)
            np.testing.assert_allclose(y, x * g.real, rtol=1e-4, atol=1e-7)

    def test_zero_and_nonfinite_frames(self):
        x = frames(6)
        x[1] = 0
        x[3, 17] = np.nan
        x[4, 200] = np.inf + 0j
        x[5, 0] = complex(0, -np.inf)
        for mode in ("rms", "peak", "l1", "iq_std", "none"):
            y, norm, _ = run_normalizer(x, mode)
            self.assertTrue(np.all(np.isfinite(y)))
            for k in (1, 3, 4, 5):
                np.testing.assert_array_equal(y[k], 0)
            self.assertEqual(norm.nonfinite_frames(), 3)
            self.assertEqual(norm.zero_frames(), 1)
            self.assertGreater(np.abs(y[0]).sum(), 0)

    def test_underflowing_frames_are_zeroed_and_counted(self):
        # frames 1-4 have levels that underflow: no NaN/Inf may come out, they are zeros and
        # counted as zero-power frames, in every mode
        x = frames(6, seed=7)
        x[1] = 1e-39 + 1e-39j                                  # every value subnormal
        x[2] = 0
        x[2, 9] = complex(np.float32(1.4e-45), 0)               # the smallest subnormal, once
        x[3] = (np.arange(L) % 5 - 2) * np.float32(3e-39)       # subnormal, with spread
        x[4] = 0
        x[4, 0] = complex(0, -np.float32(2e-39))
        x[5] = 1e-20 - 3e-21j                                   # tiny but normal: normalized
        for mode in ("rms", "peak", "l1", "iq_std", "none"):
            y, norm, _ = run_normalizer(x, mode)
            self.assertTrue(np.all(np.isfinite(y)), mode)
            for k in (1, 2, 3, 4):
                np.testing.assert_array_equal(y[k], 0)
            self.assertEqual(norm.zero_frames(), 4, mode)
            self.assertEqual(norm.nonfinite_frames(), 0, mode)
            np.testing.assert_array_equal(y[0], amc.normalize_frames(x[:1], mode)[0][0])
            self.assertGreater(np.abs(y[5]).sum(), 0, mode)

    def test_chunking_and_tags(self):
        x = frames(40, seed=3)
        tags = [gr.tag_utils.python_to_tag((k, pmt.intern("amc:truth"), pmt.intern("QAM16"), pmt.intern("qa")))
                for k in (0, 9, 33)]
        ref, _, ref_tags = run_normalizer(x, "rms", tags=tags)
        self.assertEqual([t.offset for t in ref_tags], [0, 9, 33])
        for m in (1, 4, 13):
            y, _, t = run_normalizer(x, "rms", max_noutput=m, tags=tags)
            np.testing.assert_array_equal(y, ref)
            self.assertEqual([tt.offset for tt in t], [0, 9, 33])

    def test_bad_parameters(self):
        with self.assertRaisesRegex(ValueError, "unknown normalization mode 'power'; allowed: rms, peak, l1, iq_std, none"):
            amc.normalizer(L, "power")
        with self.assertRaisesRegex(ValueError, "frame_len must be > 0, got 0"):
            amc.normalizer(0, "rms")
        with self.assertRaisesRegex(ValueError, r"frame_len must be <= 1048576 \(2\^20\), got 1048577"):
            amc.normalizer(amc.MAX_FRAME_LEN + 1, "rms")
        with self.assertRaisesRegex(ValueError, r"frame_len must be <= 1048576 \(2\^20\), got 4294967296"):
            amc.normalizer(1 << 32, "rms")
        self.assertEqual(amc.normalizer(L).mode(), "rms")
        self.assertEqual(amc.normalizer(amc.MAX_FRAME_LEN, "peak").mode(), "peak")

    def test_python_lists_match_the_kernels(self):
        # model files are checked in pure Python (model_file.py) against contract's lists; they must be the C++'s
        from gnuradio.amc import contract
        self.assertEqual(tuple(amc.normalization_modes()), contract.NORMALIZATIONS)
        self.assertEqual(amc.MAX_FRAME_LEN, contract.MAX_FRAME_LEN)


class qa_normalize_frames(gr_unittest.TestCase):

    def test_matches_block_and_status(self):
        x = frames(8, seed=5)
        x[2] = 0
        x[6, 3] = np.nan
        for mode in amc.normalization_modes():
            y, status = amc.normalize_frames(x, mode)
            ref, _, _ = run_normalizer(x, mode)
            np.testing.assert_array_equal(y, ref)
            np.testing.assert_array_equal(status, [0, 0, 1, 0, 0, 0, 2, 0])
            self.assertEqual(status.dtype, np.int8)

    def test_bad_input(self):
        with self.assertRaisesRegex(ValueError, "must be 2-D"):
            amc.normalize_frames(np.zeros(8, np.complex64), "rms")
        with self.assertRaisesRegex(ValueError, "unknown normalization mode 'x'"):
            amc.normalize_frames(np.zeros((1, 8), np.complex64), "x")
        with self.assertRaisesRegex(ValueError, r"frame_len must be <= 1048576 \(2\^20\), got 1048577"):
            amc.normalize_frames(np.zeros((1, amc.MAX_FRAME_LEN + 1), np.complex64), "rms")

    def test_underflow_status_every_mode(self):
        x = np.zeros((4, 64), np.complex64)
        x[0] = 1e-39 + 1e-39j            # subnormal everywhere: zero-power in every mode
        x[1, 3] = complex(0, 5e-40)      # one subnormal sample
        x[2, 0] = 1.5e-38                # one normal sample among 63 zeros: rms's scale overflows
        x[3] = 2e-38                     # normal everywhere: fine
        expected = {"rms": [1, 1, 1, 0], "peak": [1, 1, 0, 0], "l1": [1, 1, 0, 0],
                    "iq_std": [1, 1, 0, 0], "none": [1, 1, 0, 0]}
        for mode, st in expected.items():
            y, status = amc.normalize_frames(x, mode)
            np.testing.assert_array_equal(status, st, err_msg=mode)
            self.assertTrue(np.all(np.isfinite(y)), mode)
            for k in np.flatnonzero(status):
                np.testing.assert_array_equal(y[k], 0)
        y, _ = amc.normalize_frames(x[2:3], "peak")
        self.assertEqual(y[0, 0], 1.0)
        y, _ = amc.normalize_frames(x[3:4], "rms")
        np.testing.assert_allclose(np.abs(y[0]) ** 2, 1.0, rtol=1e-5)

    def test_iq_std_rail_with_underflowing_spread_is_unscaled(self):
        # I: a normal spread; Q: subnormal values with a spread whose scale would be Inf
        x = np.zeros((1, 64), np.complex64)
        x[0].real = np.arange(64) - 31.5
        x[0].imag = (np.arange(64) % 2) * np.float32(2e-39)
        y, status = amc.normalize_frames(x, "iq_std")
        self.assertEqual(status[0], 0)
        np.testing.assert_allclose(np.std(y[0].real), 1.0, rtol=1e-5)
        np.testing.assert_array_equal(y[0].imag, x[0].imag)


if __name__ == '__main__':
    gr_unittest.run(qa_normalizer)
    gr_unittest.run(qa_normalize_frames)
