#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA for amc.dataset_sink and the dataset readers: exact file contents in the three formats, labels and
SNRs from tags (kept across work() calls), chunking independence, num_frames / skip_frames, unlabelled
frames, unknown classes, and atomicity (no final file after an early stop or a kill)."""
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import h5py
import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio import amc
from gnuradio.amc import contract, datasets

L = 8
N = 20


def tag(offset, key, value):
    v = pmt.intern(value) if isinstance(value, str) else pmt.from_double(float(value))
    return gr.tag_utils.python_to_tag((offset, pmt.intern(key), v, pmt.intern("qa")))


def make_frames(n=N, frame_len=L):
    k = np.arange(n * frame_len, dtype=np.float32)
    return (k + 1j * (-k - 0.5)).astype(np.complex64).reshape(n, frame_len)


# Tags on frame indices, as the framer puts them. Frames 0-1 have no tag yet (unlabelled: dropped);
# truth BPSK at 2, SNR 10 at 3 (frame 2 has no SNR yet: dropped), QPSK at 7, SNR -4 at 11,
# BPSK again at 15 and the SNR repeated at 15 (a repeated value changes nothing).
TAGS = [tag(2, "amc:truth", "BPSK"), tag(3, "amc:snr_db", 10), tag(7, "amc:truth", "QPSK"),
        tag(11, "amc:snr_db", -4), tag(15, "amc:truth", "BPSK"), tag(15, "amc:snr_db", -4)]
EXPECTED_KEPT = list(range(3, N))
EXPECTED_LABELS = ["BPSK"] * 4 + ["QPSK"] * 8 + ["BPSK"] * 5          # frames 3..19
EXPECTED_SNRS = [10] * 8 + [-4] * 9


def run_sink(path, fmt="hdf5", frames=None, tags=TAGS, max_noutput=None, repeat=False, **kw):
    frames = make_frames() if frames is None else frames
    tb = gr.top_block()
    src = blocks.vector_source_c(frames.reshape(-1).tolist(), repeat, frames.shape[1], list(tags))
    snk = amc.dataset_sink(frames.shape[1], path, fmt, **kw)
    if max_noutput:
        # small chunks through a copy block (vector_source with tags hangs under set_max_noutput_items
        # in GNU Radio 3.10.5)
        cp = blocks.copy(gr.sizeof_gr_complex * frames.shape[1])
        cp.set_max_noutput_items(max_noutput)
        snk.set_max_noutput_items(max_noutput)
        tb.connect(src, cp, snk)
    else:
        tb.connect(src, snk)
    tb.run()
    return snk


class qa_dataset_sink(gr_unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="qa_dataset_sink_")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def p(self, name):
        return os.path.join(self.dir, name)

    def assert_only(self, *names):
        self.assertEqual(sorted(os.listdir(self.dir)), sorted(names))

    # ---- exact contents, three formats ----
    def test_hdf5_exact_contents(self):
        path = self.p("d.h5")
        snk = run_sink(path, "hdf5", classes=["QPSK", "BPSK", "8PSK"], config={"k": 1}, seed=42)
        self.assertTrue(snk.committed(), snk.error())
        self.assertEqual(snk.frames_written(), 17)
        self.assertEqual(snk.frames_unlabeled(), 3)
        self.assert_only("d.h5")
        x = make_frames()[EXPECTED_KEPT]
        with h5py.File(path, "r") as f:
            self.assertEqual(sorted(f.keys()), ["X", "Y", "Z"])
            self.assertEqual((f["X"].dtype, f["X"].shape), (np.dtype("<f4"), (17, L, 2)))
            # Y is one-hot over the full RadioML 2018.01A list (the classes all come from it)
            self.assertEqual((f["Y"].dtype, f["Y"].shape), (np.dtype("<i8"), (17, 24)))
            self.assertEqual((f["Z"].dtype, f["Z"].shape), (np.dtype("<i8"), (17, 1)))
            np.testing.assert_array_equal(f["X"][:, :, 0], x.real)
            np.testing.assert_array_equal(f["X"][:, :, 1], x.imag)
            cols = {"BPSK": 3, "QPSK": 4}
            y = np.zeros((17, 24), np.int64)
            y[np.arange(17), [cols[c] for c in EXPECTED_LABELS]] = 1
            np.testing.assert_array_equal(f["Y"][...], y)
            np.testing.assert_array_equal(f["Z"][:, 0], EXPECTED_SNRS)
            self.assertEqual(json.loads(f.attrs["classes"]), list(contract.CLASSES_2018))
            self.assertEqual(json.loads(f.attrs["classes_present"]), ["QPSK", "BPSK", "8PSK"])
            # no num_frames: a resizable X in chunks of 32 frames
            self.assertEqual((f["X"].chunks, f["X"].maxshape), ((32, L, 2), (None, L, 2)))
            self.assertEqual(json.loads(f.attrs["config"]), {"k": 1})
            self.assertEqual(int(f.attrs["seed"]), 42)
            self.assertEqual(f.attrs["gr_amc_version"], amc.__version__)
        ds = datasets.load_dataset(path)
        np.testing.assert_array_equal(ds.x, x)
        self.assertEqual(ds.classes, ["QPSK", "BPSK", "8PSK"])                # the classes it was written with
        self.assertEqual(ds.labels.tolist(), [{"QPSK": 0, "BPSK": 1}[c] for c in EXPECTED_LABELS])
        self.assertEqual(ds.snrs.tolist(), EXPECTED_SNRS)

    def test_hdf5_columns(self):
        # 2016.10a-only classes: the 11-class list; classes of neither list: the classes given, in their order
        for classes, columns in ((["QAM16", "WBFM"], list(contract.CLASSES_2016)),
                                 (["QPSK", "BPSK"], list(contract.CLASSES_2018)),
                                 (["WBFM", "OOK"], ["WBFM", "OOK"])):
            with self.subTest(classes=classes):
                path = self.p("c.h5")
                frames = make_frames(4)
                tags = [tag(0, "amc:truth", classes[0]), tag(0, "amc:snr_db", 0), tag(2, "amc:truth", classes[1])]
                snk = run_sink(path, frames=frames, tags=tags, classes=classes)
                self.assertTrue(snk.committed(), snk.error())
                with h5py.File(path, "r") as f:
                    self.assertEqual(json.loads(f.attrs["classes"]), columns)
                    self.assertEqual(json.loads(f.attrs["classes_present"]), classes)
                    want = np.zeros((4, len(columns)), np.int64)
                    want[[0, 1, 2, 3], [columns.index(classes[k]) for k in (0, 0, 1, 1)]] = 1
                    np.testing.assert_array_equal(f["Y"][...], want)
                ds = datasets.load_dataset(path)
                self.assertEqual(ds.classes, classes)
                self.assertEqual(ds.labels.tolist(), [0, 0, 1, 1])
                os.remove(path)

    def test_hdf5_contiguous_with_num_frames(self):
        # num_frames known: X and Z are contiguous, fixed-shape (the original RadioML 2018.01A layout)
        path = self.p("d.h5")
        frames = make_frames(5)
        snk = run_sink(path, frames=frames, tags=[tag(0, "amc:truth", "BPSK"), tag(0, "amc:snr_db", 2)],
                       repeat=True, num_frames=13, max_noutput=3)
        self.assertTrue(snk.committed(), snk.error())
        with h5py.File(path, "r") as f:
            for k in ("X", "Y", "Z"):
                self.assertIsNone(f[k].chunks, k)
            self.assertEqual((f["X"].shape, f["X"].maxshape), ((13, L, 2), (13, L, 2)))
            np.testing.assert_array_equal(f["X"][...].view(np.complex64)[..., 0], frames[np.arange(13) % 5])
            np.testing.assert_array_equal(f["Z"][:, 0], [2] * 13)

    def test_pickle_exact_contents(self):
        path = self.p("d.pkl")
        snk = run_sink(path, "pickle", classes=["BPSK", "QPSK"])
        self.assertTrue(snk.committed(), snk.error())
        self.assert_only("d.pkl")
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="latin1")
        x = make_frames()
        want = {("BPSK", 10): [3, 4, 5, 6], ("QPSK", 10): [7, 8, 9, 10], ("QPSK", -4): [11, 12, 13, 14],
                ("BPSK", -4): [15, 16, 17, 18, 19]}
        self.assertEqual(set(d), set(want))
        for key, idx in want.items():
            a = d[key]
            self.assertEqual((a.dtype, a.shape), (np.dtype(np.float32), (len(idx), 2, L)))
            np.testing.assert_array_equal(a[:, 0, :], x[idx].real)
            np.testing.assert_array_equal(a[:, 1, :], x[idx].imag)
        ds = datasets.load_dataset(path)
        self.assertEqual(len(ds), 17)
        self.assertEqual(sorted(zip([ds.classes[i] for i in ds.labels], ds.snrs.tolist())),
                         sorted(zip(EXPECTED_LABELS, EXPECTED_SNRS)))

    def test_sigmf_exact_contents(self):
        from sigmf import sigmffile
        path = self.p("rec")
        snk = run_sink(path, "sigmf", classes=["BPSK", "QPSK"], config="a: 1", seed=3, sample_rate=200e3)
        self.assertTrue(snk.committed(), snk.error())
        self.assert_only("rec.sigmf-data", "rec.sigmf-meta")
        x = make_frames()[EXPECTED_KEPT]
        np.testing.assert_array_equal(np.fromfile(self.p("rec.sigmf-data"), "<c8"), x.reshape(-1))
        meta = sigmffile.fromfile(self.p("rec.sigmf-meta"))   # validates, checks the sha512
        self.assertEqual(meta.get_global_field("core:datatype"), "cf32_le")
        self.assertEqual(meta.get_global_field("core:sample_rate"), 200e3)
        self.assertEqual(meta.get_global_field("amc:classes"), ["BPSK", "QPSK"])
        self.assertEqual(meta.get_global_field("amc:seed"), 3)
        ann = meta.get_annotations()
        self.assertEqual([a["core:sample_start"] for a in ann], [i * L for i in range(17)])
        self.assertEqual({a["core:sample_count"] for a in ann}, {L})
        self.assertEqual([a["core:label"] for a in ann], EXPECTED_LABELS)
        self.assertEqual([a["amc:snr_db"] for a in ann], EXPECTED_SNRS)
        self.assertEqual({(a["core:freq_lower_edge"], a["core:freq_upper_edge"]) for a in ann}, {(-100e3, 100e3)})
        ds = datasets.load_dataset(self.p("rec.sigmf-meta"))
        np.testing.assert_array_equal(ds.x, x)
        self.assertEqual([ds.classes[i] for i in ds.labels], EXPECTED_LABELS)
        self.assertEqual(ds.snrs.tolist(), EXPECTED_SNRS)

    def test_sigmf_default_sample_rate(self):
        # sample_rate=0: the generator's nominal 200 kS/s is written, and the edges follow it
        path = self.p("rec")
        snk = run_sink(path, "sigmf", classes=["BPSK", "QPSK"])
        self.assertTrue(snk.committed(), snk.error())
        with open(self.p("rec.sigmf-meta")) as f:
            meta = json.load(f)
        self.assertEqual(meta["global"]["core:sample_rate"], 200e3)
        self.assertEqual(meta["captures"], [{"core:sample_start": 0}])
        self.assertEqual({(a["core:freq_lower_edge"], a["core:freq_upper_edge"]) for a in meta["annotations"]},
                         {(-100e3, 100e3)})

    def test_discovered_classes(self):
        # classes=(): the classes seen, in the contract order (BPSK before QPSK in RadioML 2018.01A)
        path = self.p("d.h5")
        run_sink(path, "hdf5")
        ds = datasets.load_dataset(path)
        self.assertEqual(ds.classes, ["BPSK", "QPSK"])
        self.assertEqual([ds.classes[i] for i in ds.labels], EXPECTED_LABELS)

    # ---- scheduler independence ----
    def test_chunking_independent(self):
        a, b = self.p("a.h5"), self.p("b.h5")
        run_sink(a, classes=["BPSK", "QPSK"])
        run_sink(b, classes=["BPSK", "QPSK"], max_noutput=1)
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertEqual(fa.read(), fb.read())

    # ---- num_frames, skip_frames ----
    def test_num_frames_ends_flowgraph(self):
        path = self.p("d.h5")
        frames = make_frames(5)
        snk = run_sink(path, frames=frames, tags=[tag(0, "amc:truth", "BPSK"), tag(0, "amc:snr_db", 2)],
                       repeat=True, num_frames=13, skip_frames=4)   # an endless source: the sink ends it
        self.assertTrue(snk.committed(), snk.error())
        ds = datasets.load_dataset(path)
        np.testing.assert_array_equal(ds.x, frames[[(4 + i) % 5 for i in range(13)]])
        self.assertEqual(ds.snrs.tolist(), [2] * 13)

    def test_stopped_before_num_frames_leaves_no_file(self):
        snk = run_sink(self.p("d.h5"), classes=["BPSK", "QPSK"], num_frames=100)
        self.assertFalse(snk.committed())
        self.assertIn("stopped after 17 of the 100 frames", snk.error())
        self.assert_only()

    def test_tb_stop_without_num_frames_commits_what_was_written(self):
        path = self.p("d.h5")
        frames = make_frames(4)
        tb = gr.top_block()
        src = blocks.vector_source_c(frames.reshape(-1).tolist(), True, L,
                                     [tag(0, "amc:truth", "QPSK"), tag(0, "amc:snr_db", 0)])
        thr = blocks.throttle(gr.sizeof_gr_complex * L, 2000)
        snk = amc.dataset_sink(L, path, "hdf5")
        tb.connect(src, thr, snk)
        tb.start()
        time.sleep(0.3)
        tb.stop()
        tb.wait()
        self.assertTrue(snk.committed(), snk.error())
        ds = datasets.load_dataset(path)
        self.assertEqual(len(ds), snk.frames_written())
        self.assertGreater(len(ds), 0)
        np.testing.assert_array_equal(ds.x, frames[np.arange(len(ds)) % 4])

    # ---- errors ----
    def test_unknown_class_writes_nothing(self):
        snk = run_sink(self.p("d.h5"), classes=["BPSK", "8PSK"])
        self.assertFalse(snk.committed())
        self.assertIn("'QPSK', which is not in classes (BPSK, 8PSK)", snk.error())
        self.assert_only()

    def test_bad_arguments(self):
        cases = [(dict(frame_len=0), "frame_len must be > 0"),
                 (dict(fmt="csv"), "unknown fmt 'csv'; allowed: hdf5, pickle, sigmf"),
                 (dict(path=os.path.join(self.dir, "no", "x.h5")), "does not exist"),
                 (dict(classes=["BPSK", "BPSK"]), "'BPSK' is listed twice"),
                 (dict(num_frames=-1), "num_frames must be >= 0"),
                 (dict(skip_frames=-2), "skip_frames must be >= 0")]
        for kw, msg in cases:
            args = dict(frame_len=L, path=self.p("x.h5"), fmt="hdf5")
            args.update(kw)
            with self.assertRaises(ValueError) as cm:
                amc.dataset_sink(**args)
            self.assertIn(msg, str(cm.exception))
        self.assert_only()

    # ---- atomicity under kill -9 ----
    def test_killed_run_leaves_no_final_file(self):
        for fmt, final in (("hdf5", "k.h5"), ("pickle", "k.pkl"), ("sigmf", "k.sigmf-meta")):
            path = self.p(final)
            script = textwrap.dedent(f"""
                import pmt, sys
                from gnuradio import gr, blocks, amc
                tags = [gr.tag_utils.python_to_tag((0, pmt.intern("amc:truth"), pmt.intern("BPSK"), pmt.intern("q"))),
                        gr.tag_utils.python_to_tag((0, pmt.intern("amc:snr_db"), pmt.from_double(0), pmt.intern("q")))]
                tb = gr.top_block()
                src = blocks.vector_source_c([1j] * {L}, True, {L}, tags)
                thr = blocks.throttle(8 * {L}, 5000)
                snk = amc.dataset_sink({L}, {path!r}, {fmt!r}, num_frames=10**9)
                tb.connect(src, thr, snk)
                tb.start()
                print("started", flush=True)
                tb.wait()
            """)
            proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=os.environ.copy())
            self.assertEqual(proc.stdout.readline().strip(), b"started")
            time.sleep(1.0)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
            left = os.listdir(self.dir)
            self.assertTrue(left and all(".tmp" in f for f in left), left)   # only temporary files
            self.assertFalse(any(os.path.exists(f) for f in datasets.final_paths(path, fmt)))
            for f in left:
                p = self.p(f)
                shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)


if __name__ == "__main__":
    gr_unittest.run(qa_dataset_sink)
