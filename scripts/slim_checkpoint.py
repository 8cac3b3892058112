#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write a slim copy of a gr-amc training checkpoint: the weights and the run's state (epoch, history, schedule)
without the optimizer's moments and the scheduler, small enough to commit (docs/models.md, "Continuing the
schedule").  `gr-amc train --resume` takes it and continues with a fresh Adam state.

    .venv/bin/python scripts/slim_checkpoint.py MODEL.onnx.stable.ckpt checkpoints/MODEL.stable.ckpt
"""
import os
import sys

import torch


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    src, dst = argv
    try:
        ck = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001  (torch.load raises many types)
        print(f"error: {src!r} is not a gr-amc training checkpoint ({e})", file=sys.stderr)
        return 1
    if not isinstance(ck, dict) or "weights" not in ck or "state" not in ck:
        print(f"error: {src!r} is not a gr-amc training checkpoint (no weights/state)", file=sys.stderr)
        return 1
    slim = {k: v for k, v in ck.items() if k not in ("optimizer", "scheduler")}
    tmp = dst + ".tmp"
    torch.save(slim, tmp)
    os.replace(tmp, dst)
    print(f"wrote {dst} ({os.path.getsize(dst):,} bytes; {src}: {os.path.getsize(src):,}), epoch "
          f"{ck['state'].get('epoch')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
