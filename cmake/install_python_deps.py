#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Install the Python packages gr-amc needs, and that the runtime interpreter lacks, into a private folder.

Run by `cmake --install` with the build's interpreter (normally the project's venv, which has every
package in the versions tested). GNU Radio Companion and the installed `gr-amc` script run on the
runtime interpreter (Debian's /usr/bin/python3), into which pip must not install. So:

* the requirements given on the command line (onnxruntime onnx h5py sigmf) and their dependencies are
  read from the build interpreter's installed distributions;
* a distribution the runtime interpreter already sees in its own site folders is left out (the build
  venv was resolved on top of them, so they satisfy it); numpy and torch are always left out (numpy
  comes from Debian: GNU Radio's bindings need its 1.x; torch is only for training);
* the rest is installed with `pip install --target FOLDER --no-deps NAME==VERSION ...` (the exact
  versions of the build interpreter), the folder being emptied first;
* the runtime interpreter then imports every requirement with FOLDER on its path, or this fails.

The installed gnuradio.amc package adds FOLDER to sys.path when it exists.
"""
import argparse
import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys

NEVER = {"numpy", "torch", "pip", "setuptools", "wheel"}
# import names that differ from the distribution names
IMPORT_NAMES = {"onnxruntime": "onnxruntime", "onnx": "onnx", "h5py": "h5py", "sigmf": "sigmf"}


def canon(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(requirements):
    """{canonical name: (distribution name, version, folder)} of the requirements and their dependencies
    (no extras) as installed for this interpreter; missing top-level requirements raise SystemExit."""
    found, todo = {}, list(requirements)
    top = {canon(r) for r in requirements}
    while todo:
        name = todo.pop()
        key = canon(name)
        if key in found:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            if key in top:
                raise SystemExit(f"error: {sys.executable} has no {name!r}: install the requirements first "
                                 f"(`make venv`, or pip install -r requirements.txt -c constraints.txt)")
            found[key] = None   # an optional dependency for an older Python (importlib-metadata, ...)
            continue
        found[key] = (dist.metadata["Name"], dist.version, os.path.realpath(str(dist.locate_file(""))))
        for req in dist.requires or []:
            if "extra ==" in req:
                continue
            marker = req.split(";", 1)[1] if ";" in req else ""
            if marker and not _marker_true(marker):
                continue
            todo.append(re.match(r"[A-Za-z0-9_.-]+", req).group(0))
    return {k: v for k, v in found.items() if v is not None}


def _marker_true(marker):
    try:
        from packaging.markers import Marker
    except ImportError:
        return True
    try:
        return Marker(marker).evaluate()
    except Exception:
        return True


def runtime_site_dirs(python):
    code = ("import json, site, sys; print(json.dumps([p for p in sys.path if p.endswith(('site-packages', "
            "'dist-packages'))] + site.getsitepackages()))")
    out = subprocess.run([python, "-s", "-c", code], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    if out.returncode != 0:
        raise SystemExit(f"error: cannot run the runtime interpreter {python}: {out.stderr.strip()}")
    return {os.path.realpath(p) for p in json.loads(out.stdout)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", required=True, help="folder for the packages (emptied first)")
    ap.add_argument("--runtime-python", required=True, help="interpreter the installed module runs on")
    ap.add_argument("--constraints", help="pip constraints file (numpy<2)")
    ap.add_argument("requirements", nargs="+", help="distribution names the module imports")
    a = ap.parse_args()

    system = runtime_site_dirs(a.runtime_python)
    deps = closure(a.requirements)
    install, provided = [], []
    for key, (name, version, folder) in sorted(deps.items()):
        if key in NEVER:
            continue
        (provided if folder in system else install).append(f"{name}=={version}")
    print(f"-- gr-amc Python dependencies for {a.runtime_python}: already there: {' '.join(provided) or '-'}")
    print(f"-- installing into {a.target}: {' '.join(install) or 'nothing'}")

    if os.path.isdir(a.target):
        shutil.rmtree(a.target)
    os.makedirs(a.target)
    if install:
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-warn-script-location", "--root-user-action=ignore", "--no-deps",
               "--target", a.target] + (["-c", a.constraints] if a.constraints else []) + install
        if subprocess.run(cmd).returncode != 0:
            raise SystemExit("error: pip install --target failed (above); the package index must be reachable")
    # console scripts pip wrote point at the build interpreter (a path into the clone): not installed
    shutil.rmtree(os.path.join(a.target, "bin"), ignore_errors=True)
    for name in os.listdir(a.target):
        if canon(name.split("-")[0]) in NEVER or name in ("numpy", "torch"):
            raise SystemExit(f"error: {name} ended up in {a.target}; numpy and torch must not be installed there")

    # the runtime interpreter, in a clean environment, imports every requirement with the folder on its path
    imports = ", ".join(IMPORT_NAMES.get(canon(r), r.replace("-", "_")) for r in a.requirements)
    code = (f"import sys; sys.path.insert(0, {a.target!r}); import numpy, {imports}; "
            f"assert numpy.__version__ < '2', numpy.__version__")
    check = subprocess.run([a.runtime_python, "-s", "-c", code], capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin"}, cwd="/")
    if check.returncode != 0:
        raise SystemExit(f"error: {a.runtime_python} cannot import {imports} from {a.target}:\n{check.stderr}")
    print(f"-- {a.runtime_python} imports {imports} from {a.target}")


if __name__ == "__main__":
    main()
