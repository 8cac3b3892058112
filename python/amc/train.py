"""`gr-amc train`: train a zoo model on one or more dataset files and export it to a self-describing ONNX file.

Pipeline: load the dataset file(s) (datasets.load_dataset: complex frames, already normalized by the generator
with the normalization named in the file's attributes; several files are joined, load_training_data) -> optional
SNR filter / subsampling -> seeded 6:2:2 split (train/validation/test) -> contract.to_model_input (the
representation and layout of the model, the same function the classifier block uses) -> Adam (learning rate
halved when the validation loss stalls, or a cosine schedule; optional gradient-norm clipping), early stopping on
the validation loss, a checkpoint after every epoch (``--resume`` continues from it) -> the best weights are exported
with torch.onnx.export(dynamo=False, dynamic batch axis), the contract is written into metadata_props, the ONNX
graph is run with ONNX Runtime on validation frames (batch 1 and a batch of 64) and compared with PyTorch, and only
then is the file written (atomically: temporary file + rename).  ``--int8`` also writes an int8 variant
(quantize.py) and reports its size and accuracy change on the test split.
"""
import json
import math
import os
import shutil
import sys
import time
import warnings

from .cli import CliError
from . import contract
from .models import MODEL_NAMES, MODEL_INFO

SCHEDULES = ("plateau", "cosine", "wsd")
DEFAULTS = dict(epochs=30, batch_size=128, lr=1e-3, patience=6, seed=0)


def configure_parser(p):
    p.add_argument("data", nargs="*",
                   help="dataset file(s) (HDF5 in the RadioML 2018.01A layout, RadioML 2016 pickle or SigMF, "
                        "anything datasets.load_dataset reads); several files (e.g. made with different seeds) "
                        "are trained on as one data set and must have the same classes, in the same order, and "
                        "the same frame length; none with --generate")
    p.add_argument("--generate", metavar="PRESET|CONFIG.yml", default=None,
                   help="train on the fly: fresh frames from the batch generator for a dataset preset (e.g. wild, "
                        "wild2016) or config file, never the same frame twice, no dataset file")
    p.add_argument("--frames-per-epoch", type=int, default=65536, metavar="N",
                   help="with --generate: training frames drawn per epoch")
    p.add_argument("--val-frames", type=int, default=4096, metavar="N",
                   help="with --generate: frames of the fixed validation set (and of the test set)")
    p.add_argument("--stream-shard-size", type=int, default=16, metavar="N",
                   help="with --generate: frames per generated shard (one class, SNR, symbol rate and timing "
                        "phase each; 64 shards are mixed at a time)")
    p.add_argument("--workers", type=int, default=0, metavar="N",
                   help="with --generate: DataLoader worker processes that generate (0: in the training process)")
    p.add_argument("-m", "--model", required=True, choices=MODEL_NAMES,
                   help="architecture: " + "; ".join(f"{k}: {v[2]}" for k, v in MODEL_INFO.items()))
    p.add_argument("-o", "--output", required=True, help="ONNX file to write")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"], help="maximum number of epochs")
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"])
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="Adam learning rate")
    p.add_argument("--patience", type=int, default=DEFAULTS["patience"],
                   help="early stopping: epochs without a better validation loss before stopping "
                        "(the learning rate is halved after patience/2 such epochs)")
    p.add_argument("--schedule", default="plateau", choices=SCHEDULES,
                   help="learning rate schedule: plateau halves it after patience/2 epochs without a better "
                        "validation loss; cosine sets epoch e (1-based) to lr*(1+cos(pi*(e-1)/epochs))/2, so a "
                        "resumed run with more --epochs continues the same curve; wsd (warm-up, stable, decay) "
                        "keeps lr until the last --decay-epochs epochs and then decays it on a half cosine: a run "
                        "continued across sessions resumes from CHECKPOINT.stable.ckpt (the latest epoch at the "
                        "constant rate) with more --epochs; --patience does not stop a wsd run")
    p.add_argument("--decay-epochs", type=int, default=None, metavar="N",
                   help="wsd: epochs of the final decay (default: a fifth of --epochs)")
    p.add_argument("--clip-grad", type=float, default=0.0, metavar="NORM",
                   help="clip the gradient's global L2 norm to NORM before each step (0: no clipping); steadies "
                        "recurrent models (lstm2, gru) at higher learning rates")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="seed of the split, shuffling and weights")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--max-minutes", type=float, default=0.0,
                   help="stop after the epoch that passes this much training time (0: no limit)")
    p.add_argument("--min-snr", type=float, default=None, help="use only frames with SNR >= this (dB)")
    p.add_argument("--max-snr", type=float, default=None, help="use only frames with SNR <= this (dB)")
    p.add_argument("--max-frames", type=int, default=0,
                   help="use a seeded random subset of at most this many frames (0: all)")
    p.add_argument("--normalization", default=None, choices=contract.NORMALIZATIONS,
                   help="per-frame normalization the model is trained with and that the classifier applies "
                        "(amc.normalization); frames are re-normalized with the C++ kernel amc.normalize_frames "
                        "(default: the normalization the generator applied, from the file's config; required "
                        "for files without one, e.g. RadioML 2016 pickles)")
    p.add_argument("--hidden", type=int, default=None, help="hidden size (gru only; default 40)")
    p.add_argument("--output-kind", default="logits", choices=contract.OUTPUTS,
                   help="what the ONNX graph outputs (logits get a softmax in the classifier)")
    p.add_argument("--dataset-name", default=None,
                   help="amc.dataset metadata (default: the preset named in the file's attributes, else the "
                        "file name)")
    p.add_argument("--checkpoint", default=None, help="checkpoint file (default: OUTPUT.ckpt)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    p.add_argument("--init-weights", default=None, metavar="CKPT|ONNX",
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
    p.add_argument("--report", default=None, help="write the training report (JSON) here")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-epoch progress lines")


# ---------------------------------------------------------------------------------------------------------------
# data

def load_data(path):
    """Dataset file -> dict(frames complex64 (N, L), labels int (N,), snrs float (N,), classes list, attrs dict).

    Uses datasets.load_dataset (the shared reader); raises CliError naming the file on failure."""
    import numpy as np
    if not os.path.isfile(path):
        raise CliError(f"dataset file {path!r} does not exist")
    from . import datasets
    try:
        ds = datasets.load_dataset(path)
    except (OSError, ValueError, KeyError) as e:
        raise CliError(f"cannot read dataset {path!r}: {e}")
    out = dict(frames=np.asarray(ds.x), labels=np.asarray(ds.labels).astype(np.int64).ravel(),
               snrs=np.asarray(ds.snrs, dtype=np.float64).ravel(), classes=[str(c) for c in ds.classes],
               attrs=dict(ds.attrs or {}))
    if out["frames"].ndim != 2 or not np.iscomplexobj(out["frames"]):
        raise CliError(f"dataset {path!r}: expected complex frames (N, L), got {out['frames'].dtype} "
                       f"{out['frames'].shape}")
    return out


def load_training_data(paths, normalization=None):
    """One or more dataset files -> dict(frames, labels, snrs, classes) as load_data's, the frames normalized with
    `normalization` (default: the generator's normalization, which must then be the same for every file), plus
    "normalization" (the one applied), "names" (dataset_name of each file) and "files" (their paths).  Frames are
    copied file by file into one array, so the peak memory is the total plus about two files (one as read, one
    normalized)."""
    import numpy as np
    from .evaluate import normalize_for_model
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not paths:
        raise CliError("no dataset file given")
    out, frames, pos, total = None, None, 0, 0
    for path in paths:
        d = load_data(path)
        data_norm = dataset_normalization(d["attrs"])
        norm = normalization or data_norm
        if norm is None:
            raise CliError(f"dataset {path!r} does not say how its frames were normalized (no config "
                           f"attribute); give --normalization ({', '.join(contract.NORMALIZATIONS)})")
        if norm not in contract.NORMALIZATIONS:
            raise CliError(f"dataset {path!r}: normalization {norm!r} in its config is not one of "
                           f"{', '.join(contract.NORMALIZATIONS)}")
        if out is None:
            out = dict(labels=[], snrs=[], classes=d["classes"], normalization=norm, names=[], files=[])
            L = d["frames"].shape[1]
            if len(paths) > 1:  # sizes first, so that the frames are copied once into their final array
                total = len(d["frames"]) + sum(_count_frames(q) for q in paths[1:])
                frames = np.empty((total, L), np.complex64)
        else:
            if d["classes"] != out["classes"]:
                raise CliError(f"dataset {path!r} has the classes {d['classes']}; {paths[0]!r} has "
                               f"{out['classes']} (several files must list the same classes in the same order)")
            if d["frames"].shape[1] != L:
                raise CliError(f"dataset {path!r} has frames of {d['frames'].shape[1]} samples; {paths[0]!r} "
                               f"has {L}")
            if norm != out["normalization"]:
                raise CliError(f"dataset {path!r} was normalized with {norm!r}, {paths[0]!r} with "
                               f"{out['normalization']!r}; give --normalization to train on both")
        x = normalize_for_model(d["frames"], norm, data_norm)
        if frames is None:
            frames = x
        else:
            if pos + len(x) > total:
                raise CliError(f"dataset {path!r} changed while it was read")
            frames[pos:pos + len(x)] = x
        pos += len(x)
        out["labels"].append(d["labels"])
        out["snrs"].append(d["snrs"])
        out["names"].append(dataset_name(d["attrs"], path))
        out["files"].append(path)
        del d, x
    out["frames"] = frames[:pos]
    out["labels"] = np.concatenate(out["labels"])
    out["snrs"] = np.concatenate(out["snrs"])
    return out


def _count_frames(path):
    """Number of frames in a dataset file without keeping them (a cheap header read for HDF5)."""
    try:
        import h5py
        with h5py.File(path, "r") as f:
            if "X" in f:
                return int(f["X"].shape[0])
    except (OSError, ImportError):
        pass
    return len(load_data(path)["labels"])


def dataset_normalization(attrs):
    """The per-frame normalization the generator applied (from the file's attributes or config), or None."""
    for key in ("normalization", "amc.normalization", "norm"):
        if key in attrs:
            v = attrs[key]
            v = v.decode() if isinstance(v, bytes) else str(v)
            return v
    cfg = attrs.get("config")
    if isinstance(cfg, (str, bytes)):
        try:
            cfg = json.loads(cfg)
        except ValueError:
            cfg = None
    if isinstance(cfg, dict):
        for k in ("normalization", "normalize"):
            if isinstance(cfg.get(k), str):
                return cfg[k]
        fr = cfg.get("framing") or cfg.get("frames") or {}
        if isinstance(fr, dict) and isinstance(fr.get("normalization"), str):
            return fr["normalization"]
    return None


def dataset_name(attrs, path):
    """'<config name> seed <seed>' from the file's attributes, else the file name."""
    name = None
    for key in ("preset", "dataset", "name"):
        if key in attrs:
            v = attrs[key]
            name = v.decode() if isinstance(v, bytes) else str(v)
    cfg = attrs.get("config")
    if name is None and isinstance(cfg, (str, bytes)):
        try:
            name = json.loads(cfg).get("name")
        except (ValueError, AttributeError):
            name = None
    if name is None:
        return os.path.basename(path)
    return f"{name} seed {attrs['seed']}" if "seed" in attrs else name


def split_indices(n, seed, fractions=(0.6, 0.2, 0.2)):
    """Seeded 6:2:2 split of range(n) -> (train, val, test) index arrays (sorted)."""
    import numpy as np
    perm = np.random.default_rng(seed).permutation(n)
    n_tr = int(round(fractions[0] * n))
    n_va = int(round(fractions[1] * n))
    return np.sort(perm[:n_tr]), np.sort(perm[n_tr:n_tr + n_va]), np.sort(perm[n_tr + n_va:])


def select_frames(data, min_snr=None, max_snr=None, max_frames=0, seed=0):
    """Indices of the frames used for training (SNR window, seeded subsample)."""
    import numpy as np
    keep = np.ones(len(data["labels"]), bool)
    if min_snr is not None:
        keep &= data["snrs"] >= min_snr
    if max_snr is not None:
        keep &= data["snrs"] <= max_snr
    idx = np.flatnonzero(keep)
    if max_frames and len(idx) > max_frames:
        idx = np.sort(np.random.default_rng(seed + 7919).choice(idx, max_frames, replace=False))
    return idx


# ---------------------------------------------------------------------------------------------------------------
# torch helpers

def _batches(n, batch_size, rng=None):
    import numpy as np
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for i in range(0, n, batch_size):
        yield order[i:i + batch_size]


def predict_logits(model, x, device, batch_size=512):
    """Logits (numpy) of a torch model on model inputs x (numpy float32)."""
    import numpy as np
    import torch
    model.eval()
    out = []
    with torch.no_grad():
        for b in _batches(len(x), batch_size):
            out.append(model(torch.from_numpy(x[b]).to(device)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def _evaluate(model, x, y, device, batch_size=512):
    import numpy as np
    import torch
    logits = predict_logits(model, x, device, batch_size)
    loss = float(torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y)).item())
    return loss, float(np.mean(logits.argmax(1) == y)), logits


def _atomic_save_torch(obj, path):
    import torch
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def atomic_write_bytes(data, path):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------------------------
# ONNX export

def export_onnx(model, example, metadata, output_kind="logits", check_inputs=None, atol=1e-3, rtol=1e-3):
    """Export a torch model to ONNX bytes with a dynamic batch axis and the contract in metadata_props.

    The graph is run with ONNX Runtime on check_inputs (default: example) as one batch and frame by frame, and
    compared with PyTorch; RuntimeError if they differ by more than atol + rtol*|torch|.  Returns
    (bytes, max_abs_diff)."""
    import io
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch

    model = model.cpu().eval()
    # the wrapper must be in eval mode too: torch.onnx.export puts the module back into the mode it found it in,
    # recursively, so a training-mode wrapper would leave batch norm and dropout in training mode for the check
    net = torch.nn.Sequential(model, torch.nn.Softmax(dim=-1)).eval() if output_kind == "probs" else model
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # the legacy exporter's deprecation notice, and its RNN batch-size warning: the batch axis is checked below
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*batch_size other than 1.*")
        torch.onnx.export(net, (torch.from_numpy(example[:1]),), buf, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
                          opset_version=17, dynamo=False)
    proto = onnx.load_from_string(buf.getvalue())
    del proto.metadata_props[:]
    for k, v in contract.encode_metadata(metadata).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.producer_name = "gr-amc"
    proto.doc_string = f"gr-amc {metadata.get(contract.META_MODEL, '')} modulation classifier"
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()

    xs = example if check_inputs is None else check_inputs
    with torch.no_grad():
        ref = net(torch.from_numpy(xs)).numpy()
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    got = sess.run(None, {name: xs})[0]
    singles = np.concatenate([sess.run(None, {name: xs[i:i + 1]})[0] for i in range(min(len(xs), 8))])
    diff = float(np.max(np.abs(got - ref)))
    diff1 = float(np.max(np.abs(singles - ref[:len(singles)])))
    tol = atol + rtol * float(np.max(np.abs(ref)))
    if not (got.shape == ref.shape and diff <= tol and diff1 <= tol):
        raise RuntimeError(f"ONNX export check failed: ONNX Runtime differs from PyTorch by {max(diff, diff1):.3g} "
                           f"(tolerance {tol:.3g}); the file was not written")
    return data, max(diff, diff1)


# ---------------------------------------------------------------------------------------------------------------

def contract_metadata(name, classes, frame_length, normalization="rms", output="logits"):
    """The contract keys a zoo model's ONNX file needs (representation and layout from the zoo)."""
    from .models import model_spec
    representation, layout = model_spec(name)
    return {contract.META_CLASSES: list(classes), contract.META_FRAME_LENGTH: frame_length,
            contract.META_INPUT_LAYOUT: layout, contract.META_REPRESENTATION: representation,
            contract.META_NORMALIZATION: normalization, contract.META_OUTPUT: output, contract.META_MODEL: name}


def cosine_lr(lr, epoch, epochs):
    """Learning rate of epoch `epoch` (1-based) of `epochs` on the cosine schedule: lr for the first epoch,
    decaying to about lr/epochs^2 for the last."""
    return lr * 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / epochs))


def wsd_lr(lr, epoch, epochs, decay_epochs):
    """Learning rate of epoch `epoch` (1-based) on the warm-up/stable/decay schedule: lr up to epoch
    epochs - decay_epochs (the stable phase), then lr*(1+cos(pi*k/(decay_epochs+1)))/2 for the k-th decay
    epoch, so the last epoch still learns a little."""
    stable = epochs - decay_epochs
    if epoch <= stable:
        return lr
    return lr * 0.5 * (1.0 + math.cos(math.pi * (epoch - stable) / (decay_epochs + 1)))


def stable_checkpoint_path(ckpt_path):
    """Where a wsd run keeps its latest stable-phase checkpoint (the one a longer schedule resumes from)."""
    return (ckpt_path[:-5] if ckpt_path.endswith(".ckpt") else ckpt_path) + ".stable.ckpt"


def _init_onnx_path(value):
    """The ONNX file --init-weights names (a .onnx file, or a shipped model's name), or None for a checkpoint."""
    from . import paths
    if value.endswith(".onnx") or (not os.path.exists(value) and value in paths.shipped_models()):
        try:
            return paths.resolve_model(value)
        except FileNotFoundError as e:
            raise CliError(f"--init-weights: {e}")
    return None


def _init_from_onnx(args, model, path, classes, frame_length, normalization, x_tr):
    """Load an exported model's weights into `model` (onnx_weights.import_onnx_weights) after checking its contract
    against this run; returns the file's SHA-256 (recorded in the training metadata)."""
    import hashlib
    import numpy as np
    from .evaluate import onnx_attr, read_contract
    from .onnx_weights import import_onnx_weights
    proto, meta = read_contract(path)
    got = (meta.get(contract.META_MODEL), meta.get(contract.META_CLASSES), meta.get(contract.META_FRAME_LENGTH))
    if got != (args.model, classes, frame_length):
        raise CliError(f"--init-weights: {path!r} is model {got[0]!r}, {len(got[1] or [])} classes, frame length "
                       f"{got[2]}; this run has {args.model!r}, {len(classes)} classes, frame length {frame_length} "
                       f"(the classes must be the same, in the same order)")
    if meta[contract.META_NORMALIZATION] != normalization:
        raise CliError(f"--init-weights: {path!r} was trained on {meta[contract.META_NORMALIZATION]!r}-normalized "
                       f"frames, this run uses {normalization!r}; give --normalization "
                       f"{meta[contract.META_NORMALIZATION]}")
    calib = x_tr[np.sort(np.random.default_rng(args.seed).permutation(len(x_tr))[:1024])]
    hidden = next((onnx_attr(n, "hidden_size", None) for n in proto.graph.node if n.op_type == "GRU"), None)
    try:
        diff, n_bn = _load_widening(args, model, hidden, len(classes), frame_length,
                                    lambda m: import_onnx_weights(m.cpu(), proto, calib))
        model.to(args.device)
    except ValueError as e:
        raise CliError(f"--init-weights: cannot import the weights of {path!r}: {e}")
    with open(path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    inside = (f"the network inside the {meta[contract.META_ROTATIONS]}-rotation ensemble "
              if contract.META_ROTATIONS in meta else "")
    _log(args, f"initialized from the weights of {inside}{path} (sha256 {sha[:12]}; ONNX Runtime vs PyTorch max |diff| "
               f"{diff:.2e} on {len(calib)} training frames" +
         (f"; {n_bn} batch norms re-estimated on them)" if n_bn else ")"))
    return sha


def _load_widening(args, model, hidden, num_classes, frame_length, load):
    """load(m) fills a model m with the initial weights.  When they are a gru's with fewer hidden units than this
    run's (--hidden), they go into a gru of their own size, which models.widen_gru then widens into `model`
    (same function; the new units start disconnected).  Returns what load returned."""
    from . import models
    want = model.rnn.hidden_size if args.model == "gru" else None
    if want is None or hidden is None or hidden == want:
        return load(model)
    if hidden > want:
        raise ValueError(f"the weights have {hidden} hidden units, this run {want} (--hidden): a gru can be "
                         f"widened, not narrowed")
    small = models.build("gru", num_classes, frame_length, hidden=hidden)
    out = load(small)
    model.load_state_dict(models.widen_gru(small, want).state_dict())
    _log(args, f"widened the gru from {hidden} to {want} hidden units (the new units start with zero outgoing "
               f"weights: the same function to begin with)")
    return out


def _generated_data(args, representation, layout):
    """--generate: the dataset config, and fixed validation, test and calibration sets from their own seeds
    (training_stream)."""
    from . import dataset_config, training_stream
    if args.data:
        raise CliError("give dataset files or --generate, not both")
    for name in ("frames_per_epoch", "val_frames", "stream_shard_size"):
        if getattr(args, name) < 1:
            raise CliError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.workers < 0:
        raise CliError(f"--workers must be >= 0, got {args.workers}")
    try:
        cfg, _ = dataset_config.load_config(args.generate, normalization=args.normalization)
    except (ValueError, OSError) as e:
        raise CliError(f"--generate: {e}") from None

    stream_cfg = cfg
    if args.min_snr is not None or args.max_snr is not None:   # the SNR window applies to the training stream
        snrs = [v for v in cfg["snrs"] if (args.min_snr is None or v >= args.min_snr)
                and (args.max_snr is None or v <= args.max_snr)]
        if not snrs:
            raise CliError(f"--min-snr/--max-snr: no SNR of {args.generate!r} ({cfg['snrs'][0]:g}..{cfg['snrs'][-1]:g} "
                           f"dB) is left to train on")
        stream_cfg = dict(cfg, snrs=snrs)

    def fixed(offset, n):   # shards of 4 frames: the fixed sets cover every class and SNR many times
        return training_stream.fixed_set(cfg, n, args.seed + offset, min(args.stream_shard_size, 4), representation, layout)
    x_va, y_va, _ = fixed(training_stream.VALIDATION_OFFSET, args.val_frames)
    test = fixed(training_stream.TEST_OFFSET, args.val_frames)
    calib, _, _ = fixed(training_stream.TEST_OFFSET * 2, min(1024, args.val_frames))
    return dict(cfg=cfg, stream_cfg=stream_cfg, classes=list(cfg["classes"]), frame_length=cfg["frame_length"],
                normalization=cfg["normalization"], val=(x_va, y_va), test=test, calib=calib,
                data=dict(names=[cfg["name"]], files=[]))


def _log(args, msg):
    if not getattr(args, "quiet", False):
        print(msg, flush=True)


def run(args):
    import numpy as np
    import torch
    from . import models

    t_start = time.time()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise CliError("--device cuda: no CUDA device is available to torch (use --device cpu)")
    for name in ("epochs", "batch_size", "patience"):
        if getattr(args, name) < 1:
            raise CliError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not (args.clip_grad >= 0 and math.isfinite(args.clip_grad)):
        raise CliError(f"--clip-grad must be a finite number >= 0 (0: no clipping), got {args.clip_grad}")
    if not args.output.endswith(".onnx"):
        raise CliError(f"--output {args.output!r}: the file name must end with .onnx")
    decay_epochs = max(1, args.epochs // 5) if args.decay_epochs is None else args.decay_epochs
    if args.schedule == "wsd" and not 1 <= decay_epochs <= args.epochs:
        raise CliError(f"--decay-epochs must be in 1..--epochs ({args.epochs}), got {decay_epochs}")
    if args.hidden is not None and args.model != "gru":
        raise CliError(f"--hidden applies to the gru model only, not {args.model!r}")
    device = torch.device(args.device)
    ckpt_path = args.checkpoint or args.output + ".ckpt"
    if args.resume and not os.path.isfile(ckpt_path):
        raise CliError(f"--resume: checkpoint {ckpt_path!r} does not exist")
    init_onnx = _init_onnx_path(args.init_weights) if args.init_weights else None
    if args.init_weights and not init_onnx and not os.path.isfile(args.init_weights):
        raise CliError(f"--init-weights: checkpoint {args.init_weights!r} does not exist")

    representation, layout = models.model_spec(args.model)
    if args.generate:
        gen = _generated_data(args, representation, layout)
        data, classes, frame_length, normalization = gen["data"], gen["classes"], gen["frame_length"], \
            gen["normalization"]
        data_label = f"frames generated on the fly ({args.generate})"
        x_tr, (x_va, y_va), (x_te, y_te, snr_te) = gen["calib"], gen["val"], gen["test"]
        y_tr, n_frames = None, args.frames_per_epoch
        _log(args, f"gr-amc train: {args.model} ({representation}, {layout}) on {data_label}: "
                   f"{args.frames_per_epoch} fresh frames per epoch of {frame_length} samples, {len(classes)} classes, "
                   f"normalization {normalization}; fixed validation/test sets of {len(y_va)}/{len(y_te)} frames")
    else:
        if not args.data:
            raise CliError("give dataset file(s) or --generate PRESET|CONFIG")
        data = load_training_data(args.data, args.normalization)
        classes = data["classes"]
        frame_length = data["frames"].shape[1]
        normalization = data["normalization"]
        data_label = " + ".join(data["files"])
        idx = select_frames(data, args.min_snr, args.max_snr, args.max_frames, args.seed)
        if len(idx) < 10:
            raise CliError(f"dataset {data_label!r}: only {len(idx)} frames left after the SNR window/subsample")
        tr, va, te = (idx[s] for s in split_indices(len(idx), args.seed))
        x_tr, x_va, x_te = (contract.to_model_input(data["frames"][s], representation, layout) for s in (tr, va, te))
        y = data["labels"]
        y_tr, y_va, y_te = y[tr], y[va], y[te]
        snr_te, n_frames = data["snrs"][te], len(idx)
        _log(args, f"gr-amc train: {args.model} ({representation}, {layout}) on {data_label}: {len(idx)} frames of "
                   f"{frame_length} samples, {len(classes)} classes, normalization {normalization}; "
                   f"split train/val/test {len(tr)}/{len(va)}/{len(te)}")

    torch.manual_seed(args.seed)
    kwargs = {"hidden": args.hidden} if args.hidden is not None else {}
    model = models.build(args.model, len(classes), frame_length, **kwargs).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=max(1, args.patience // 2))
    state = dict(epoch=0, best_loss=float("inf"), best_epoch=0, best_state=None, history=[], bad_epochs=0,
                 train_seconds=0.0)
    if init_onnx and not args.resume:  # a resumed run continues from its own checkpoint
        state["init_weights_sha256"] = _init_from_onnx(args, model, init_onnx, classes, frame_length, normalization,
                                                       x_tr)
    elif args.init_weights and not args.resume:
        try:
            ck = torch.load(args.init_weights, map_location=device, weights_only=True)
            weights = ck["state"]["best_state"] or ck["weights"]
        except Exception as e:  # noqa: BLE001  (torch.load raises many types)
            raise CliError(f"--init-weights: {args.init_weights!r} is not a gr-amc training checkpoint ({e})")
        if ck.get("model") != args.model or ck.get("classes") != classes or ck.get("frame_length") != frame_length:
            raise CliError(f"--init-weights: checkpoint {args.init_weights!r} is for model {ck.get('model')!r}, "
                           f"{len(ck.get('classes') or [])} classes, frame length {ck.get('frame_length')}; this "
                           f"run has {args.model!r}, {len(classes)} classes, frame length {frame_length}")
        try:
            _load_widening(args, model, models.recurrent_hidden(weights), len(classes), frame_length,
                           lambda m: m.load_state_dict(weights))
        except (ValueError, RuntimeError) as e:
            raise CliError(f"--init-weights: cannot load {args.init_weights!r}: {e}")
        _log(args, f"initialized from the best weights of {args.init_weights} (epoch {ck['state']['best_epoch']})")
    if args.resume:
        try:   # weights_only: a checkpoint is tensors and plain containers; anything else is refused, never run
            ck = torch.load(ckpt_path, map_location=device, weights_only=True)
        except Exception as e:  # noqa: BLE001  (torch.load raises many types)
            raise CliError(f"--resume: {ckpt_path!r} is not a gr-amc training checkpoint ({e})")
        if not isinstance(ck, dict):
            raise CliError(f"--resume: {ckpt_path!r} is not a gr-amc training checkpoint")
        if ck.get("model") != args.model or ck.get("classes") != classes or ck.get("seed") != args.seed \
                or ck.get("frame_length") != frame_length:
            raise CliError(f"--resume: checkpoint {ckpt_path!r} is for model {ck.get('model')!r}, seed "
                           f"{ck.get('seed')}, {len(ck.get('classes') or [])} classes, frame length "
                           f"{ck.get('frame_length')}; this run has {args.model!r}, seed {args.seed}, "
                           f"{len(classes)} classes, frame length {frame_length}")
        model.load_state_dict(ck["weights"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        state = ck["state"]
        if "torch_rng" in ck:
            torch.set_rng_state(ck["torch_rng"])
        _log(args, f"resumed from {ckpt_path} after epoch {state['epoch']}")

    n_params = models.count_parameters(model)
    _log(args, f"parameters: {n_params:,}")
    stop_reason = "max epochs"
    while state["epoch"] < args.epochs:
        epoch = state["epoch"] + 1
        if args.schedule == "cosine":
            for g in opt.param_groups:
                g["lr"] = cosine_lr(args.lr, epoch, args.epochs)
        elif args.schedule == "wsd":
            for g in opt.param_groups:
                g["lr"] = wsd_lr(args.lr, epoch, args.epochs, decay_epochs)
        t0 = time.time()
        model.train()
        rng = np.random.default_rng(args.seed * 1000 + epoch)
        tot_loss = tot_ok = tot_n = 0
        cpu0 = time.process_time()
        if args.generate:
            from . import training_stream
            loader = training_stream.Timer(training_stream.make_loader(
                gen["stream_cfg"], args.seed, epoch, args.frames_per_epoch, args.stream_shard_size, args.batch_size,
                representation, layout, args.workers))
            epoch_batches = loader
        else:
            loader = None
            epoch_batches = ((torch.from_numpy(x_tr[b]), torch.from_numpy(y_tr[b]))
                             for b in _batches(len(x_tr), args.batch_size, rng))
        for xb, yb in epoch_batches:
            xb, yb = xb.to(device), yb.to(device)
            opt.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = torch.nn.functional.cross_entropy(logits, yb)
            loss.backward()
            if args.clip_grad:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)
            opt.step()
            tot_loss += float(loss.item()) * len(yb)
            tot_ok += int((logits.argmax(1) == yb).sum().item())
            tot_n += len(yb)
        val_loss, val_acc, _ = _evaluate(model, x_va, y_va, device)
        if args.schedule == "plateau":
            sched.step(val_loss)
        dt = time.time() - t0
        state["train_seconds"] += dt
        improved = val_loss < state["best_loss"] - 1e-4
        if improved:   # a wsd run exports its last epoch: it keeps no copy of the best weights (smaller checkpoints)
            state.update(best_loss=val_loss, best_epoch=epoch, bad_epochs=0,
                         best_state=None if args.schedule == "wsd" else
                         {k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch
        state["history"].append(dict(epoch=epoch, train_loss=round(tot_loss / tot_n, 5),
                                     train_acc=round(tot_ok / tot_n, 5), val_loss=round(val_loss, 5),
                                     val_acc=round(val_acc, 5), lr=opt.param_groups[0]["lr"],
                                     seconds=round(dt, 1), cpu_seconds=round(time.process_time() - cpu0, 1)))
        if loader is not None:
            state["history"][-1]["generation_cpu_seconds"] = round(loader.seconds, 1)
        _log(args, f"epoch {epoch:3d}/{args.epochs}  train loss {tot_loss / tot_n:.4f} acc {tot_ok / tot_n:.4f}  "
                   f"val loss {val_loss:.4f} acc {val_acc:.4f}  lr {opt.param_groups[0]['lr']:.2g}  {dt:.1f} s"
                   f"{f' (generation {loader.seconds:.1f} CPU-s)' if loader is not None and not args.workers else ''}"
                   f"{'  *' if improved else ''}")
        _atomic_save_torch(dict(model=args.model, classes=classes, seed=args.seed, frame_length=frame_length,
                                weights=model.state_dict(), optimizer=opt.state_dict(),
                                scheduler=sched.state_dict(), state=state, torch_rng=torch.get_rng_state()),
                           ckpt_path)
        if args.schedule == "wsd" and epoch <= args.epochs - decay_epochs:
            shutil.copyfile(ckpt_path, stable_checkpoint_path(ckpt_path))
        if state["bad_epochs"] >= args.patience and args.schedule != "wsd":
            stop_reason = f"early stopping (no better validation loss for {args.patience} epochs)"
            break
        if args.max_minutes and state["train_seconds"] >= 60 * args.max_minutes:
            stop_reason = f"time budget of {args.max_minutes} min"
            break
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    _log(args, f"stopped: {stop_reason}; " + (f"exporting the last epoch, {state['epoch']} (best val loss "
                                               f"{state['best_loss']:.4f} at epoch {state['best_epoch']})"
                                               if args.schedule == "wsd" else
                                               f"best epoch {state['best_epoch']} (val loss {state['best_loss']:.4f})"))

    test_loss, test_acc, test_logits = _evaluate(model, x_te, y_te, device)
    per_snr = {float(s): float(np.mean(test_logits.argmax(1)[snr_te == s] == y_te[snr_te == s]))
               for s in np.unique(snr_te)}
    _log(args, f"test split: accuracy {test_acc:.4f} over {len(y_te)} frames; per SNR: " +
         ", ".join(f"{s:g}:{a:.2f}" for s, a in per_snr.items()))

    training = dict(command=" ".join(["gr-amc", "train"] + sys.argv[2:]) if sys.argv[1:2] == ["train"]
                    else " ".join(sys.argv), data=(f"generated: {args.generate}" if args.generate else
                                                   " + ".join(os.path.basename(f) for f in data["files"])),
                    epochs_run=state["epoch"],
                    best_epoch=state["best_epoch"], stop=stop_reason, batch_size=args.batch_size, lr=args.lr,
                    schedule=args.schedule, decay_epochs=decay_epochs if args.schedule == "wsd" else None,
                    clip_grad=args.clip_grad or None, init_weights=args.init_weights,
                    init_weights_sha256=state.get("init_weights_sha256"),
                    optimizer="Adam", split="on the fly" if args.generate else "6:2:2", frames=int(n_frames),
                    frames_per_epoch=args.frames_per_epoch if args.generate else None, min_snr=args.min_snr,
                    max_snr=args.max_snr, val_loss=round(state["best_loss"], 5), test_acc=round(test_acc, 5),
                    train_seconds=round(state["train_seconds"], 1), parameters=n_params,
                    torch=torch.__version__)
    metadata = contract_metadata(args.model, classes, frame_length, normalization, args.output_kind)
    metadata.update({contract.META_DATASET: args.dataset_name or " + ".join(dict.fromkeys(data["names"])),
                     contract.META_SEED: args.seed, contract.META_TRAINING: training})
    check = x_va[:64] if len(x_va) else x_tr[:64]
    try:
        blob, diff = export_onnx(model, check, metadata, args.output_kind, check_inputs=check)
    except RuntimeError as e:
        raise CliError(str(e))
    atomic_write_bytes(blob, args.output)
    _log(args, f"wrote {args.output} ({len(blob):,} bytes; ONNX Runtime vs PyTorch max |diff| {diff:.2e})")

    report = dict(model=args.model, output=args.output, bytes=len(blob), parameters=n_params,
                  metadata={k: v for k, v in metadata.items() if k != contract.META_TRAINING}, training=training,
                  history=state["history"], test_accuracy=test_acc, test_accuracy_per_snr=per_snr,
                  onnx_max_abs_diff=diff)
    if args.int8 or args.fp16:
        from . import quantize
        acc32 = quantize.onnx_accuracy(args.output, x_te, y_te)
    for key, wanted in (("int8", args.int8), ("fp16", args.fp16)):
        if not wanted:
            continue
        out = args.output[:-5] + f"-{key}.onnx"
        if key == "int8":
            calib = x_tr[np.random.default_rng(args.seed).permutation(len(x_tr))[:256]]
            q = quantize.quantize_file(args.output, out, calib_inputs=calib)
        else:
            q = quantize.float16_file(args.output, out)
        acc = quantize.onnx_accuracy(out, x_te, y_te)
        report[key] = dict(q, accuracy=acc, accuracy_float=acc32, accuracy_change=acc - acc32)
        how = q["method"] + (" weights" if key == "fp16" else "")
        _log(args, f"wrote {out} ({q['bytes']:,} bytes, {q['bytes'] / len(blob):.0%} of float; {how}); "
                   f"test accuracy {acc:.4f} vs {acc32:.4f} float ({acc - acc32:+.4f})")
    if args.report:
        atomic_write_bytes(json.dumps(report, indent=1).encode(), args.report)
    _log(args, f"done in {time.time() - t_start:.0f} s")
    return 0
