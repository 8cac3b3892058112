#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run every benchmark (bench/bench_*.py) one after the other and print their output.

`make bench` calls this from the repo root with the build tree on PYTHONPATH. The soak test
(bench/soak_classifier.py, >= 10 minutes) is not included: run it on its own.
"""
import glob
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
failed = []
for script in sorted(glob.glob(os.path.join(here, "bench_*.py"))):
    print(f"==> {os.path.relpath(script)}", flush=True)
    if subprocess.call([sys.executable, script]) != 0:
        failed.append(os.path.basename(script))
if failed:
    print("failed: " + ", ".join(failed), file=sys.stderr)
sys.exit(1 if failed else 0)
