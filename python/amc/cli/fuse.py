#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""`gr-amc fuse`: train an order-feature fusion head over a trained network and write the composed ONNX file
(library: training.fusion.fuse; what the head and the front end are in docs/models.md and docs/classifier.md)."""
import shlex
import sys


def configure_parser(p):
    p.add_argument("model", help="ONNX network file or shipped model name (e.g. amc-default) whose output is "
                                 "logits; for a file that already has a fusion head, its network gets a new one")
    p.add_argument("--generate", nargs="+", required=True, metavar="PRESET|CONFIG.yml",
                   help="dataset presets or config files whose generated frames train the head (equal parts; "
                        "the i-th with seed + i)")
    p.add_argument("-o", "--output", required=True, help="ONNX file to write")
    p.add_argument("--frames", type=int, default=65536, help="training frames, drawn once")
    p.add_argument("--val-frames", type=int, default=8192,
                   help="validation frames (seeds seed + 2^40 + i); the epoch with the lowest validation loss is kept")
    p.add_argument("--hidden", type=int, default=128, help="width of the head's two hidden layers")
    p.add_argument("--epochs", type=int, default=30, help="passes over the training frames (cosine schedule)")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate")
    p.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout after each hidden layer while training (0: none)")
    p.add_argument("--seed", type=int, default=0, help="seed of the training frames and of the head's weights")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--report", default=None, help="JSON file with the run's figures and per-epoch history")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def run(args):
    from ..training import fusion
    command = " ".join(["gr-amc", "fuse"] + [shlex.quote(a) for a in sys.argv[2:]]) if sys.argv[1:2] == ["fuse"] \
        else None
    fusion.fuse(args.model, args.output, args.generate, frames=args.frames, val_frames=args.val_frames,
                hidden=args.hidden, epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay,
                dropout=args.dropout, seed=args.seed, threads=args.threads,
                report=args.report, quiet=args.quiet, command=command)
    return 0
