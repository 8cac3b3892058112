# SPDX-License-Identifier: GPL-3.0-or-later
"""pytest set-up: run everything against the build tree (build/test_modules), as ctest does.

Run through `make test`, which builds first. Helpers for subprocess runs of the CLI and of
generated flowgraphs live here so every test uses the same environment.
"""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD_MODULES = os.path.join(ROOT, "build", "test_modules")
DATA_DIR = os.path.join(ROOT, "gr-amc")

if not os.path.isdir(os.path.join(BUILD_MODULES, "gnuradio", "amc")):
    raise RuntimeError(f"{BUILD_MODULES} is missing: build first (`make build`, or run the tests with `make test`)")
sys.path.insert(0, BUILD_MODULES)
os.environ["PYTHONPATH"] = BUILD_MODULES + os.pathsep + os.environ.get("PYTHONPATH", "")
os.environ.setdefault("GR_AMC_DATA_DIR", DATA_DIR)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# GRC (in-process and grcc/gnuradio-companion subprocesses): only Debian's blocks plus GRC_BLOCKS_PATH, so a
# copy installed to /usr/local (`make install`) never shadows the source tree's grc/ files under test.
os.environ["GR_CONF_GRC_GLOBAL_BLOCKS_PATH"] = "/usr/share/gnuradio/grc/blocks"


def run_cli(*args, timeout=600, check=False, **kw):
    """Run `gr-amc ARGS...` from the build tree; returns the CompletedProcess (text output)."""
    cmd = [sys.executable, "-m", "gnuradio.amc.cli", *map(str, args)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def root():
    return ROOT


def zoo_contract(name, classes, frame_length, output="logits"):
    """The contract metadata `gr-amc train` writes for zoo model `name` (rms normalization)."""
    from gnuradio.amc import contract
    from gnuradio.amc.training import zoo
    rep, layout = zoo.model_spec(name)
    return {contract.META_CLASSES: list(classes), contract.META_FRAME_LENGTH: frame_length,
            contract.META_INPUT_LAYOUT: layout, contract.META_REPRESENTATION: rep,
            contract.META_NORMALIZATION: "rms", contract.META_OUTPUT: output, contract.META_MODEL: name}


def run_classifier(model, stream, max_noutput=None, **kw):
    """vector_source_c(stream) -> amc.classifier(model, **kw) -> vector_sink_c, run to the end (with
    max_noutput_items when given), by the flowgraph helper the QA files use too (amc_fixtures.flowgraphs).
    Returns (the block, {tag key: [tags in stream order]})."""
    import pmt
    from amc_fixtures.flowgraphs import run_flowgraph
    _, tags, _, clf = run_flowgraph(str(model), stream, max_noutput=max_noutput, msgs=False, **kw)
    by_key = {}
    for t in tags:
        by_key.setdefault(pmt.symbol_to_string(t.key), []).append(t)
    return clf, by_key
