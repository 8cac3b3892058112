#!/bin/bash
# How the shipped models gr-amc/models/amc-default.onnx and amc-gru.onnx were made: data, training, evaluation.
# These are the exact commands of the recorded run (docs/models.md has the results).  On the 2-core CPU of the
# development machine, with other jobs running, the whole recipe took about two hours (training dominates).
#
#   scripts/shipped_models.sh [DATA_DIR]          (default /work/data; outputs DATA_DIR/models, DATA_DIR/eval-*)
#
# GRAMC: how to run gr-amc (default: the installed `gr-amc`; from the build tree use
#   GRAMC="env PYTHONPATH=$PWD/build/test_modules GR_AMC_DATA_DIR=$PWD/gr-amc $PWD/.venv/bin/python -m gnuradio.amc.cli")
set -euo pipefail
D=${1:-/work/data}
GRAMC=${GRAMC:-gr-amc}
G="$GRAMC generate --quiet --overwrite --workers 2"
mkdir -p "$D/models"

# --- data: training sets (seeds 1, 2) and test sets (seed 777, never used for training) ---------------------
$G --preset rml2016a --format hdf5 -n 1500 --snrs=-10:18:2 --seed 2 --out "$D/rml2016a_train_s2.h5"   # GRU
$G --preset rml2018a -n 300 --snrs=-6:30:2 --seed 1 --out "$D/rml2018a_train_s1.h5"                  # default
# test sets: shards of 10 frames, so each (class, SNR) cell holds 10 (5) independent channel realisations
$G --preset rml2016a --format hdf5 -n 100 --seed 777 --shard-size 10 --out "$D/rml2016a_test_s777_sh10.h5"
$G --preset rml2018a -n 50 --seed 777 --shard-size 10 --out "$D/rml2018a_test_s777_sh10.h5"

# --- training (one thread each, run side by side in the background) -------------------------------------------
# GRU: 45 min budget, then resumed from its checkpoint with a larger budget (same command + --resume)
nice -n 5 $GRAMC train "$D/rml2016a_train_s2.h5" -m gru -o "$D/models/amc-gru.onnx" --normalization rms \
  --threads 1 --epochs 60 --batch-size 256 --lr 2e-3 --patience 6 --max-minutes 45 --seed 1 --int8 \
  --report "$D/models/amc-gru.train.json"
nice -n 5 $GRAMC train "$D/rml2016a_train_s2.h5" -m gru -o "$D/models/amc-gru.onnx" --normalization rms \
  --threads 1 --epochs 60 --batch-size 256 --lr 2e-3 --patience 6 --max-minutes ${GRU_MINUTES:-95} --seed 1 \
  --int8 --report "$D/models/amc-gru.train.json" --resume
# default: MobileNetV4-style mnv4s, 90 min budget; the recorded run was stopped by hand (kill) after epoch 13
# because of the session deadline, then exported from its checkpoint by the second command.  To reproduce it
# without the manual stop, run the first command with --epochs 13.
nice -n 5 $GRAMC train "$D/rml2018a_train_s1.h5" -m mnv4s -o "$D/models/amc-default.onnx" --threads 1 \
  --epochs 60 --batch-size 128 --lr 2e-3 --patience 6 --max-minutes 90 --seed 1 --int8 \
  --report "$D/models/amc-default.train.json" || true
nice -n 5 $GRAMC train "$D/rml2018a_train_s1.h5" -m mnv4s -o "$D/models/amc-default.onnx" --threads 1 \
  --epochs 13 --batch-size 128 --lr 2e-3 --patience 6 --max-minutes 90 --seed 1 --int8 \
  --report "$D/models/amc-default.train.json" --resume

# --- stage 2 (second session): both resumed from their stage-1 checkpoints on a cosine learning-rate schedule,
# --epochs raised so that the cosine curve spans stage 1 and 2; --max-minutes counts both stages together.
nice -n 5 $GRAMC train "$D/rml2018a_train_s1.h5" -m mnv4s -o "$D/models/amc-default.onnx" --threads 1 \
  --epochs 28 --schedule cosine --batch-size 128 --lr 2e-3 --patience 6 --max-minutes 190 --seed 1 --int8 \
  --report "$D/models/amc-default.train.json" --resume
nice -n 5 $GRAMC train "$D/rml2016a_train_s2.h5" -m gru -o "$D/models/amc-gru.onnx" --normalization rms \
  --threads 1 --epochs 76 --schedule cosine --batch-size 256 --lr 2e-3 --patience 6 --max-minutes 200 --seed 1 \
  --int8 --report "$D/models/amc-gru.train.json" --resume

# --- evaluation on the unseen test sets ----------------------------------------------------------------------
$GRAMC evaluate "$D/rml2018a_test_s777_sh10.h5" -m "$D/models/amc-default.onnx" "$D/models/amc-default-int8.onnx" \
  --names amc-default amc-default-int8 -o "$D/eval-default" --confusion-snrs 0 8 10 30 \
  --title "amc-default on rml2018a (test seed 777)"
$GRAMC evaluate "$D/rml2016a_test_s777_sh10.h5" -m "$D/models/amc-gru.onnx" "$D/models/amc-gru-int8.onnx" \
  --names amc-gru amc-gru-int8 -o "$D/eval-gru" --confusion-snrs 0 10 18 \
  --title "amc-gru on rml2016a (test seed 777)"
# shipping: cp "$D/models/amc-default.onnx" "$D/models/amc-gru.onnx" gr-amc/models/
