#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Evaluation of ONNX models on a test dataset, the library job behind ``gr-amc evaluate``.

For each model: accuracy per SNR, overall, averaged over SNR >= 10 dB and per class; confusion matrices at chosen
SNRs (PNG); parameters, file size, MACs per frame (onnx_graph.count_macs), ONNX Runtime latency per frame at batch 1
and batch 64 (one thread); then one accuracy-vs-SNR plot for all models (PNG), a table shaped like the MobileNetV4
paper's Table 3 (rows: models, columns: SNRs) and a Markdown and a JSON report in the output folder
(:func:`evaluate`).  :func:`sweeps` runs the robustness sweeps (robustness.py) of several models into one report.

Inference path: the frames go through runtime.contract_input, the path the classifier block uses (the model's
own normalization by the C++ kernel, then its representation and layout).  Labels are matched to the model's
outputs by class name, so the model's class order may differ from the file's.
"""
import json
import os
import time

import numpy as np

from . import contract, datasets, onnx_graph, paths, robustness, runtime
from .fileio import atomic_write_bytes, atomic_write_text
from .model_file import read_contract


def confusion_matrix(pred, labels, n_classes):
    """cm[i, j] = number of frames of true class i predicted as class j (predictions outside 0..n-1 are not
    counted in any column, so the row sum can be less than the class's frame count)."""
    pred = np.asarray(pred, np.int64)
    labels = np.asarray(labels, np.int64)
    ok = (pred >= 0) & (pred < n_classes)
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (labels[ok], pred[ok]), 1)
    return cm


def compute_metrics(pred, labels, snrs, classes, high_snr=10.0):
    """Accuracy overall, per SNR, per class and averaged over the SNRs >= high_snr (mean of the per-SNR
    accuracies); confusion matrix over all frames.  pred/labels are indices into classes (pred -1: a class the
    dataset does not have, always wrong)."""
    pred = np.asarray(pred, np.int64)
    labels = np.asarray(labels, np.int64)
    snrs = np.asarray(snrs, np.float64)
    if not (len(pred) == len(labels) == len(snrs)):
        raise ValueError(f"pred, labels and snrs must have the same length ({len(pred)}, {len(labels)}, "
                         f"{len(snrs)})")
    correct = pred == labels
    per_snr = {float(s): float(correct[snrs == s].mean()) for s in np.unique(snrs)}
    high = [a for s, a in per_snr.items() if s >= high_snr]
    cm = confusion_matrix(pred, labels, len(classes))
    per_class = {}
    for i, c in enumerate(classes):
        n = int(np.sum(labels == i))
        if n:
            per_class[c] = float(cm[i, i] / n)
    return dict(overall=float(correct.mean()) if len(pred) else float("nan"), per_snr=per_snr,
                high_snr=float(np.mean(high)) if high else float("nan"), high_snr_threshold=high_snr,
                per_class=per_class, frames=int(len(pred)), confusion=cm.tolist())


def evaluate_model(path, data, name=None, threads=1, batch=256, latency=True, latency_seconds=2.0):
    """Evaluate one ONNX model on loaded data (datasets.load_data's dict).  Returns a result dict (its "_pred" entry:
    the predicted class indices into data["classes"], -1 for a class the data does not have)."""
    proto, meta = read_contract(path)
    L = data["frames"].shape[1]
    if meta[contract.META_FRAME_LENGTH] != L:
        raise ValueError(f"model {path!r} takes frames of {meta[contract.META_FRAME_LENGTH]} samples; the dataset's "
                       f"frames have {L}")
    mclasses = list(meta[contract.META_CLASSES])
    missing = [c for c in data["classes"] if c not in mclasses and np.any(
        data["labels"] == data["classes"].index(c))]
    if missing:
        raise ValueError(f"model {path!r} cannot output the dataset's classes {missing} (its classes: {mclasses})")
    to_data = np.array([data["classes"].index(c) if c in data["classes"] else -1 for c in mclasses], np.int64)
    x = runtime.contract_input(data["frames"], meta)
    raw = proto.SerializeToString()
    t0 = time.perf_counter()
    out = runtime.onnx_predict(raw, x, batch=batch, threads=threads)
    wall = time.perf_counter() - t0
    pred = to_data[out.argmax(1)]
    res = dict(name=name or os.path.splitext(os.path.basename(path))[0],
               path=path, model=meta.get(contract.META_MODEL), dataset=meta.get(contract.META_DATASET),
               metrics=compute_metrics(pred, data["labels"], data["snrs"], data["classes"]),
               bytes=os.path.getsize(path), onnx_weights=onnx_graph.count_weights(proto), macs=onnx_graph.count_macs(proto, L),
               quantization=meta.get("amc.quantization"),
               rotations=int(meta[contract.META_ROTATIONS]) if contract.META_ROTATIONS in meta else None,
               accuracy_run_seconds=round(wall, 2), _pred=pred)
    training = meta.get(contract.META_TRAINING)
    res["parameters"] = training.get("parameters") if isinstance(training, dict) else None
    if latency:
        ex = x[:64]
        res["latency_ms_b1"] = runtime.measure_latency(raw, ex[:1], 1, latency_seconds, threads)
        res["latency_ms_b64"] = runtime.measure_latency(raw, ex, 64, latency_seconds, threads)
    return res


def _fmt_acc(a):
    return "-" if a is None or a != a else f"{a:.3f}"


def _fmt_int(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e3:
        return f"{v / 1e3:.1f} k"
    return str(v)


def markdown_report(results, data_info, table_snrs, title):
    lines = [f"# {title}", ""]
    lines += [f"Test data: `{data_info['file']}` — {data_info['frames']:,} frames of {data_info['frame_length']} "
              f"samples, {len(data_info['classes'])} classes, SNR {data_info['snr_min']:g} to "
              f"{data_info['snr_max']:g} dB, generator normalization `{data_info['normalization']}`"
              + (f", seed {data_info['seed']}" if data_info.get('seed') is not None else "") + ".", ""]
    lines += ["## Accuracy per SNR (dB)", ""]
    head = ["Model"] + [f"{s:g}" for s in table_snrs] + ["≥10 dB", "overall"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        m = r["metrics"]
        row = [r["name"]] + [_fmt_acc(m["per_snr"].get(float(s))) for s in table_snrs]
        row += [_fmt_acc(m["high_snr"]), _fmt_acc(m["overall"])]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## Size and speed", "",
              "Latency: ONNX Runtime (CPU execution provider, one thread), median time per frame.", "",
              "| Model | architecture | parameters | ONNX weights | file size | MACs/frame | ms/frame (batch 1) | "
              "ms/frame (batch 64) |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lat1 = f"{r['latency_ms_b1']:.3f}" if "latency_ms_b1" in r else "-"
        lat64 = f"{r['latency_ms_b64']:.3f}" if "latency_ms_b64" in r else "-"
        kind = r["model"] + (" " + r["quantization"].split()[0] if r.get("quantization") else "")  # int8, float16
        kind += f" x{r['rotations']} rotations" if r.get("rotations") else ""
        lines.append(f"| {r['name']} | {kind} | "
                     f"{_fmt_int(r['parameters'])} | {_fmt_int(r['onnx_weights'])} | {r['bytes'] / 1024:.1f} kB | "
                     f"{_fmt_int(r['macs'])} | {lat1} | {lat64} |")
    lines += ["", "## Accuracy per class (all SNRs)", "",
              "| Class | " + " | ".join(r["name"] for r in results) + " |", "|---|" + "---|" * len(results)]
    for c in data_info["classes"]:
        lines.append(f"| {c} | " + " | ".join(_fmt_acc(r["metrics"]["per_class"].get(c)) for r in results) + " |")
    lines += ["", "## Plots", "", "![accuracy vs SNR](accuracy_vs_snr.png)", ""]
    for r in results:
        for snr, f in r.get("confusion_png", {}).items():
            lines.append(f"- {r['name']} at {snr} dB: [{f}]({f})")
    return "\n".join(lines) + "\n"


def plots(results, data, out_dir, confusion_snrs):
    """accuracy_vs_snr.png for all results and a confusion matrix per result and SNR in out_dir."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    for r in results:
        s = sorted(r["metrics"]["per_snr"])
        ax.plot(s, [r["metrics"]["per_snr"][v] for v in s], marker="o", ms=3, label=r["name"])
    ax.set_xlabel("SNR (Es/N0, dB)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "accuracy_vs_snr.png"), dpi=110)
    plt.close(fig)
    classes = data["classes"]
    for r in results:
        r["confusion_png"] = {}
        for snr in confusion_snrs:
            sel = data["snrs"] == snr
            if not np.any(sel):
                continue
            cm = confusion_matrix(r["_pred"][sel], data["labels"][sel], len(classes)).astype(float)
            cm /= np.maximum(cm.sum(1, keepdims=True), 1)
            n = len(classes)
            fig, ax = plt.subplots(figsize=(3 + 0.32 * n, 2.5 + 0.3 * n))
            im = ax.imshow(cm, vmin=0, vmax=1, cmap="Blues")
            ax.set_xticks(range(n))
            ax.set_yticks(range(n))
            ax.set_xticklabels(classes, rotation=90, fontsize=7)
            ax.set_yticklabels(classes, fontsize=7)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
            ax.set_title(f"{r['name']} at {snr:g} dB (accuracy {r['metrics']['per_snr'].get(float(snr), 0):.3f})")
            fig.colorbar(im, ax=ax, fraction=0.046)
            fig.tight_layout()
            fname = f"confusion_{r['name']}_{snr:g}dB.png".replace(" ", "_")
            fig.savefig(os.path.join(out_dir, fname), dpi=100)
            plt.close(fig)
            r["confusion_png"][f"{snr:g}"] = fname



def _silent(*args, **kwargs):
    pass


def _model_paths(models, names):
    """The model files of `models` (paths or shipped names); ValueError when `names` does not name each."""
    if names and len(names) != len(models):
        raise ValueError(f"--names gives {len(names)} names for {len(models)} models")
    return [paths.resolve_model(m) for m in models]


def evaluate(data_path, models, out_dir="amc-eval", names=None, confusion_snrs=(0.0, 10.0), table_snrs=None,
             max_frames=0, threads=1, batch=256, latency=True, latency_seconds=2.0, title=None, log=print):
    """Evaluate the ONNX `models` (paths or shipped model names) on the dataset file `data_path`; writes
    report.md, report.json, accuracy_vs_snr.png and confusion matrices into `out_dir`.  Returns the report dict
    (data, models).  `log` receives one line per model and a closing line (None: silent)."""
    log = log or _silent
    model_paths = _model_paths(models, names)
    data = datasets.load_data(data_path)
    if max_frames and len(data["labels"]) > max_frames:
        sel = np.sort(np.random.default_rng(0).choice(len(data["labels"]), max_frames, replace=False))
        data = dict(data, frames=data["frames"][sel], labels=data["labels"][sel], snrs=data["snrs"][sel])
    os.makedirs(out_dir, exist_ok=True)
    results = []
    for i, p in enumerate(model_paths):
        r = evaluate_model(p, data, name=names[i] if names else None, threads=threads, batch=batch,
                           latency=latency, latency_seconds=latency_seconds)
        results.append(r)
        log(f"{r['name']}: accuracy {r['metrics']['overall']:.4f} overall, {r['metrics']['high_snr']:.4f} at "
            f">= 10 dB; {r['bytes']:,} bytes, {r['macs']:,} MACs/frame"
            + (f", {r['latency_ms_b1']:.3f} / {r['latency_ms_b64']:.3f} ms per frame (batch 1 / 64)"
               if "latency_ms_b1" in r else ""), flush=True)
    plots(results, data, out_dir, list(confusion_snrs or []))
    for r in results:
        del r["_pred"]
    snr_values = sorted(float(s) for s in np.unique(data["snrs"]))
    table = [float(s) for s in table_snrs] if table_snrs else snr_values
    attrs = data["attrs"]
    info = dict(file=os.path.basename(data_path), frames=int(len(data["labels"])),
                frame_length=int(data["frames"].shape[1]), classes=list(data["classes"]),
                snr_min=min(snr_values), snr_max=max(snr_values),
                normalization=datasets.dataset_normalization(attrs) or "unknown", seed=attrs.get("seed"))
    md = markdown_report(results, info, table, title or f"gr-amc evaluation on {info['file']}")
    atomic_write_text(md, os.path.join(out_dir, "report.md"))
    report = dict(data=info, models=results)
    atomic_write_bytes(json.dumps(report, indent=1).encode(), os.path.join(out_dir, "report.json"))
    log(f"wrote {os.path.join(out_dir, 'report.md')} and report.json, accuracy_vs_snr.png, "
        f"{sum(len(r['confusion_png']) for r in results)} confusion matrices")
    return report


def sweeps(models, kinds, out_dir="amc-eval", names=None, snr=20.0, frames_per_class=64, threads=1, title=None,
           log=print):
    """Robustness sweeps (robustness.SWEEPS) of every model: one markdown table, JSON and plot per model and sweep
    in `out_dir` (sweeps.md, sweeps.json, MODEL_sweep_KIND.png).  Returns the list of sweep results."""
    log = log or _silent
    if frames_per_class < 1:
        raise ValueError(f"--sweep-frames must be >= 1, got {frames_per_class}")
    model_paths = _model_paths(models, names)
    os.makedirs(out_dir, exist_ok=True)
    names = names or [os.path.splitext(os.path.basename(p))[0] for p in model_paths]
    md, js = [f"# {title or 'Robustness sweeps'}\n"], []
    for path, name in zip(model_paths, names):
        for kind in kinds:
            r = robustness.sweep(path, kind, snr=snr, frames_per_class=frames_per_class, threads=threads)
            md.append(robustness.markdown(r, name))
            png = os.path.join(out_dir, f"{name}_sweep_{kind}.png")
            robustness.plot(r, name, png)
            md.append(f"![{name} {kind} sweep]({os.path.basename(png)})\n")
            js.append(dict(r, model=name))
            log(robustness.markdown(r, name))
    atomic_write_text("\n".join(md), os.path.join(out_dir, "sweeps.md"))
    atomic_write_bytes(json.dumps(js, indent=1).encode(), os.path.join(out_dir, "sweeps.json"))
    return js
