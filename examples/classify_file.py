#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Classify a recording and write the results as SigMF annotations.

Input: a SigMF recording (`NAME.sigmf-meta` / `NAME.sigmf-data`, datatype cf32_le) or a raw file of
complex64 samples (interleaved little-endian float32 I/Q, e.g. from a GNU Radio File Sink).
The samples stream through blocks.file_source -> amc.classifier_sink (framing and normalization by the
C++ kernels, inference by ONNX Runtime with the chosen model). The output is a SigMF recording
OUT.sigmf-data (a copy of the samples) + OUT.sigmf-meta holding the input's metadata and annotations plus
one annotation per classified frame: core:sample_start, core:sample_count, core:label (the predicted
class, or "unknown"), amc:confidence and amc:status.

    python3 examples/classify_file.py capture.sigmf-meta                     # -> capture.amc.sigmf-*
    python3 examples/classify_file.py capture.cf32 --samp-rate 1e6 --model amc-default --out result
"""
import argparse
import collections
import os
import shutil
import sys

import pmt
from gnuradio import amc, blocks, gr


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
    ap.add_argument("--samp-rate", type=float, default=0.0, help="sample rate of a raw input (Hz), for the metadata")
    ap.add_argument("--out", default=None, help="output base name (default: INPUT base + '.amc')")
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
        if args.samp_rate > 0:
            glob["core:sample_rate"] = args.samp_rate
        captures = [{"core:sample_start": 0}]
        annotations = []
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

    out = args.out or base + ".amc"
    glob.pop("core:sha512", None)  # the copy is re-hashed below
    glob["core:extensions"] = [e for e in glob.get("core:extensions", []) if e.get("name") != "amc"] + \
        [{"name": "amc", "version": "1.0.0", "optional": True}]
    glob["amc:model"] = os.path.basename(amc.paths.resolve_model(args.model))
    for f in frames:
        ann = {"core:sample_start": int(f["offset"]), "core:sample_count": int(frame_len),
               "core:label": str(f["label"]), "core:generator": f"gr-amc {amc.__version__}",
               "amc:confidence": float(f["confidence"]), "amc:status": str(f["status"])}
        annotations.append(ann)
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
