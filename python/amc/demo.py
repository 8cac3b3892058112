"""`gr-amc demo`: the main job.

1. generates a small labelled dataset with the module's blocks (`gr-amc generate --preset demo`);
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

DEFAULT_CLASSES = ["BPSK", "QPSK", "8PSK", "16QAM", "64QAM", "16APSK", "4ASK", "OOK",
                   "GMSK", "OQPSK", "FM", "AM-DSB-WC", "AM-SSB-SC"]
DEFAULT_SNRS = [-10, 0, 10, 20]


def configure_parser(p):
    p.add_argument("--out", default="out/demo", help="folder for the dataset, the report and the plot")
    p.add_argument("--model", default="amc-default", help="shipped model name or path to an .onnx file")
    p.add_argument("--classes", nargs="+", default=DEFAULT_CLASSES, metavar="CLASS",
                   help="modulations to stream (must be in the model's class list)")
    p.add_argument("--snrs", nargs="+", type=float, default=DEFAULT_SNRS, metavar="DB",
                   help="channel SNRs (Es/N0, dB)")
    p.add_argument("--frames", type=int, default=40, help="frames classified per (modulation, SNR)")
    p.add_argument("--channel", default="rml2018", help="radioml_channel preset")
    p.add_argument("--seed", type=int, default=2026, help="seed of the streamed signals and channels")
    p.add_argument("--skip-dataset", action="store_true", help="do not generate the demo dataset")


def classify_stream(model, cls, snr, frames, channel, seed):
    """Stream `frames` frames of `cls` at `snr` through the channel into the classifier; returns labels."""
    import pmt
    from gnuradio import blocks, gr
    from . import classifier_sink, modulation_source, radioml_channel

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


def run(args):
    from .cli import CliError
    from .classifier import ModelRunner
    from .paths import resolve_model

    from gnuradio import gr
    gr.logging().set_default_level(gr.log_levels.warn)  # blocks' info lines would drown the report
    t0 = time.time()
    try:
        model_path = resolve_model(args.model)
    except FileNotFoundError as e:
        raise CliError(str(e))
    runner = ModelRunner(model_path)
    classes = list(runner.classes)
    bad = [c for c in args.classes if c not in classes]
    if bad:
        raise CliError(f"--classes: {', '.join(bad)} not in the model's classes ({', '.join(classes)})")
    if args.frames < 1:
        raise CliError(f"--frames must be >= 1, got {args.frames}")
    os.makedirs(args.out, exist_ok=True)
    print(f"gr-amc demo: model {os.path.basename(model_path)} ({runner.metadata.get('amc.model', '?')}, "
          f"{len(classes)} classes, {runner.frame_len}-sample frames)")

    # 1. a small labelled dataset, made by the generation blocks
    dataset_acc = None
    if not args.skip_dataset:
        from .cli import main as cli_main
        ds_path = os.path.join(args.out, "demo_dataset.h5")
        print(f"\n[1/3] generating a labelled dataset with the module's blocks -> {ds_path}")
        # --overwrite: the file belongs to the demo (same seed, same content), so a second run
        # (make demo twice) remakes it instead of failing
        rc = cli_main(["generate", "--preset", "demo", "--frame-length", str(runner.frame_len),
                       "--overwrite", "--out", ds_path])
        if rc != 0:
            raise CliError(f"dataset generation failed (exit status {rc})")
        dataset_acc = _dataset_accuracy(runner, ds_path)

    # 2. stream modulations x SNRs through the channel into the classifier block
    print(f"\n[2/3] streaming {len(args.classes)} modulations x {len(args.snrs)} SNRs x {args.frames} frames "
          f"through the {args.channel} channel into amc.classifier_sink")
    results = {}
    for i, cls in enumerate(args.classes):
        for j, snr in enumerate(args.snrs):
            labels = classify_stream(model_path, cls, snr, args.frames, args.channel,
                                     args.seed + 1000 * i + 10 * j)
            results[(cls, snr)] = labels
        print(f"  {cls:10s} done", file=sys.stderr)

    # 3. report
    print("\n[3/3] results: accuracy per modulation and SNR (most frequent predicted label)")
    table = _report_table(results, args.classes, args.snrs)
    print(table)
    acc_snr = {snr: _acc([l for c in args.classes for l in results[(c, snr)]],
                         [c for c in args.classes for _ in results[(c, snr)]]) for snr in args.snrs}
    print("overall: " + ", ".join(f"{snr:g} dB {a:.1%}" for snr, a in acc_snr.items()))
    if dataset_acc is not None:
        print("model accuracy on the generated demo dataset: " +
              ", ".join(f"{snr:g} dB {a:.1%}" for snr, a in sorted(dataset_acc.items())))
    png = os.path.join(args.out, "accuracy_vs_snr.png")
    _plot(results, args.classes, args.snrs, png, os.path.basename(model_path))
    with open(os.path.join(args.out, "demo_results.json"), "w") as f:
        json.dump({"model": model_path, "snrs": args.snrs, "frames": args.frames,
                   "accuracy": {f"{c}@{s:g}": _acc(results[(c, s)], [c] * len(results[(c, s)]))
                                for c in args.classes for s in args.snrs},
                   "accuracy_per_snr": {f"{s:g}": a for s, a in acc_snr.items()}}, f, indent=1)
    with open(os.path.join(args.out, "demo_table.txt"), "w") as f:
        f.write(table + "\n")
    print(f"\naccuracy-vs-SNR plot: {os.path.abspath(png)}")
    print(f"table and JSON: {os.path.abspath(args.out)}/demo_table.txt, demo_results.json")
    print(f"demo finished in {time.time() - t0:.0f} s")
    return 0


def _acc(pred, truth):
    return sum(p == t for p, t in zip(pred, truth)) / max(len(truth), 1)


def _dataset_accuracy(runner, path):
    import numpy as np
    from .datasets import load_dataset
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
