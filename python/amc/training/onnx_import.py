"""Weights of an exported gr-amc ONNX file back into a PyTorch zoo model (``gr-amc train --init-weights FILE.onnx``).

An exported file is all that ships: training checkpoints stay on the machine that made them.  To fine-tune a
shipped model (or any model ``gr-amc train`` wrote) on new data, its weights are read back from the ONNX graph:

- the weight-bearing ONNX nodes (Conv, Gemm, GRU, LSTM) are matched, in graph order, with the model's
  Conv1d/Conv2d, Linear and GRU/LSTM modules in registration order (which is their order in ``forward`` for every
  zoo model), shape by shape;
- the exporter folds each BatchNorm into the convolution before it (weight W, bias B).  The BatchNorm is restored
  so that the model computes exactly the exported function in eval mode *and* about the same in training mode:
  the convolution gets W, and the BatchNorm the mean m and variance v of the convolution's output over
  calibration frames, weight sqrt(v + eps) and bias B + m (eval: (Wx - m) / sqrt(v + eps) * sqrt(v + eps) + B + m
  = Wx + B; training: the batch statistics are close to m and v);
- recurrent gates are reordered (ONNX GRU z, r, h = PyTorch r, z, n swapped; ONNX LSTM i, o, f, c = PyTorch
  i, f, g, o permuted);
- finally ONNX Runtime runs the file and PyTorch the model on the same inputs: any difference beyond the export
  check's tolerance is an error (nothing is trained from a wrong import).

int8 files (quantized graphs) are refused: fine-tune the float file.  A rotation ensemble
(variants.rotation_ensemble) is read as the network inside it: the import is checked against that network, and
the fine-tuned model is a plain network again (`gr-amc variant --rotations K` makes the ensemble of it).
"""
import numpy as np

from .. import runtime
from ..onnx_graph import onnx_attr, stored_tensors
from ..variants import rotation_ensemble_network
from .zoo import predict_logits

QUANTIZED_OPS = ("QuantizeLinear", "DequantizeLinear", "QLinearConv", "ConvInteger", "MatMulInteger",
                 "DynamicQuantizeLinear", "QLinearMatMul", "DynamicQuantizeLSTM")


class WeightImportError(ValueError):
    """The ONNX graph's weights do not fit the model (message names what differs)."""


def _gate_order(w, order, gates):
    """Reorder the gate blocks along axis 0 of w (gates blocks of equal size) into `order`."""
    return np.concatenate([np.split(w, gates, axis=0)[i] for i in order], axis=0)


def onnx_weight_nodes(proto):
    """The weight-bearing nodes of the graph, in graph order: list of (op, dict of numpy arrays)."""
    from onnx import numpy_helper
    tensors = stored_tensors(proto)
    ops = [n.op_type for n in proto.graph.node]
    bad = sorted(set(ops) & set(QUANTIZED_OPS))
    if bad:
        raise WeightImportError(f"the graph is quantized ({', '.join(bad)}); fine-tune from the float model instead")

    def get(node, i):
        if len(node.input) <= i or not node.input[i]:
            return None
        if node.input[i] not in tensors:
            raise WeightImportError(f"{node.op_type} node {node.name!r}: input {node.input[i]!r} is not a stored "
                                    f"weight")
        return np.array(numpy_helper.to_array(tensors[node.input[i]]), dtype=np.float32)

    out = []
    for n in proto.graph.node:
        if n.op_type == "Conv":
            out.append(("Conv", dict(weight=get(n, 1), bias=get(n, 2), group=onnx_attr(n, "group", 1))))
        elif n.op_type == "Gemm":
            if onnx_attr(n, "transA", 0) or onnx_attr(n, "alpha", 1.0) != 1.0 or onnx_attr(n, "beta", 1.0) != 1.0:
                raise WeightImportError(f"Gemm node {n.name!r} has transA/alpha/beta the zoo's dense layers never use")
            w = get(n, 1)
            out.append(("Gemm", dict(weight=w if onnx_attr(n, "transB", 0) else w.T, bias=get(n, 2))))
        elif n.op_type in ("GRU", "LSTM"):
            if onnx_attr(n, "direction", b"forward") not in (b"forward", "forward"):
                raise WeightImportError(f"{n.op_type} node {n.name!r} is not a forward (unidirectional) layer")
            if n.op_type == "GRU" and int(onnx_attr(n, "linear_before_reset", 0)) != 1:
                raise WeightImportError(f"GRU node {n.name!r} has linear_before_reset=0 (PyTorch's GRU needs 1)")
            out.append((n.op_type, dict(W=get(n, 1)[0], R=get(n, 2)[0], B=get(n, 3)[0])))
    return out


def _torch_layers(model):
    """The model's weight-bearing modules in registration order: list of (kind, module, following BatchNorm)."""
    from torch import nn
    mods = list(model.modules())
    out = []
    for i, m in enumerate(mods):
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            bn = nxt if isinstance(nxt, (nn.BatchNorm1d, nn.BatchNorm2d)) else None
            out.append(("Conv", m, bn))
        elif isinstance(m, nn.Linear):
            out.append(("Gemm", m, None))
        elif isinstance(m, (nn.GRU, nn.LSTM)):
            if m.bidirectional or not m.batch_first or getattr(m, "proj_size", 0):
                raise WeightImportError("only unidirectional batch-first recurrent layers can be imported")
            for layer in range(m.num_layers):
                out.append(("GRU" if isinstance(m, nn.GRU) else "LSTM", m, layer))
    return out


def _set(param, value, what):
    import torch
    value = np.asarray(value, dtype=np.float32)
    if tuple(param.shape) != value.shape:
        raise WeightImportError(f"{what}: the ONNX graph has shape {value.shape}, the model {tuple(param.shape)}")
    with torch.no_grad():
        param.copy_(torch.from_numpy(value))


def import_onnx_weights(model, proto, calib_inputs, atol=1e-3, rtol=1e-3, batch=256):
    """Load the weights of the exported ONNX graph `proto` into the freshly built zoo `model` (same architecture,
    classes and frame length).  calib_inputs: model inputs (numpy float32, a few hundred frames or more) used to
    re-estimate the folded BatchNorms' statistics and to check the import against ONNX Runtime.

    Returns (max |ONNX Runtime - PyTorch| on calib_inputs, number of BatchNorms restored).  Raises WeightImportError
    (a ValueError) naming the first layer that does not fit, or when the outputs differ."""
    try:
        proto = rotation_ensemble_network(proto)            # an ensemble: its network
    except ValueError as e:
        raise WeightImportError(str(e))
    nodes = onnx_weight_nodes(proto)
    layers = _torch_layers(model)
    kinds_onnx = [k for k, _ in nodes]
    kinds_torch = [k for k, _, _ in layers]
    if kinds_onnx != kinds_torch:
        raise WeightImportError(f"the graph's weight layers ({_summary(kinds_onnx)}) are not the model's "
                                f"({_summary(kinds_torch)})")
    bns = []
    for i, ((kind, w), (_, mod, extra)) in enumerate(zip(nodes, layers)):
        what = f"layer {i + 1} ({kind})"
        if kind == "Conv":
            if w["group"] != mod.groups:
                raise WeightImportError(f"{what}: {w['group']} groups in the graph, {mod.groups} in the model")
            weight = w["weight"]
            _set(mod.weight, weight, what)
            bias = w["bias"] if w["bias"] is not None else np.zeros(weight.shape[0], np.float32)
            if extra is not None:          # folded BatchNorm: identity for now, statistics below
                if mod.bias is not None:
                    raise WeightImportError(f"{what}: a convolution with its own bias before a BatchNorm")
                bn = extra
                _set(bn.weight, np.ones_like(bias), what + " BatchNorm")
                _set(bn.bias, bias, what + " BatchNorm")
                _set(bn.running_mean, np.zeros_like(bias), what + " BatchNorm")
                _set(bn.running_var, np.full_like(bias, 1.0 - bn.eps), what + " BatchNorm")
                bns.append((bn, bias))
            elif mod.bias is not None:
                _set(mod.bias, bias, what)
            elif w["bias"] is not None and np.any(w["bias"]):
                raise WeightImportError(f"{what}: the graph has a bias the model's convolution does not")
        elif kind == "Gemm":
            _set(mod.weight, w["weight"], what)
            _set(mod.bias, w["bias"] if w["bias"] is not None else np.zeros(mod.out_features), what)
        else:
            layer = extra
            gates, order = (3, (1, 0, 2)) if kind == "GRU" else (4, (0, 2, 3, 1))
            Wb, Rb = np.split(w["B"], 2)
            for name, value in (("weight_ih", w["W"]), ("weight_hh", w["R"]), ("bias_ih", Wb), ("bias_hh", Rb)):
                _set(getattr(mod, f"{name}_l{layer}"), _gate_order(value, order, gates), f"{what} {name}")

    x = np.ascontiguousarray(calib_inputs, dtype=np.float32)
    if len(x) == 0:
        raise WeightImportError("no calibration frames")
    if bns:
        _restore_batchnorms(model, bns, x, batch)
    ref = predict_logits(model, x, "cpu", batch)
    got = runtime.onnx_predict(proto.SerializeToString(), x, batch)
    if got.shape != ref.shape:
        raise WeightImportError(f"the graph outputs {got.shape[1:]} per frame, the model {ref.shape[1:]}")
    diff = float(np.max(np.abs(got - ref)))
    tol = atol + rtol * float(np.max(np.abs(got)))
    if not diff <= tol:
        raise WeightImportError(f"the imported model differs from the ONNX graph by {diff:.3g} (tolerance {tol:.3g})")
    return diff, len(bns)


def _restore_batchnorms(model, bns, x, batch):
    """Set each folded BatchNorm (now the identity plus the folded bias) to the statistics of its input over x,
    keeping the eval-mode function unchanged."""
    import torch
    sums = {id(bn): [0.0, 0.0, 0] for bn, _ in bns}

    def hook(bn):
        def f(_mod, inputs):
            t = inputs[0].detach().double()
            dims = [d for d in range(t.dim()) if d != 1]
            acc = sums[id(bn)]
            acc[0] = acc[0] + t.sum(dim=dims)
            acc[1] = acc[1] + (t * t).sum(dim=dims)
            acc[2] += t.numel() // t.shape[1]
        return f

    handles = [bn.register_forward_pre_hook(hook(bn)) for bn, _ in bns]
    model.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch):
                model(torch.from_numpy(x[i:i + batch]))
    finally:
        for h in handles:
            h.remove()
    for bn, bias in bns:
        s, ss, n = sums[id(bn)]
        mean = (s / n).numpy()
        var = np.maximum((ss / n).numpy() - mean ** 2, 0.0)
        _set(bn.running_mean, mean, "BatchNorm mean")
        _set(bn.running_var, var, "BatchNorm variance")
        _set(bn.weight, np.sqrt(var + bn.eps), "BatchNorm weight")
        _set(bn.bias, bias + mean, "BatchNorm bias")


def _summary(kinds):
    from itertools import groupby
    return ", ".join(f"{len(list(g))} {k}" for k, g in groupby(kinds))
