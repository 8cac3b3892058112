#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Read-only helpers on ONNX graphs (``onnx.ModelProto``): node attributes, stored tensors, multiply-accumulates
and weight counts per frame, the graph's data inputs, and a checked-model guard.  Used by evaluation (size and
MAC columns), variants (graph rewrites) and training (weight import); imports nothing of gr-amc."""
import onnx
from onnx import helper, numpy_helper


def _dims(vi):
    """The dimensions of a value_info (None where symbolic)."""
    return [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]


def prod(xs):
    p = 1
    for x in xs:
        p *= int(x)
    return p


def onnx_attr(node, name, default):
    """The value of an ONNX node's attribute, or default when the node does not set it."""
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def count_macs(proto, frame_length=None):
    """Multiply-accumulates for ONE frame (batch 1), from the ONNX graph: Conv (and ConvInteger, QLinearConv),
    Gemm, MatMul (and MatMulInteger, QLinearMatMul), GRU, LSTM (and DynamicQuantizeLSTM).  Element-wise ops,
    pooling and activations are not counted (as in the papers)."""
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
            total += prod(shape(n.output[0])) * prod(shape(n.input[1])[1:])
        elif op == "QLinearConv":
            total += prod(shape(n.output[0])) * prod(shape(n.input[3])[1:])
        elif op == "Gemm":
            a = shape(n.input[0])
            k = a[0] if onnx_attr(n, "transA", 0) else a[1]
            total += prod(shape(n.output[0])) * k
        elif op in ("MatMul", "MatMulInteger", "QLinearMatMul"):
            b = n.input[3] if op == "QLinearMatMul" else n.input[1]
            try:
                total += prod(shape(n.output[0])) * shape(n.input[0])[-1]
            except ValueError:      # shapes lost after a contrib op: a dense layer, one row per frame
                total += prod(shape(b))
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
            total += steps * batch * (prod(w) + prod(r))
    return int(total)


def count_weights(proto):
    """Number of weight values stored in the graph (initializers and Constant tensors with more than one
    element, float or 8-bit integer)."""
    kinds = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.INT8,
             onnx.TensorProto.UINT8}
    tensors = stored_tensors(proto).values()
    return int(sum(prod(t.dims) for t in tensors if t.data_type in kinds and prod(t.dims) > 1))


def stored_tensors(proto):
    """name -> TensorProto of every value stored in the graph: initializers and Constant node outputs.  A stored
    value that a Cast node converts (float16 weights, quantize.float16_file) is listed once, under the Cast's
    output name, converted."""
    out = {t.name: t for t in proto.graph.initializer}
    for n in proto.graph.node:
        if n.op_type == "Constant":
            out.update((n.output[0], a.t) for a in n.attribute if a.name == "value")
        elif n.op_type == "Cast" and n.input[0] in out:
            src = numpy_helper.to_array(out.pop(n.input[0]))
            dtype = helper.tensor_dtype_to_np_dtype(onnx_attr(n, "to", 1))
            out[n.output[0]] = numpy_helper.from_array(src.astype(dtype), n.output[0])
    return out



def data_inputs(graph):
    """The graph's inputs that are not stored weights (older exporters list the initializers as inputs too)."""
    stored = {t.name for t in graph.initializer}
    return [i for i in graph.input if i.name not in stored]


def checked(model, what):
    """model, after onnx.checker; ValueError naming `what` if the checker refuses it."""
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as err:
        raise ValueError(f"{what} is not a valid ONNX model: {err}")
    return model

