#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""`gr-amc evaluate`: evaluate ONNX models on a test dataset file, or run robustness sweeps (library: evaluation.py)."""
import sys

from ..robustness import SWEEPS
from . import CliError


def configure_parser(p):
    p.add_argument("data", nargs="?", default=None,
                   help="test dataset file (any format datasets.load_dataset reads); none with --sweep")
    p.add_argument("--sweep", nargs="+", default=None, choices=SWEEPS, metavar="KIND",
                   help="robustness sweeps instead of a dataset: accuracy per class over timing offsets, samples "
                        "per symbol, carrier offsets or SNRs (frames made by the batch generator, AWGN)")
    p.add_argument("--sweep-snr", type=float, default=20.0, help="SNR (dB) of the timing/sps/cfo sweeps")
    p.add_argument("--sweep-frames", type=int, default=64, help="frames per class and swept value")
    p.add_argument("-m", "--models", nargs="+", required=True,
                   help="ONNX model files or names of shipped models (e.g. amc-default)")
    p.add_argument("--names", nargs="+", default=None, help="names shown for the models (default: file names)")
    p.add_argument("-o", "--output", default="amc-eval", metavar="FOLDER",
                   help="folder for the report, JSON and PNG files")
    p.add_argument("--confusion-snrs", nargs="*", type=float, default=[0.0, 10.0],
                   help="SNRs (dB) at which to draw confusion matrices")
    p.add_argument("--table-snrs", nargs="*", type=float, default=None,
                   help="SNR columns of the accuracy table (default: every SNR in the file)")
    p.add_argument("--max-frames", type=int, default=0, help="evaluate a seeded random subset (0: all frames)")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    p.add_argument("--batch", type=int, default=256, help="batch size for the accuracy runs")
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    p.add_argument("--latency-seconds", type=float, default=2.0,
                   help="time spent measuring each latency (per model and batch size)")
    p.add_argument("--title", default=None, help="title of the report")



def run(args):
    from .. import evaluation
    if args.sweep:
        if args.data:
            raise CliError("--sweep makes its own frames; give no dataset file")
        evaluation.sweeps(args.models, args.sweep, args.output, names=args.names, snr=args.sweep_snr,
                          frames_per_class=args.sweep_frames, threads=args.threads, title=args.title)
        print(f"gr-amc evaluate: wrote {args.output}/sweeps.md", file=sys.stderr)
        return 0
    if not args.data:
        raise CliError("give a test dataset file, or --sweep KIND")
    evaluation.evaluate(args.data, args.models, args.output, names=args.names, confusion_snrs=args.confusion_snrs,
                        table_snrs=args.table_snrs, max_frames=args.max_frames, threads=args.threads,
                        batch=args.batch, latency=not args.no_latency, latency_seconds=args.latency_seconds,
                        title=args.title)
    return 0
