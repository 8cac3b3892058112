#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""`gr-amc train`: train a zoo model on dataset files or on the fly and export it to a self-describing ONNX file
(library: training.fit.train; the recipe and the zoo in docs/models.md)."""
import dataclasses

from ..contract import NORMALIZATIONS, OUTPUTS
from ..training.options import SCHEDULES, STREAMING, TrainOptions, default
from ..training.zoo import MODEL_INFO, MODEL_NAMES



def configure_parser(p):
    p.add_argument("data", nargs="*",
                   help="dataset file(s) (HDF5 in the RadioML 2018.01A layout, RadioML 2016 pickle or SigMF, "
                        "anything datasets.load_dataset reads); several files (e.g. made with different seeds) "
                        "are trained on as one data set and must have the same classes, in the same order, and "
                        "the same frame length; none with --generate")
    p.add_argument("--generate", metavar="PRESET|CONFIG.yml", default=default("generate"),
                   help="train on the fly: fresh frames from the batch generator for a dataset preset (e.g. wild, "
                        "wild2016) or config file, never the same frame twice, no dataset file")
    p.add_argument("--frames-per-epoch", type=int, default=default("frames_per_epoch"), metavar="N",
                   help="with --generate: training frames drawn per epoch")
    p.add_argument("--val-frames", type=int, default=default("val_frames"), metavar="N",
                   help="with --generate: frames of the fixed validation set (and of the test set); when dataset "
                        "files are streamed: the most frames the validation and the test split keep in memory (a "
                        "seeded subsample of each split)")
    p.add_argument("--stream-shard-size", type=int, default=default("stream_shard_size"), metavar="N",
                   help="with --generate: frames per generated shard (one class, SNR, symbol rate and timing "
                        "phase each; 64 shards are mixed at a time)")
    p.add_argument("--workers", type=int, default=default("workers"), metavar="N",
                   help="with --generate: DataLoader worker processes that generate; with streamed dataset files: "
                        "worker processes that read them (0: in the training process)")
    p.add_argument("--streaming", default=default("streaming"), choices=STREAMING,
                   help="dataset files: on streams HDF5 files in blocks of rows instead of reading them into "
                        "memory (for files larger than memory; the same split and frames); auto (default) does so "
                        "when the in-memory path (about 3x the frames' bytes) would not fit in the available "
                        "memory; off always reads them into memory")
    p.add_argument("-m", "--model", required=True, choices=MODEL_NAMES,
                   help="architecture: " + "; ".join(f"{k}: {v[2]}" for k, v in MODEL_INFO.items()))
    p.add_argument("-o", "--output", required=True, help="ONNX file to write")
    p.add_argument("--epochs", type=int, default=default("epochs"), help="maximum number of epochs")
    p.add_argument("--batch-size", type=int, default=default("batch_size"), help="frames per training step")
    p.add_argument("--lr", type=float, default=default("lr"), help="Adam learning rate")
    p.add_argument("--patience", type=int, default=default("patience"),
                   help="early stopping: epochs without a better validation loss before stopping "
                        "(the learning rate is halved after patience/2 such epochs)")
    p.add_argument("--schedule", default=default("schedule"), choices=SCHEDULES,
                   help="learning rate schedule: plateau halves it after patience/2 epochs without a better "
                        "validation loss; cosine sets epoch e (1-based) to lr*(1+cos(pi*(e-1)/epochs))/2, so a "
                        "resumed run with more --epochs continues the same curve; wsd (warm-up, stable, decay) "
                        "keeps lr until the last --decay-epochs epochs and then decays it on a half cosine: a run "
                        "continued across sessions resumes from CHECKPOINT.stable.ckpt (the latest epoch at the "
                        "constant rate) with more --epochs; --patience does not stop a wsd run")
    p.add_argument("--decay-epochs", type=int, default=default("decay_epochs"), metavar="N",
                   help="wsd: epochs of the final decay (default: a fifth of --epochs)")
    p.add_argument("--clip-grad", type=float, default=default("clip_grad"), metavar="NORM",
                   help="clip the gradient's global L2 norm to NORM before each step (0: no clipping); steadies "
                        "recurrent models (lstm2, gru) at higher learning rates")
    p.add_argument("--seed", type=int, default=default("seed"), help="seed of the split, shuffling and weights")
    p.add_argument("--device", default=default("device"), choices=("cpu", "cuda"))
    p.add_argument("--threads", type=int, default=default("threads"), help="torch CPU threads (0: torch's default)")
    p.add_argument("--max-minutes", type=float, default=default("max_minutes"),
                   help="stop after the epoch that passes this much training time in this run (a resumed run counts afresh; 0: no limit)")
    p.add_argument("--min-snr", type=float, default=default("min_snr"), help="use only frames with SNR >= this (dB)")
    p.add_argument("--max-snr", type=float, default=default("max_snr"), help="use only frames with SNR <= this (dB)")
    p.add_argument("--max-frames", type=int, default=default("max_frames"),
                   help="use a seeded random subset of at most this many frames (0: all)")
    p.add_argument("--normalization", default=default("normalization"), choices=NORMALIZATIONS,
                   help="per-frame normalization the model is trained with and that the classifier applies "
                        "(amc.normalization); frames are re-normalized with the C++ kernel amc.normalize_frames "
                        "(default: the normalization the generator applied, from the file's config; required "
                        "for files without one, e.g. RadioML 2016 pickles)")
    p.add_argument("--hidden", type=int, default=default("hidden"), help="hidden size (gru only; default 40)")
    p.add_argument("--output-kind", default=default("output_kind"), choices=OUTPUTS,
                   help="what the ONNX graph outputs (logits get a softmax in the classifier)")
    p.add_argument("--dataset-name", default=default("dataset_name"),
                   help="amc.dataset metadata (default: the preset named in the file's attributes, else the "
                        "file name)")
    p.add_argument("--checkpoint", default=default("checkpoint"), help="checkpoint file (default: OUTPUT.ckpt)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    p.add_argument("--init-weights", default=default("init_weights"), metavar="CKPT|ONNX",
                   help="fine-tune: start from the best weights of another run's checkpoint, or from the weights "
                        "of an exported gr-amc ONNX file or shipped model name (e.g. amc-default; batch-norm "
                        "statistics are re-estimated on training frames and the import is checked against ONNX "
                        "Runtime) -- same model, classes and frame length -- with a fresh optimizer, schedule and "
                        "early stopping (default: random initialization); with --resume the run's own "
                        "checkpoint wins")
    p.add_argument("--int8", action="store_true",
                   help="also write OUTPUT-int8.onnx (ONNX Runtime quantization) and report its size and "
                        "accuracy change on the test split")
    p.add_argument("--fp16", action="store_true",
                   help="also write OUTPUT-fp16.onnx (weights stored as float16, computed in float32: about half "
                        "the size, for every model including the GRU) and report its size and accuracy change on "
                        "the test split")
    p.add_argument("--report", default=default("report"), help="write the training report (JSON) here")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-epoch progress lines")



def run(args):
    from ..training import fit     # torch: imported when training, not when parsing
    fields = {f.name for f in dataclasses.fields(TrainOptions)}
    fit.train(TrainOptions(**{k: v for k, v in vars(args).items() if k in fields}))
    return 0
