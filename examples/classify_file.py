#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Classify a recording and write the results as SigMF annotations.

Input: a SigMF recording (`NAME.sigmf-meta` / `NAME.sigmf-data`, datatype cf32_le) or a raw file of
complex64 samples (interleaved little-endian float32 I/Q, e.g. from a GNU Radio File Sink).
The samples stream through blocks.file_source -> amc.classifier_sink (framing and normalization by the
C++ kernels, inference by ONNX Runtime with the chosen model). The output is a SigMF recording
OUT.sigmf-data (a copy of the samples) + OUT.sigmf-meta holding the input's metadata and annotations plus
one annotation per classified frame: core:sample_start, core:sample_count, core:freq_lower_edge and
core:freq_upper_edge (the whole band: centre -/+ sample rate / 2, at RF when the capture segment has a
core:frequency, else relative to baseband), core:label (the predicted class, or "unknown"),
amc:confidence, amc:status and, when an input annotation labels the frame, amc:truth (and amc:snr_db).

Predictions and ground truth never share core:label: an input annotation with a core:label that is not
a gr-amc prediction (no amc:confidence; e.g. a gr-amc dataset's per-frame class) is ground truth, and is
copied with that label moved to amc:truth. The output always has core:sample_rate: the input's, else
--samp-rate (default 200 kHz, the nominal rate gr-amc's generator and models use).

    python3 examples/classify_file.py capture.sigmf-meta                     # -> capture.amc.sigmf-*
    python3 examples/classify_file.py capture.cf32 --samp-rate 1e6 --model amc-default --output result
"""
import argparse
import bisect
import collections
import os
import shutil
import sys

import pmt
from gnuradio import amc, blocks, gr


#: Sample rate written when the input says none: the nominal rate of gr-amc's generator (and its models).
DEFAULT_SAMP_RATE = 200e3


def _truth_of(ann):
    """The ground-truth class an input annotation gives, or None: its amc:truth, or the core:label of an
    annotation that is not a gr-amc prediction (which have amc:confidence)."""
    if "amc:truth" in ann:
        return ann["amc:truth"]
    if "core:label" in ann and "amc:confidence" not in ann:
        return ann["core:label"]
    return None


def _truth_annotation(ann):
    """An input ground-truth annotation with its core:label moved to amc:truth (others unchanged)."""
    if "core:label" in ann and "amc:confidence" not in ann:
        ann = dict(ann)
        ann["amc:truth"] = ann.pop("core:label")
    return ann


class _TruthIndex:
    """The input annotations that give a ground truth, sorted by start, to find the one overlapping a frame
    the most without scanning them all for every frame."""

    def __init__(self, annotations, total):
        spans = []
        for a in annotations:
            if _truth_of(a) is not None:
                a0 = a["core:sample_start"]
                spans.append((a0, a0 + a.get("core:sample_count", max(total - a0, 0)), a))
        spans.sort(key=lambda t: t[0])
        self.starts = [t[0] for t in spans]
        self.spans = spans
        self.longest = max((t[1] - t[0] for t in spans), default=0)

    def covering(self, start, count):
        """The annotation overlapping [start, start + count) the most (the earliest of equals), or None."""
        best, best_overlap = None, 0
        i = bisect.bisect_left(self.starts, start + count) - 1
        while i >= 0 and self.starts[i] + self.longest > start:
            a0, a1, a = self.spans[i]
            overlap = min(a1, start + count) - max(a0, start)
            if overlap >= best_overlap and overlap > 0:
                best, best_overlap = a, overlap
            i -= 1
        return best


def _center_frequency(captures, sample):
    """core:frequency of the capture segment holding ``sample`` (None when that segment has none)."""
    seg = None
    for c in sorted(captures, key=lambda c: c.get("core:sample_start", 0)):
        if c.get("core:sample_start", 0) <= sample:
            seg = c
    return None if seg is None else seg.get("core:frequency")


def classify(path, model="amc-default", hop=0, threshold=0.0, smoothing=1, max_batch=64):
    """Stream a complex64 file through the classifier; returns (list of per-frame dicts, frame_len)."""
    tb = gr.top_block("classify_file")
    src = blocks.file_source(gr.sizeof_gr_complex, path, False)
    clf = amc.classifier_sink(model=model, hop=hop, threshold=threshold, smoothing=smoothing,
                              max_batch=max_batch)
    store = blocks.message_debug()
    tb.connect(src, clf)
    tb.msg_connect(clf, "classification", store, "store")
    tb.run()
    frames = [pmt.to_python(store.get_message(i)) for i in range(store.num_messages())]
    return frames, clf.frame_len()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="NAME.sigmf-meta, NAME.sigmf-data or a raw complex64 file")
    ap.add_argument("--model", default="amc-default", help="shipped model name or .onnx path")
    ap.add_argument("--hop", type=int, default=0, help="samples between classified frames (0: frame length)")
    ap.add_argument("--threshold", type=float, default=0.0, help="label 'unknown' under this confidence")
    ap.add_argument("--smoothing", type=int, default=1, help="average probabilities over this many frames")
    ap.add_argument("--samp-rate", type=float, default=DEFAULT_SAMP_RATE,
                    help="sample rate (Hz) written when the input has none (a raw file, or SigMF metadata without "
                         "core:sample_rate); default: %(default)g, the generator's nominal rate")
    ap.add_argument("-o", "--output", default=None, help="output base name (default: INPUT base + '.amc')")
    args = ap.parse_args(argv)

    from sigmf import SigMFFile, sigmffile

    inp = args.input
    if inp.endswith(".sigmf-meta") or inp.endswith(".sigmf-data") or os.path.exists(inp + ".sigmf-meta"):
        base = inp.rsplit(".sigmf-", 1)[0] if ".sigmf-" in inp else inp
        meta_in = sigmffile.fromfile(base + ".sigmf-meta")
        dtype = meta_in.get_global_field("core:datatype")
        if dtype != "cf32_le":
            print(f"error: {base}.sigmf-meta: datatype {dtype!r} is not supported (only cf32_le)", file=sys.stderr)
            return 2
        data_path = base + ".sigmf-data"
        glob = dict(meta_in.get_global_info())
        captures = meta_in.get_captures() or [{"core:sample_start": 0}]
        annotations = list(meta_in.get_annotations())
    else:
        base = os.path.splitext(inp)[0]
        data_path = inp
        glob = {"core:datatype": "cf32_le"}
        captures = [{"core:sample_start": 0}]
        annotations = []
    if not glob.get("core:sample_rate"):
        if not args.samp_rate > 0:
            print(f"error: --samp-rate must be > 0 Hz, got {args.samp_rate:g}", file=sys.stderr)
            return 2
        glob["core:sample_rate"] = args.samp_rate
    fs = float(glob["core:sample_rate"])
    if not os.path.isfile(data_path):
        print(f"error: {data_path}: no such file", file=sys.stderr)
        return 2
    if os.path.getsize(data_path) % 8:
        print(f"error: {data_path}: size {os.path.getsize(data_path)} is not a whole number of complex64 samples",
              file=sys.stderr)
        return 2

    try:
        frames, frame_len = classify(data_path, args.model, args.hop, args.threshold, args.smoothing)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    out = args.output or base + ".amc"
    glob.pop("core:sha512", None)  # the copy is re-hashed below
    glob["core:extensions"] = [e for e in glob.get("core:extensions", []) if e.get("name") != "amc"] + \
        [{"name": "amc", "version": "1.0.0", "optional": True}]
    glob["amc:model"] = os.path.basename(amc.paths.resolve_model(args.model))
    predictions = []
    truth_index = _TruthIndex(annotations, os.path.getsize(data_path) // 8)
    for f in frames:
        start = int(f["offset"])
        fc = _center_frequency(captures, start) or 0.0
        ann = {"core:sample_start": start, "core:sample_count": int(frame_len),
               "core:freq_lower_edge": fc - fs / 2, "core:freq_upper_edge": fc + fs / 2,
               "core:label": str(f["label"]), "core:generator": f"gr-amc {amc.__version__}",
               "amc:confidence": float(f["confidence"]), "amc:status": str(f["status"])}
        truth = truth_index.covering(start, int(frame_len))
        if truth is not None:
            ann["amc:truth"] = str(_truth_of(truth))
            if "amc:snr_db" in truth:
                ann["amc:snr_db"] = truth["amc:snr_db"]
        predictions.append(ann)
    annotations = [_truth_annotation(a) for a in annotations] + predictions
    annotations.sort(key=lambda a: a["core:sample_start"])
    if os.path.abspath(out + ".sigmf-data") != os.path.abspath(data_path):
        shutil.copyfile(data_path, out + ".sigmf-data")
    meta = SigMFFile(metadata={"global": glob, "captures": captures, "annotations": annotations},
                     data_file=out + ".sigmf-data")
    meta.validate()
    with open(out + ".sigmf-meta", "w") as fh:
        meta.dump(fh, pretty=True)

    hist = collections.Counter(str(f["label"]) for f in frames)
    print(f"{len(frames)} frames of {frame_len} samples classified with {glob['amc:model']}")
    for label, n in hist.most_common():
        print(f"  {label:12s} {n:6d} frames ({n / max(len(frames), 1):.0%})")
    print(f"wrote {out}.sigmf-meta and {out}.sigmf-data")
    return 0


if __name__ == "__main__":
    sys.exit(main())
