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
    assert set(subs) == {"generate", "train", "evaluate", "variant", "demo"}
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
    p = cli("generate", "--preset", "nope", "--out", tmp_path / "x.h5")
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
