# SPDX-License-Identifier: GPL-3.0-or-later
"""The gr-amc command line: help lists every option with its default; errors are messages, not tracebacks."""
import argparse

import pytest
from conftest import run_cli

from gnuradio.amc import cli


def _subparsers(parser):
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            return a.choices
    raise AssertionError("no subcommands")


def test_every_option_shows_its_default():
    parser = cli.build_parser()
    subs = _subparsers(parser)
    assert set(subs) == {"generate", "train", "evaluate", "variant", "fuse", "demo"}
    for name, p in subs.items():
        fmt = p._get_formatter()
        for a in p._actions:
            if not a.option_strings or a.default is argparse.SUPPRESS:
                continue
            text = fmt._get_help_string(a) % {"default": a.default}
            assert "default" in text, f"gr-amc {name} {a.option_strings[0]}: no default in {text!r}"


def test_help_and_version(cli):
    p = cli("--help", check=True)
    for name in ("generate", "train", "evaluate", "variant", "demo"):
        assert name in p.stdout
    p = cli("--version", check=True)
    assert p.stdout.startswith("gr-amc ")
    p = cli()
    assert p.returncode == 2 and "usage: gr-amc" in p.stdout


def test_user_errors_are_messages(cli, tmp_path):
    p = cli("generate", "--preset", "nope", "--output", tmp_path / "x.h5")
    assert p.returncode == 2 and "Traceback" not in p.stderr and "nope" in p.stderr
    p = cli("train", str(tmp_path / "missing.h5"), "-m", "cnn1", "-o", tmp_path / "m.onnx")
    assert p.returncode != 0 and "Traceback" not in p.stderr and "missing.h5" in p.stderr
    p = cli("evaluate", str(tmp_path / "missing.h5"), "-m", "amc-default")
    assert p.returncode != 0 and "Traceback" not in p.stderr and "missing.h5" in p.stderr


@pytest.mark.parametrize("cmd, required", [("generate", []), ("train", ["-m", "cnn1", "-o", "x.onnx"]),
                                           ("evaluate", ["-m", "x.onnx"]), ("variant", ["x.onnx", "-o", "y.onnx", "--fp16"]),
                                           ("demo", [])])
def test_option_typos_and_abbreviations_name_the_subcommand(cmd, required):
    """No silent abbreviations: a shortened option is an unknown one, reported with the subcommand's own usage."""
    for bad in ("--bogus", "--ou"):
        p = run_cli(cmd, *required, bad, "x")
        assert p.returncode == 2
        assert f"usage: gr-amc {cmd}" in p.stderr and f"gr-amc {cmd}: error:" in p.stderr, p.stderr
        assert bad in p.stderr


def test_one_convention_for_every_subcommand():
    """The output is -o/--output everywhere; lists are one option with space-separated values; nothing else."""
    for name, p in _subparsers(cli.build_parser()).items():
        opts = {s for a in p._actions for s in a.option_strings}
        assert {"-o", "--output"} <= opts, name
        assert not opts & {"--out", "--out-dir", "--output-dir"}, name
        for a in p._actions:
            if a.option_strings and a.nargs in ("+", "*"):
                assert "comma" not in (a.help or ""), (name, a.option_strings)
            assert "comma-separated" not in (a.help or ""), (name, a.option_strings)


def test_comma_lists_are_refused_with_the_right_syntax(tmp_path):
    p = run_cli("generate", "--preset", "demo", "--classes", "BPSK,QPSK", "--output", tmp_path / "x.h5")
    assert p.returncode == 2 and "--classes takes space-separated values (--classes BPSK QPSK)" in p.stderr
    p = run_cli("generate", "--preset", "demo", "--snrs", "0,10", "--output", tmp_path / "x.h5")
    assert p.returncode == 2 and "--snrs takes space-separated values" in p.stderr
    assert not list(tmp_path.iterdir())
    # the space-separated form, ranges included, is what the config gets
    p = run_cli("generate", "--preset", "demo", "--classes", "BPSK", "QPSK", "--snrs", "-4", "0:4:2", "--dry-run",
                check=True)
    assert '"classes": [\n    "BPSK",\n    "QPSK"\n  ]' in p.stdout and '"snrs": [\n    -4,\n    0,\n    2,\n    4\n  ]' in p.stdout


def test_train_options_are_the_library_options():
    """gr-amc train passes its options to training.fit.TrainOptions unchanged: same names, same defaults."""
    import dataclasses
    from gnuradio.amc.cli import train as cli_train
    from gnuradio.amc.training import fit
    p = argparse.ArgumentParser()
    cli_train.configure_parser(p)
    fields = {f.name: f for f in dataclasses.fields(fit.TrainOptions)}
    for a in p._actions:
        if a.dest == "help":
            continue
        assert a.dest in fields, a.dest
        f = fields[a.dest]
        default = f.default_factory() if f.default is dataclasses.MISSING and f.default_factory is not \
            dataclasses.MISSING else f.default
        if a.dest not in ("model", "output", "data"):     # required, or a positional list (parsed as [])
            assert a.default == default or (a.default is None and default is None), (a.dest, a.default, default)
    assert cli_train.SCHEDULES == fit.SCHEDULES
    assert set(fields) - {a.dest for a in p._actions} == {"command_line"}
