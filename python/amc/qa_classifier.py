#!/usr/bin/env python3
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Block-level tests of amc.classifier / amc.classifier_sink with tiny ONNX models built by the
tests (tests/fixtures/tiny_models.py: a two-class "energy" model whose label is computable), reached as the
package amc_fixtures on the build's PYTHONPATH."""
import os
import pathlib
import shutil
import tempfile

import numpy as np
import pmt
from gnuradio import amc, blocks, gr, gr_unittest


from amc_fixtures import tiny_models as tm        # tests/fixtures, copied beside the module by the build
from amc_fixtures.flowgraphs import run_flowgraph

L = 32


def frames_of(x, frame_len, hop):
    """Reference framing in plain numpy slicing (independent of the C++ kernel)."""
    n = (len(x) - frame_len) // hop + 1 if len(x) >= frame_len else 0
    return np.array([x[k * hop:k * hop + frame_len] for k in range(n)], np.complex64).reshape(n, frame_len)


def tags_by_offset(tags, keys=("amc:label", "amc:confidence", "amc:probs")):
    out = {}
    for t in tags:
        k = pmt.symbol_to_string(t.key)
        if k in keys:
            out.setdefault(t.offset, {})[k] = pmt.to_python(t.value)
    return out


class qa_classifier(gr_unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="amc_qa_classifier_")
        cls.model = tm.energy_model(os.path.join(cls.dir, "energy.onnx"), frame_len=L)
        cls.logits = tm.energy_model(os.path.join(cls.dir, "energy-logits.onnx"), frame_len=L,
                                     output="logits")
        cls.soft = tm.energy_model(os.path.join(cls.dir, "soft.onnx"), frame_len=L, gain=0.5 / L)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def check_tags(self, tags, x, hop, expected_offsets, gain=None, smoothing=1, threshold=0.0):
        """Tags must sit exactly on expected_offsets with the reference label/confidence/probs."""
        got = tags_by_offset(tags)
        self.assertEqual(sorted(got), list(expected_offsets))
        frames = np.array([x[o:o + L] for o in expected_offsets], np.complex64)
        ref, status = tm.energy_reference(frames, gain=gain)
        hist = []
        for i, o in enumerate(expected_offsets):
            t = got[o]
            if status[i] != 0:
                self.assertEqual(t["amc:label"], "unknown")
                self.assertEqual(t["amc:confidence"], 0.0)
                np.testing.assert_array_equal(t["amc:probs"], [0.0, 0.0])
                continue
            hist = (hist + [ref[i]])[-smoothing:]
            p = np.mean(hist, axis=0)
            np.testing.assert_allclose(t["amc:probs"], p, rtol=2e-5, atol=1e-6)
            self.assertAlmostEqual(t["amc:confidence"], p.max(), places=5)
            label = tm.CLASSES[int(np.argmax(p))] if p.max() >= threshold else "unknown"
            self.assertEqual(t["amc:label"], label)
        return got

    # -- tags, pass-through, framing -----------------------------------------------------------
    def test_001_back_to_back_tags_and_passthrough(self):
        x = tm.energy_frames("elleelle", L).reshape(-1)
        out, tags, msgs, blk = run_flowgraph(self.model, x)
        np.testing.assert_array_equal(out, x)  # every sample, unaltered
        got = self.check_tags(tags, x, L, [k * L for k in range(8)])
        self.assertEqual([got[k * L]["amc:label"] for k in range(8)],
                         ["early", "late", "late", "early", "early", "late", "late", "early"])
        self.assertEqual(blk.frame_len(), L)
        self.assertEqual(blk.hop(), L)
        self.assertEqual(blk.classes(), ["early", "late"])
        self.assertEqual(blk.classified(), 8)
        self.assertEqual(blk.skipped(), 0)
        # probs tag is an f32vector, confidence a double, label a symbol
        t = [t for t in tags if pmt.symbol_to_string(t.key) == "amc:probs"][0]
        self.assertTrue(pmt.is_f32vector(t.value))
        t = [t for t in tags if pmt.symbol_to_string(t.key) == "amc:confidence"][0]
        self.assertTrue(pmt.is_real(t.value))
        t = [t for t in tags if pmt.symbol_to_string(t.key) == "amc:label"][0]
        self.assertTrue(pmt.is_symbol(t.value))

    def test_002_hop_overlap(self):
        x = tm.energy_frames("elleelle", L).reshape(-1)  # 256 samples
        hop = 12
        out, tags, msgs, blk = run_flowgraph(self.model, x, hop=hop)
        offsets = list(range(0, len(x) - L + 1, hop))  # 0, 12, ..., 216
        self.check_tags(tags, x, hop, offsets)
        # The incomplete frames from 228 on are never classified, but their samples pass too.
        np.testing.assert_array_equal(out, x)
        self.assertEqual([m["offset"] for m in msgs], offsets)

    def test_003_hop_skipping(self):
        x = tm.energy_frames("elleelleel", L).reshape(-1)  # 320 samples
        hop = 45
        out, tags, msgs, blk = run_flowgraph(self.model, x, hop=hop)
        offsets = list(range(0, len(x) - L + 1, hop))  # 0, 45, ..., 270
        self.assertEqual(offsets[-1], 270)
        self.check_tags(tags, x, hop, offsets)
        # the next frame would start at 315: its 5 samples pass on untagged at the end
        np.testing.assert_array_equal(out, x)

    def test_003b_end_of_stream_passes_every_sample(self):
        # Finite streams ending anywhere inside a frame, whatever the chunking: every sample
        # comes out unaltered, tags only on the complete frames, none on the incomplete tail.
        rng = np.random.default_rng(3)
        base = tm.energy_frames("elleelleel", L, rng=rng).reshape(-1)  # 320 samples
        for n, hop, max_noutput in ((320 - 1, 0, None), (320 - 31, 0, 7), (300, 12, None),
                                    (300, 12, 5), (17, 0, None), (305, 45, 64), (320, 20, 1)):
            with self.subTest(n=n, hop=hop, max_noutput=max_noutput):
                x = base[:n]
                out, tags, msgs, blk = run_flowgraph(self.model, x, hop=hop, max_noutput=max_noutput)
                np.testing.assert_array_equal(out, x)
                h = hop or L
                offsets = list(range(0, n - L + 1, h))
                if offsets:
                    self.check_tags(tags, x, h, offsets)
                else:
                    self.assertEqual(tags_by_offset(tags), {})
                self.assertEqual([m["offset"] for m in msgs], offsets)
                self.assertEqual(blk.classified(), len(offsets))

    def test_003c_input_state_binding(self):
        # amc.input_state reads the upstream state a Python block cannot see otherwise.
        seen = []

        class probe(gr.sync_block):
            def __init__(self):
                gr.sync_block.__init__(self, name="probe", in_sig=[np.complex64], out_sig=[np.complex64])

            def work(self, input_items, output_items):
                seen.append(amc.input_state(self.detail().input(0)))
                output_items[0][:] = input_items[0]
                return len(output_items[0])

        tb = gr.top_block()
        src = blocks.vector_source_c([1j] * 100)
        snk = blocks.vector_sink_c()
        prb = probe()  # keep the Python object alive while the flowgraph runs
        tb.connect(src, prb, snk)
        tb.run()
        self.assertEqual(len(snk.data()), 100)
        for done, avail in seen:
            self.assertIsInstance(done, bool)
            self.assertTrue(0 < avail <= 100)
        with self.assertRaisesRegex(ValueError, "no reader"):
            amc.input_state(None)

    def test_004_same_tags_whatever_chunking_and_batch(self):
        rng = np.random.default_rng(7)
        x = tm.energy_frames("".join(rng.choice(list("elz"), 60)), L, rng=rng).reshape(-1)
        results = []
        for max_noutput, max_batch in ((None, 64), (None, 1), (7, 64), (50, 1), (1000, 3)):
            out, tags, msgs, blk = run_flowgraph(self.model, x, hop=20, smoothing=2,
                                                 max_noutput=max_noutput, max_batch=max_batch)
            got = tags_by_offset(tags)
            flat = [(o, k, np.asarray(v).tolist()) for o in sorted(got) for k, v in sorted(got[o].items())]
            results.append((out.tolist(), flat, [(m["offset"], m["label"], m["probs"].tolist()) for m in msgs]))
        for r in results[1:]:
            self.assertEqual(r[0], results[0][0])
            self.assertEqual(r[1], results[0][1])  # identical offsets, labels, confidences, probs
            self.assertEqual(r[2], results[0][2])
        self.assertEqual(len(results[0][2]), (len(x) - L) // 20 + 1)

    # -- messages ------------------------------------------------------------------------------
    def test_005_message_contents(self):
        x = tm.energy_frames("elelel", L).reshape(-1)
        src_tags = [gr.tag_utils.python_to_tag((0, pmt.intern("amc:truth"), pmt.intern("QPSK"))),
                    gr.tag_utils.python_to_tag((0, pmt.intern("amc:snr_db"), pmt.from_double(10.0))),
                    gr.tag_utils.python_to_tag((70, pmt.intern("amc:truth"), pmt.intern("BPSK"))),
                    gr.tag_utils.python_to_tag((100, pmt.intern("amc:snr_db"), pmt.from_double(-4.0)))]
        out, tags, msgs, blk = run_flowgraph(self.model, x, src_tags=src_tags)
        self.assertEqual(len(msgs), 6)
        ref, _ = tm.energy_reference(frames_of(x, L, L))
        for k, m in enumerate(msgs):
            self.assertEqual(m["offset"], k * L)
            self.assertEqual(m["frame_len"], L)
            self.assertEqual(m["hop"], L)
            self.assertEqual(m["label"], "early" if k % 2 == 0 else "late")
            self.assertAlmostEqual(m["confidence"], ref[k].max(), places=5)
            np.testing.assert_allclose(m["probs"], ref[k], rtol=2e-5, atol=1e-6)
            self.assertEqual(m["status"], "ok")
            self.assertEqual(m["skipped"], 0)
            self.assertEqual(m["skipped_total"], 0)
        # truth / SNR in effect at each frame's first sample (frame 2 starts at 64 < 70: still QPSK)
        self.assertEqual([m["truth"] for m in msgs], ["QPSK", "QPSK", "QPSK", "BPSK", "BPSK", "BPSK"])
        self.assertEqual([m["snr_db"] for m in msgs], [10.0, 10.0, 10.0, 10.0, -4.0, -4.0])
        # upstream tags are passed on at their offsets
        truth = [(t.offset, pmt.symbol_to_string(t.value)) for t in tags
                 if pmt.symbol_to_string(t.key) == "amc:truth"]
        self.assertEqual(truth, [(0, "QPSK"), (70, "BPSK")])

    def test_006_no_truth_fields_without_tags(self):
        x = tm.energy_frames("el", L).reshape(-1)
        _, _, msgs, _ = run_flowgraph(self.model, x)
        self.assertEqual(len(msgs), 2)
        for m in msgs:
            self.assertNotIn("truth", m)
            self.assertNotIn("snr_db", m)

    def test_007_sink_messages_match_classifier(self):
        x = tm.energy_frames("ellezeln", L).reshape(-1)
        _, _, msgs, _ = run_flowgraph(self.model, x, hop=24)
        _, _, smsgs, sblk = run_flowgraph(self.model, x, sink=True, hop=24)
        self.assertEqual(len(smsgs), len(msgs))
        self.assertEqual(len(msgs), (len(x) - L) // 24 + 1)
        for a, b in zip(msgs, smsgs):
            self.assertEqual(set(a), set(b))
            for k in a:
                if k == "probs":
                    np.testing.assert_array_equal(a[k], b[k])
                else:
                    self.assertEqual(a[k], b[k])
        self.assertEqual(sblk.classified(), len(msgs))

    # -- smoothing, threshold, logits --------------------------------------------------------------
    def test_008_smoothing(self):
        x = tm.energy_frames("eeelllel", L, scale=1.0).reshape(-1)
        out, tags, msgs, blk = run_flowgraph(self.soft, x, smoothing=3)
        got = self.check_tags(tags, x, L, [k * L for k in range(8)], gain=0.5 / L, smoothing=3)
        # the smoothed label lags the raw one: frame 3 is "late" but the mean of frames 1..3 is early
        self.assertEqual(got[3 * L]["amc:label"], "early")
        self.assertEqual(got[5 * L]["amc:label"], "late")
        self.assertEqual(blk.smoothing(), 3)
        blk.set_smoothing(5)
        self.assertEqual(blk.smoothing(), 5)
        self.assertRaises(ValueError, blk.set_smoothing, 0)

    def test_009_threshold(self):
        x = tm.energy_frames("elelelel", L).reshape(-1)
        ref, _ = tm.energy_reference(frames_of(x, L, L), gain=0.5 / L)
        conf = ref.max(axis=1)
        thr = float(np.median(conf))
        self.assertTrue(np.any(conf < thr) and np.any(conf >= thr))
        out, tags, msgs, blk = run_flowgraph(self.soft, x, threshold=thr)
        got = self.check_tags(tags, x, L, [k * L for k in range(8)], gain=0.5 / L, threshold=thr)
        labels = [got[k * L]["amc:label"] for k in range(8)]
        self.assertIn("unknown", labels)
        self.assertEqual([lab == "unknown" for lab in labels], list(conf < thr))
        # the confidence stays the model's, even when the label is unknown
        for k in range(8):
            self.assertAlmostEqual(got[k * L]["amc:confidence"], conf[k], places=5)
        self.assertEqual(blk.threshold(), thr)
        blk.set_threshold(0.25)
        self.assertEqual(blk.threshold(), 0.25)
        self.assertRaises(ValueError, blk.set_threshold, 2.0)

    def test_010_logits_get_softmax(self):
        x = tm.energy_frames("elleel", L).reshape(-1)
        _, tags_p, _, _ = run_flowgraph(self.model, x)
        _, tags_l, _, _ = run_flowgraph(self.logits, x)
        a, b = tags_by_offset(tags_p), tags_by_offset(tags_l)
        self.assertEqual(sorted(a), sorted(b))
        for o in a:
            self.assertEqual(a[o]["amc:label"], b[o]["amc:label"])
            np.testing.assert_allclose(a[o]["amc:probs"], b[o]["amc:probs"], rtol=1e-5, atol=1e-6)
            self.assertAlmostEqual(sum(b[o]["amc:probs"]), 1.0, places=5)

    # -- unusable frames ----------------------------------------------------------------------------
    def test_011_nan_inf_zero_frames(self):
        x = tm.energy_frames("eznilzze", L).reshape(-1)
        out, tags, msgs, blk = run_flowgraph(self.model, x)
        got = self.check_tags(tags, x, L, [k * L for k in range(8)])
        self.assertEqual([got[k * L]["amc:label"] for k in range(8)],
                         ["early", "unknown", "unknown", "unknown", "late", "unknown", "unknown", "early"])
        self.assertEqual([m["status"] for m in msgs],
                         ["ok", "zero", "nonfinite", "nonfinite", "ok", "zero", "zero", "ok"])
        np.testing.assert_array_equal(np.isnan(out), np.isnan(x))  # NaN passed through unaltered
        ok = ~np.isnan(x)
        np.testing.assert_array_equal(out[ok], x[ok])
        self.assertEqual(blk.unusable(), 5)
        # with smoothing, unusable frames stay unknown and do not enter the average
        _, tags2, _, _ = run_flowgraph(self.model, x, smoothing=2)
        got2 = self.check_tags(tags2, x, L, [k * L for k in range(8)], smoothing=2)
        self.assertEqual([got2[k * L]["amc:label"] for k in (1, 2, 3, 5, 6)], ["unknown"] * 5)

    def test_012_model_returning_nan(self):
        p = tm.energy_model(os.path.join(self.dir, "nan.onnx"), frame_len=L, output="logits", nan_output=True)
        x = tm.energy_frames("el", L).reshape(-1)
        _, tags, msgs, _ = run_flowgraph(p, x)
        got = tags_by_offset(tags)
        for o in (0, L):
            self.assertEqual(got[o]["amc:label"], "unknown")
            self.assertEqual(got[o]["amc:confidence"], 0.0)
        self.assertEqual([m["status"] for m in msgs], ["bad_output", "bad_output"])

    # -- real-time mode ----------------------------------------------------------------------------
    def test_013_realtime_skips_when_behind(self):
        # All 128 frames reach the block in one call (the source writes its whole vector at once
        # into an 8192-item buffer); with max_batch=4 the real-time mode classifies the newest 4.
        n = 128
        x = tm.energy_frames("el" * (n // 2), L).reshape(-1)
        out, tags, msgs, blk = run_flowgraph(self.model, x, max_batch=4, realtime=True)
        np.testing.assert_array_equal(out, x)  # skipping frames never drops samples
        self.assertEqual(blk.skipped() + blk.classified(), n)
        self.assertGreater(blk.skipped(), 0)
        offsets = sorted(tags_by_offset(tags))
        self.assertEqual(offsets, [m["offset"] for m in msgs])
        self.assertEqual(len(offsets), blk.classified())
        self.assertEqual(sum(m["skipped"] for m in msgs), blk.skipped())
        self.assertEqual(msgs[-1]["skipped_total"], blk.skipped())
        self.assertEqual(blk.skipped(), n - 4)
        self.assertEqual(offsets, [(n - 4 + j) * L for j in range(4)])
        self.check_tags(tags, x, L, offsets)
        # without real-time mode every frame is classified
        _, _, msgs2, blk2 = run_flowgraph(self.model, x, max_batch=4)
        self.assertEqual((blk2.classified(), blk2.skipped(), len(msgs2)), (n, 0, n))

    # -- model contract variants ----------------------------------------------------------------
    def test_014_layouts_and_ap(self):
        x = tm.energy_frames("elleelle", L).reshape(-1)
        for layout in ("N,L,2", "N,1,2,L"):
            p = tm.energy_model(os.path.join(self.dir, "lay.onnx"), frame_len=L, layout=layout)
            _, tags, _, _ = run_flowgraph(p, x)
            self.check_tags(tags, x, L, [k * L for k in range(8)])
        # amplitude/phase with peak normalization: compare with the numpy reference
        p = tm.energy_model(os.path.join(self.dir, "ap.onnx"), frame_len=L, representation="ap",
                            normalization="peak")
        _, tags, _, _ = run_flowgraph(p, x)
        got = tags_by_offset(tags)
        ref, _ = tm.energy_reference(frames_of(x, L, L), representation="ap", normalization="peak")
        for k in range(8):
            np.testing.assert_allclose(got[k * L]["amc:probs"], ref[k], rtol=2e-5, atol=1e-6)

    def test_015_static_batch_model(self):
        p = tm.energy_model(os.path.join(self.dir, "b1.onnx"), frame_len=L, batch=1)
        x = tm.energy_frames("elle", L).reshape(-1)
        _, tags, _, blk = run_flowgraph(p, x, max_batch=64)
        self.check_tags(tags, x, L, [0, L, 2 * L, 3 * L])

    def test_016_metadata_from_parameters(self):
        p = tm.energy_model(os.path.join(self.dir, "nometa.onnx"), frame_len=L,
                            drop_meta=("amc.classes", "amc.frame_length", "amc.normalization"))
        x = tm.energy_frames("elle", L).reshape(-1)
        _, tags, _, blk = run_flowgraph(p, x, classes="early, late", frame_len=L, normalization="rms")
        self.check_tags(tags, x, L, [0, L, 2 * L, 3 * L])
        self.assertEqual(blk.metadata()["amc.classes"], ["early", "late"])

    def test_017_shipped_model_name(self):
        data = os.path.join(self.dir, "data")
        os.makedirs(os.path.join(data, "models"), exist_ok=True)
        shutil.copy(self.model, os.path.join(data, "models", "tiny-energy.onnx"))
        old = os.environ.get("GR_AMC_DATA_DIR")
        os.environ["GR_AMC_DATA_DIR"] = data
        try:
            blk = amc.classifier("tiny-energy")
            self.assertEqual(amc.classifier(pathlib.Path(self.model)).model_path(), self.model)
            self.assertEqual(blk.model_path(), os.path.join(data, "models", "tiny-energy.onnx"))
            with self.assertRaises(FileNotFoundError) as cm:
                amc.classifier("no-such-model")
            self.assertIn("no-such-model", str(cm.exception))
            self.assertIn("tiny-energy", str(cm.exception))  # lists the shipped models
        finally:
            if old is None:
                del os.environ["GR_AMC_DATA_DIR"]
            else:
                os.environ["GR_AMC_DATA_DIR"] = old

    def test_018_label_port_and_no_listeners(self):
        x = tm.energy_frames("elz", L).reshape(-1)
        tb = gr.top_block()
        src = blocks.vector_source_c(x.tolist())
        blk = amc.classifier(self.model)
        snk = blocks.vector_sink_c()
        md = blocks.message_debug()
        tb.connect(src, blk, snk)
        tb.msg_connect(blk, "label", md, "store")
        tb.run()
        pairs = [md.get_message(i) for i in range(md.num_messages())]
        self.assertEqual(len(pairs), 3)
        ref, _ = tm.energy_reference(frames_of(x, L, L))
        for k, m in enumerate(pairs):
            self.assertTrue(pmt.is_pair(m) and not pmt.is_dict(m))
            self.assertEqual(pmt.symbol_to_string(pmt.car(m)), "label")
            expected = ["early", "late", "unknown"][k] + " (%.2f)" % (ref[k].max() if k < 2 else 0.0)
            self.assertEqual(pmt.symbol_to_string(pmt.cdr(m)), expected)
        # tags do not depend on whether anything listens to the message ports
        _, tags_quiet, _, _ = run_flowgraph(self.model, x, msgs=False)
        self.assertEqual(len(tags_by_offset(tags_quiet)), 3)
        a, b = tags_by_offset(tags_quiet), tags_by_offset(list(snk.tags()))
        for o in a:
            self.assertEqual(a[o]["amc:label"], b[o]["amc:label"])
            np.testing.assert_array_equal(a[o]["amc:probs"], b[o]["amc:probs"])

    def test_019_session_options(self):
        import onnxruntime as ort
        for threads in (1, 2):
            blk = amc.classifier_sink(self.model, threads=threads)
            so = blk._runner.session.get_session_options()
            self.assertEqual(so.intra_op_num_threads, threads)
            self.assertEqual(so.inter_op_num_threads, 1)
            self.assertEqual(so.execution_mode, ort.ExecutionMode.ORT_SEQUENTIAL)
            self.assertEqual(so.get_session_config_entry("session.intra_op.allow_spinning"), "0")


if __name__ == "__main__":
    gr_unittest.run(qa_classifier)
