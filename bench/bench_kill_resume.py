#!/usr/bin/env python3
"""Kill-and-resume loop at a larger scale than CI's five kills: `gr-amc generate` SIGKILLed at N seeded random
moments (start-up, shard work, merge), resumed by the same command each time; the result must be byte-identical to
an uninterrupted run, with nothing temporary left.  Prints one line per kill and the verdict.

    PYTHONPATH=build/test_modules GR_AMC_DATA_DIR=gr-amc .venv/bin/python bench/bench_kill_resume.py [--kills 20]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import yaml

from amc_fixtures.kill_loop import kill_loop


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    cfg = dict(name="kill", classes=["BPSK", "QPSK", "AM-DSB-WC"], snrs=[0, 10], frames_per_class_snr=1200,
               frame_length=256, shard_size=2, seed=11, format="hdf5", normalization="rms",
               channel={"preset": "rml2018"})
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "k.yml")
        with open(path, "w") as f:
            yaml.safe_dump(cfg, f)
        out, ref = os.path.join(d, "k.h5"), os.path.join(d, "ref.h5")
        log = kill_loop(path, out, args.kills, seed=args.seed, workers=args.workers, min_s=1.0, max_s=6.0)
        for i, r in enumerate(log, 1):
            print(f"kill {i:2d}: after {r['delay']:.2f} s, {r['shards_done']} shards done"
                  + (" (the run had already ended)" if r["ended"] else ""))
        subprocess.run([sys.executable, "-m", "gnuradio.amc.cli", "generate", "--config", path, "--output", ref,
                        "--workers", str(args.workers), "--quiet"], check=True)
        same = open(out, "rb").read() == open(ref, "rb").read()
        left = sorted(set(os.listdir(d)) - {"k.yml", "k.h5", "ref.h5"})
        print(f"{len(log)} kills: output {'byte-identical to' if same else 'DIFFERENT from'} an uninterrupted run; "
              f"left over: {left or 'nothing'}")
        return 0 if same and not left else 1


if __name__ == "__main__":
    raise SystemExit(main())
