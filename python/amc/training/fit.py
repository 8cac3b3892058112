#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Training, the library job behind ``gr-amc train``: :func:`train` (options) -> report, the ONNX file written.

Pipeline: the data (dataset files, training.data: joined, normalized as the classifier will, SNR window, seeded
6:2:2 split; or frames generated on the fly, training.stream: never the same frame twice, fixed validation and
test sets from their own seeds) -> contract.to_model_input (the representation and layout of the zoo model) ->
Adam with a plateau, cosine or warm-up/stable/decay schedule and optional gradient-norm clipping; early stopping
on the validation loss (not on wsd), a checkpoint after every epoch (``resume`` continues from it; a wsd run also
keeps the latest constant-rate epoch as CHECKPOINT.stable.ckpt, which a longer schedule resumes from) -> the
weights exported (training.export: ONNX Runtime checked against PyTorch before the file is written atomically),
and optional int8 / float16 variants (variants.py) with their accuracy change on the test split.

Errors the caller can fix raise TrainingError (a ValueError) naming the option.
"""
import dataclasses
import io
import hashlib
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch

from .. import contract, dataset_config, paths, runtime, variants
from ..fileio import atomic_write_bytes
from ..fused_graph import base_network
from ..model_file import read_contract
from ..onnx_graph import onnx_attr
from ..progress import Progress
from . import data as data_mod
from . import stream, zoo
from .export import contract_metadata, export_onnx
from .onnx_import import import_onnx_weights
from .options import SCHEDULES, STREAMING, TrainingError, TrainOptions  # noqa: F401  (fit.TrainOptions, fit.SCHEDULES)

def train(options=None, **kwargs):
    """Train a zoo model and export it: train(TrainOptions(...)) or train(model="rn1d", output="m.onnx",
    generate="wild", epochs=2, ...).  Returns the report dict."""
    opt = options if options is not None else TrainOptions(**kwargs)
    if options is not None and kwargs:
        opt = dataclasses.replace(opt, **kwargs)
    return run(opt)


def _evaluate(model, x, y, device, batch_size=512):
    logits = zoo.predict_logits(model, x, device, batch_size)
    loss = float(torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y)).item())
    return loss, float(np.mean(logits.argmax(1) == y)), logits


def _atomic_save_torch(obj, path):
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(buf.getvalue(), path)


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
    if value.endswith(".onnx") or (not os.path.exists(value) and value in paths.shipped_models()):
        try:
            return paths.resolve_model(value)
        except FileNotFoundError as e:
            raise TrainingError(f"--init-weights: {e}")
    return None


def _init_from_onnx(opt, model, path, classes, frame_length, normalization, x_tr):
    """Load an exported model's weights into `model` (onnx_weights.import_onnx_weights) after checking its contract
    against this run; returns the file's SHA-256 (recorded in the training metadata)."""
    proto, meta = read_contract(path)
    fused = meta.get(contract.META_FRONT_END) is not None
    if fused:    # a file with a fusion head: its network (the head is trained by gr-amc fuse, not here)
        proto = base_network(proto, meta)
    got = (meta.get(contract.META_MODEL), meta.get(contract.META_CLASSES), meta.get(contract.META_FRAME_LENGTH))
    if got != (opt.model, classes, frame_length):
        raise TrainingError(f"--init-weights: {path!r} is model {got[0]!r}, {len(got[1] or [])} classes, frame length "
                       f"{got[2]}; this run has {opt.model!r}, {len(classes)} classes, frame length {frame_length} "
                       f"(the classes must be the same, in the same order)")
    if meta[contract.META_NORMALIZATION] != normalization:
        raise TrainingError(f"--init-weights: {path!r} was trained on {meta[contract.META_NORMALIZATION]!r}-normalized "
                       f"frames, this run uses {normalization!r}; give --normalization "
                       f"{meta[contract.META_NORMALIZATION]}")
    calib = x_tr[np.sort(np.random.default_rng(opt.seed).permutation(len(x_tr))[:1024])]
    hidden = next((onnx_attr(n, "hidden_size", None) for n in proto.graph.node if n.op_type == "GRU"), None)
    try:
        diff, n_bn = _load_widening(opt, model, hidden, len(classes), frame_length,
                                    lambda m: import_onnx_weights(m.cpu(), proto, calib))
        model.to(opt.device)
    except ValueError as e:
        raise TrainingError(f"--init-weights: cannot import the weights of {path!r}: {e}")
    with open(path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    inside = (f"the network inside the {meta[contract.META_ROTATIONS]}-rotation ensemble "
              if contract.META_ROTATIONS in meta else "the network (without its fusion head) of " if fused else "")
    _log(opt, f"initialized from the weights of {inside}{path} (sha256 {sha[:12]}; ONNX Runtime vs PyTorch max |diff| "
               f"{diff:.2e} on {len(calib)} training frames" +
         (f"; {n_bn} batch norms re-estimated on them)" if n_bn else ")"))
    return sha


def _load_widening(opt, model, hidden, num_classes, frame_length, load):
    """load(m) fills a model m with the initial weights.  When they are a gru's with fewer hidden units than this
    run's (--hidden), they go into a gru of their own size, which zoo.widen_gru then widens into `model`
    (same function; the new units start disconnected).  Returns what load returned."""
    want = model.rnn.hidden_size if opt.model == "gru" else None
    if want is None or hidden is None or hidden == want:
        return load(model)
    if hidden > want:
        raise ValueError(f"the weights have {hidden} hidden units, this run {want} (--hidden): a gru can be "
                         f"widened, not narrowed")
    small = zoo.build("gru", num_classes, frame_length, hidden=hidden)
    out = load(small)
    model.load_state_dict(zoo.widen_gru(small, want).state_dict())
    _log(opt, f"widened the gru from {hidden} to {want} hidden units (the new units start with zero outgoing "
               f"weights: the same function to begin with)")
    return out


def _generated_data(opt, representation, layout):
    """--generate: the run's data (as _prepare_data's, plus the dataset config `cfg`): the config of the training
    stream, and fixed validation, test and calibration ("train": the frames that calibrate imports and int8) sets
    from their own seeds (training.stream)."""
    if opt.data:
        raise TrainingError("give dataset files or --generate, not both")
    _check_at_least(opt, 1, "frames_per_epoch", "val_frames", "stream_shard_size")
    _check_at_least(opt, 0, "workers")
    try:
        cfg, _ = dataset_config.load_config(opt.generate, normalization=opt.normalization)
    except (ValueError, OSError) as e:
        raise TrainingError(f"--generate: {e}") from None

    stream_cfg = cfg
    if opt.min_snr is not None or opt.max_snr is not None:   # the SNR window applies to the training stream
        snrs = [v for v in cfg["snrs"] if (opt.min_snr is None or v >= opt.min_snr)
                and (opt.max_snr is None or v <= opt.max_snr)]
        if not snrs:
            raise TrainingError(f"--min-snr/--max-snr: no SNR of {opt.generate!r} ({cfg['snrs'][0]:g}..{cfg['snrs'][-1]:g} "
                           f"dB) is left to train on")
        stream_cfg = dict(cfg, snrs=snrs)

    def fixed(offset, n):   # shards of 4 frames: the fixed sets cover every class and SNR many times
        return stream.fixed_set(cfg, n, opt.seed + offset, min(opt.stream_shard_size, 4), representation, layout)
    x_va, y_va, _ = fixed(stream.VALIDATION_OFFSET, opt.val_frames)
    test = fixed(stream.TEST_OFFSET, opt.val_frames)
    calib, _, _ = fixed(stream.TEST_OFFSET * 2, min(1024, opt.val_frames))
    return dict(cfg=cfg, stream_cfg=stream_cfg, classes=list(cfg["classes"]), frame_length=cfg["frame_length"],
                normalization=cfg["normalization"], names=[cfg["name"]], files=[], train=(calib, None),
                val=(x_va, y_va), test=test, frames=opt.frames_per_epoch)


def _log(opt, msg):
    if not opt.quiet:
        print(msg, flush=True)


def _check_at_least(opt, minimum, *names):
    """TrainingError naming the first option of `names` below `minimum`."""
    for name in names:
        if getattr(opt, name) < minimum:
            raise TrainingError(f"--{name.replace('_', '-')} must be >= {minimum}, got {getattr(opt, name)}")


def _check_options(opt):
    """TrainingError for an option out of range; returns (decay_epochs, checkpoint path, ONNX file of
    init_weights or None)."""
    if opt.device == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda: no CUDA device is available to torch (use --device cpu)")
    _check_at_least(opt, 1, "epochs", "batch_size", "patience")
    if not (opt.clip_grad >= 0 and math.isfinite(opt.clip_grad)):
        raise TrainingError(f"--clip-grad must be a finite number >= 0 (0: no clipping), got {opt.clip_grad}")
    if not opt.output.endswith(".onnx"):
        raise TrainingError(f"--output {opt.output!r}: the file name must end with .onnx")
    decay_epochs = max(1, opt.epochs // 5) if opt.decay_epochs is None else opt.decay_epochs
    if opt.schedule not in SCHEDULES:
        raise TrainingError(f"--schedule {opt.schedule!r}: allowed: {', '.join(SCHEDULES)}")
    if opt.schedule == "wsd" and not 1 <= decay_epochs <= opt.epochs:
        raise TrainingError(f"--decay-epochs must be in 1..--epochs ({opt.epochs}), got {decay_epochs}")
    if opt.hidden is not None and opt.model != "gru":
        raise TrainingError(f"--hidden applies to the gru model only, not {opt.model!r}")
    ckpt_path = opt.checkpoint or opt.output + ".ckpt"
    if opt.resume and not os.path.isfile(ckpt_path):
        raise TrainingError(f"--resume: checkpoint {ckpt_path!r} does not exist")
    init_onnx = _init_onnx_path(opt.init_weights) if opt.init_weights else None
    if opt.init_weights and not init_onnx and not os.path.isfile(opt.init_weights):
        raise TrainingError(f"--init-weights: checkpoint {opt.init_weights!r} does not exist")
    return decay_epochs, ckpt_path, init_onnx


def _prepare_data(opt, representation, layout):
    """The run's data: dict(classes, frame_length, normalization, names, files, train (x, y; y None on the fly),
    val (x, y), test (x, y, snr), frames, stream_cfg (on the fly))."""
    if opt.generate:
        d = _generated_data(opt, representation, layout)
        _log(opt, f"gr-amc train: {opt.model} ({representation}, {layout}) on frames generated on the fly "
                  f"({opt.generate}): {opt.frames_per_epoch} fresh frames per epoch of {d['frame_length']} samples, "
                  f"{len(d['classes'])} classes, normalization {d['normalization']}; fixed validation/test sets of "
                  f"{len(d['val'][1])}/{len(d['test'][1])} frames")
        return d
    if not opt.data:
        raise TrainingError("give dataset file(s) or --generate PRESET|CONFIG")
    if _stream_files(opt):
        return _streamed_data(opt, representation, layout)
    try:
        data = data_mod.load_training_data(opt.data, opt.normalization)
    except FileNotFoundError as e:
        raise TrainingError(str(e)) from None
    label = " + ".join(data["files"])
    idx = data_mod.select_frames(data, opt.min_snr, opt.max_snr, opt.max_frames, opt.seed)
    if len(idx) < 10:
        raise TrainingError(f"dataset {label!r}: only {len(idx)} frames left after the SNR window/subsample")
    tr, va, te = (idx[s] for s in data_mod.split_indices(len(idx), opt.seed))
    x_tr, x_va, x_te = (contract.to_model_input(data["frames"][s], representation, layout) for s in (tr, va, te))
    y = data["labels"]
    d = dict(classes=data["classes"], frame_length=data["frames"].shape[1], normalization=data["normalization"],
             names=data["names"], files=data["files"], train=(x_tr, y[tr]), val=(x_va, y[va]),
             test=(x_te, y[te], data["snrs"][te]), frames=len(idx), stream_cfg=None)
    _log(opt, f"gr-amc train: {opt.model} ({representation}, {layout}) on {label}: {len(idx)} frames of "
              f"{d['frame_length']} samples, {len(d['classes'])} classes, normalization {d['normalization']}; "
              f"split train/val/test {len(tr)}/{len(va)}/{len(te)}")
    return d


def _stream_files(opt):
    """Whether the dataset files are streamed (--streaming on, or auto and too large for the in-memory path)."""
    if opt.streaming not in STREAMING:
        raise TrainingError(f"--streaming {opt.streaming!r}: allowed: {', '.join(STREAMING)}")
    if opt.streaming != "auto":
        return opt.streaming == "on"
    try:
        if not all(os.path.isfile(p) and data_mod.is_hdf5(p) for p in opt.data):
            return False
        size = sum(data_mod.hdf5_frame_bytes(p) for p in opt.data)
    except (OSError, ValueError):
        return False          # the in-memory reader gives the error that names the file
    stream_it = data_mod.needs_streaming(size, data_mod.available_memory())
    if stream_it:
        _log(opt, f"streaming the dataset files: their frames ({size / 2**30:.1f} GiB) would need about "
                  f"{data_mod.IN_MEMORY_PEAK * size / 2**30:.1f} GiB in memory (--streaming off reads them anyway)")
    return stream_it


def _streamed_data(opt, representation, layout):
    """_prepare_data's dict for streamed HDF5 files: the in-memory path's split (the same rows), the validation and
    test splits (each at most --val-frames, a seeded subsample) and 1024 calibration frames read into memory, the
    training rows read per epoch by data.make_file_loader ("streamed")."""
    _check_at_least(opt, 1, "val_frames")
    _check_at_least(opt, 0, "workers")
    try:
        files = data_mod.StreamedFiles(opt.data, opt.normalization)
    except FileNotFoundError as e:
        raise TrainingError(str(e)) from None
    label = " + ".join(files.files)
    idx = data_mod.select_frames(dict(labels=files.labels, snrs=files.snrs), opt.min_snr, opt.max_snr,
                                 opt.max_frames, opt.seed)
    if len(idx) < 10:
        raise TrainingError(f"dataset {label!r}: only {len(idx)} frames left after the SNR window/subsample")
    tr, va, te = (idx[s] for s in data_mod.split_indices(len(idx), opt.seed))
    rng = np.random.default_rng([int(opt.seed), 0x5EED])

    def cap(rows, n):
        return rows if len(rows) <= n else np.sort(rng.choice(rows, n, replace=False))
    va, te, cal = cap(va, opt.val_frames), cap(te, opt.val_frames), cap(tr, 1024)
    x_va, x_te, x_cal = (contract.to_model_input(files.gather(r), representation, layout) for r in (va, te, cal))
    d = dict(classes=files.classes, frame_length=files.frame_length, normalization=files.normalization,
             names=files.names, files=files.files, train=(x_cal, None), val=(x_va, files.labels[va]),
             test=(x_te, files.labels[te], files.snrs[te]), frames=len(idx), stream_cfg=None,
             streamed=dict(files=files, rows=tr))
    _log(opt, f"gr-amc train: {opt.model} ({representation}, {layout}) on {label}, streamed: {len(idx)} frames of "
              f"{files.frame_length} samples ({files.frame_bytes / 2**30:.2f} GiB), {len(files.classes)} classes, "
              f"normalization {files.normalization}; split train/val/test {len(tr)}/{len(va)}/{len(te)}, training "
              f"rows read in blocks of {files.block_rows[0]} rows per epoch")
    return d


def _init_from_checkpoint(opt, model, d, device):
    """init_weights names another run's checkpoint: its best (or last) weights into `model`."""
    classes, frame_length = d["classes"], d["frame_length"]
    try:
        ck = torch.load(opt.init_weights, map_location=device, weights_only=True)
        weights = ck["state"]["best_state"] or ck["weights"]
    except Exception as e:  # noqa: BLE001  (torch.load raises many types)
        raise TrainingError(f"--init-weights: {opt.init_weights!r} is not a gr-amc training checkpoint ({e})")
    if ck.get("model") != opt.model or ck.get("classes") != classes or ck.get("frame_length") != frame_length:
        raise TrainingError(f"--init-weights: checkpoint {opt.init_weights!r} is for model {ck.get('model')!r}, "
                            f"{len(ck.get('classes') or [])} classes, frame length {ck.get('frame_length')}; this "
                            f"run has {opt.model!r}, {len(classes)} classes, frame length {frame_length}")
    try:
        _load_widening(opt, model, zoo.recurrent_hidden(weights), len(classes), frame_length,
                       lambda m: m.load_state_dict(weights))
    except (ValueError, RuntimeError) as e:
        raise TrainingError(f"--init-weights: cannot load {opt.init_weights!r}: {e}")
    _log(opt, f"initialized from the best weights of {opt.init_weights} (epoch {ck['state']['best_epoch']})")


def _resume(opt, ckpt_path, model, optim, sched, d, device):
    """Continue from the run's own checkpoint -> its state.  A checkpoint without the optimizer's moments (a
    slimmed one, see docs/models.md) continues the schedule with a fresh Adam state."""
    try:   # weights_only: a checkpoint is tensors and plain containers; anything else is refused, never run
        ck = torch.load(ckpt_path, map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001  (torch.load raises many types)
        raise TrainingError(f"--resume: {ckpt_path!r} is not a gr-amc training checkpoint ({e})")
    if not isinstance(ck, dict) or "weights" not in ck or "state" not in ck:
        raise TrainingError(f"--resume: {ckpt_path!r} is not a gr-amc training checkpoint")
    classes, frame_length = d["classes"], d["frame_length"]
    if ck.get("model") != opt.model or ck.get("classes") != classes or ck.get("seed") != opt.seed \
            or ck.get("frame_length") != frame_length:
        raise TrainingError(f"--resume: checkpoint {ckpt_path!r} is for model {ck.get('model')!r}, seed "
                            f"{ck.get('seed')}, {len(ck.get('classes') or [])} classes, frame length "
                            f"{ck.get('frame_length')}; this run has {opt.model!r}, seed {opt.seed}, "
                            f"{len(classes)} classes, frame length {frame_length}")
    model.load_state_dict(ck["weights"])
    if ck.get("optimizer") is not None:
        optim.load_state_dict(ck["optimizer"])
    if ck.get("scheduler") is not None:
        sched.load_state_dict(ck["scheduler"])
    if "torch_rng" in ck:
        torch.set_rng_state(ck["torch_rng"])
    state = ck["state"]
    _log(opt, f"resumed from {ckpt_path} after epoch {state['epoch']}"
         + ("" if ck.get("optimizer") is not None else " (a slim checkpoint: fresh Adam moments)"))
    return state


class _Processes:
    """The processes of one training run: a torchrun launch (WORLD_SIZE > 1; gloo on CPU, NCCL on CUDA) or this
    process alone.  Every rank draws the same seeded shuffle and takes its slice of each batch (of the epoch's
    shards, on the fly); gradients are averaged by DistributedDataParallel; the epoch's training sums are added
    over the ranks and rank 0's validation loss and epoch time are broadcast, so the schedule and early stopping
    decide the same everywhere; rank 0 alone logs, checkpoints and exports."""

    def __init__(self, opt):
        self.world, self.rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.dist = None
        if self.world > 1:
            import torch.distributed as dist
            if not dist.is_initialized():
                dist.init_process_group("nccl" if opt.device == "cuda" else "gloo")
            self.dist = dist
            if opt.batch_size % self.world:
                raise TrainingError(f"--batch-size {opt.batch_size} must be a multiple of the {self.world} "
                                    f"processes (each takes an equal slice of every batch)")

    def device(self, opt):
        return torch.device(f"cuda:{self.local_rank}" if opt.device == "cuda" and self.dist else opt.device)

    def wrap(self, model, device):
        if not self.dist:
            return model
        from torch.nn.parallel import DistributedDataParallel
        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def sum(self, *values):
        if not self.dist:
            return values
        t = torch.tensor(values, dtype=torch.float64)
        self.dist.all_reduce(t)
        return tuple(t.tolist())

    def agree(self, value):
        """Rank 0's value, on every rank."""
        if not self.dist:
            return value
        t = torch.tensor([value], dtype=torch.float64)
        self.dist.broadcast(t, 0)
        return float(t.item())

    def close(self):
        if self.dist:
            self.dist.barrier()
            self.dist.destroy_process_group()


def _epoch_batches(opt, d, epoch, representation, layout, procs):
    """(iterable of (x, y) torch batches of this rank, the generating loader or None, number of batches)."""
    if opt.generate:
        loader = stream.Timer(stream.make_loader(
            d["stream_cfg"], opt.seed, epoch, opt.frames_per_epoch, opt.stream_shard_size,
            opt.batch_size // procs.world, representation, layout, opt.workers, rank=procs.rank, world=procs.world))
        return loader, loader, -(-opt.frames_per_epoch // opt.batch_size)
    if d.get("streamed"):
        s = d["streamed"]
        batches, n_batches = data_mod.make_file_loader(
            s["files"], s["rows"], opt.seed, epoch, opt.batch_size // procs.world,
            representation, layout, opt.workers, rank=procs.rank, world=procs.world)
        return batches, None, n_batches
    x_tr, y_tr = d["train"]
    rng = np.random.default_rng(opt.seed * 1000 + epoch)
    mine = (b[procs.rank::procs.world] for b in zoo.batches(len(x_tr), opt.batch_size, rng)
            if len(b) >= procs.world)          # a last batch too small to share is left out (every rank steps alike)
    batches = ((torch.from_numpy(x_tr[b]), torch.from_numpy(y_tr[b])) for b in mine)
    return batches, None, -(-len(x_tr) // opt.batch_size)


def _train_epoch(opt, model, optim, batches, n_batches, epoch, device, procs):
    """One pass over the batches -> (mean loss, accuracy, frames).  On a terminal a transient progress line shows
    the batches done, the running loss and the epoch's ETA."""
    model.train()
    tot_loss = tot_ok = tot_n = 0
    bar = Progress(n_batches, quiet=opt.quiet or not sys.stderr.isatty(), unit="batches", transient=True)
    for xb, yb in batches:
        xb, yb = xb.to(device), yb.to(device)
        optim.zero_grad(set_to_none=True)
        logits = model(xb)
        loss = torch.nn.functional.cross_entropy(logits, yb)
        loss.backward()
        if opt.clip_grad:
            torch.nn.utils.clip_grad_norm_(model.parameters(), opt.clip_grad)
        optim.step()
        tot_loss += float(loss.item()) * len(yb)
        tot_ok += int((logits.argmax(1) == yb).sum().item())
        tot_n += len(yb)
        bar.update(1, f"epoch {epoch}/{opt.epochs} loss {tot_loss / tot_n:.4f}")
    bar.close()
    tot_loss, tot_ok, tot_n = procs.sum(tot_loss, tot_ok, tot_n)
    return tot_loss / max(1, tot_n), tot_ok / max(1, tot_n), int(tot_n)


def _fit(opt, model, net, optim, sched, state, d, decay_epochs, ckpt_path, representation, layout, device, procs):
    """The epochs from state["epoch"] + 1 on, a checkpoint after each (rank 0) -> the reason it stopped.  `net` is
    the model as trained (DistributedDataParallel around `model` under torchrun)."""
    x_va, y_va = d["val"]
    session_seconds = 0.0      # max_minutes bounds this run, not the total of a schedule resumed across sessions
    while state["epoch"] < opt.epochs:
        epoch = state["epoch"] + 1
        if opt.schedule == "cosine":
            for g in optim.param_groups:
                g["lr"] = cosine_lr(opt.lr, epoch, opt.epochs)
        elif opt.schedule == "wsd":
            for g in optim.param_groups:
                g["lr"] = wsd_lr(opt.lr, epoch, opt.epochs, decay_epochs)
        t0, cpu0 = time.time(), time.process_time()
        batches, loader, n_batches = _epoch_batches(opt, d, epoch, representation, layout, procs)
        train_loss, train_acc, _ = _train_epoch(opt, net, optim, batches, n_batches, epoch, device, procs)
        val_loss, val_acc, _ = _evaluate(model, x_va, y_va, device)
        val_loss = procs.agree(val_loss)
        if opt.schedule == "plateau":
            sched.step(val_loss)
        dt = procs.agree(time.time() - t0)
        state["train_seconds"] += dt
        session_seconds += dt
        improved = val_loss < state["best_loss"] - 1e-4
        if improved:   # a wsd run exports its last epoch: it keeps no copy of the best weights (smaller checkpoints)
            state.update(best_loss=val_loss, best_epoch=epoch, bad_epochs=0,
                         best_state=None if opt.schedule == "wsd" else
                         {k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch
        state["history"].append(dict(epoch=epoch, train_loss=round(train_loss, 5), train_acc=round(train_acc, 5),
                                     val_loss=round(val_loss, 5), val_acc=round(val_acc, 5),
                                     lr=optim.param_groups[0]["lr"], seconds=round(dt, 1),
                                     cpu_seconds=round(time.process_time() - cpu0, 1)))
        if loader is not None:
            state["history"][-1]["generation_cpu_seconds"] = round(loader.seconds, 1)
        _log(opt, f"epoch {epoch:3d}/{opt.epochs}  train loss {train_loss:.4f} acc {train_acc:.4f}  "
                  f"val loss {val_loss:.4f} acc {val_acc:.4f}  lr {optim.param_groups[0]['lr']:.2g}  {dt:.1f} s"
                  f"{f' (generation {loader.seconds:.1f} CPU-s)' if loader is not None and not opt.workers else ''}"
                  f"{'  *' if improved else ''}")
        if procs.rank == 0:
            _atomic_save_torch(dict(model=opt.model, classes=d["classes"], seed=opt.seed,
                                    frame_length=d["frame_length"], weights=model.state_dict(),
                                    optimizer=optim.state_dict(), scheduler=sched.state_dict(), state=state,
                                    torch_rng=torch.get_rng_state()), ckpt_path)
            if opt.schedule == "wsd" and epoch <= opt.epochs - decay_epochs:
                shutil.copyfile(ckpt_path, stable_checkpoint_path(ckpt_path))
        if state["bad_epochs"] >= opt.patience and opt.schedule != "wsd":
            return f"early stopping (no better validation loss for {opt.patience} epochs)"
        if opt.max_minutes and session_seconds >= 60 * opt.max_minutes:
            return f"time budget of {opt.max_minutes} min"
    return "max epochs"


def _command(opt):
    if opt.command_line:
        return opt.command_line
    return " ".join(["gr-amc", "train"] + sys.argv[2:]) if sys.argv[1:2] == ["train"] else " ".join(sys.argv)


def _variants(opt, report, blob_len, d):
    """int8 / fp16: OUTPUT-int8.onnx / OUTPUT-fp16.onnx and their accuracy change on the test split."""
    x_te, y_te, _ = d["test"]
    x_tr = d["train"][0]
    acc32 = runtime.onnx_accuracy(opt.output, x_te, y_te)
    for key, wanted in (("int8", opt.int8), ("fp16", opt.fp16)):
        if not wanted:
            continue
        out = opt.output[:-5] + f"-{key}.onnx"
        if key == "int8":
            calib = x_tr[np.random.default_rng(opt.seed).permutation(len(x_tr))[:256]]
            q = variants.quantize_file(opt.output, out, calib_inputs=calib)
        else:
            q = variants.float16_file(opt.output, out)
        acc = runtime.onnx_accuracy(out, x_te, y_te)
        report[key] = dict(q, accuracy=acc, accuracy_float=acc32, accuracy_change=acc - acc32)
        how = q["method"] + (" weights" if key == "fp16" else "")
        _log(opt, f"wrote {out} ({q['bytes']:,} bytes, {q['bytes'] / blob_len:.0%} of float; {how}); "
                  f"test accuracy {acc:.4f} vs {acc32:.4f} float ({acc - acc32:+.4f})")


def run(opt):
    """Train as `opt` (TrainOptions) says; returns the report (also written to opt.report when set).  Under
    torchrun every process runs this; rank 0 returns the report, the others None."""
    procs = _Processes(opt)
    try:
        return _run(opt, procs)
    finally:
        procs.close()


def _run(opt, procs):
    t_start = time.time()
    if opt.threads:
        torch.set_num_threads(opt.threads)
    if procs.rank:
        opt = dataclasses.replace(opt, quiet=True)       # rank 0 speaks for the run
    decay_epochs, ckpt_path, init_onnx = _check_options(opt)
    device = procs.device(opt)
    representation, layout = zoo.model_spec(opt.model)
    d = _prepare_data(opt, representation, layout)
    classes, frame_length = d["classes"], d["frame_length"]

    torch.manual_seed(opt.seed)
    kwargs = {"hidden": opt.hidden} if opt.hidden is not None else {}
    model = zoo.build(opt.model, len(classes), frame_length, **kwargs).to(device)
    optim = torch.optim.Adam(model.parameters(), lr=opt.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(optim, factor=0.5, patience=max(1, opt.patience // 2))
    state = dict(epoch=0, best_loss=float("inf"), best_epoch=0, best_state=None, history=[], bad_epochs=0,
                 train_seconds=0.0)
    if opt.resume:    # a resumed run continues from its own checkpoint, whatever init_weights says
        state = _resume(opt, ckpt_path, model, optim, sched, d, device)
    elif init_onnx:
        state["init_weights_sha256"] = _init_from_onnx(opt, model, init_onnx, classes, frame_length,
                                                       d["normalization"], d["train"][0])
    elif opt.init_weights:
        _init_from_checkpoint(opt, model, d, device)

    n_params = zoo.count_parameters(model)
    _log(opt, f"parameters: {n_params:,}")
    net = procs.wrap(model, device)
    stop_reason = _fit(opt, model, net, optim, sched, state, d, decay_epochs, ckpt_path, representation, layout,
                       device, procs)
    if procs.rank:
        return None
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    _log(opt, f"stopped: {stop_reason}; " + (f"exporting the last epoch, {state['epoch']} (best val loss "
                                             f"{state['best_loss']:.4f} at epoch {state['best_epoch']})"
                                             if opt.schedule == "wsd" else
                                             f"best epoch {state['best_epoch']} (val loss {state['best_loss']:.4f})"))

    x_te, y_te, snr_te = d["test"]
    test_loss, test_acc, test_logits = _evaluate(model, x_te, y_te, device)
    per_snr = {float(s): float(np.mean(test_logits.argmax(1)[snr_te == s] == y_te[snr_te == s]))
               for s in np.unique(snr_te)}
    _log(opt, f"test split: accuracy {test_acc:.4f} over {len(y_te)} frames; per SNR: " +
         ", ".join(f"{s:g}:{a:.2f}" for s, a in per_snr.items()))

    training = dict(command=_command(opt), data=(f"generated: {opt.generate}" if opt.generate else
                                                 " + ".join(os.path.basename(f) for f in d["files"])),
                    epochs_run=state["epoch"],
                    best_epoch=state["best_epoch"], stop=stop_reason, batch_size=opt.batch_size, lr=opt.lr,
                    schedule=opt.schedule, decay_epochs=decay_epochs if opt.schedule == "wsd" else None,
                    clip_grad=opt.clip_grad or None, init_weights=opt.init_weights,
                    init_weights_sha256=state.get("init_weights_sha256"),
                    optimizer="Adam", split="on the fly" if opt.generate else "6:2:2", frames=int(d["frames"]),
                    streamed=bool(d.get("streamed")),
                    frames_per_epoch=opt.frames_per_epoch if opt.generate else None, min_snr=opt.min_snr,
                    max_snr=opt.max_snr, val_loss=round(state["best_loss"], 5), test_acc=round(test_acc, 5),
                    train_seconds=round(state["train_seconds"], 1), parameters=n_params,
                    torch=torch.__version__)
    metadata = contract_metadata(opt.model, classes, frame_length, d["normalization"], opt.output_kind)
    metadata.update({contract.META_DATASET: opt.dataset_name or " + ".join(dict.fromkeys(d["names"])),
                     contract.META_SEED: opt.seed, contract.META_TRAINING: training})
    x_va = d["val"][0]
    check = x_va[:64] if len(x_va) else d["train"][0][:64]
    try:
        blob, diff = export_onnx(model, check, metadata, opt.output_kind, check_inputs=check)
    except RuntimeError as e:
        raise TrainingError(str(e))
    atomic_write_bytes(blob, opt.output)
    _log(opt, f"wrote {opt.output} ({len(blob):,} bytes; ONNX Runtime vs PyTorch max |diff| {diff:.2e})")

    report = dict(model=opt.model, output=opt.output, bytes=len(blob), parameters=n_params,
                  metadata={k: v for k, v in metadata.items() if k != contract.META_TRAINING}, training=training,
                  history=state["history"], test_accuracy=test_acc, test_accuracy_per_snr=per_snr,
                  onnx_max_abs_diff=diff)
    if opt.int8 or opt.fp16:
        _variants(opt, report, len(blob), d)
    if opt.report:
        atomic_write_bytes(json.dumps(report, indent=1).encode(), opt.report)
    _log(opt, f"done in {time.time() - t_start:.0f} s")
    return report
