#!/usr/bin/env bash
# After `make install` (prefix /usr/local): the installed files work the way users run them, with no
# build tree, no venv and no environment variables: Debian's /usr/bin/python3 (what GNU Radio Companion
# runs flowgraphs with), the installed `gr-amc` script (generate with 2 spawn workers, demo), every
# example flowgraph compiled by grcc from the installed blocks and run (GUI ones under Xvfb with a
# screenshot that must show a window, then stopped with SIGTERM like GRC's Kill button), and GNU Radio
# Companion itself opening the examples under Xvfb. Run by .ci/run (about a minute).
#   bash tests/check_install.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX=/usr/local
SYSPY=/usr/bin/python3
SHOT="$ROOT/tests/x11_screenshot.py"

# --- inner part of a GUI check, run under xvfb-run by gui_check below -------------------------------
# usage: check_install.sh --gui LOG PNG SECONDS COMMAND...
if [ "${1:-}" = --gui ]; then
  log=$2 png=$3 secs=$4; shift 4
  "$@" > "$log" 2>&1 &
  pid=$!
  sleep "$secs"
  if ! kill -0 "$pid" 2>/dev/null; then
    rc=0; wait "$pid" || rc=$?
    echo "exited after less than ${secs} s (status $rc)"; exit 1
  fi
  shot=0; "$SYSPY" "$SHOT" "$png" || shot=$?
  kill -TERM "$pid"                     # what GRC's Kill button sends
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "still running 10 s after SIGTERM"; kill -KILL "$pid"; exit 1
  fi
  wait "$pid" || true
  exit "$shot"
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/home" "$WORK/run"
chmod 700 "$WORK/run"
fail() { echo "install check: FAIL: $*" >&2; exit 1; }
step() { echo "--> $*"; }
# a clean environment, as a desktop user's: no PYTHONPATH, no venv, no GRC_BLOCKS_PATH, a fresh HOME
clean() { env -i HOME="$WORK/home" XDG_RUNTIME_DIR="$WORK/run" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 "$@"; }
# gui_check NAME SECONDS COMMAND...: run COMMAND under Xvfb, screenshot after SECONDS, stop it with SIGTERM
gui_check() {
  local name=$1 secs=$2; shift 2
  clean PYTHONUNBUFFERED=1 xvfb-run -a -s "-screen 0 1280x1024x24" \
    bash "$ROOT/tests/check_install.sh" --gui "$WORK/$name.log" "$WORK/$name.png" "$secs" "$@" \
    || { cat "$WORK/$name.log"; fail "$name under Xvfb (log above)"; }
  if grep -q "Traceback" "$WORK/$name.log"; then cat "$WORK/$name.log"; fail "$name: traceback (log above)"; fi
}
cd "$WORK"

step "the installed module on $SYSPY, clean environment"
clean "$SYSPY" - "$PREFIX" <<'PY' || fail "the installed module on /usr/bin/python3"
import os, sys
prefix = sys.argv[1]
from gnuradio import amc
from gnuradio.amc import _config
deps = f"{prefix}/lib/gr-amc/python-deps"
assert amc.__file__.startswith(prefix + "/"), amc.__file__
assert amc.paths.data_dir() == f"{prefix}/share/gr-amc", amc.paths.data_dir()
assert _config.PYTHON_DEPS_DIR == deps and deps in sys.path, (_config.PYTHON_DEPS_DIR, sys.path)
for name in ("framer", "normalizer", "frame_signal", "normalize_frames", "classifier", "dataset_sink"):
    assert hasattr(amc, name), name
import numpy, onnxruntime, onnx, h5py, sigmf
assert numpy.__version__ < "2" and numpy.__file__.startswith("/usr/lib/python3/"), numpy.__file__
for m in (onnxruntime, onnx, h5py, sigmf):
    assert m.__file__.startswith(deps + "/"), m.__file__
try:
    import torch  # noqa: F401
    raise AssertionError("torch is importable: it must not be installed with the module")
except ImportError:
    pass
c = amc.classifier("amc-default")
assert len(c.classes()) == 24 and c.frame_len() == 1024
print("installed module:", os.path.dirname(amc.__file__), "| data:", amc.paths.data_dir(), "| deps:", deps)
PY
# nothing installed may point into the clone (the clone can move or go away)
pkgdir=$(clean "$SYSPY" -c 'import os, gnuradio.amc as a; print(os.path.dirname(a.__file__))')
# (GR_PYTHON_INSTALL's legacy foo.pyc/foo.pyo beside foo.py record the build path; Python never loads them)
hits=$(grep -rlF --exclude='*.pyc' --exclude='*.pyo' "$ROOT" "$pkgdir" "$PREFIX/bin/gr-amc" "$PREFIX/lib/gr-amc" \
       "$PREFIX/share/gr-amc" 2>/dev/null || true)
[ -z "$hits" ] || fail "installed files name the clone $ROOT: $hits"
head -1 "$PREFIX/bin/gr-amc" | grep -qx "#!$SYSPY" || fail "$PREFIX/bin/gr-amc does not run on $SYSPY: $(head -1 "$PREFIX/bin/gr-amc")"
for f in "$ROOT"/grc/*.block.yml; do
  cmp -s "$f" "$PREFIX/share/gnuradio/grc/blocks/$(basename "$f")" || fail "not installed: $f"
done
for f in "$ROOT"/gr-amc/models/*.onnx "$ROOT"/gr-amc/presets/*.yml; do
  [ -e "$f" ] || continue
  cmp -s "$f" "$PREFIX/share/gr-amc/${f#$ROOT/gr-amc/}" || fail "not installed: $f"
done
ls "$PREFIX"/lib/x86_64-linux-gnu/libgnuradio-amc.so* > /dev/null 2>&1 || ls "$PREFIX"/lib/libgnuradio-amc.so* > /dev/null \
  || fail "libgnuradio-amc not installed"

step "the installed gr-amc: --version, generate with 2 workers, demo, train's message without torch"
clean gr-amc --version | grep -q "^gr-amc " || fail "gr-amc --version"
clean timeout 300 gr-amc generate --preset demo -n 2 --classes BPSK QPSK --snrs 10 --shard-size 2 --workers 2 \
  --output "$WORK/gen.h5" > "$WORK/gen.log" 2>&1 || { cat "$WORK/gen.log"; fail "gr-amc generate --workers 2"; }
grep -q "2 worker(s)" "$WORK/gen.log" || { cat "$WORK/gen.log"; fail "gr-amc generate did not use 2 workers"; }
clean "$SYSPY" - "$WORK/gen.h5" <<'PY' || fail "the file gr-amc generate wrote"
import sys
import numpy as np
from gnuradio.amc.datasets import load_dataset
ds = load_dataset(sys.argv[1])
assert ds.x.shape == (4, 1024), ds.x.shape
assert sorted(ds.classes[i] for i in ds.labels) == ["BPSK", "BPSK", "QPSK", "QPSK"]
assert np.all(ds.snrs == 10) and np.all(np.abs(ds.x).sum(axis=1) > 0)
PY
clean timeout 300 gr-amc demo --classes BPSK QPSK --snrs 10 --frames 4 --output "$WORK/demo" > "$WORK/demo.log" 2>&1 \
  || { cat "$WORK/demo.log"; fail "gr-amc demo"; }
[ -s "$WORK/demo/demo_results.json" ] || { cat "$WORK/demo.log"; fail "gr-amc demo wrote no demo_results.json"; }
rc=0; clean gr-amc train -m cnn1 -o "$WORK/m.onnx" --epochs 1 "$WORK/gen.h5" > "$WORK/train.log" 2>&1 || rc=$?
{ [ "$rc" = 2 ] && grep -q "Python package 'torch'" "$WORK/train.log" && ! grep -q Traceback "$WORK/train.log"; } \
  || { cat "$WORK/train.log"; fail "gr-amc train without torch: expected a message naming torch (status 2), got $rc"; }

step "every example flowgraph: grcc with the installed blocks, run on $SYSPY"
mkdir -p "$WORK/fg"
n_examples=0
for grc in "$ROOT"/examples/*.grc; do
  name=$(basename "$grc" .grc); n_examples=$((n_examples + 1))
  clean grcc -o "$WORK/fg" "$grc" > "$WORK/$name.grcc.log" 2>&1 || { cat "$WORK/$name.grcc.log"; fail "grcc $name"; }
  grep -q "$PREFIX/share/gnuradio/grc/blocks" "$WORK/$name.grcc.log" || fail "grcc did not search $PREFIX's blocks"
  [ -f "$WORK/fg/$name.py" ] || fail "grcc wrote no $name.py"
  if grep -q "generate_options: qt_gui" "$grc"; then
    gui_check "$name" 8 "$SYSPY" "$WORK/fg/$name.py"
    echo "    $name: GUI ran 8 s, window on screen, stopped by SIGTERM"
  else
    (cd "$WORK/fg" && clean timeout 300 "$SYSPY" "$name.py") > "$WORK/$name.run.log" 2>&1 \
      || { tail -40 "$WORK/$name.run.log"; fail "$name.py did not run to its end"; }
    ! grep -q "Traceback" "$WORK/$name.run.log" || { cat "$WORK/$name.run.log"; fail "$name.py: traceback"; }
    case $name in
      frame_and_normalize) grep -q "amc:truth" "$WORK/$name.run.log" || fail "$name printed no amc:truth tag" ;;
      classify_headless) grep -q "amc:label" "$WORK/$name.run.log" || fail "$name printed no amc:label tag" ;;
      generate_dataset)
        clean "$SYSPY" -c "from gnuradio.amc.datasets import load_dataset as l; d = l('$WORK/fg/generate_dataset.h5'); assert len(d.x) > 0" \
          || fail "$name wrote no readable generate_dataset.h5" ;;
    esac
    echo "    $name: ran to its end"
  fi
done
[ "$n_examples" -gt 0 ] || fail "no examples/*.grc"

step "GNU Radio Companion opens every example under Xvfb (installed blocks only)"
gui_check grc 12 gnuradio-companion "$ROOT"/examples/*.grc
grep -q "$PREFIX/share/gnuradio/grc/blocks" "$WORK/grc.log" || { cat "$WORK/grc.log"; fail "GRC did not search $PREFIX's blocks"; }
for grc in "$ROOT"/examples/*.grc; do
  grep -qF "Loading: \"$grc\"" "$WORK/grc.log" || { cat "$WORK/grc.log"; fail "GRC did not load $grc"; }
done
[ "$(grep -c ">>> Done" "$WORK/grc.log")" = "$n_examples" ] || { cat "$WORK/grc.log"; fail "GRC did not finish loading every example"; }
! grep -q "rror" "$WORK/grc.log" || { cat "$WORK/grc.log"; fail "GRC reported an error"; }
if [ -n "${GR_AMC_SCREENSHOTS:-}" ]; then          # keep the screenshots (e.g. for the README)
  mkdir -p "$GR_AMC_SCREENSHOTS" && cp "$WORK"/*.png "$GR_AMC_SCREENSHOTS"/
fi
echo "install check: OK"
