#!/usr/bin/env bash
# After `make install` (prefix /usr/local): the installed module, data, CLI and GRC blocks work
# without the build tree. Run by .ci/run.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
cd /tmp
unset PYTHONPATH GR_AMC_DATA_DIR
"$PY" - <<'PY'
from gnuradio import amc
import os
assert "/usr/local/" in amc.__file__, amc.__file__
assert amc.paths.data_dir().startswith("/usr/local/share/gr-amc"), amc.paths.data_dir()
for name in ("framer", "normalizer", "frame_signal", "normalize_frames"):
    assert hasattr(amc, name), name
print("installed module:", os.path.dirname(amc.__file__), "data:", amc.paths.data_dir())
PY
/usr/local/bin/gr-amc --version
ls /usr/local/share/gnuradio/grc/blocks/amc_*.block.yml
ls /usr/local/lib/x86_64-linux-gnu/libgnuradio-amc.so* 2>/dev/null || ls /usr/local/lib/libgnuradio-amc.so*
echo "install check: OK"
