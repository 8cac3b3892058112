"""`gr-amc evaluate`: evaluate ONNX models on a test dataset file.

For each model: accuracy per SNR, overall, averaged over SNR >= 10 dB and per class; confusion matrices at chosen
SNRs (PNG); parameters, file size, MACs per frame (counted from the ONNX graph: Conv, Gemm, MatMul, GRU, LSTM and
their quantized forms), ONNX Runtime latency per frame at batch 1 and batch 64 (one thread); then one accuracy-vs-SNR
plot for all models (PNG), a table shaped like the MobileNetV4 paper's Table 3 (rows: models, columns: SNRs) and a
Markdown and a JSON report in the output folder.

Inference path: the frames of a gr-amc dataset are already normalized per frame by the generator (the C++
normalizer; the mode is in the file's config).  Like the classifier block, the evaluation then normalizes every frame
with the model's own amc.normalization through the same C++ kernel (amc.normalize_frames; rms/peak/l1 are
idempotent, so frames normalized the same way are unchanged) and builds the model input with
contract.to_model_input.  Labels are matched to the model's outputs by class name, so the model's class order
may differ from the file's.
"""
import json
import os
import sys
import time

from .cli import CliError
from . import contract


def configure_parser(p):
    p.add_argument("data", nargs="?", default=None,
                   help="test dataset file (any format datasets.load_dataset reads); none with --sweep")
    p.add_argument("--sweep", nargs="+", default=None, choices=("timing", "sps", "cfo", "snr"), metavar="KIND",
                   help="robustness sweeps instead of a dataset: accuracy per class over timing offsets, samples "
                        "per symbol, carrier offsets or SNRs (frames made by the batch generator, AWGN)")
    p.add_argument("--sweep-snr", type=float, default=20.0, help="SNR (dB) of the timing/sps/cfo sweeps")
    p.add_argument("--sweep-frames", type=int, default=64, help="frames per class and swept value")
    p.add_argument("-m", "--models", nargs="+", required=True,
                   help="ONNX model files or names of shipped models (e.g. amc-default)")
    p.add_argument("--names", nargs="+", default=None, help="names shown for the models (default: file names)")
    p.add_argument("-o", "--out-dir", default="amc-eval", help="folder for the report, JSON and PNG files")
    p.add_argument("--confusion-snrs", nargs="*", type=float, default=[0.0, 10.0],
                   help="SNRs (dB) at which to draw confusion matrices")
    p.add_argument("--table-snrs", nargs="*", type=float, default=None,
                   help="SNR columns of the accuracy table (default: every SNR in the file)")
    p.add_argument("--max-frames", type=int, default=0, help="evaluate a seeded random subset (0: all frames)")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    p.add_argument("--batch", type=int, default=256, help="batch size for the accuracy runs")
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    p.add_argument("--latency-seconds", type=float, default=2.0,
                   help="time spent measuring each latency (per model and batch size)")
    p.add_argument("--title", default=None, help="title of the report")


# ---------------------------------------------------------------------------------------------------------------
# arithmetic (pure numpy; unit-tested against predictions whose answer is known)

def confusion_matrix(pred, labels, n_classes):
    """cm[i, j] = number of frames of true class i predicted as class j (predictions outside 0..n-1 are not
    counted in any column, so the row sum can be less than the class's frame count)."""
    import numpy as np
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
    import numpy as np
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


# ---------------------------------------------------------------------------------------------------------------
# ONNX graph statistics

def _dims(vi):
    return [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]


def _prod(xs):
    p = 1
    for x in xs:
        p *= int(x)
    return p


def onnx_attr(node, name, default):
    """The value of an ONNX node's attribute, or default when the node does not set it."""
    import onnx
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def count_macs(proto, frame_length=None):
    """Multiply-accumulates for ONE frame (batch 1), from the ONNX graph: Conv (and ConvInteger, QLinearConv),
    Gemm, MatMul (and MatMulInteger, QLinearMatMul), GRU, LSTM (and DynamicQuantizeLSTM).  Element-wise ops,
    pooling and activations are not counted (as in the papers)."""
    import onnx
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    for inp in m.graph.input:
        for d in inp.type.tensor_type.shape.dim:
            if not d.HasField("dim_value"):
                d.dim_value = 1                                  # batch 1
    m = onnx.shape_inference.infer_shapes(m)
    shapes = {}
    for vi in list(m.graph.input) + list(m.graph.value_info) + list(m.graph.output):
        shapes[vi.name] = _dims(vi)
    for t in m.graph.initializer:
        shapes[t.name] = list(t.dims)
    for n in m.graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    shapes[n.output[0]] = list(a.t.dims)

    def shape(name):
        s = shapes.get(name)
        if s is None or any(v is None for v in s):
            raise ValueError(f"cannot infer the shape of {name!r}")
        return s

    total = 0
    for n in m.graph.node:
        op = n.op_type
        if op in ("Conv", "ConvInteger"):
            total += _prod(shape(n.output[0])) * _prod(shape(n.input[1])[1:])
        elif op == "QLinearConv":
            total += _prod(shape(n.output[0])) * _prod(shape(n.input[3])[1:])
        elif op == "Gemm":
            a = shape(n.input[0])
            k = a[0] if onnx_attr(n, "transA", 0) else a[1]
            total += _prod(shape(n.output[0])) * k
        elif op in ("MatMul", "MatMulInteger", "QLinearMatMul"):
            b = n.input[3] if op == "QLinearMatMul" else n.input[1]
            try:
                total += _prod(shape(n.output[0])) * shape(n.input[0])[-1]
            except ValueError:      # shapes lost after a contrib op: a dense layer, one row per frame
                total += _prod(shape(b))
        elif op in ("GRU", "LSTM", "DynamicQuantizeLSTM"):
            try:
                x = shape(n.input[0])
                steps, batch = (x[1], x[0]) if onnx_attr(n, "layout", 0) else (x[0], x[1])
            except ValueError:      # after a contrib op shape inference stops: the sequence is the frame
                if not frame_length:
                    raise
                steps, batch = frame_length, 1
            w = shape(n.input[1])                  # [dirs, gates*H, I] (quantized LSTM: [dirs, I, gates*H])
            r = shape(n.input[2])
            total += steps * batch * (_prod(w) + _prod(r))
    return int(total)


def count_weights(proto):
    """Number of weight values stored in the graph (initializers and Constant tensors with more than one
    element, float or 8-bit integer)."""
    import onnx
    kinds = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.INT8,
             onnx.TensorProto.UINT8}
    tensors = stored_tensors(proto).values()
    return int(sum(_prod(t.dims) for t in tensors if t.data_type in kinds and _prod(t.dims) > 1))


def stored_tensors(proto):
    """name -> TensorProto of every value stored in the graph: initializers and Constant node outputs.  A stored
    value that a Cast node converts (float16 weights, quantize.float16_file) is listed once, under the Cast's
    output name, converted."""
    from onnx import helper, numpy_helper
    out = {t.name: t for t in proto.graph.initializer}
    for n in proto.graph.node:
        if n.op_type == "Constant":
            out.update((n.output[0], a.t) for a in n.attribute if a.name == "value")
        elif n.op_type == "Cast" and n.input[0] in out:
            src = numpy_helper.to_array(out.pop(n.input[0]))
            dtype = helper.tensor_dtype_to_np_dtype(onnx_attr(n, "to", 1))
            out[n.output[0]] = numpy_helper.from_array(src.astype(dtype), n.output[0])
    return out


def read_contract(path):
    """(proto, decoded metadata) of an ONNX model (a path or a shipped model's name) whose contract passes the
    check every entry point shares (``model_file.ModelFile``); CliError with that check's message otherwise."""
    from .model_file import ModelFile
    try:
        mf = ModelFile(path)
        return mf.load_proto(), mf.metadata
    except (ValueError, FileNotFoundError) as e:
        raise CliError(str(e)) from None


def measure_latency(path_or_bytes, example, batch, seconds=2.0, threads=1):
    """Median ONNX Runtime time per frame (ms) when run with batches of `batch` frames on `threads` threads."""
    import numpy as np
    from .quantize import ort_session
    sess = ort_session(path_or_bytes, threads)
    name = sess.get_inputs()[0].name
    reps = -(-batch // len(example))
    x = np.ascontiguousarray(np.concatenate([example] * reps)[:batch])
    for _ in range(2):
        sess.run(None, {name: x})
    times, t_end = [], time.perf_counter() + seconds
    while len(times) < 3 or (time.perf_counter() < t_end and len(times) < 1000):
        t0 = time.perf_counter()
        sess.run(None, {name: x})
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000.0 / batch)


# ---------------------------------------------------------------------------------------------------------------

def normalize_for_model(frames, model_norm, data_norm):
    """Frames as the classifier would feed them: normalized per frame with the model's normalization by the C++
    kernel.  Without the compiled kernel (e.g. on a machine without GNU Radio) frames already normalized the
    same way are used as they are; anything else is an error."""
    if model_norm not in contract.NORMALIZATIONS:
        raise CliError(f"model normalization {model_norm!r} is not one of {', '.join(contract.NORMALIZATIONS)}")
    try:
        from .amc_python import normalize_frames
    except ImportError:
        if model_norm == "none" or model_norm == data_norm:
            return frames
        raise CliError(f"the model wants {model_norm!r} normalization, the data was normalized with "
                       f"{data_norm!r}, and the C++ kernel amc.normalize_frames is not importable")
    import numpy as np
    out, _status = normalize_frames(np.ascontiguousarray(frames, dtype=np.complex64), model_norm)
    return np.asarray(out)


def evaluate_model(path, data, name=None, threads=1, batch=256, latency=True, latency_seconds=2.0):
    """Evaluate one ONNX model on loaded data (train.load_data's dict).  Returns a result dict (its "_pred" entry:
    the predicted class indices into data["classes"], -1 for a class the data does not have)."""
    import numpy as np
    from .quantize import onnx_predict
    from .train import dataset_normalization
    proto, meta = read_contract(path)
    L = data["frames"].shape[1]
    if meta[contract.META_FRAME_LENGTH] != L:
        raise CliError(f"model {path!r} takes frames of {meta[contract.META_FRAME_LENGTH]} samples; the dataset's "
                       f"frames have {L}")
    mclasses = list(meta[contract.META_CLASSES])
    missing = [c for c in data["classes"] if c not in mclasses and np.any(
        data["labels"] == data["classes"].index(c))]
    if missing:
        raise CliError(f"model {path!r} cannot output the dataset's classes {missing} (its classes: {mclasses})")
    to_data = np.array([data["classes"].index(c) if c in data["classes"] else -1 for c in mclasses], np.int64)
    frames = normalize_for_model(data["frames"], meta[contract.META_NORMALIZATION],
                                 dataset_normalization(data["attrs"]))
    x = contract.to_model_input(frames, meta[contract.META_REPRESENTATION], meta[contract.META_INPUT_LAYOUT])
    raw = proto.SerializeToString()
    t0 = time.perf_counter()
    out = onnx_predict(raw, x, batch=batch, threads=threads)
    wall = time.perf_counter() - t0
    pred = to_data[out.argmax(1)]
    res = dict(name=name or os.path.splitext(os.path.basename(path))[0],
               path=path, model=meta.get(contract.META_MODEL), dataset=meta.get(contract.META_DATASET),
               metrics=compute_metrics(pred, data["labels"], data["snrs"], data["classes"]),
               bytes=os.path.getsize(path), onnx_weights=count_weights(proto), macs=count_macs(proto, L),
               quantization=meta.get("amc.quantization"),
               rotations=int(meta[contract.META_ROTATIONS]) if contract.META_ROTATIONS in meta else None,
               accuracy_run_seconds=round(wall, 2), _pred=pred)
    training = meta.get(contract.META_TRAINING)
    res["parameters"] = training.get("parameters") if isinstance(training, dict) else None
    if latency:
        ex = x[:64]
        res["latency_ms_b1"] = measure_latency(raw, ex[:1], 1, latency_seconds, threads)
        res["latency_ms_b64"] = measure_latency(raw, ex, 64, latency_seconds, threads)
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


def _plots(results, data, out_dir, confusion_snrs):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
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


def run(args):
    import numpy as np
    from . import paths
    from .train import load_data, dataset_normalization, atomic_write_bytes
    if args.names and len(args.names) != len(args.models):
        raise CliError(f"--names gives {len(args.names)} names for {len(args.models)} models")
    model_paths = []
    for m in args.models:
        try:
            model_paths.append(paths.resolve_model(m))
        except FileNotFoundError as e:
            raise CliError(str(e))
    if args.sweep:
        return _run_sweeps(args, model_paths)
    if not args.data:
        raise CliError("give a test dataset file, or --sweep KIND")
    data = load_data(args.data)
    if args.max_frames and len(data["labels"]) > args.max_frames:
        sel = np.sort(np.random.default_rng(0).choice(len(data["labels"]), args.max_frames, replace=False))
        data = dict(data, frames=data["frames"][sel], labels=data["labels"][sel], snrs=data["snrs"][sel])
    os.makedirs(args.out_dir, exist_ok=True)
    results = []
    for i, p in enumerate(model_paths):
        name = args.names[i] if args.names else None
        r = evaluate_model(p, data, name=name, threads=args.threads, batch=args.batch,
                           latency=not args.no_latency, latency_seconds=args.latency_seconds)
        results.append(r)
        print(f"{r['name']}: accuracy {r['metrics']['overall']:.4f} overall, {r['metrics']['high_snr']:.4f} at "
              f">= 10 dB; {r['bytes']:,} bytes, {r['macs']:,} MACs/frame"
              + (f", {r['latency_ms_b1']:.3f} / {r['latency_ms_b64']:.3f} ms per frame (batch 1 / 64)"
                 if "latency_ms_b1" in r else ""), flush=True)
    _plots(results, data, args.out_dir, args.confusion_snrs or [])
    for r in results:
        del r["_pred"]
    snr_values = sorted(float(s) for s in np.unique(data["snrs"]))
    table_snrs = [float(s) for s in args.table_snrs] if args.table_snrs else snr_values
    attrs = data["attrs"]
    info = dict(file=os.path.basename(args.data), frames=int(len(data["labels"])),
                frame_length=int(data["frames"].shape[1]), classes=list(data["classes"]),
                snr_min=min(snr_values), snr_max=max(snr_values),
                normalization=dataset_normalization(attrs) or "unknown",
                seed=attrs.get("seed"))
    title = args.title or f"gr-amc evaluation on {info['file']}"
    md = markdown_report(results, info, table_snrs, title)
    atomic_write_bytes(md.encode(), os.path.join(args.out_dir, "report.md"))
    atomic_write_bytes(json.dumps(dict(data=info, models=results), indent=1).encode(),
                       os.path.join(args.out_dir, "report.json"))
    print(f"wrote {os.path.join(args.out_dir, 'report.md')} and report.json, accuracy_vs_snr.png, "
          f"{sum(len(r['confusion_png']) for r in results)} confusion matrices")
    return 0



def _run_sweeps(args, model_paths):
    """--sweep: one markdown table, JSON and plot per model and sweep in --out-dir (sweeps.md, sweeps.json)."""
    from . import robustness
    from .train import atomic_write_bytes
    if args.data:
        raise CliError("--sweep makes its own frames; give no dataset file")
    if args.sweep_frames < 1:
        raise CliError(f"--sweep-frames must be >= 1, got {args.sweep_frames}")
    os.makedirs(args.out_dir, exist_ok=True)
    names = args.names or [os.path.splitext(os.path.basename(p))[0] for p in model_paths]
    md, js = [f"# {args.title or 'Robustness sweeps'}\n"], []
    for path, name in zip(model_paths, names):
        for kind in args.sweep:
            try:
                r = robustness.sweep(path, kind, snr=args.sweep_snr, frames_per_class=args.sweep_frames,
                                     threads=args.threads)
            except ValueError as e:
                raise CliError(str(e)) from None
            md.append(robustness.markdown(r, name))
            png = os.path.join(args.out_dir, f"{name}_sweep_{kind}.png")
            robustness.plot(r, name, png)
            md.append(f"![{name} {kind} sweep]({os.path.basename(png)})\n")
            js.append(dict(r, model=name))
            print(robustness.markdown(r, name))
    atomic_write_bytes("\n".join(md).encode(), os.path.join(args.out_dir, "sweeps.md"))
    atomic_write_bytes(json.dumps(js, indent=1).encode(), os.path.join(args.out_dir, "sweeps.json"))
    print(f"gr-amc evaluate: wrote {os.path.join(args.out_dir, 'sweeps.md')}", file=sys.stderr)
    return 0
