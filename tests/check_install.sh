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
for f in "$ROOT"/grc/*.block.yml; do
  cmp -s "$f" "/usr/local/share/gnuradio/grc/blocks/$(basename "$f")" || { echo "not installed: $f"; exit 1; }
done
for f in "$ROOT"/gr-amc/models/*.onnx "$ROOT"/gr-amc/presets/*.yml; do
  [ -e "$f" ] || continue
  cmp -s "$f" "/usr/local/share/gr-amc/${f#$ROOT/gr-amc/}" || { echo "not installed: $f"; exit 1; }
done
# GRC finds the installed blocks by itself; the compiled flowgraph runs on the installed module
out=$(mktemp -d)
grcc -o "$out" "$ROOT/examples/frame_and_normalize.grc" > "$out/grcc.log" 2>&1 || { cat "$out/grcc.log"; exit 1; }
(cd "$out" && "$PY" frame_and_normalize.py > run.log 2>&1) || { cat "$out/run.log"; exit 1; }
grep -q "amc:truth" "$out/run.log" || { echo "flowgraph printed no amc:truth tag"; cat "$out/run.log"; exit 1; }
rm -rf "$out"
ls /usr/local/lib/x86_64-linux-gnu/libgnuradio-amc.so* 2>/dev/null || ls /usr/local/lib/libgnuradio-amc.so*
echo "install check: OK"
