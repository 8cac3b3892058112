#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Fusion heads (``gr-amc fuse``): a trained network's logits and the blind receiver's order features
(the C++ front end ``amc.order_features``) -> refined logits, composed into one ONNX file.

The network tells the families apart; the orders inside a family (8/16/32PSK, 16..256QAM, the APSKs) are where
it fails under multipath, and where a receiver that finds the symbol rate and timing, matched-filters and
equalizes sees them (docs/models.md, "Fusion head").  The head is a small MLP on [logits, standardized
features] whose output is *added* to the network's logits (its last layer starts at zero, so training starts
from the network's own answers).  The composed file has two inputs, the network's frame input and
``features``, and says so in ``amc.front_end``; ``runtime.feeds`` computes the features from the frames of the
network input wherever the file is run (the classifier blocks, evaluate, sweeps), so the head is trained on
exactly the features it will see.

Data: frames of the batch generator (one or more presets, a seed of their own), through the network's own input
path (runtime.model_input), the network run once by ONNX Runtime; cached in memory.  Deterministic for a seed.
"""
import io
import json
import sys
import time
import warnings

import numpy as np

from .. import batch, contract, runtime
from ..fused_graph import FEATURE_INPUT, FUSED_OUTPUT, HEAD_PREFIX, base_network, join, rename
from ..model_file import read_contract

#: Seeds of the validation frames: seed + VALIDATION_OFFSET (the training frames use seed itself).
VALIDATION_OFFSET = 1 << 40


def head_data(net_bytes, meta, presets, n, seed, shard_size=8, chunk=2048, log=None, version=None):
    """(logits float32 (n, C), features float32 (n, F), labels int64, snrs) for n frames drawn from the presets
    (equal parts; preset i with seed + i), through the network's input path and the front end (version: of
    order-features, default the latest)."""
    sess = runtime.session(net_bytes, threads=1)
    name = sess.get_inputs()[0].name
    classes = list(meta[contract.META_CLASSES])
    parts = []
    per = [n // len(presets) + (1 if i < n % len(presets) else 0) for i in range(len(presets))]
    t0 = time.time()
    for i, (preset, m) in enumerate(zip(presets, per)):
        done = 0
        while done < m:
            k = min(chunk, m - done)
            x, lab, snr, _ = batch.frames(preset, k, seed + i, shard_size=shard_size, start=done // shard_size,
                                          classes=classes, frame_length=meta[contract.META_FRAME_LENGTH])
            xin, _ = runtime.model_input(x, meta[contract.META_NORMALIZATION], meta[contract.META_REPRESENTATION],
                                         meta[contract.META_INPUT_LAYOUT])
            logits = np.concatenate([sess.run(None, {name: xin[j:j + 256]})[0] for j in range(0, len(xin), 256)])
            feats = runtime.order_features_of(xin, meta[contract.META_REPRESENTATION], meta[contract.META_INPUT_LAYOUT],
                                              version)
            parts.append((logits.astype(np.float32), feats, np.asarray(lab, np.int64), np.asarray(snr, np.float32)))
            done += k
            if log:
                log(f"  {preset}: {done}/{m} frames ({time.time() - t0:.0f} s)")
    return tuple(np.concatenate([p[j] for p in parts]) for j in range(4))


def _head_module(n_classes, n_features, hidden, mu, sd, dropout=0.0):
    import torch

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mu", torch.from_numpy(mu.astype(np.float32)))
            self.register_buffer("inv_sd", torch.from_numpy((1.0 / sd).astype(np.float32)))
            drop = [torch.nn.Dropout(dropout)] if dropout > 0 else []
            self.mlp = torch.nn.Sequential(
                torch.nn.Linear(n_classes + n_features, hidden), torch.nn.ReLU(), *drop,
                torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), *drop,
                torch.nn.Linear(hidden, n_classes))
            torch.nn.init.zeros_(self.mlp[-1].weight)
            torch.nn.init.zeros_(self.mlp[-1].bias)

        def forward(self, logits, features):
            f = (features - self.mu) * self.inv_sd
            return logits + self.mlp(torch.cat([logits, f], dim=1))

    return Head()


def train_head(train, val, hidden=128, epochs=30, lr=1e-3, batch_size=256, seed=0, weight_decay=1e-4, dropout=0.0,
               log=None):
    """Train a head on (logits, features, labels, snrs) tuples; AdamW (weight_decay), dropout after each hidden
    layer while training, cosine schedule, the epoch with the lowest validation loss kept (smoother than the
    accuracy, and the block reports probabilities).  Returns (head module (eval mode), history list of dicts, the
    network's own validation accuracy)."""
    import torch
    torch.manual_seed(seed)
    lt, ft, yt = (torch.from_numpy(a) for a in train[:3])
    lv, fv, yv = (torch.from_numpy(a) for a in val[:3])
    mu = train[1].mean(0)
    sd = np.maximum(train[1].std(0), 1e-3)
    head = _head_module(lt.shape[1], ft.shape[1], hidden, mu, sd, dropout)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    gen = torch.Generator().manual_seed(seed)

    def scores(l, f, y):
        head.eval()
        with torch.no_grad():
            out = head(l, f)
            return float((out.argmax(1) == y).float().mean()), float(torch.nn.functional.cross_entropy(out, y))

    best, best_state, history = float("inf"), None, []
    base_val = float((lv.argmax(1) == yv).float().mean())
    for ep in range(1, epochs + 1):
        head.train()
        perm = torch.randperm(len(yt), generator=gen)
        total = 0.0
        for s in range(0, len(perm), batch_size):
            b = perm[s:s + batch_size]
            loss = torch.nn.functional.cross_entropy(head(lt[b], ft[b]), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
        sched.step()
        va, vloss = scores(lv, fv, yv)
        history.append({"epoch": ep, "loss": total / len(yt), "val_accuracy": va, "val_loss": vloss})
        if log:
            log(f"  head epoch {ep}/{epochs}: loss {total / len(yt):.4f}, validation {va:.4f} (loss {vloss:.4f}; "
                f"network alone {base_val:.4f})")
        if vloss < best:
            best, best_state = vloss, {k: v.clone() for k, v in head.state_dict().items()}
    head.load_state_dict(best_state)
    return head.eval(), history, base_val


def compose(net_proto, head, meta, fusion_info, version=None):
    """The network and a trained head as one ONNX model (bytes): inputs = the network's input and
    FEATURE_INPUT, output = refined logits; the contract gets amc.front_end (order-features at `version`,
    default the latest) and amc.fusion."""
    import onnx
    import onnx.compose
    import torch
    n_feat = int(head.mu.shape[0])
    n_cls = len(meta[contract.META_CLASSES])
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(head, (torch.zeros(1, n_cls), torch.zeros(1, n_feat)), buf,
                          input_names=["logits", FEATURE_INPUT], output_names=["output"],
                          dynamic_axes={"logits": {0: "N"}, FEATURE_INPUT: {0: "N"}, "output": {0: "N"}},
                          opset_version=17, dynamo=False)
    hp = onnx.compose.add_prefix(onnx.load_from_string(buf.getvalue()), HEAD_PREFIX)
    rename(hp.graph, HEAD_PREFIX + FEATURE_INPUT, FEATURE_INPUT)
    rename(hp.graph, HEAD_PREFIX + "output", FUSED_OUTPUT)
    net_out = net_proto.graph.output[0].name
    out_meta = {k: v for k, v in meta.items() if k not in (contract.META_FRONT_END, contract.META_FUSION)}
    out_meta[contract.META_OUTPUT] = "logits"
    version = contract.front_end_version("order-features") if version is None else int(version)
    if n_feat != contract.FRONT_ENDS["order-features"][version]:
        raise ValueError(f"the head takes {n_feat} features; order-features version {version} makes "
                         f"{contract.FRONT_ENDS['order-features'][version]}")
    out_meta[contract.META_FRONT_END] = {"name": "order-features", "version": version,
                                         "input": FEATURE_INPUT, "size": n_feat}
    out_meta[contract.META_FUSION] = dict(fusion_info, network_output=net_out)
    merged = join(net_proto, hp, out_meta)
    merged.doc_string = f"gr-amc {meta.get(contract.META_MODEL, '')} modulation classifier with an order-feature fusion head"
    return merged.SerializeToString()


def network_of(base):
    """(network proto, its contract) of a file or shipped name: for a fused file, the network inside it.
    ValueError unless the network outputs logits."""
    proto, meta = read_contract(base)
    if meta.get(contract.META_OUTPUT) != "logits":
        raise ValueError(f"{base}: a fusion head needs a network that outputs logits (amc.output), not "
                         f"{meta.get(contract.META_OUTPUT)!r}")
    net_meta = {k: v for k, v in meta.items() if k not in (contract.META_FRONT_END, contract.META_FUSION)}
    return base_network(proto, meta), net_meta


def fuse(base, output, presets, frames=65536, val_frames=8192, hidden=128, epochs=30, lr=1e-3, weight_decay=1e-4,
         dropout=0.0, seed=0, threads=1, report=None, quiet=False, command=None):
    """Train a fusion head over the network of `base` (a file or shipped name; for a fused file, its network)
    on frames of `presets` and write the composed file to `output`.  Returns the report dict."""
    import torch
    torch.set_num_threads(int(threads))
    log = (lambda m: None) if quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    if frames < 1024 or val_frames < 256:
        raise ValueError(f"--frames must be >= 1024 and --val-frames >= 256, got {frames} and {val_frames}")
    if not 0.0 <= dropout < 1.0 or weight_decay < 0.0:
        raise ValueError(f"--dropout must be in [0, 1) and --weight-decay >= 0, got {dropout} and {weight_decay}")
    net, net_meta = network_of(base)
    t0 = time.time()
    log(f"fuse: {frames} training frames of {', '.join(presets)} (seed {seed}), {val_frames} validation frames")
    tr = head_data(net.SerializeToString(), net_meta, presets, frames, seed, log=log)
    va = head_data(net.SerializeToString(), net_meta, presets, val_frames, seed + VALIDATION_OFFSET)
    return fuse_data(net, net_meta, tr, va, dict(base=str(base), presets=list(presets), frames=int(frames),
                                                 val_frames=int(val_frames), seed=int(seed),
                                                 data_seconds=round(time.time() - t0, 1)),
                     output, hidden=hidden, epochs=epochs, lr=lr, weight_decay=weight_decay, dropout=dropout,
                     report=report, log=log, command=command)


def fuse_data(net, net_meta, tr, va, info, output, hidden=128, epochs=30, lr=1e-3, weight_decay=1e-4, dropout=0.0,
              report=None, log=None, command=None):
    """The second half of fuse: train the head on the head_data tuples tr / va, compose, check, write."""
    log = log or (lambda m: None)
    import torch
    t0 = time.time()
    head, history, base_val = train_head(tr, va, hidden=hidden, epochs=epochs, lr=lr, seed=info["seed"],
                                         weight_decay=weight_decay, dropout=dropout, log=log)
    kept = min(history, key=lambda h: h["val_loss"])
    info = dict(info, hidden=int(hidden), epochs=int(epochs), lr=float(lr), weight_decay=float(weight_decay),
                dropout=float(dropout), kept_epoch=kept["epoch"],
                val_accuracy=kept["val_accuracy"], val_accuracy_network=base_val,
                head_seconds=round(time.time() - t0, 1))
    if command:
        info["command"] = command
    data = compose(net, head, net_meta, info)
    # the composed file must give the network's logits plus the head, through the path every entry point uses
    net_bytes = net.SerializeToString()
    xin = _network_inputs(net_meta, info["presets"][0], 64, info["seed"] + 2 * VALIDATION_OFFSET)
    got = runtime.onnx_predict(data, xin)
    sess = runtime.session(net_bytes)
    with torch.no_grad():
        ref = head(torch.from_numpy(sess.run(None, {sess.get_inputs()[0].name: xin})[0]),
                   torch.from_numpy(runtime.order_features_of(xin, net_meta[contract.META_REPRESENTATION],
                                                              net_meta[contract.META_INPUT_LAYOUT]))).numpy()
    diff = float(np.max(np.abs(got - ref)))
    if diff > 1e-3 * (1 + float(np.max(np.abs(ref)))):
        raise RuntimeError(f"the composed file differs from the network and the trained head by {diff:.3g}; "
                           f"not written")
    from ..fileio import atomic_write_bytes
    atomic_write_bytes(data, output)
    rep = {"output": str(output), "bytes": len(data), "fusion": info, "history": history}
    if report:
        atomic_write_bytes(json.dumps(rep, indent=1).encode(), report)
    log(f"fuse: wrote {output} ({len(data):,} bytes): validation {info['val_accuracy']:.4f} "
        f"(network alone {base_val:.4f}), head {info['head_seconds']:.0f} s")
    return rep


def _network_inputs(meta, preset, n, seed):
    x, _, _, _ = batch.frames(preset, n, seed, shard_size=4, classes=list(meta[contract.META_CLASSES]),
                              frame_length=meta[contract.META_FRAME_LENGTH])
    return runtime.model_input(x, meta[contract.META_NORMALIZATION], meta[contract.META_REPRESENTATION],
                               meta[contract.META_INPUT_LAYOUT])[0]
