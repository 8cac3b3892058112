#!/bin/bash
# The model-zoo comparison of docs/models.md: every zoo model trained on the same data (same frames, same split,
# same seed, same epochs and learning rate) and evaluated on the same test set, generated with a seed the training
# never saw.  Reduced scale for a 2-core CPU: rml2016a preset (11 classes, 128-sample frames), 30,000 training-set
# frames (SNR -10..18 dB), 12 epochs per model (early stopping after 4 without a better validation loss), the
# gradient norm clipped to 1 (without it lstm2 does not leave chance level at this learning rate).
#
#   scripts/compare_zoo.sh [OUT_DIR]      (default /work/data/compare12; data files are made when missing)
#
# GRAMC: how to run gr-amc (default: the installed `gr-amc`; from the build tree use
#   GRAMC="env PYTHONPATH=$PWD/build/test_modules GR_AMC_DATA_DIR=$PWD/gr-amc $PWD/.venv/bin/python -m gnuradio.amc.cli")
set -euo pipefail
OUT=${1:-/work/data/compare12}
GRAMC=${GRAMC:-gr-amc}
DATA=${DATA:-$(dirname "$OUT")}
TRAIN=$DATA/rml2016a_train_s1.h5
TEST=$DATA/rml2016a_test_s777_sh10.h5
MODELS=${MODELS:-gru lstm2 cnn1 cnn2 resnet mnv4s mnv4}
mkdir -p "$OUT"
[ -f "$TRAIN" ] || $GRAMC generate --quiet --preset rml2016a --format hdf5 -n 600 --snrs=-10:18:2 --seed 1 --output "$TRAIN"
[ -f "$TEST" ] || $GRAMC generate --quiet --preset rml2016a --format hdf5 -n 100 --seed 777 --shard-size 10 --output "$TEST"
for m in $MODELS; do
  [ -f "$OUT/$m.onnx" ] && continue
  nice -n 10 $GRAMC train "$TRAIN" -m "$m" -o "$OUT/$m.onnx" --normalization rms --threads 2 --max-frames 30000 \
    --epochs 12 --patience 4 --clip-grad 1 --batch-size 128 --lr 2e-3 --seed 1 --report "$OUT/$m.train.json" 2>&1 \
    | grep -v Warning | tee "$OUT/$m.train.log"
done
onnx=(); for m in $MODELS; do onnx+=("$OUT/$m.onnx"); done
$GRAMC evaluate "$TEST" -m "${onnx[@]}" --names $MODELS -o "$OUT/report" --table-snrs -6 -4 -2 0 2 4 6 8 10 18 \
  --confusion-snrs 10 --title "gr-amc model zoo on rml2016a (reduced scale)"
