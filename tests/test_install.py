# SPDX-License-Identifier: GPL-3.0-or-later
"""What an installed gr-amc relies on, checked from the build tree: the `gr-amc` script run as a script
file (multiprocessing's "spawn" re-imports it in every worker), the install configuration (no path into
the clone, a private folder of Python dependencies), that folder's place on sys.path, and the messages
when a package is missing. tests/check_install.sh checks the installed files themselves."""
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

BUILD = os.path.join(ROOT, "build")


def test_script_file_generates_with_two_workers(tmp_path):
    """apps/gr-amc run as a file (not `-m`): the spawned workers import it again and must not rerun it."""
    out = tmp_path / "two.h5"
    cmd = [sys.executable, os.path.join(ROOT, "apps", "gr-amc"), "generate", "--preset", "demo", "-n", "2",
           "--classes", "BPSK", "QPSK", "--snrs", "10", "--shard-size", "2", "--workers", "2", "--output", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "2 worker(s)" in p.stdout + p.stderr
    from gnuradio.amc.datasets import load_dataset
    ds = load_dataset(out)
    assert ds.x.shape == (4, 1024)
    assert sorted(ds.classes[i] for i in ds.labels) == ["BPSK", "BPSK", "QPSK", "QPSK"]
    assert np.all(ds.snrs == 10)
    assert np.all(np.isfinite(ds.x)) and np.all(np.abs(ds.x).sum(axis=1) > 0)
    assert not (tmp_path / "two.h5.parts").exists()


def _read_config(path):
    cfg = {}
    exec(open(path).read(), cfg)
    return cfg


def test_installed_configuration_has_no_path_into_the_clone():
    cache = open(os.path.join(BUILD, "CMakeCache.txt")).read()
    prefix = next(l.split("=", 1)[1] for l in cache.splitlines() if l.startswith("CMAKE_INSTALL_PREFIX:"))
    installed = _read_config(os.path.join(BUILD, "python", "amc", "installed", "_config.py"))
    assert installed["SOURCE_DATA_DIR"] == ""
    assert installed["INSTALLED_DATA_DIR"] == f"{prefix}/share/gr-amc"
    assert installed["PYTHON_DEPS_DIR"] == f"{prefix}/lib/gr-amc/python-deps"
    assert ROOT not in open(os.path.join(BUILD, "python", "amc", "installed", "_config.py")).read()
    # the build tree's own configuration keeps its source data and adds no dependency folder
    build_cfg = _read_config(os.path.join(BUILD, "test_modules", "gnuradio", "amc", "_config.py"))
    assert build_cfg["SOURCE_DATA_DIR"] == os.path.join(ROOT, "gr-amc") and build_cfg["PYTHON_DEPS_DIR"] == ""
    # the script that gets installed runs on the interpreter GNU Radio is built for, not on the venv
    first = open(os.path.join(BUILD, "apps", "gr-amc")).readline()
    assert first.startswith("#!/") and ROOT not in first, first
    interpreter = first[2:].strip()
    assert os.access(interpreter, os.X_OK)
    assert subprocess.run([interpreter, "-c", "from gnuradio import gr"], capture_output=True).returncode == 0


@pytest.fixture
def optional_mod(monkeypatch, tmp_path):
    from gnuradio.amc import optional
    deps = tmp_path / "python-deps"
    deps.mkdir()
    monkeypatch.setattr(optional._config, "PYTHON_DEPS_DIR", str(deps))
    return optional, str(deps)


def test_deps_folder_goes_before_the_system_site_folders(optional_mod, monkeypatch):
    optional, deps = optional_mod
    monkeypatch.setattr(sys, "prefix", "/usr")
    monkeypatch.setattr(sys, "base_prefix", "/usr")
    path = ["/x/script-dir", "/usr/lib/python311.zip", "/usr/lib/python3.11",
            "/usr/local/lib/python3.11/dist-packages", "/usr/lib/python3/dist-packages"]
    monkeypatch.setattr(sys, "path", list(path))
    assert optional.add_deps_dir() == deps
    assert sys.path == path[:3] + [deps] + path[3:]
    assert optional.add_deps_dir() is None and sys.path.count(deps) == 1   # only once


def test_deps_folder_comes_after_a_venvs_own_packages(optional_mod, monkeypatch, tmp_path):
    optional, deps = optional_mod
    venv = tmp_path / "venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    monkeypatch.setattr(sys, "prefix", str(venv))
    monkeypatch.setattr(sys, "base_prefix", "/usr")
    path = ["/usr/lib/python3.11", str(site), "/usr/lib/python3/dist-packages"]
    monkeypatch.setattr(sys, "path", list(path))
    assert optional.add_deps_dir() == deps
    assert sys.path == path[:2] + [deps] + path[2:]


def test_no_deps_folder_no_change(optional_mod, monkeypatch):
    optional, deps = optional_mod
    os.rmdir(deps)
    monkeypatch.setattr(sys, "path", ["/usr/lib/python3/dist-packages"])
    assert optional.add_deps_dir() is None
    assert sys.path == ["/usr/lib/python3/dist-packages"]
    monkeypatch.setattr(optional._config, "PYTHON_DEPS_DIR", "")
    assert optional.add_deps_dir() is None


def test_classifier_names_the_missing_package_at_construction(monkeypatch):
    from gnuradio import amc
    from gnuradio.amc.optional import MissingPackageError
    monkeypatch.setitem(sys.modules, "onnxruntime", None)   # import onnxruntime -> ImportError
    with pytest.raises(MissingPackageError) as e:
        amc.classifier("amc-default")
    msg = str(e.value)
    assert "'onnxruntime'" in msg and "classifier" in msg and "pip install onnxruntime" in msg
    assert isinstance(e.value, ModuleNotFoundError) and e.value.name == "onnxruntime"


def test_installed_module_says_where_make_install_puts_a_missing_package(optional_mod, monkeypatch):
    optional, deps = optional_mod
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(optional.MissingPackageError) as e:
        optional.require("h5py", "the dataset sink (HDF5)")
    msg = str(e.value)
    assert msg.startswith("the dataset sink (HDF5) needs the Python package 'h5py'")
    assert deps in msg and "make install" in msg and "does not provide it" in msg


def test_cli_reports_a_missing_package_without_a_traceback(monkeypatch, capsys):
    from gnuradio.amc import cli
    from gnuradio.amc.cli import generate

    def run(args):
        import torch_not_here  # noqa: F401  (stands for a subcommand's missing import)

    monkeypatch.setitem(sys.modules, "torch", None)

    def run_torch(args):
        import torch  # noqa: F401

    monkeypatch.setattr(generate, "run", run_torch)
    assert cli.main(["generate", "--preset", "demo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gr-amc generate: error: this needs the Python package 'torch'")
    assert "venv" in err and "Traceback" not in err
    # a module gr-amc does not know about is a bug: it is not hidden
    monkeypatch.setattr(generate, "run", run)
    with pytest.raises(ModuleNotFoundError):
        cli.main(["generate", "--preset", "demo"])


def test_screenshot_check_tells_a_blank_screen_from_a_window():
    """tests/x11_screenshot.py (used on the GUI flowgraphs and GRC by check_install.sh)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("x11_screenshot", os.path.join(ROOT, "tests", "x11_screenshot.py"))
    shot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shot)
    blank = np.zeros((100, 120), np.uint32)
    assert shot.measures(blank) == (1, 0.0)
    window = blank.copy()
    window[10:60, 20:100] = 0xEFEFEF                               # a window
    window[20:50, 30:90] = np.arange(1, 61, dtype=np.uint32) * 0x010203  # with content
    colors, fraction = shot.measures(window)
    assert colors > 16 and abs(fraction - 50 * 80 / 12000) < 1e-9


def test_flowgraph_ends_when_the_classifiers_start_fails():
    """An exception out of a Python block's start() leaves GNU Radio 3.10's other block threads at the
    start barrier forever (and SIGTERM's stop()/wait() with them): the classifier logs it and ends."""
    import threading
    from gnuradio import amc, blocks, gr

    tb = gr.top_block()
    src = blocks.vector_source_c(np.ones(8192, np.complex64))
    c = amc.classifier("amc-default")

    def broken(port):
        raise RuntimeError("no subscribers today")

    c.message_subscribers = broken
    snk = blocks.vector_sink_c()
    tb.connect(src, c, snk)
    t = threading.Thread(target=tb.run, daemon=True)
    t.start()
    t.join(60)
    assert not t.is_alive(), "the flowgraph hangs after the classifier's start() failed"
    assert c.classified() == 0 and len(snk.data()) == 0
