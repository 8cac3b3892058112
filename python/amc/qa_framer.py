#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA for amc.framer and the frame_signal binding: frame boundaries, offsets, tags, chunking."""
import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio import amc


def run_framer(x, frame_len, hop, tags=(), max_noutput=None):
    tb = gr.top_block()
    src = blocks.vector_source_c(x.tolist(), False, 1, list(tags))
    # (vector_source itself hangs with tags and a small max_noutput_items: chunk with a copy block)
    chunker = blocks.copy(gr.sizeof_gr_complex)
    fr = amc.framer(frame_len, hop)
    snk = blocks.vector_sink_c(frame_len)
    if max_noutput:
        chunker.set_max_noutput_items(max_noutput)
        fr.set_max_noutput_items(max_noutput)
    tb.connect(src, chunker, fr, snk)
    tb.run()
    frames = np.array(snk.data(), dtype=np.complex64).reshape(-1, frame_len)
    out_tags = sorted((t.offset, pmt.symbol_to_string(t.key), pmt.to_python(t.value)) for t in snk.tags())
    return frames, out_tags


def tag(offset, key, value):
    return gr.tag_utils.python_to_tag((offset, pmt.intern(key), pmt.to_pmt(value), pmt.intern("qa")))


class qa_framer(gr_unittest.TestCase):

    def setUp(self):
        self.x = (np.arange(1000) + 1j * np.arange(1000) * 0.5).astype(np.complex64)

    def check_frames(self, frames, frame_len, hop, n):
        expected_count = (n - frame_len) // hop + 1
        self.assertEqual(frames.shape, (expected_count, frame_len))
        for k in range(expected_count):
            # frame k starts at absolute input sample k*hop
            self.assertEqual(frames[k, 0].real, k * hop)
            np.testing.assert_array_equal(frames[k], self.x[k * hop:k * hop + frame_len])

    def test_back_to_back(self):
        frames, _ = run_framer(self.x, 100, 100)
        self.check_frames(frames, 100, 100, 1000)
        self.assertEqual(len(frames), 10)

    def test_overlap(self):
        frames, _ = run_framer(self.x, 64, 24)
        self.check_frames(frames, 64, 24, 1000)
        self.assertEqual(len(frames), 40)  # starts 0, 24, ..., 936

    def test_skip(self):
        frames, _ = run_framer(self.x, 30, 70)
        self.check_frames(frames, 30, 70, 1000)
        self.assertEqual(len(frames), 14)  # starts 0, 70, ..., 910; 940 > 1000-30 is incomplete

    def test_first_sample(self):
        fr = amc.framer(128, 40)
        self.assertEqual((fr.frame_len(), fr.hop()), (128, 40))
        self.assertEqual(fr.first_sample(7), 280)

    def test_chunking_independence(self):
        tags = [tag(o, "amc:truth", "QPSK") for o in (0, 5, 333, 640, 999)]
        for frame_len, hop in ((64, 64), (64, 24), (30, 70)):
            ref = run_framer(self.x, frame_len, hop, tags)
            for m in (1, 3, 7, 100):
                got = run_framer(self.x, frame_len, hop, tags, max_noutput=m)
                np.testing.assert_array_equal(got[0], ref[0])
                self.assertEqual(got[1], ref[1])

    def test_tags_back_to_back(self):
        tags = [tag(0, "amc:truth", "BPSK"), tag(99, "amc:snr_db", 4.0), tag(100, "amc:truth", "QPSK"),
                tag(555, "amc:snr_db", -2.0)]
        _, out = run_framer(self.x, 100, 100, tags)
        self.assertEqual(out, [(0, "amc:snr_db", 4.0), (0, "amc:truth", "BPSK"), (1, "amc:truth", "QPSK"),
                               (5, "amc:snr_db", -2.0)])

    def test_tags_overlap_land_on_every_frame_holding_them(self):
        # frames of 10 every 4: frame k spans [4k, 4k+10). Sample 12 is in frames 1, 2, 3.
        _, out = run_framer(self.x[:40], 10, 4, [tag(12, "amc:truth", "8PSK")])
        self.assertEqual(out, [(1, "amc:truth", "8PSK"), (2, "amc:truth", "8PSK"), (3, "amc:truth", "8PSK")])

    def test_tags_in_gap_go_to_next_frame(self):
        # frames of 10 every 25: spans [0,10), [25,35), [50,60). Tag at 12 is in the gap -> frame 1;
        # tag at 34 is in frame 1; tag at 35 is in the gap -> frame 2.
        tags = [tag(3, "a", 1), tag(12, "b", 2), tag(34, "c", 3), tag(35, "d", 4)]
        _, out = run_framer(self.x[:60], 10, 25, tags)
        self.assertEqual(out, [(0, "a", 1), (1, "b", 2), (1, "c", 3), (2, "d", 4)])

    def test_tag_after_last_complete_frame_is_not_placed(self):
        _, out = run_framer(self.x[:250], 100, 100, [tag(210, "amc:truth", "FM")])
        self.assertEqual(out, [])

    def test_bad_parameters(self):
        with self.assertRaisesRegex(ValueError, "frame_len must be > 0, got 0"):
            amc.framer(0, 10)
        with self.assertRaisesRegex(ValueError, "hop must be > 0, got 0"):
            amc.framer(10, 0)
        with self.assertRaisesRegex(ValueError, "hop must be > 0, got -3"):
            amc.framer(10, -3)

    def test_limits(self):
        self.assertEqual((amc.MAX_FRAME_LEN, amc.MAX_HOP), (1 << 20, 1 << 30))
        fr = amc.framer(amc.MAX_FRAME_LEN, amc.MAX_HOP)
        self.assertEqual((fr.frame_len(), fr.hop()), (1 << 20, 1 << 30))
        self.assertEqual(fr.first_sample(5), 5 << 30)
        with self.assertRaisesRegex(ValueError, r"frame_len must be <= 1048576 \(2\^20\), got 1048577"):
            amc.framer(amc.MAX_FRAME_LEN + 1, 16)
        with self.assertRaisesRegex(ValueError, r"hop must be <= 1073741824 \(2\^30\), got 1073741825"):
            amc.framer(16, amc.MAX_HOP + 1)
        # beyond a C int: still the range check's ValueError, not a conversion error
        with self.assertRaisesRegex(ValueError, r"hop must be <= 1073741824 \(2\^30\), got 2147483648"):
            amc.framer(16, 1 << 31)
        with self.assertRaisesRegex(ValueError, r"frame_len must be <= 1048576 \(2\^20\), got 8589934592"):
            amc.framer(1 << 33, 16)
        with self.assertRaisesRegex(ValueError, r"hop must be <= 1073741824 \(2\^30\), got 1073741825"):
            amc.frame_signal(np.zeros(4, np.complex64), 4, amc.MAX_HOP + 1)
        with self.assertRaisesRegex(ValueError, r"frame_len must be <= 1048576 \(2\^20\), got 1048577"):
            amc.frame_signal(np.zeros(4, np.complex64), amc.MAX_FRAME_LEN + 1, 4)


def run_ramp(frame_len, hop, n_frames, period=1000, max_noutput=None):
    """Frames of a repeating ramp 0..period-1 (exact in float32): frame k must hold
    (k*hop + i) % period. Streams (n_frames - 1) * hop + frame_len + hop // 2 samples."""
    tb = gr.top_block()
    src = blocks.vector_source_c(np.arange(period, dtype=np.complex64).tolist(), True)
    head = blocks.head(gr.sizeof_gr_complex, (n_frames - 1) * hop + frame_len + hop // 2)
    fr = amc.framer(frame_len, hop)
    if max_noutput:
        fr.set_max_noutput_items(max_noutput)
    snk = blocks.vector_sink_c(frame_len)
    tb.connect(src, head, fr, snk)
    tb.run()
    frames = np.array(snk.data(), dtype=np.complex64).reshape(-1, frame_len)
    expected = np.array([(np.arange(frame_len) + k * hop) % period for k in range(n_frames)], np.float32)
    return frames, expected


class qa_framer_large(gr_unittest.TestCase):
    """Hops and frame lengths near the limits: no frame lost, memory independent of the hop."""

    def check(self, frame_len, hop, n_frames, **kw):
        frames, expected = run_ramp(frame_len, hop, n_frames, **kw)
        self.assertEqual(frames.shape, (n_frames, frame_len))
        np.testing.assert_array_equal(frames.real, expected)
        np.testing.assert_array_equal(frames.imag, 0)

    def test_hop_2_23(self):
        # the forecast's estimate used to overflow int from here: 1 of 3 frames came out
        self.check(16, 1 << 23, 3)
        self.check(16, (1 << 23) + 7, 3)

    def test_hop_2_25_one_frame_per_call(self):
        self.check(16, 1 << 25, 3, max_noutput=1)

    def test_largest_frame_overlapping_and_skipping(self):
        self.check(amc.MAX_FRAME_LEN, 5, 3)
        self.check(amc.MAX_FRAME_LEN, amc.MAX_FRAME_LEN + 3, 3)

    def test_tags_in_long_gaps(self):
        # frames of 10 every 2^22 + 1: a tag anywhere in a gap lands on the next frame, however the
        # gap is consumed
        hop = (1 << 22) + 1
        n = 2 * hop + 10
        x = np.zeros(n, np.complex64)
        tags = [tag(3, "a", 1), tag(10, "b", 2), tag(hop - 1, "c", 3), tag(hop + 9, "d", 4),
                tag(hop + 10, "e", 5), tag(2 * hop - 1, "f", 6), tag(2 * hop + 2, "g", 7)]
        src = blocks.vector_source_c(x, False, 1, tags)
        fr = amc.framer(10, hop)
        snk = blocks.vector_sink_c(10)
        tb = gr.top_block()
        tb.connect(src, fr, snk)
        tb.run()
        self.assertEqual(len(snk.data()), 30)
        out = sorted((t.offset, pmt.symbol_to_string(t.key)) for t in snk.tags())
        self.assertEqual(out, [(0, "a"), (1, "b"), (1, "c"), (1, "d"), (2, "e"), (2, "f"), (2, "g")])


class qa_frame_signal(gr_unittest.TestCase):

    def test_matches_block(self):
        x = (np.random.default_rng(1).standard_normal(5000) * (1 + 1j)).astype(np.complex64)
        for frame_len, hop in ((128, 128), (128, 32), (50, 200)):
            frames = amc.frame_signal(x, frame_len, hop)
            self.assertEqual(frames.dtype, np.complex64)
            block_frames, _ = run_framer(x, frame_len, hop)
            np.testing.assert_array_equal(frames, block_frames)

    def test_short_and_bad_input(self):
        self.assertEqual(amc.frame_signal(np.zeros(10, np.complex64), 16, 4).shape, (0, 16))
        with self.assertRaisesRegex(ValueError, "frame_len must be > 0"):
            amc.frame_signal(np.zeros(10, np.complex64), 0, 4)
        with self.assertRaisesRegex(ValueError, "must be 1-D"):
            amc.frame_signal(np.zeros((2, 10), np.complex64), 4, 4)

    def test_converts_dtype(self):
        frames = amc.frame_signal(np.arange(8, dtype=np.float64), 4, 4)
        np.testing.assert_array_equal(frames, [[0, 1, 2, 3], [4, 5, 6, 7]])


if __name__ == '__main__':
    gr_unittest.run(qa_framer)
    gr_unittest.run(qa_frame_signal)
    gr_unittest.run(qa_framer_large)
