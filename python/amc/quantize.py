"""int8 variants of gr-amc ONNX models through ONNX Runtime's quantization tools.

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
import os
import tempfile


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
    import onnx
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
    from .train import atomic_write_bytes
    data = q.SerializeToString()
    atomic_write_bytes(data, dst)
    return dict(method=method, bytes=len(data), float_bytes=os.path.getsize(src))


def float16_file(src, dst):
    """Write a variant of the ONNX model src whose weights are stored as float16: every float32 initializer of
    more than one element becomes a float16 initializer and a Cast back to float32 at the top of the graph, so
    the file is about half the size and ONNX Runtime still computes in float32 (it folds the Casts when the
    session is created).  Unlike int8 this works for every operator, the GRU and LSTM included.  ValueError if a
    weight does not fit float16's range.  Returns dict(method, bytes, float_bytes)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

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
    from .train import atomic_write_bytes
    data = proto.SerializeToString()
    atomic_write_bytes(data, dst)
    return dict(method="float16", bytes=len(data), float_bytes=os.path.getsize(src))


def ort_session(path_or_bytes, threads=1):
    """A CPU ONNX Runtime session with `threads` intra-op threads and one inter-op thread."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path_or_bytes, so, providers=["CPUExecutionProvider"])


def onnx_predict(path_or_bytes, x, batch=256, threads=1):
    """Output (numpy) of an ONNX model on model inputs x, run in batches with ONNX Runtime."""
    import numpy as np
    sess = ort_session(path_or_bytes, threads)
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i:i + batch]})[0] for i in range(0, len(x), batch)])


def onnx_accuracy(path, x, y, batch=256):
    import numpy as np
    return float(np.mean(onnx_predict(path, x, batch).argmax(1) == y))
