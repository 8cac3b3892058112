#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Running gr-amc models: the one ONNX Runtime session factory and the one path from complex frames to model input.

- :func:`session_options`, :func:`session`: every ONNX Runtime session gr-amc opens (the classifier blocks through
  ``model_file.ModelFile``, evaluation, sweeps, variants, training's export check) is made here, CPU execution
  provider, quiet, idle threads not spinning.
- :func:`normalize`, :func:`model_input`: frames -> per-frame normalization (the C++ kernel
  ``amc.normalize_frames``; its numpy twin ``dsp.normalize`` where the compiled module is absent) ->
  ``contract.to_model_input`` (the model's representation and layout).  The classifier block, evaluation,
  calibration of int8 variants and the robustness sweeps all use it.
- :func:`feeds`, :func:`front_end_features`: a run's inputs; a model whose contract names a front end
  (``amc.front_end``) gets its features (the C++ kernel ``amc.order_features``) from the frames of its network input.
- :func:`onnx_predict`, :func:`onnx_accuracy`, :func:`measure_latency`: batch runs of a model file or bytes.

The contract these functions read (metadata keys, layouts, normalization modes) is in docs/classifier.md.
"""
import time

import numpy as np

from . import contract
from .optional import require

try:    # the compiled kernel; absent on a machine without GNU Radio (e.g. a GPU training machine)
    from .amc_python import normalize_frames as _normalize_frames
except ImportError:
    from .dsp.normalize import normalize_frames as _normalize_frames    # its numpy twin, same results
try:    # the front end's C++ kernel (no numpy twin: models with a front end need the compiled module)
    from .amc_python import order_features as _order_features
except ImportError:
    _order_features = None


def session_options(ort, threads):
    """ONNX Runtime options of every gr-amc session: `threads` intra-op threads (0: its default), sequential,
    quiet, and idle threads that do not spin (a flowgraph's other blocks need the cores)."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so


def session(path_or_bytes, threads=1):
    """A CPU ONNX Runtime session of a model file or serialized model, with session_options(threads)."""
    ort = require("onnxruntime", "running ONNX models (gr-amc's classifier, evaluate and variant)")
    return ort.InferenceSession(path_or_bytes, sess_options=session_options(ort, threads),
                                providers=["CPUExecutionProvider"])


def normalize(frames, mode):
    """Per-frame normalization of complex frames (n, L) -> (complex64 frames, status int8 (n,)): the C++ kernel,
    or its numpy twin without the compiled module.  Both refuse an unknown mode with a ValueError."""
    out, status = _normalize_frames(np.ascontiguousarray(frames, dtype=np.complex64), mode)
    return np.asarray(out), np.asarray(status, np.int8)


def model_input(frames, normalization, representation, layout):
    """Complex frames (n, L) -> (float32 model input, status int8 (n,)): normalize, then contract.to_model_input."""
    normed, status = normalize(frames, normalization)
    return contract.to_model_input(normed, representation, layout), status


def contract_input(frames, meta):
    """model_input with the normalization, representation and layout of a decoded contract (metadata dict)."""
    return model_input(frames, meta[contract.META_NORMALIZATION], meta[contract.META_REPRESENTATION],
                       meta[contract.META_INPUT_LAYOUT])[0]


def order_features_of(x, representation, layout, version=None):
    """amc.order_features (the C++ front end; version: of the feature definition, default the latest) of the
    frames a network input x holds: float32 (n, F)."""
    if _order_features is None:
        raise RuntimeError("the order-feature front end (amc.order_features) needs gr-amc's compiled module "
                           "(gnuradio.amc.amc_python), which is not importable here")
    version = contract.front_end_version("order-features") if version is None else int(version)
    return np.asarray(_order_features(contract.from_model_input(x, representation, layout), version), np.float32)


def front_end_features(x, meta):
    """The features a model's front end (amc.front_end, docs/classifier.md) makes from its network input x (the
    output of model_input): the C++ kernel amc.order_features on the frames x holds.  RuntimeError without the
    compiled module."""
    fe = contract.parse_front_end(meta[contract.META_FRONT_END])
    out = order_features_of(x, meta[contract.META_REPRESENTATION], meta[contract.META_INPUT_LAYOUT], fe["version"])
    if out.shape[1] != fe["size"]:
        raise ValueError(f"the model's front end takes {fe['size']} features; amc.order_features makes {out.shape[1]}")
    return out


def session_contract(sess):
    """The decoded contract (metadata dict) of an ONNX Runtime session's model."""
    return contract.decode_metadata(sess.get_modelmeta().custom_metadata_map)


def feeds(sess, x, meta=None):
    """The input dict of one run of a session on network inputs x: x for the frame input, and for a model with
    a front end its features under the input the contract names.  meta: the model's decoded contract (read
    from the session when not given)."""
    meta = session_contract(sess) if meta is None else meta
    fe = meta.get(contract.META_FRONT_END)
    if fe is None:
        return {sess.get_inputs()[0].name: x}
    fe = contract.parse_front_end(fe)
    names = [i.name for i in sess.get_inputs()]
    frame_input = [n for n in names if n != fe["input"]]
    if fe["input"] not in names or len(frame_input) != 1:
        raise ValueError(f"the model's inputs {names} are not one frame input and the front end's "
                         f"{fe['input']!r} that {contract.META_FRONT_END} names")
    return {frame_input[0]: x, fe["input"]: front_end_features(x, meta)}


def onnx_predict(path_or_bytes, x, batch=256, threads=1):
    """Output (numpy) of an ONNX model on model inputs x, run in batches with ONNX Runtime (front-end features
    added for a model that has one)."""
    sess = session(path_or_bytes, threads)
    meta = session_contract(sess)
    return np.concatenate([sess.run(None, feeds(sess, x[i:i + batch], meta))[0] for i in range(0, len(x), batch)])


def onnx_accuracy(path, x, y, batch=256):
    return float(np.mean(onnx_predict(path, x, batch).argmax(1) == y))


def measure_latency(path_or_bytes, example, batch, seconds=2.0, threads=1):
    """Median ONNX Runtime time per frame (ms) when run with batches of `batch` frames on `threads` threads."""
    sess = session(path_or_bytes, threads)
    meta = session_contract(sess)
    reps = -(-batch // len(example))
    x = np.ascontiguousarray(np.concatenate([example] * reps)[:batch])
    for _ in range(2):
        sess.run(None, feeds(sess, x, meta))
    times, t_end = [], time.perf_counter() + seconds
    while len(times) < 3 or (time.perf_counter() < t_end and len(times) < 1000):
        t0 = time.perf_counter()
        sess.run(None, feeds(sess, x, meta))     # the front end's features (if any) are part of the cost
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000.0 / batch)

