#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""`gr-amc generate`: make a labelled dataset with gr-amc's GNU Radio blocks (library: generation.generate)."""
import json
import os
import sys

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
    p.add_argument("--scheduler", metavar="local|tcp://HOST:PORT",
                   help="run the shards on Dask: local (a cluster of --workers processes on this machine) or a "
                        "running scheduler's address; each worker's gr-amc version and numerical fingerprint are "
                        "checked first (default: none, the local process pool)")
    p.add_argument("--parts-dir", metavar="FOLDER",
                   help="folder of the shard files (default: <output>.parts); with --scheduler and no "
                        "--transfer, a folder every Dask worker reaches at the same path")
    p.add_argument("--transfer", action="store_true",
                   help="with --scheduler: workers return each shard as bytes to this client (no shared folder)")
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
           "normalization": args.normalization, "seed": args.seed, "shard_size": args.shard_size,
           "format": generation.output_format(args.output, args.format)}
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
    return out


def run(args):
    if args.config:   # a path, even one without a folder or a .yml extension (load_config tells them by form)
        config = args.config if os.sep in args.config else os.path.join(os.curdir, args.config)
    else:
        config = args.preset or "demo"
    if args.dry_run:
        cfg, _ = dataset_config.load_config(config, **overrides(args))
        jobs = plan_shards(cfg)
        out = args.output or (cfg["name"] + datasets.default_extension(cfg["format"]))
        print(json.dumps(cfg, indent=2))
        print(f"{len(cfg['classes'])} classes x {len(cfg['snrs'])} SNRs x {cfg['frames_per_class_snr']} frames "
              f"= {sum(j['n'] for j in jobs)} frames of {cfg['frame_length']} samples in {len(jobs)} shards -> "
              f"{out} ({cfg['format']})")
        return 0
    if args.transfer and not args.scheduler:
        raise CliError("--transfer is for --scheduler (workers on other machines)")
    if not args.scheduler:
        generation.generate(config, args.output, workers=args.workers, overwrite=args.overwrite,
                            keep_parts=args.keep_parts, quiet=args.quiet, parts_dir=args.parts_dir, **overrides(args))
        return 0
    with generation.DaskExecutor(args.scheduler, workers=args.workers, transfer=args.transfer) as ex:
        if not args.quiet:
            print(f"gr-amc generate: Dask scheduler {args.scheduler}: {ex.workers} worker(s), fingerprints agree",
                  file=sys.stderr)
        generation.generate(config, args.output, overwrite=args.overwrite, keep_parts=args.keep_parts,
                            quiet=args.quiet, executor=ex, parts_dir=args.parts_dir, **overrides(args))
    return 0
