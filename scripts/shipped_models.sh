#!/bin/bash
# How the shipped models gr-amc/models/amc-default.onnx, amc-default-fp32.onnx and amc-gru.onnx are made, and
# how they are evaluated (docs/models.md has the results).  The networks are trained from scratch on frames
# generated on the fly (`gr-amc train --generate`: no dataset file, no frame seen twice) on one
# warm-up/stable/decay schedule; amc-default-fp32 is then its network with an order-feature fusion head (`gr-amc
# fuse`, front end order-features version 2), and amc-default the same file with its network quantized to int8
# (the same accuracy, and the speed to keep up with 1 Msps on one core).
#
#   scripts/shipped_models.sh [OUT_DIR]          (default ./shipped-models; the models, reports and evaluations)
#   SHIP=1 scripts/shipped_models.sh [OUT_DIR]   ... and copy the three files into gr-amc/models/
#
# GRAMC: how to run gr-amc (default: the installed `gr-amc`; from the build tree use
#   GRAMC="env PYTHONPATH=$PWD/build/test_modules GR_AMC_DATA_DIR=$PWD/gr-amc $PWD/.venv/bin/python -m gnuradio.amc.cli")
#
# The recorded training took several runs on the 2-core development CPU, one thread each (default 3.2, GRU 3.8
# CPU-hours): the first ran the commands below with --epochs 72 --decay-epochs 14 (default) and
# --epochs 84 --decay-epochs 16 (GRU); the second continued their constant-rate phase from the checkpoint of its
# last epoch (MODEL.onnx.stable.ckpt, epochs 58 and 68) with --resume and --epochs 108 / 124; a third run continued
# the GRU from its epoch-108 checkpoint to the --epochs 152 below (--max-minutes bounds each run on its own).
# The constant-rate phase does not depend on --epochs, so one uninterrupted run of the commands below is the same schedule.  To
# continue the GRU in a later session from the committed checkpoint (docs/models.md "Continuing the schedule"):
# copy checkpoints/amc-gru.stable.ckpt to OUT_DIR/amc-gru.onnx.ckpt, raise --epochs and add --resume.
# A re-run gives a model of the same training, not the same bytes (thread scheduling).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
D=${1:-$PWD/shipped-models}
GRAMC=${GRAMC:-gr-amc}
mkdir -p "$D"
cd "$D"     # relative paths, so that the models' amc.training metadata holds no machine paths

# --- training -----------------------------------------------------------------------------------------------
# the default's network: rn1d (1-D ResNet, 384 k parameters) on the `wild` preset (24 RadioML 2018.01A classes, random
# timing, 4..16 samples per symbol, roll-off 0.2..0.5, rml2018 channel), SNR -10..30 dB; 108 epochs of 32,768 new
# frames: 92 at 2e-3, then 16 of half-cosine decay.
$GRAMC train --generate wild -m rn1d -o amc-default-net.onnx --schedule wsd --epochs 108 --decay-epochs 16 --lr 2e-3 \
  --batch-size 128 --frames-per-epoch 32768 --val-frames 4096 --min-snr -10 --threads 1 --seed 21 --max-minutes 300 \
  --report amc-default-net.train.json
# amc-default-fp32: that network with a fusion head (an MLP of two layers of 64 units on its logits and the 307
# order features of the C++ front end amc.order_features, version 2, added to the logits) trained on 393,216
# frames of wild and wild-mix (seed 41; 8,192 validation frames, seed 41 + 2^40): one file with two inputs
# (amc.front_end).  The recorded run (release 5) fused the network inside release 4's amc-default (the same
# weights as amc-default-net.onnx; `gr-amc fuse FUSED.onnx` fuses a fused file's network again), calling the
# command's library half (training.fusion.fuse_data) on its frames and features, which had been saved to compare
# head settings; this command, run afterwards, wrote the same head bit for bit (only the metadata differs); about
# 15 CPU-minutes, most of it generating the frames and running the front end.
$GRAMC fuse amc-default-net.onnx --generate wild wild-mix --frames 393216 --val-frames 8192 --seed 41 \
  --hidden 64 --epochs 30 -o amc-default-fp32.onnx --report amc-default-fp32.fuse.json
# amc-gru: the GRU (15,571 parameters) on `wild2016` (the 11 RadioML 2016.10a classes, 128 samples), SNR -10..18
# dB; 152 epochs of 65,536 new frames: 136 at 2e-3, then 16 of decay; gradient norm clipped at 1.  (Recorded as
# three runs: --epochs 84, then 124, then 152, each resuming the stable checkpoint of the one before.)
$GRAMC train --generate wild2016 -m gru -o amc-gru.onnx --schedule wsd --epochs 152 --decay-epochs 16 --lr 2e-3 \
  --clip-grad 1.0 --batch-size 256 --frames-per-epoch 65536 --val-frames 4096 --min-snr -10 --threads 1 --seed 21 \
  --max-minutes 300 --report amc-gru.train.json

# --- amc-default: amc-default-fp32 with its network static int8, calibrated on 256 frames of a small wild set
# (seed 778); the same float32 head and front end
$GRAMC generate --preset wild -n 4 --seed 778 --shard-size 4 --quiet --overwrite --output wild_calib_s778.h5
$GRAMC variant amc-default-fp32.onnx -o amc-default.onnx --int8 --calibration wild_calib_s778.h5

# --- evaluation: test sets of seed 777 (no training stream uses it), shards of 10 frames ---------------------
for p in wild rml2018a; do
  $GRAMC generate --preset $p -n 20 --seed 777 --shard-size 10 --quiet --overwrite --output ${p}_test_s777.h5
  $GRAMC evaluate ${p}_test_s777.h5 -m amc-default.onnx amc-default-fp32.onnx --names amc-default amc-default-fp32 \
    -o eval-default-$p --table-snrs -10 0 8 10 20 30 --confusion-snrs 0 10 30 --title "amc-default on $p (seed 777)"
done
$GRAMC generate --preset wild2016 -n 40 --seed 777 --shard-size 10 --quiet --overwrite --output wild2016_test_s777.h5
$GRAMC generate --preset rml2016a --format hdf5 -n 40 --seed 777 --shard-size 10 --quiet --overwrite \
  --output rml2016a_test_s777.h5
for p in wild2016 rml2016a; do
  $GRAMC evaluate ${p}_test_s777.h5 -m amc-gru.onnx --names amc-gru -o eval-gru-$p --table-snrs -10 0 8 10 18 \
    --confusion-snrs 0 10 18 --title "amc-gru on $p (seed 777)"
done
# robustness sweeps (batch generator, AWGN at 20 dB, the sweeps' own seeds)
$GRAMC evaluate --sweep timing sps --sweep-frames 256 -m amc-default.onnx amc-default-fp32.onnx amc-gru.onnx \
  --names amc-default amc-default-fp32 amc-gru -o sweeps --no-latency

# --- ship ------------------------------------------------------------------------------------------------------
if [ "${SHIP:-0}" = 1 ]; then
  cp amc-default.onnx amc-default-fp32.onnx amc-gru.onnx "$here/gr-amc/models/"
  mkdir -p "$here/checkpoints"
  cp amc-gru.onnx.stable.ckpt "$here/checkpoints/amc-gru.stable.ckpt"
fi
