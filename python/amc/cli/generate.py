#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""`gr-amc generate`: make a labelled dataset with gr-amc's GNU Radio blocks (library: generation.generate)."""
import json

from .. import dataset_config, datasets, generation
from ..dataset_config import plan_shards, preset_names
from . import CliError

#: what an option left unset means, in `gr-amc generate --help`
HELP_UNSET = "from the preset or --config"


def configure_parser(p):
    src = p.add_mutually_exclusive_group()
    src.add_argument("--config", metavar="FILE.yml",
                     help="dataset config file (YAML); keys in docs/datasets.md (default: none, use --preset)")
    src.add_argument("--preset", metavar="NAME",
                     help=f"a shipped dataset preset: {', '.join(preset_names())} (default: demo when no --config)")
    p.add_argument("-o", "--output", metavar="FILE", help="output file (default: <name>.<ext> in the current folder)")
    p.add_argument("-n", "--frames-per-class-snr", type=int, metavar="N", help="frames per (class, SNR)")
    p.add_argument("--snrs", nargs="+", metavar="DB",
                   help="SNRs in dB, space-separated, each a number or a range START:STOP:STEP (stop included); "
                        "write --snrs=-20:30:2 when the only value is a range that starts with a minus sign")
    p.add_argument("--classes", nargs="+", metavar="CLASS",
                   help="class names, space-separated (or rml2018a / rml2016a: all classes of that dataset)")
    p.add_argument("--frame-length", type=int, metavar="L", help="samples per frame")
    p.add_argument("--normalization", metavar="MODE", help="rms, peak, l1, iq_std or none")
    p.add_argument("--format", metavar="FMT", help="hdf5, pickle or sigmf (default: from --output's extension, "
                                                   "else the config's)")
    p.add_argument("--seed", type=int, help="dataset seed")
    p.add_argument("--shard-size", type=int, metavar="N", help="frames per shard (changes the output)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes (default: the number of CPU cores); does not change the output")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output file, and discard shards left by a run with another config")
    p.add_argument("--keep-parts", action="store_true", help="keep the <output>.parts/ shard folder after merging")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    p.add_argument("--dry-run", action="store_true", help="check the config, print it and the plan, make nothing")


def _no_commas(values, option, example):
    bad = [v for v in values if "," in v]
    if bad:
        raise CliError(f"{option} takes space-separated values ({option} {example}), got {bad[0]!r}")


def overrides(args):
    """The config keys the options set (None: unset)."""
    out = {"frames_per_class_snr": args.frames_per_class_snr, "frame_length": args.frame_length,
           "normalization": args.normalization, "seed": args.seed, "shard_size": args.shard_size}
    if args.snrs is not None:
        _no_commas(args.snrs, "--snrs", "0 10 20")
        snrs = []
        for v in args.snrs:
            snrs += dataset_config.parse_snrs(v, "--snrs")
        out["snrs"] = snrs
    if args.classes is not None:
        _no_commas(args.classes, "--classes", "BPSK QPSK")
        out["classes"] = (dataset_config.parse_classes(args.classes[0], "--classes") if len(args.classes) == 1
                          else dataset_config.parse_classes(list(args.classes), "--classes"))
    fmt_out = datasets.format_from_path(args.output) if args.output else None
    if args.format is not None:
        if args.format not in datasets.FORMATS:
            raise CliError(f"--format: unknown format {args.format!r}; allowed: {', '.join(datasets.FORMATS)}")
        if fmt_out and fmt_out != args.format:
            raise CliError(f"--output {args.output!r} has the extension of format {fmt_out}, but --format is "
                           f"{args.format}; use an extension of {', '.join(datasets.EXTENSIONS[args.format])}")
        out["format"] = args.format
    elif fmt_out:
        out["format"] = fmt_out
    return out


def run(args):
    if args.config:
        cfg, where = dataset_config.read_yaml(args.config), args.config
    else:
        name = args.preset or "demo"
        cfg, where = dataset_config.read_yaml(dataset_config.preset_path(name)), f"preset {name}"
    cfg.update({k: v for k, v in overrides(args).items() if v is not None})
    cfg = dataset_config.check_config(cfg, where)
    if args.dry_run:
        jobs = plan_shards(cfg)
        out = args.output or (cfg["name"] + datasets.default_extension(cfg["format"]))
        print(json.dumps(cfg, indent=2))
        print(f"{len(cfg['classes'])} classes x {len(cfg['snrs'])} SNRs x {cfg['frames_per_class_snr']} frames "
              f"= {sum(j['n'] for j in jobs)} frames of {cfg['frame_length']} samples in {len(jobs)} shards -> "
              f"{out} ({cfg['format']})")
        return 0
    dataset_config.check_blocks(cfg, where)
    if args.workers is not None and args.workers < 1:
        raise CliError(f"--workers must be >= 1, got {args.workers}")
    generation.generate(cfg, args.output, workers=args.workers, overwrite=args.overwrite, keep_parts=args.keep_parts,
                        quiet=args.quiet)
    return 0
