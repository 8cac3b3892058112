"""The main job behind ``gr-amc demo`` (:func:`run_demo`).

1. generates a small labelled dataset with the module's blocks (generation.generate of the demo preset);
2. streams several modulations at several SNRs through the RadioML channel into the classifier block
   running the shipped default model (one flowgraph per (modulation, SNR), many frames each);
3. prints a per-modulation table of predicted labels and accuracy, the model's accuracy on the generated
   dataset, and writes an accuracy-vs-SNR plot (PNG) whose path it prints.
"""
import collections
import json
import os
import sys
import time

import numpy as np
import pmt
from gnuradio import blocks, gr

from .classifier import ModelRunner, classifier_sink
from .datasets import load_dataset
from .fileio import atomic_write_text
from .generation import generate
from .modulation_source import modulation_source
from .paths import resolve_model
from .radioml_channel import radioml_channel

DEFAULT_CLASSES = ("BPSK", "QPSK", "8PSK", "16QAM", "64QAM", "16APSK", "4ASK", "OOK",
                   "GMSK", "OQPSK", "FM", "AM-DSB-WC", "AM-SSB-SC")
DEFAULT_SNRS = (-10, 0, 10, 20)


def classify_stream(model, cls, snr, frames, channel, seed):
    """Stream `frames` frames of `cls` at `snr` through the channel into the classifier; returns labels."""
    clf = classifier_sink(model=model)
    frame_len = clf.frame_len()
    tb = gr.top_block()
    src = modulation_source(cls, seed=seed)
    ch = radioml_channel(preset=channel, snr_db=float(snr), seed=seed + 1)
    head = blocks.head(gr.sizeof_gr_complex, frames * frame_len)
    store = blocks.message_debug()
    tb.connect(src, ch, head, clf)
    tb.msg_connect(clf, "classification", store, "store")
    tb.run()
    return [str(pmt.to_python(store.get_message(i))["label"]) for i in range(store.num_messages())]


def _acc(pred, truth):
    return sum(p == t for p, t in zip(pred, truth)) / max(len(truth), 1)


def _dataset_accuracy(runner, path):
    ds = load_dataset(path)
    probs, _ = runner.classify(ds.x)
    pred = np.array([runner.classes[k] for k in probs.argmax(axis=1)])
    truth = np.array([ds.classes[k] for k in ds.labels])
    return {float(s): float(np.mean(pred[ds.snrs == s] == truth[ds.snrs == s])) for s in np.unique(ds.snrs)}


def _report_table(results, classes, snrs):
    head = f"{'modulation':12s}" + "".join(f"{f'{s:g} dB':>24s}" for s in snrs)
    lines = [head, "-" * len(head)]
    for c in classes:
        row = f"{c:12s}"
        for s in snrs:
            labels = results[(c, s)]
            top, n = collections.Counter(labels).most_common(1)[0] if labels else ("-", 0)
            row += f"{f'{_acc(labels, [c] * len(labels)):.0%} ({top})':>24s}"
        lines.append(row)
    return "\n".join(lines)


def _plot(results, classes, snrs, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    for c in classes:
        ax.plot(snrs, [_acc(results[(c, s)], [c] * len(results[(c, s)])) for s in snrs], marker="o",
                label=c, alpha=0.7)
    mean = [_acc([l for c in classes for l in results[(c, s)]], [c for c in classes for _ in results[(c, s)]])
            for s in snrs]
    ax.plot(snrs, mean, "k-", linewidth=3, label="all")
    ax.set_xlabel("SNR (Es/N0, dB)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"gr-amc demo: {title} through the RadioML channel")
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)



def run_demo(output="out/demo", model="amc-default", classes=None, snrs=None, frames=40,
             channel="rml2018", seed=2026, skip_dataset=False):
    """The main job (see the module's docstring); prints its report and returns the results written to
    demo_results.json (classes, snrs: None for DEFAULT_CLASSES, DEFAULT_SNRS).  ValueError / FileNotFoundError
    for a model, class or count that does not fit."""
    classes = list(DEFAULT_CLASSES if classes is None else classes)
    snrs = list(DEFAULT_SNRS if snrs is None else snrs)
    gr.logging().set_default_level(gr.log_levels.warn)  # blocks' info lines would drown the report
    t0 = time.time()
    model_path = resolve_model(model)
    runner = ModelRunner(model_path)
    model_classes = list(runner.classes)
    bad = [c for c in classes if c not in model_classes]
    if bad:
        raise ValueError(f"--classes: {', '.join(bad)} not in the model's classes ({', '.join(model_classes)})")
    if frames < 1:
        raise ValueError(f"--frames must be >= 1, got {frames}")
    os.makedirs(output, exist_ok=True)
    print(f"gr-amc demo: model {os.path.basename(model_path)} ({runner.metadata.get('amc.model', '?')}, "
          f"{len(model_classes)} classes, {runner.frame_len}-sample frames)")

    # 1. a small labelled dataset, made by the generation blocks
    dataset_acc = None
    if not skip_dataset:
        ds_path = os.path.join(output, "demo_dataset.h5")
        print(f"\n[1/3] generating a labelled dataset with the module's blocks -> {ds_path}")
        # --overwrite: the file belongs to the demo (same seed, same content), so a second run
        # (make demo twice) remakes it instead of failing
        generate("demo", ds_path, overwrite=True, frame_length=runner.frame_len)
        dataset_acc = _dataset_accuracy(runner, ds_path)

    # 2. stream modulations x SNRs through the channel into the classifier block
    print(f"\n[2/3] streaming {len(classes)} modulations x {len(snrs)} SNRs x {frames} frames "
          f"through the {channel} channel into amc.classifier_sink")
    results = {}
    for i, cls in enumerate(classes):
        for j, snr in enumerate(snrs):
            labels = classify_stream(model_path, cls, snr, frames, channel,
                                     seed + 1000 * i + 10 * j)
            results[(cls, snr)] = labels
        print(f"  {cls:10s} done", file=sys.stderr)

    # 3. report
    print("\n[3/3] results: accuracy per modulation and SNR (most frequent predicted label)")
    table = _report_table(results, classes, snrs)
    print(table)
    acc_snr = {snr: _acc([l for c in classes for l in results[(c, snr)]],
                         [c for c in classes for _ in results[(c, snr)]]) for snr in snrs}
    print("overall: " + ", ".join(f"{snr:g} dB {a:.1%}" for snr, a in acc_snr.items()))
    if dataset_acc is not None:
        print("model accuracy on the generated demo dataset: " +
              ", ".join(f"{snr:g} dB {a:.1%}" for snr, a in sorted(dataset_acc.items())))
    png = os.path.join(output, "accuracy_vs_snr.png")
    _plot(results, classes, snrs, png, os.path.basename(model_path))
    report = {"model": model_path, "snrs": list(snrs), "frames": frames,
              "accuracy": {f"{c}@{s:g}": _acc(results[(c, s)], [c] * len(results[(c, s)]))
                           for c in classes for s in snrs},
              "accuracy_per_snr": {f"{s:g}": a for s, a in acc_snr.items()}}
    atomic_write_text(json.dumps(report, indent=1), os.path.join(output, "demo_results.json"))
    atomic_write_text(table + "\n", os.path.join(output, "demo_table.txt"))
    print(f"\naccuracy-vs-SNR plot: {os.path.abspath(png)}")
    print(f"table and JSON: {os.path.abspath(output)}/demo_table.txt, demo_results.json")
    print(f"demo finished in {time.time() - t0:.0f} s")
    return report

