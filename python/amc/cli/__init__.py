"""The `gr-amc` command line: `gr-amc generate | train | evaluate | variant | fuse | demo`.

Each subcommand is a module of this package that provides `configure_parser(parser)` (cheap: no heavy
imports) and `run(args) -> int`: it parses, calls the library (generation.generate, training.fit.train,
evaluation.evaluate, variants.write_variant, training.fusion.fuse, demo.run_demo) and prints.  The library never imports this package;
it raises ValueError / OSError (and GenerationError, MissingPackageError), which main() prints as
``gr-amc COMMAND: error: ...`` with exit status 2 (set GR_AMC_TRACEBACK=1 to see the traceback instead).

Conventions shared by every subcommand: the output is named by ``-o/--output`` (a file, or a folder for
evaluate and demo); lists are space-separated values of one option (``--classes BPSK QPSK``, ``--snrs 0 10
20``); an unknown or misspelt option prints the subcommand's own usage; options are never abbreviated.
"""
import argparse
import importlib
import os
import sys

from .. import optional
from ..generation import GenerationError
from ..optional import MissingPackageError
from ..paths import __version__

# subcommand -> (module, one-line help)
SUBCOMMANDS = {
    "generate": ("generate", "generate a labelled dataset (RadioML HDF5 / pickle layouts, SigMF)"),
    "train": ("train", "train a model on a dataset file and export it to ONNX"),
    "evaluate": ("evaluate", "evaluate ONNX models on a test dataset (tables, plots, reports)"),
    "variant": ("variant", "write an int8, float16 or rotation-ensemble variant of an ONNX model file"),
    "fuse": ("fuse", "train an order-feature fusion head over a network and write the composed ONNX file"),
    "demo": ("demo", "the main job: generate, classify with the shipped model, print a report"),
}


class _HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default; `none_text` says what an unset (None) option means."""
    none_text = "none"

    def _get_help_string(self, action):
        h = action.help or ""
        if "default" in h or action.default is argparse.SUPPRESS or not action.option_strings:
            return h
        if action.default is None:
            return f"{h} (default: {self.none_text})"
        if action.default is False and action.nargs == 0:
            return f"{h} (default: off)"
        return h + " (default: %(default)s)"


def _formatter(none_text):
    return type("HelpFormatter", (_HelpFormatter,), {"none_text": none_text})


class CliError(Exception):
    """An error the user can fix: printed without a traceback, exit status 2."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="gr-amc", description="gr-amc: automatic modulation classification for GNU Radio.",
        formatter_class=_HelpFormatter, allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"gr-amc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in SUBCOMMANDS.items():
        mod = importlib.import_module(f".{module}", __package__)
        # a module may say what its unset options mean (e.g. generate: "from the preset or --config")
        p = sub.add_parser(name, help=help_, description=help_, allow_abbrev=False,
                           formatter_class=_formatter(getattr(mod, "HELP_UNSET", "none")))
        mod.configure_parser(p)
        p.set_defaults(_module=mod)
    return parser


def main(argv=None):
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:   # an unknown option of a subcommand: that subcommand's usage and name, not the top level's
        sub = parser._subparsers._group_actions[0].choices.get(getattr(args, "command", None)) \
            if parser._subparsers else None
        (sub or parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args._module.run(args) or 0)
    except (CliError, MissingPackageError) as e:   # MissingPackageError: which package and how to install it
        print(f"gr-amc {args.command}: error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        if e.name not in optional.PACKAGES:
            raise
        print(f"gr-amc {args.command}: error: this needs the Python package {e.name!r}, which {sys.executable} "
              f"cannot import. {optional.how_to_install(e.name)}.", file=sys.stderr)
        return 2
    except (ValueError, OSError, GenerationError) as e:   # what the library raises for bad input
        if os.environ.get("GR_AMC_TRACEBACK"):
            raise
        print(f"gr-amc {args.command}: error: {_message(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gr-amc {args.command}: interrupted", file=sys.stderr)
        return 130


def _message(e):
    return str(e) or type(e).__name__
