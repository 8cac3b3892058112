#!/bin/bash
# Train a gr-amc model on a machine without GNU Radio (a lent GPU machine: many cores, one GPU, results only as
# files under $OUT), generating frames on the fly with the batch generator on its cores.
#
#   OUT=/some/folder scripts/gpu_train.sh [extra `gr-amc train` options...]
#
# Environment (all optional):
#   OUT        where everything is written (default ./gpu-out): MODEL.onnx, MODEL.train.json, MODEL.log,
#              MODEL.ckpt and, for the wsd schedule, MODEL.stable.ckpt (what a later run resumes from)
#   MODEL      zoo model (default rn1d), NAME the output name (default amc-default), PRESET (default wild)
#   MINUTES    training budget in minutes (default 8: a lent machine allows ~10 minutes per command)
#   EPOCHS, DECAY, FRAMES, BATCH, LR   the wsd schedule (defaults 40, 8, 131072, 512, 2e-3)
#   WORKERS    DataLoader processes that generate (default: cores - 2), DEVICE cuda|cpu (default: cuda when
#              torch sees one), PYTHON (default python3), RESUME a checkpoint to continue (e.g. the
#              MODEL.stable.ckpt of an earlier run, or the committed checkpoints/amc-gru.stable.ckpt with MODEL=gru)
# Needs numpy, scipy, torch; onnx and onnxruntime for the ONNX file (without them the run still leaves its
# checkpoint, and `gr-amc train ... --resume --checkpoint MODEL.ckpt` with the same options exports it here).
# Only the pure-Python part of gnuradio.amc is used: it is copied into a temporary package, so neither GNU Radio
# nor a build of this repository is needed.  docs/models.md ("Continuing the schedule, and a GPU run") explains it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$PWD/gpu-out}
MODEL=${MODEL:-rn1d}
NAME=${NAME:-amc-default}
PRESET=${PRESET:-wild}
MINUTES=${MINUTES:-8}
EPOCHS=${EPOCHS:-40}
DECAY=${DECAY:-8}
FRAMES=${FRAMES:-131072}
BATCH=${BATCH:-512}
LR=${LR:-2e-3}
PYTHON=${PYTHON:-python3}
cores=$(nproc)
WORKERS=${WORKERS:-$(( cores > 3 ? cores - 2 : 1 ))}

"$PYTHON" -c 'import numpy, scipy, torch' 2>/dev/null || {
  echo "gpu_train.sh: $PYTHON cannot import numpy, scipy and torch (set PYTHON to an interpreter that can)" >&2
  exit 2; }
if [ -z "${DEVICE:-}" ]; then
  DEVICE=$("$PYTHON" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')
fi
mkdir -p "$OUT"

# the pure-Python modules as a package of their own (no C++ kernels, no GNU Radio blocks)
pkg=$(mktemp -d)
trap 'rm -rf "$pkg"' EXIT
mkdir -p "$pkg/gnuradio/amc"
cp "$here"/python/amc/*.py "$pkg/gnuradio/amc/"
cp -r "$here"/python/amc/dsp "$here"/python/amc/training "$here"/python/amc/cli "$pkg/gnuradio/amc/"
: > "$pkg/gnuradio/__init__.py"
version=$(sed -n 's/^set(VERSION_\(MAJOR\|API\|ABI\) *\([0-9]*\))/\2/p' "$here/CMakeLists.txt" | paste -sd.)
cat > "$pkg/gnuradio/amc/_config.py" <<EOF
VERSION = "$version"
SOURCE_DATA_DIR = "$here/gr-amc"
INSTALLED_DATA_DIR = ""
PYTHON_DEPS_DIR = ""
EOF
cat > "$pkg/gnuradio/amc/__init__.py" <<'EOF'
"""gr-amc's pure-Python modules without GNU Radio (made by scripts/gpu_train.sh)."""
from .paths import __version__  # noqa: F401
from . import contract  # noqa: F401
EOF

ckpt="$OUT/$NAME.ckpt"
resume=()
if [ -n "${RESUME:-}" ]; then
  cp "$RESUME" "$ckpt"
  resume=(--resume)
elif [ -f "$ckpt" ]; then
  resume=(--resume)
fi
echo "gpu_train.sh: $MODEL on $PRESET, device $DEVICE, $WORKERS generating workers, budget $MINUTES min -> $OUT" >&2
set +e
PYTHONPATH="$pkg" GR_AMC_DATA_DIR="$here/gr-amc" OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} \
  "$PYTHON" -m gnuradio.amc.cli train --generate "$PRESET" -m "$MODEL" -o "$OUT/$NAME.onnx" --checkpoint "$ckpt" \
  --schedule wsd --epochs "$EPOCHS" --decay-epochs "$DECAY" --frames-per-epoch "$FRAMES" --batch-size "$BATCH" \
  --lr "$LR" --min-snr -10 --workers "$WORKERS" --device "$DEVICE" --max-minutes "$MINUTES" \
  --report "$OUT/$NAME.train.json" "${resume[@]}" "$@" 2>&1 | tee "$OUT/$NAME.log"
rc=${PIPESTATUS[0]}
set -e
ls -l "$OUT" >&2
exit "$rc"
