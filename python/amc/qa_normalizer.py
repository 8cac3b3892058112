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
        self.assertEqual(amc.normalizer(L).mode(), "rms")


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


if __name__ == '__main__':
    gr_unittest.run(qa_normalizer)
    gr_unittest.run(qa_normalize_frames)
