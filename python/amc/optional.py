"""Python packages gr-amc imports that the interpreter may lack, and where an installed module finds them.

`make install` (cmake --install) puts the packages Debian's python3 lacks (onnxruntime, onnx, h5py,
sigmf and what they need; never numpy or torch) into a private folder of the install prefix,
``<prefix>/lib/gr-amc/python-deps``. :func:`add_deps_dir` (called when gnuradio.amc is imported) puts
that folder on ``sys.path`` if it exists, so GNU Radio Companion and the installed ``gr-amc`` script,
which run on Debian's /usr/bin/python3, import them. The build tree has no such folder: it runs in the
project's venv.

:func:`require` imports a package for a block or a subcommand and, if that fails, raises
:class:`MissingPackageError` naming the package, what needs it and how to install it.
"""
import importlib
import os
import sys

from . import _config

# import name -> (what to install, what it is for when no caller says)
PACKAGES = {
    "onnxruntime": ("onnxruntime", "ONNX Runtime (classification)"),
    "onnx": ("onnx", "reading and writing ONNX model files"),
    "h5py": ("h5py", "HDF5 dataset files"),
    "sigmf": ("sigmf", "SigMF dataset files"),
    "torch": ("torch==2.13.0", "training (PyTorch)"),
    "distributed": ("distributed==2026.8.0", "Dask clusters (gr-amc generate --scheduler)"),
}
#: packages of the venv only (make install does not put them beside the installed module): what for
VENV_ONLY = {"torch": "training", "distributed": "running generation on a Dask cluster"}


class MissingPackageError(ModuleNotFoundError):
    """A Python package gr-amc needs cannot be imported; the message says which and how to install it."""


def deps_dir():
    """The private dependency folder of this installation ('' in the build tree)."""
    return _config.PYTHON_DEPS_DIR


def add_deps_dir():
    """Put the installed dependency folder on sys.path (if it exists and is not there yet).

    It goes before the system's site folders, so a newer package there (protobuf for onnx, say) wins over
    an older Debian one; in a venv it goes after the venv's own site-packages, which keep precedence.
    Returns the folder added, or None.
    """
    d = deps_dir()
    if not d or not os.path.isdir(d) or d in sys.path:
        return None
    venv = os.path.realpath(sys.prefix) if sys.prefix != sys.base_prefix else None
    at = len(sys.path)
    for i, p in enumerate(sys.path):
        if not p.endswith(("site-packages", "dist-packages")):
            continue
        if venv and os.path.realpath(p).startswith(venv + os.sep):
            continue
        at = i
        break
    sys.path.insert(at, d)
    return d


def how_to_install(module):
    """A sentence on how to make `module` importable for this interpreter."""
    pip_name = PACKAGES.get(module, (module, ""))[0]
    d = deps_dir()
    if module in VENV_ONLY:
        return (f"{module} is only for {VENV_ONLY[module]} and is not installed with the module: run it in the "
                "project's venv (`make venv`, then `.venv/bin/python -m gnuradio.amc.cli ...`), or "
                f"`pip install {pip_name}` in a venv made with `/usr/bin/python3 -m venv "
                "--system-site-packages` (with `-c constraints.txt`: numpy must stay < 2)")
    if d:
        state = ("that folder is missing" if not os.path.isdir(d)
                 else "that folder does not provide it")
        return (f"`sudo make install` from the gr-amc source tree installs it into {d}, where this module "
                f"looks for it ({state}: run it again); or, in a venv made with `/usr/bin/python3 -m venv "
                f"--system-site-packages`, `pip install {pip_name} -c constraints.txt` (numpy must stay < 2)")
    return (f"install it into the venv: `.venv/bin/pip install -r requirements.txt -c constraints.txt` "
            f"(`make venv`), or `pip install {pip_name} -c constraints.txt` (numpy must stay < 2)")


def require(module, needed_for=None):
    """Import and return `module`; raise MissingPackageError (what is missing, what for, how to install)."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        pip_name, purpose = PACKAGES.get(module, (module, module))
        raise MissingPackageError(
            f"{needed_for or purpose} needs the Python package {pip_name.split('==')[0]!r}, which "
            f"{sys.executable} cannot import ({e}). {how_to_install(module)}.", name=module) from None
