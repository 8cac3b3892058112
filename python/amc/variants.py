"""Variants of gr-amc ONNX model files, the library behind ``gr-amc variant`` (:func:`write_variant`) and
``gr-amc train --int8/--fp16``: an int8 or float16 twin, or a rotation ensemble, without training anything.

- ``rotations=K`` (K >= 2): the graph runs the network on K turns of each frame (by 360/K degrees) and averages the
  outputs (rotation_ensemble).  The radio channel turns every frame by a random phase, so each turn
  is an equally valid view of the frame; averaging the views makes the answer independent of the part of the
  network's output that depends on the frame's phase.  K times the computation, the same weights and contract
  (amc.rotations added).
- ``int8``: ONNX Runtime quantization (quantize_file).  Convolutional models are quantized
  statically when a ``calibration`` dataset gives frames to calibrate on (256 frames drawn with ``seed``,
  normalized and shaped as the classifier feeds them); otherwise dynamically.
- ``fp16``: weights stored as float16, computed in float32 (float16_file).

On a rotation ensemble, ``rotations=K`` re-wraps its network with K turns (1: the network alone, K times faster),
and int8/fp16 make the variant of its network and wrap that again with the same K.

int8 variants through ONNX Runtime's quantization tools:

- Convolutional models (a Conv node in the graph) with calibration inputs: static quantization, QDQ format,
  per-channel int8 weights, uint8 activations calibrated (MinMax) on the given frames.
- Everything else (GRU/LSTM/dense models, or no calibration data): dynamic quantization (int8 weights of
  MatMul/Gemm/LSTM; activations quantized at run time).  ONNX Runtime has no quantized GRU kernel, so a GRU's
  recurrent weights stay float32 and only its dense layer is quantized.

The contract (metadata_props) is copied over unchanged, with amc.quantization added.  Used by
`gr-amc train --int8` (which reports the size and accuracy change on the test split).

float16 variants (`float16_file`, `gr-amc train --fp16`) store the weights as float16 and compute in float32:
half the file size for any graph, the GRU's included, at a cost of float16 rounding of the weights.
"""
import contextlib
import logging
import math
import os
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper

from . import contract, datasets, onnx_graph, paths, runtime
from .fileio import atomic_write_bytes
from . import fused_graph
from .model_file import read_contract


@contextlib.contextmanager
def _quiet_quantization():
    """ONNX Runtime's quantization without its chatter: "removing unused initializer" (ORT logger) and
    "consider pre-processing" hints (Python root logger, restored afterwards)."""
    import onnxruntime
    onnxruntime.set_default_logger_severity(3)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_file(src, dst, calib_inputs=None, method=None):
    """Write an int8 variant of the ONNX model src to dst.  Returns dict(method, bytes, float_bytes)."""
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)

    proto = onnx.load(src)
    meta = [(p.key, p.value) for p in proto.metadata_props]
    ops = {n.op_type for n in proto.graph.node}
    if method is None:
        method = "static" if ("Conv" in ops and calib_inputs is not None and len(calib_inputs)) else "dynamic"
    if method not in ("static", "dynamic"):
        raise ValueError(f"quantization method must be 'static' or 'dynamic', got {method!r}")
    input_name = proto.graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self, x, batch=32):
            self.items = iter([{input_name: x[i:i + batch]} for i in range(0, len(x), batch)])

        def get_next(self):
            return next(self.items, None)

    with tempfile.TemporaryDirectory() as tmp, _quiet_quantization():
        out = os.path.join(tmp, "q.onnx")
        if method == "dynamic":
            quantize_dynamic(src, out, weight_type=QuantType.QInt8)
        else:
            if calib_inputs is None:
                raise ValueError("static quantization needs calibration inputs")
            quantize_static(src, out, Reader(calib_inputs), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        q = onnx.load(out)
    del q.metadata_props[:]
    for k, v in meta + [("amc.quantization", f"int8 {method} (onnxruntime.quantization)")]:
        e = q.metadata_props.add()
        e.key, e.value = k, v
    data = q.SerializeToString()
    atomic_write_bytes(data, dst)
    return dict(method=method, bytes=len(data), float_bytes=os.path.getsize(src))


def float16_file(src, dst):
    """Write a variant of the ONNX model src whose weights are stored as float16: every float32 initializer of
    more than one element becomes a float16 initializer and a Cast back to float32 at the top of the graph, so
    the file is about half the size and ONNX Runtime still computes in float32 (it folds the Casts when the
    session is created).  Unlike int8 this works for every operator, the GRU and LSTM included.  ValueError if a
    weight does not fit float16's range.  Returns dict(method, bytes, float_bytes)."""

    proto = onnx.load(src)
    g = proto.graph
    if any(p.key == "amc.quantization" for p in proto.metadata_props):
        raise ValueError(f"{src!r} is already quantized")
    taken = {t.name for t in g.initializer} | {o for n in g.node for o in n.output} | {i.name for i in g.input}
    keep, casts = [], []
    for t in g.initializer:
        if t.data_type != onnx.TensorProto.FLOAT or int(np.prod(t.dims)) <= 1:
            keep.append(t)
            continue
        w = numpy_helper.to_array(t)
        if np.any(np.abs(w) > np.finfo(np.float16).max):
            raise ValueError(f"{src!r}: weight {t.name!r} exceeds the float16 range (max |w| {np.abs(w).max():g})")
        name = t.name + "_fp16"
        while name in taken:
            name += "_"
        taken.add(name)
        keep.append(numpy_helper.from_array(w.astype(np.float16), name))
        casts.append(helper.make_node("Cast", [name], [t.name], to=onnx.TensorProto.FLOAT,
                                      name=f"{t.name}_to_float"))
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    e = proto.metadata_props.add()
    e.key, e.value = "amc.quantization", "float16 weights (cast to float32 when loaded; computed in float32)"
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    atomic_write_bytes(data, dst)
    return dict(method="float16", bytes=len(data), float_bytes=os.path.getsize(src))


ENSEMBLE_NODE_DOC = "gr-amc rotation ensemble"       # doc_string of the nodes rotation_ensemble adds


def rotation_ensemble(proto, rotations):
    """The ONNX model `proto` (a gr-amc model with the contract) turned into a rotation ensemble: each frame is
    fed to the network `rotations` times, turned by 360/rotations degrees each time (multiplied by
    exp(j*2*pi*k/rotations) before the network), and the outputs are averaged -- log-probabilities for a model
    that outputs logits (the result is again logits: the log of the views' geometric-mean probability, up to a
    constant), probabilities for one that outputs probabilities.  The channel turns every frame by a random
    phase, so every class looks the same under a rotation and each view is an equally valid look at the frame;
    averaging them removes the part of the network's answer that depends on the frame's phase.  The cost is
    `rotations` times the computation; the weights and the contract are unchanged (amc.rotations is added).

    The rotation is done inside the graph on the model input for both representations: iq (I, Q) -> (cI - sQ,
    sI + cQ); ap (amplitude, phase/pi) -> (amplitude, phase/pi + 2k/rotations wrapped into (-1, 1] as
    contract.to_model_input's np.angle gives it; 0 where the amplitude is 0).  Works for float32-input graphs
    of float, float16-weight and int8 models alike.  A model without amc.output counts as one that outputs
    probabilities (as the classifier assumes until its dry run says otherwise): its outputs are averaged.
    Returns a new ModelProto; ValueError for a model that is already an ensemble, lacks the contract, has a
    fixed batch size, subgraphs, an opset under 13 or a non-float32 input, or for a count under 2."""
    rotations = int(rotations)
    if rotations < 2:
        raise ValueError(f"a rotation ensemble needs at least 2 rotations, got {rotations}")
    rep, axis, output, opset = _ensemble_facts(proto, rotations)
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    g = m.graph
    x_name, y_name = onnx_graph.data_inputs(g)[0].name, g.output[0].name
    b = _Builder({t.name for t in g.initializer} | {o for n in g.node for o in n.output} | {x_name, y_name})
    inner_x, inner_y = b.fresh("views"), b.fresh("view_outputs")
    for n in g.node:                                       # the network now reads the views, writes per view
        n.input[:] = [inner_x if i == x_name else i for i in n.input]
        n.output[:] = [inner_y if o == y_name else o for o in n.output]
    pre = _turned_views(b, x_name, inner_x, rep, rotations, axis)
    head = _view_mean(b, inner_y, y_name, rotations, output, opset)
    net = list(g.node)
    del g.node[:]
    g.node.extend(pre + net + head)
    g.initializer.extend(b.consts)
    del g.value_info[:]                                    # the network's batch is now rotations x N
    e = m.metadata_props.add()
    e.key, e.value = contract.META_ROTATIONS, str(rotations)
    return onnx_graph.checked(m, "the rotation ensemble of this graph")


def _ensemble_facts(proto, rotations):
    """What rotation_ensemble needs of the model -> (representation, axis of the two components, output kind,
    opset); ValueError for a model it cannot wrap (see rotation_ensemble)."""
    meta = {p.key: p.value for p in proto.metadata_props}
    if contract.META_ROTATIONS in meta:
        raise ValueError(f"the model is already a rotation ensemble ({meta[contract.META_ROTATIONS]} rotations)")
    for key in (contract.META_INPUT_LAYOUT, contract.META_REPRESENTATION):
        if key not in meta:
            raise ValueError(f"the model lacks the metadata {key} (see docs/classifier.md, the model contract)")
    layout, rep = meta[contract.META_INPUT_LAYOUT], meta[contract.META_REPRESENTATION]
    if layout not in contract.INPUT_LAYOUTS or rep not in contract.REPRESENTATIONS:
        raise ValueError(f"unknown input layout {layout!r} or representation {rep!r}")
    g = proto.graph
    inputs = onnx_graph.data_inputs(g)
    if len(inputs) != 1 or len(g.output) != 1:
        raise ValueError("a rotation ensemble needs a graph with one input and one output")
    if inputs[0].type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise ValueError("a rotation ensemble needs a graph whose input is float32")
    batch = inputs[0].type.tensor_type.shape.dim[0] if inputs[0].type.tensor_type.shape.dim else None
    if batch is not None and batch.HasField("dim_value"):
        raise ValueError(f"the graph's batch size is fixed at {batch.dim_value}; a rotation ensemble runs the network "
                         f"on {rotations} views of each frame in one batch and needs a dynamic batch axis")
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in g.node for a in n.attribute):
        raise ValueError("the graph has subgraphs (If/Loop/Scan), which a rotation ensemble does not rewire")
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None or opset < 13:
        raise ValueError(f"the graph's opset is {opset}; a rotation ensemble needs opset 13 or later "
                         f"(gr-amc train exports opset 17)")
    return rep, layout.split(",").index("2"), meta.get(contract.META_OUTPUT, "probs"), opset


class _Builder:
    """Names, constants and nodes that rotation_ensemble adds (each node marked with ENSEMBLE_NODE_DOC, so that
    rotation_ensemble_network can take them off again)."""

    def __init__(self, taken):
        self.taken, self.consts, self._made = set(taken), [], {}

    def fresh(self, name):
        name = "rot_" + name
        while name in self.taken:
            name += "_"
        self.taken.add(name)
        return name

    def const(self, name, value, dtype=np.float32):       # one initializer per (name, value)
        key = (name, np.asarray(value, dtype).tobytes())
        if key not in self._made:
            self.consts.append(numpy_helper.from_array(np.asarray(value, dtype), self.fresh(name)))
            self._made[key] = self.consts[-1].name
        return self._made[key]

    def node(self, nodes, op, inputs, name, output=None, node_name=None, **attrs):
        """Append op(inputs) to `nodes`; its output is `output` or a fresh name (also the node's name unless
        node_name is given), which is returned."""
        out = output or self.fresh(name)
        nodes.append(helper.make_node(op, inputs, [out], name=node_name or out, doc_string=ENSEMBLE_NODE_DOC,
                                      **attrs))
        return out


def _turned_views(b, x_name, views_name, rep, rotations, axis):
    """Nodes that stack the `rotations` turned copies of the input x (turn k: 2*pi*k/rotations) along the batch
    axis into `views_name`: iq (I, Q) -> (cI - sQ, sI + cQ); ap keeps the amplitude and turns phase/pi, wrapped."""
    nodes = []

    def node(op, inputs, name, **attrs):
        return b.node(nodes, op, inputs, name, **attrs)
    first = node("Slice", [x_name, b.const("s0", [0], np.int64), b.const("e0", [1], np.int64),
                           b.const("ax", [axis], np.int64)], "first")
    second = node("Slice", [x_name, b.const("s1", [1], np.int64), b.const("e1", [2], np.int64),
                            b.const("ax", [axis], np.int64)], "second")
    if rep == "ap":
        zero = node("Equal", [first, b.const("zero", 0.0)], "silent")
    views = [x_name]
    for k in range(1, rotations):
        if rep == "iq":
            c, s = math.cos(2 * math.pi * k / rotations), math.sin(2 * math.pi * k / rotations)
            c, s = (0.0 if abs(c) < 1e-12 else c), (0.0 if abs(s) < 1e-12 else s)
            i = node("Sub", [node("Mul", [first, b.const(f"c{k}", c)], f"ci{k}"),
                             node("Mul", [second, b.const(f"s{k}", s)], f"sq{k}")], f"i{k}")
            q = node("Add", [node("Mul", [first, b.const(f"s{k}", s)], f"si{k}"),
                             node("Mul", [second, b.const(f"c{k}", c)], f"cq{k}")], f"q{k}")
        else:                                              # amplitude stays; phase/pi turns and wraps
            i = first
            # p + d wrapped into (-1, 1] as np.angle / pi gives it: 1 - fmod(3 - p - d, 2), the fmod argument
            # >= 0 for p in [-1, 1] and d = 2k/K < 2; a zero sample keeps phase 0 (np.angle(0) = 0)
            back = node("Sub", [b.const(f"shift{k}", 3.0 - 2.0 * k / rotations), second], f"back{k}")
            turned = node("Sub", [b.const("one", 1.0), node("Mod", [back, b.const("two", 2.0)], f"mod{k}", fmod=1)],
                          f"turned{k}")
            q = node("Where", [zero, b.const("zero", 0.0), turned], f"phase{k}")
        views.append(node("Concat", [i, q], f"view{k}", axis=axis))
    b.node(nodes, "Concat", views, "views", output=views_name, axis=0)
    return nodes


def _view_mean(b, views_out, y_name, rotations, output, opset):
    """Nodes that average the network's outputs over the views into `y_name`: log-probabilities for logits,
    the outputs themselves for probabilities."""
    nodes = []

    def node(op, inputs, name, **attrs):
        return b.node(nodes, op, inputs, name, **attrs)
    shape = node("Concat", [b.const("k", [rotations], np.int64), b.const("minus1", [-1], np.int64),
                            node("Slice", [node("Shape", [views_out], "yshape"), b.const("s1b", [1], np.int64),
                                           b.const("e2", [2], np.int64)], "classes")], "stack_shape", axis=0)
    stacked = node("Reshape", [views_out, shape], "stacked")
    per_view = node("LogSoftmax", [stacked], "logp", axis=2) if output == "logits" else stacked
    if opset >= 18:                                        # ReduceMean's axes became an input in opset 18
        b.node(nodes, "ReduceMean", [per_view, b.const("axis0", [0], np.int64)], "mean", output=y_name,
               node_name=b.fresh("mean"), keepdims=0)
    else:
        b.node(nodes, "ReduceMean", [per_view], "mean", output=y_name, node_name=b.fresh("mean"), axes=[0],
               keepdims=0)
    return nodes


def rotation_ensemble_network(proto):
    """The network inside a rotation ensemble (rotation_ensemble's input, up to the shape annotations it drops):
    the ensemble's nodes (marked by their doc_string) and constants removed, the network's input and output
    renamed back, amc.rotations removed from the metadata.  A model that is not an ensemble is returned as it
    is.  ValueError if the marked nodes are not an ensemble's."""
    if not any(p.key == contract.META_ROTATIONS for p in proto.metadata_props):
        return proto
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    g = m.graph
    added = [n for n in g.node if n.doc_string == ENSEMBLE_NODE_DOC]
    net = [n for n in g.node if n.doc_string != ENSEMBLE_NODE_DOC]
    made = {o for n in added for o in n.output}
    net_inputs = {i for n in net for i in n.input}
    views = [o for o in made if o in net_inputs]            # what the network reads: the stacked views
    outs = [i for n in added for i in n.input if i in {o for n in net for o in n.output}]
    if not added or len(views) != 1 or len(set(outs)) != 1:
        raise ValueError("the graph is marked as a rotation ensemble but its ensemble nodes cannot be taken off")
    x_name, y_name = onnx_graph.data_inputs(g)[0].name, g.output[0].name
    for n in net:
        n.input[:] = [x_name if i == views[0] else i for i in n.input]
        n.output[:] = [y_name if o == outs[0] else o for o in n.output]
    used = {i for n in net for i in n.input}
    only_added = {i for n in added for i in n.input} - used     # the ensemble's constants
    keep = [t for t in g.initializer if t.name not in only_added]
    del g.node[:]
    g.node.extend(net)
    del g.initializer[:]
    g.initializer.extend(keep)
    i = next(i for i, p in enumerate(m.metadata_props) if p.key == contract.META_ROTATIONS)
    del m.metadata_props[i]
    return onnx_graph.checked(m, "the network taken out of the rotation ensemble")


def calibration_inputs(model_path, meta, data_path, seed, count=256):
    """Model inputs for static quantization: `count` frames of the dataset file drawn with `seed`, shaped by
    runtime.contract_input (meta: the model's decoded contract), as the classifier feeds them."""
    data = datasets.load_data(data_path)
    L = data["frames"].shape[1]
    if meta[contract.META_FRAME_LENGTH] != L:
        raise ValueError(f"model {model_path!r} takes frames of {meta[contract.META_FRAME_LENGTH]} samples; the "
                         f"calibration dataset's frames have {L}")
    pick = np.sort(np.random.default_rng(seed).permutation(len(data["frames"]))[:count])
    return runtime.contract_input(data["frames"][pick], meta)


def write_variant(model, output, rotations=None, int8=False, fp16=False, calibration=None, seed=None):
    """Write a variant of the model file (or shipped model name) `model` to `output`: a rotation ensemble of
    `rotations` turns (1: the network of an ensemble), or an int8 (static with a `calibration` dataset file, 256
    frames drawn with `seed`) or float16 twin; a variant of an ensemble is the ensemble of its network's variant.
    Returns dict(output, bytes, float_bytes, method, rotations, source).  ValueError for a request that does not
    fit the model; OSError when the file cannot be written."""
    src = paths.resolve_model(model)
    if sum(bool(x) for x in (rotations is not None, int8, fp16)) != 1:
        raise ValueError("give exactly one of rotations, int8, fp16")
    if os.path.realpath(src) == os.path.realpath(output):
        raise ValueError(f"the output {output!r} is the input model; write the variant to another file")
    if calibration and not int8:
        raise ValueError("--calibration is only used with --int8")
    if seed is not None and not calibration:
        raise ValueError("--seed is only used with --int8 --calibration (it draws the calibration frames)")
    proto, meta = read_contract(src)
    if (int8 or fp16) and meta.get("amc.quantization"):
        raise ValueError(f"{src} is already quantized ({meta['amc.quantization']}); make the variant of the float "
                         f"file")
    if meta.get(contract.META_FRONT_END) is not None:
        return _fused_variant(src, output, proto, meta, rotations, int8, calibration, seed)
    k_in = int(meta.get(contract.META_ROTATIONS, 1))
    try:
        net = rotation_ensemble_network(proto)
    except ValueError as e:
        raise ValueError(f"{src}: {e}") from None
    if rotations is not None:
        if rotations < 1:
            raise ValueError(f"--rotations must be >= 1, got {rotations}")
        if rotations == 1 and k_in == 1:
            raise ValueError(f"{src}: is a single network already (--rotations 1 takes the network out of an "
                             f"ensemble)")
        data = (net if rotations == 1 else rotation_ensemble(net, rotations)).SerializeToString()
        atomic_write_bytes(data, output)
        return dict(output=output, bytes=len(data), float_bytes=os.path.getsize(src), method="rotations",
                    rotations=rotations, source=src)
    with tempfile.TemporaryDirectory() as tmp:
        plain = src     # an ensemble's variant is the ensemble (same K) of its network's variant
        if k_in > 1:
            plain = os.path.join(tmp, "network.onnx")
            onnx.save(net, plain)
        dst = os.path.join(tmp, "variant.onnx") if k_in > 1 else output
        q = _network_variant(src, meta, plain, dst, int8, calibration, seed)
        if k_in > 1:
            data = rotation_ensemble(onnx.load(dst), k_in).SerializeToString()
            atomic_write_bytes(data, output)
            q = dict(q, bytes=len(data), float_bytes=os.path.getsize(src))
    return dict(q, output=output, rotations=k_in if k_in > 1 else None, source=src)


def _network_variant(src, meta, plain, dst, int8, calibration, seed):
    """The int8 (calibrated on `calibration` when given) or float16 variant of the network file `plain` -> `dst`."""
    try:
        if int8:
            calib = calibration_inputs(src, meta, calibration, seed or 0) if calibration else None
            return quantize_file(plain, dst, calib_inputs=calib)
        return float16_file(plain, dst)
    except ValueError as e:
        raise ValueError(f"{src}: {e}") from None


def _fused_variant(src, output, proto, meta, rotations, int8, calibration, seed):
    """The int8 / float16 variant of a fused file (network + fusion head): its network's variant with the same
    head and front end (the head stays float32: a few thousand weights)."""
    if rotations is not None:
        raise ValueError(f"{src} has a front end and a fusion head ({contract.META_FRONT_END}); it is not made into "
                         f"a rotation ensemble (make the ensemble of its network and fuse that)")
    net, head = fused_graph.split(proto, meta)
    with tempfile.TemporaryDirectory() as tmp:
        plain, dst = os.path.join(tmp, "network.onnx"), os.path.join(tmp, "variant.onnx")
        onnx.save(net, plain)
        q = _network_variant(src, meta, plain, dst, int8, calibration, seed)
        qnet = onnx.load(dst)
    out_meta = contract.decode_metadata({p.key: p.value for p in qnet.metadata_props})
    out_meta[contract.META_FRONT_END] = meta[contract.META_FRONT_END]
    out_meta[contract.META_FUSION] = dict(meta[contract.META_FUSION], network_output=qnet.graph.output[0].name)
    data = fused_graph.join(qnet, head, out_meta).SerializeToString()
    atomic_write_bytes(data, output)
    return dict(q, output=output, bytes=len(data), float_bytes=os.path.getsize(src), rotations=None, source=src)
