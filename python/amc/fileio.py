#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Files written whole or not at all: a temporary file in the destination's folder, flushed to disk, then
renamed over the destination (``os.replace`` is atomic on one file system).  Every report, model file and
checkpoint gr-amc writes goes through here; the dataset writers (datasets.py) use the same rule for their
larger files."""
import os


def atomic_write_bytes(data, path):
    """Write `data` (bytes) to `path` atomically; the folder is made if needed."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)



def atomic_write_text(text, path):
    """Write `text` (UTF-8) to `path` atomically."""
    atomic_write_bytes(text.encode("utf-8"), path)
