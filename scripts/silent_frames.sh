#!/bin/bash
# How much the pauses of the built-in speech-like audio cost the shipped models (docs/models.md, "What limits
# them", and docs/generation.md, "Silent frames"): the share of silent 0.64 ms stretches in the audio, then the
# shipped models evaluated on analog-only test sets at SNR >= 10 dB made exactly like the unseen test sets
# (seed 777, shards of 10) but with `speech_pauses: false`. Compare with the per-class numbers of the reports
# in docs/models.md (same seed, with pauses). About 2 minutes on 2 cores.
#
#   scripts/silent_frames.sh [OUT_DIR]      (default /work/data/silence)
#
# GRAMC / PY: how to run gr-amc and its Python (defaults: the installed `gr-amc` and python3; from the build tree
#   GRAMC="env PYTHONPATH=$PWD/build/test_modules GR_AMC_DATA_DIR=$PWD/gr-amc $PWD/.venv/bin/python -m gnuradio.amc.cli"
#   PY="env PYTHONPATH=$PWD/build/test_modules $PWD/.venv/bin/python")
set -euo pipefail
OUT=${1:-/work/data/silence}
GRAMC=${GRAMC:-gr-amc}
PY=${PY:-python3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"

$PY - <<'PYEOF'
import numpy as np
from gnuradio.amc.dsp.audio import SpeechLikeAudio
for pauses in (True, False):
    a = SpeechLikeAudio(np.random.default_rng(3), pauses=pauses)
    x = np.concatenate([a.next_block() for _ in range(400)])            # 65 s
    peak = np.abs(x[: len(x) // 16 * 16].reshape(-1, 16)).max(axis=1)  # 16 audio samples = 0.64 ms
    print(f"speech_pauses={pauses}: {np.mean(peak < 0.01):.3f} of 0.64 ms stretches have a peak below 0.01")
PYEOF

for p in rml2016a rml2018a; do
    sed 's/^  rolloff: 0.35$/&\n  speech_pauses: false/' "$HERE/gr-amc/presets/$p.yml" > "$OUT/${p}_continuous.yml"
    grep -q "speech_pauses: false" "$OUT/${p}_continuous.yml"
done
G="$GRAMC generate --quiet --overwrite --workers 2"
$G --config "$OUT/rml2016a_continuous.yml" --format hdf5 -n 100 --seed 777 --shard-size 10 \
   --classes AM-DSB AM-SSB WBFM --snrs 10:18:2 --output "$OUT/t2016_cont.h5"
$G --config "$OUT/rml2018a_continuous.yml" -n 50 --seed 777 --shard-size 10 \
   --classes AM-SSB-WC AM-SSB-SC AM-DSB-WC AM-DSB-SC FM --snrs 10:30:2 --output "$OUT/t2018_cont.h5"
$GRAMC evaluate "$OUT/t2016_cont.h5" -m amc-gru --output "$OUT/eval-gru"
$GRAMC evaluate "$OUT/t2018_cont.h5" -m amc-default --output "$OUT/eval-default"
for m in gru default; do sed -n '/Accuracy per class/,/^## Plots/p' "$OUT/eval-$m/report.md" | grep '^|'; done
