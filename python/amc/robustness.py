#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Robustness sweeps of a model file (``gr-amc evaluate --sweep timing|sps|cfo|snr``).

Each sweep makes small labelled sets with the batch generator, one per swept value, on an AWGN channel
(so that only the swept quantity changes), and scores the model per class:

- ``timing``: where the frame starts in the symbol period, offsets 0 .. 7 samples at 8 samples per symbol
  (fractions 0, 1/8, ..., 7/8 of a symbol), digital classes;
- ``sps``: samples per symbol 4, 6, 8, 10, 16 (random timing), digital classes;
- ``cfo``: a carrier offset of 0 .. 0.01 cycles per sample (0 .. 2 kHz at 200 kS/s), every class;
- ``snr``: Es/N0 -10 .. 20 dB, every class.

Every class gets exactly ``frames_per_class`` frames per value, in 8 shards (each shard one draw of the
generator's per-shard parameters: seeds, channel); class j's shards are shards 8j .. 8j + 7 of the value's stream.
Seeds: sweep value i uses the stream seed ``SWEEP_SEED + 1000 * kind index + i``; no training stream uses
these (training streams use the run's seed, its validation/test sets seed + 2**40 and seed + 2**41).
"""
import numpy as np

from . import batch, contract, runtime
from .model_file import read_contract
from .dsp.modulation import kind_of

SWEEPS = ("timing", "sps", "cfo", "snr")
SWEEP_SEED = 0x5EE9_0000
DEFAULT_VALUES = {"timing": [k / 8 for k in range(8)], "sps": [4, 6, 8, 10, 16],
                  "cfo": [0.0, 0.0025, 0.005, 0.0075, 0.01], "snr": [-10, -5, 0, 5, 10, 15, 20]}


def _config(meta, classes, kind, value, snr):
    src = {"samples_per_symbol": 8, "rolloff": 0.35}
    if kind == "timing":
        src["timing_offset"] = float(value)
    elif kind == "sps":
        src["samples_per_symbol"] = float(value)
    return dict(name=f"sweep-{kind}", classes=list(classes), snrs=[int(value) if kind == "snr" else int(snr)],
                frames_per_class_snr=1, frame_length=int(meta[contract.META_FRAME_LENGTH]),
                normalization="none", shard_size=8, skip_samples=256, channel={"preset": "awgn"}, source=src)


def sweep(path, kind, snr=20, frames_per_class=64, values=None, classes=None, threads=1):
    """Accuracy per class of the model file ``path`` over one sweep.  Returns dict(kind, values, classes,
    accuracy: {class: [accuracy per value]}, mean: [mean over classes per value], frames_per_class, snr)."""
    if kind not in SWEEPS:
        raise ValueError(f"unknown sweep {kind!r}; allowed: {', '.join(SWEEPS)}")
    proto, meta = read_contract(path)
    mclasses = list(meta[contract.META_CLASSES])
    if classes is None:
        classes = [c for c in mclasses if kind in ("cfo", "snr") or kind_of(c) in ("linear", "oqpsk")]
    if not classes:
        raise ValueError(f"model {path!r} has no class the {kind} sweep applies to")
    values = list(DEFAULT_VALUES[kind] if values is None else values)
    raw = proto.SerializeToString()
    acc = {c: [] for c in classes}
    shard = max(1, frames_per_class // 8)
    per_class = -(-frames_per_class // shard)            # shards of one class per value
    for i, v in enumerate(values):
        parts = [batch.frames(_config(meta, [c], kind, v, snr), frames_per_class,
                              SWEEP_SEED + 1000 * SWEEPS.index(kind) + i, shard_size=shard, start=j * per_class)
                 for j, c in enumerate(classes)]
        x = np.concatenate([p[0] for p in parts])
        lab = np.repeat(np.arange(len(classes)), [len(p[0]) for p in parts])
        if kind == "cfo":
            x = x * np.exp(2j * np.pi * float(v) * np.arange(x.shape[1]))[None, :].astype(np.complex64)
        inp = runtime.contract_input(x, meta)
        pred = np.array(mclasses)[runtime.onnx_predict(raw, inp, threads=threads).argmax(1)]
        truth = np.array(classes)[lab]
        for c in classes:
            acc[c].append(float(np.mean(pred[truth == c] == c)) if np.any(truth == c) else float("nan"))
    mean = [float(np.nanmean([acc[c][i] for c in classes])) for i in range(len(values))]
    return dict(kind=kind, values=values, classes=classes, accuracy=acc, mean=mean,
                frames_per_class=frames_per_class, snr=snr)


def _label(kind, v):
    return f"{v * 8:g}/8" if kind == "timing" else f"{v:g} dB" if kind == "snr" else f"{v:g}"


def markdown(result, name):
    """A markdown table: one row per class, one column per swept value, the spread (max - min) last."""
    k, vals = result["kind"], result["values"]
    unit = {"timing": "timing offset (symbols, at 8 samples/symbol)", "sps": "samples per symbol",
            "cfo": "carrier offset (cycles/sample)", "snr": "SNR (Es/N0)"}[k]
    head = f"**{name}**, {unit}" + ("" if k == "snr" else f", {result['snr']} dB AWGN") + \
        f", {result['frames_per_class']} frames per class and value\n\n"
    rows = ["| class | " + " | ".join(_label(k, v) for v in vals) + " | spread |",
            "|---|" + "---|" * (len(vals) + 1)]
    for c in result["classes"]:
        a = result["accuracy"][c]
        rows.append(f"| {c} | " + " | ".join(f"{x:.2f}" for x in a) + f" | {np.nanmax(a) - np.nanmin(a):.2f} |")
    m = result["mean"]
    rows.append("| **mean** | " + " | ".join(f"**{x:.2f}**" for x in m) + f" | {max(m) - min(m):.2f} |")
    return head + "\n".join(rows) + "\n"


def plot(result, name, path):
    """Accuracy per class against the swept value (PNG)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.asarray(result["values"], dtype=float) * (8 if result["kind"] == "timing" else 1)
    for c in result["classes"]:
        ax.plot(x, result["accuracy"][c], lw=0.8, alpha=0.6)
    ax.plot(x, result["mean"], "k-o", lw=2, label="mean")
    ax.set_xlabel({"timing": "frame start (samples after a symbol centre, 8 samples/symbol)",
                   "sps": "samples per symbol", "cfo": "carrier offset (cycles/sample)",
                   "snr": "SNR (dB)"}[result["kind"]])
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{name}: {result['kind']} sweep")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
