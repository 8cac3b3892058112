#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""`gr-amc demo`: the main job on the shipped default model (library: demo.run_demo)."""

# unset lists mean demo.DEFAULT_CLASSES / DEFAULT_SNRS (that module imports GNU Radio: not at parse time)
HELP_UNSET = "the demo's own list"


def configure_parser(p):
    p.add_argument("-o", "--output", default="out/demo", metavar="FOLDER",
                   help="folder for the dataset, the report and the plot")
    p.add_argument("--model", default="amc-default", help="shipped model name or path to an .onnx file")
    p.add_argument("--classes", nargs="+", default=None, metavar="CLASS",
                   help="modulations to stream, space-separated (must be in the model's class list)")
    p.add_argument("--snrs", nargs="+", type=float, default=None, metavar="DB",
                   help="channel SNRs (Es/N0, dB), space-separated")
    p.add_argument("--frames", type=int, default=40, help="frames classified per (modulation, SNR)")
    p.add_argument("--channel", default="rml2018", help="radioml_channel preset")
    p.add_argument("--seed", type=int, default=2026, help="seed of the streamed signals and channels")
    p.add_argument("--skip-dataset", action="store_true", help="do not generate the demo dataset")


def run(args):
    from ..demo import run_demo
    run_demo(args.output, args.model, args.classes, args.snrs, args.frames, args.channel, args.seed,
             args.skip_dataset)
    return 0
