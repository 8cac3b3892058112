#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The one check of a model file's contract, used by every entry point: the classifier blocks, ``gr-amc
evaluate``, ``gr-amc variant`` and ``gr-amc train --init-weights`` all open a model through ``ModelFile``, so they
refuse the same bad files with the same message (docs/classifier.md, "The model contract").

Checked, in order: the file exists (a path or a shipped model's name); ONNX Runtime can load it; the metadata
(``metadata_props``, or the caller's overrides where a key is missing) has every required key with a valid value,
and no override contradicts what the file states; the graph has one float input whose shape is what the layout and
frame length say, and an (N, classes) output; a batch of random frames runs, and a model that does not state
``amc.output`` returns probabilities.  Every failure is a ``ModelFileError`` (a ``ValueError``) naming the file and
the fault, or a ``FileNotFoundError`` naming what was tried.  Pure Python (numpy, onnxruntime): no GNU Radio.
"""
import json
import os

import numpy as np

from . import contract as C
from . import runtime
from .optional import require
from .paths import resolve_model

#: Constructor parameter that can supply each metadata key when the model lacks it.
OVERRIDE_PARAMS = {
    C.META_CLASSES: "classes",
    C.META_FRAME_LENGTH: "frame_len",
    C.META_INPUT_LAYOUT: "input_layout",
    C.META_REPRESENTATION: "representation",
    C.META_NORMALIZATION: "normalization",
    C.META_OUTPUT: "output",
}


class ModelFileError(ValueError):
    """A model file that breaks the contract; the message names the file and what is wrong."""


def is_given(v):
    """An override counts as given unless it is None, an empty string or the integer 0."""
    return v is not None and not (isinstance(v, str) and v.strip() == "") and not (
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v == 0)


def parse_classes(value, what):
    """A list/tuple of names, a JSON list string, or a comma-separated string -> list of str."""
    if isinstance(value, str):
        s = value.strip()
        if s.startswith("["):
            try:
                value = json.loads(s)
            except ValueError as e:
                raise ValueError(f"{what}: not a valid JSON list ({e}): {value!r}") from None
        else:
            value = [c.strip() for c in s.split(",")]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{what} must be a list of class names, got {value!r}")
    names = [str(c) for c in value]
    if not names or any(not c.strip() for c in names):
        raise ValueError(f"{what} must be a non-empty list of non-empty class names, got {value!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"{what} has duplicate class names: {names}")
    return names


def int_param(name, value, minimum, allowed):
    """An integer parameter (an integral float is accepted) >= minimum, else ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer ({allowed}), got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return int(value)


def _first_line(e):
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


class ModelFile:
    """A model file whose contract has been checked; runs model input through ONNX Runtime.

    ``overrides`` maps the parameter names of OVERRIDE_PARAMS (classes, frame_len, ...) to values that supply
    missing metadata keys (the classifier blocks' parameters); ``max_batch`` bounds one ONNX Runtime call.
    Attributes: path, session, metadata (typed: classes a list, frame length an int, the other keys as stored),
    classes, frame_len, layout, representation, normalization, output, input_name, output_name, static_batch.
    """

    def __init__(self, model, threads=1, max_batch=64, overrides=None):
        self.threads = int_param("threads", threads, 0, ">= 0 (0 = ONNX Runtime's default)")
        self.max_batch = int_param("max_batch", max_batch, 1, ">= 1")
        if isinstance(model, os.PathLike):
            model = os.fspath(model)
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"model must be a path to an .onnx file or a shipped model name, got {model!r}")
        self.path = resolve_model(model)  # FileNotFoundError naming the model and the shipped ones
        require("onnxruntime", "running ONNX models (gr-amc's classifier, evaluate and variant)")
        try:
            self.session = runtime.session(self.path, self.threads)
        except Exception as e:  # InvalidProtobuf, Fail, InvalidGraph, NoSuchFile...
            raise ModelFileError(f"model file {self.path!r} is not a valid ONNX model that ONNX Runtime "
                                 f"can load: {_first_line(e)}") from None
        props = dict(self.session.get_modelmeta().custom_metadata_map)
        given = dict(overrides or {})
        unknown = set(given) - set(OVERRIDE_PARAMS.values())
        if unknown:
            raise TypeError(f"unknown override(s) {sorted(unknown)}; allowed: {sorted(OVERRIDE_PARAMS.values())}")
        self.metadata = self._resolve_metadata(props, given)
        self.classes = list(self.metadata[C.META_CLASSES])
        self.frame_len = int(self.metadata[C.META_FRAME_LENGTH])
        self.layout = self.metadata[C.META_INPUT_LAYOUT]
        self.representation = self.metadata[C.META_REPRESENTATION]
        self.normalization = self.metadata[C.META_NORMALIZATION]
        self.output = self.metadata.get(C.META_OUTPUT)  # None: not stated, settled by the dry run
        self.front_end = None                           # the checked amc.front_end, if the model has one
        if self.metadata.get(C.META_FRONT_END) is not None:
            try:
                self.front_end = C.parse_front_end(self.metadata[C.META_FRONT_END])
            except ValueError as e:
                raise ModelFileError(f"model {self.path!r}: {e}") from None
            self.metadata[C.META_FRONT_END] = self.front_end
        self._check_graph()
        self._dry_run()

    def load_proto(self):
        """The ONNX ModelProto of the file (for graph inspection and rewriting)."""
        import onnx
        return onnx.load(self.path)

    # -- construction checks -------------------------------------------------------------------
    def _resolve_metadata(self, props, given):
        meta = {}
        for key, pname in OVERRIDE_PARAMS.items():
            stored, value = props.get(key), given.get(pname)
            if stored is not None:
                try:
                    if key == C.META_CLASSES:
                        stored = parse_classes(json.loads(stored), f"model metadata {key}")
                    elif key == C.META_FRAME_LENGTH:
                        stored = int(stored)
                        if stored < 1:
                            raise ValueError("must be >= 1")
                        if stored > C.MAX_FRAME_LEN:
                            raise ValueError(f"must be <= {C.MAX_FRAME_LEN} (2^20), the framing kernels' limit")
                    else:
                        stored = stored.strip()
                except (ValueError, TypeError) as e:
                    raise ModelFileError(f"model {self.path!r}: metadata {key}={props[key]!r} is invalid "
                                         f"({e})") from None
            if is_given(value):
                if key == C.META_CLASSES:
                    value = parse_classes(value, "classes")
                elif key == C.META_FRAME_LENGTH:
                    value = int_param("frame_len", value, 1, ">= 1 (0 = from the model)")
                    if value > C.MAX_FRAME_LEN:
                        raise ValueError(f"frame_len must be <= {C.MAX_FRAME_LEN} (2^20), got {value}")
                else:
                    value = str(value).strip()
            else:
                value = None
            if stored is not None and value is not None and stored != value:
                raise ValueError(f"{pname}={value!r} contradicts the model's metadata {key}={stored!r} "
                                 f"(model {self.path!r}); leave {pname} unset to use the model's value")
            meta[key] = stored if stored is not None else value
        missing = [k for k in C.REQUIRED_META if meta.get(k) is None]
        if missing:
            raise ModelFileError(
                f"model {self.path!r} lacks the metadata_props key(s) {', '.join(missing)}; supply them "
                f"with the parameter(s) {', '.join(OVERRIDE_PARAMS[k] + '=' for k in missing)} "
                f"or re-export the model with these keys (see docs/classifier.md)")
        checks = ((C.META_INPUT_LAYOUT, C.INPUT_LAYOUTS), (C.META_REPRESENTATION, C.REPRESENTATIONS),
                  (C.META_NORMALIZATION, C.NORMALIZATIONS), (C.META_OUTPUT, C.OUTPUTS))
        for key, allowed in checks:
            if meta.get(key) is not None and meta[key] not in allowed:
                src = "model metadata" if props.get(key) is not None else "parameter " + OVERRIDE_PARAMS[key]
                raise ModelFileError(f"{src} {key}={meta[key]!r} is not allowed (model {self.path!r}); "
                                     f"allowed: {', '.join(allowed)}")
        # Everything else the model states (amc.model, amc.dataset, ...) is kept as is.
        for k, v in C.decode_metadata({k: v for k, v in props.items() if k not in OVERRIDE_PARAMS}).items():
            meta[k] = v
        return meta

    def _check_graph(self):
        inputs = self.session.get_inputs()
        if self.front_end is not None:
            inputs = self._check_front_end_input(inputs)
        if len(inputs) != 1:
            raise ModelFileError(f"model {self.path!r} has {len(inputs)} inputs "
                                 f"({', '.join(i.name for i in inputs)}); the classifier feeds exactly one"
                                 f"{'' if self.front_end else ' (and a second only where ' + C.META_FRONT_END + ' names it)'}")
        inp = inputs[0]
        self.input_name = inp.name
        if inp.type != "tensor(float)":
            raise ModelFileError(f"model {self.path!r}: input {inp.name!r} is {inp.type}; "
                                 f"the classifier feeds tensor(float)")
        expected = C.input_shape(self.layout, self.frame_len, "N")
        shape = list(inp.shape)
        desc = (f"{C.META_INPUT_LAYOUT}={self.layout} with {C.META_FRAME_LENGTH}={self.frame_len} "
                f"needs ({', '.join(str(d) for d in expected)})")
        if len(shape) != len(expected):
            raise ModelFileError(f"model {self.path!r}: input {inp.name!r} has shape {shape} "
                                 f"(rank {len(shape)}) but {desc}")
        for i, (got, exp) in enumerate(zip(shape, expected)):
            if i == 0 or not isinstance(got, int):
                continue  # batch dimension, or a symbolic dimension
            if got != exp:
                raise ModelFileError(f"model {self.path!r}: input {inp.name!r} has shape {shape} but {desc} "
                                     f"(dimension {i} is {got}, not {exp})")
        b = shape[0]
        self.static_batch = b if isinstance(b, int) and b > 0 else None
        out = self.session.get_outputs()[0]
        self.output_name = out.name
        oshape = list(out.shape)
        nc = len(self.classes)
        if len(oshape) != 2 or (isinstance(oshape[1], int) and oshape[1] != nc):
            raise ModelFileError(f"model {self.path!r}: output {out.name!r} has shape {oshape} but "
                                 f"{C.META_CLASSES} lists {nc} classes; the output must be (N, {nc})")

    def _check_front_end_input(self, inputs):
        """The front end's input: named by amc.front_end, float, (N, size); returns the other inputs."""
        fe = self.front_end
        named = [i for i in inputs if i.name == fe["input"]]
        if not named:
            raise ModelFileError(f"model {self.path!r}: {C.META_FRONT_END} names the input {fe['input']!r}, but the "
                                 f"graph's inputs are {', '.join(i.name for i in inputs)}")
        f = named[0]
        shape = list(f.shape)
        if f.type != "tensor(float)" or len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != fe["size"]):
            raise ModelFileError(f"model {self.path!r}: the front end's input {f.name!r} is {f.type} {shape}; "
                                 f"{C.META_FRONT_END} says tensor(float) (N, {fe['size']})")
        return [i for i in inputs if i.name != fe["input"]]

    def _dry_run(self):
        rng = np.random.default_rng(0)
        n = self.static_batch or 2
        z = (rng.standard_normal((n, self.frame_len)) + 1j * rng.standard_normal((n, self.frame_len))) / np.sqrt(2)
        try:
            y = self.run(C.to_model_input(z.astype(np.complex64), self.representation, self.layout))
        except ModelFileError:
            raise
        except Exception as e:
            raise ModelFileError(f"model {self.path!r} fails on a batch of {n} frames shaped "
                                 f"{C.input_shape(self.layout, self.frame_len, n)}: {_first_line(e)}") from None
        if self.output is None:
            ok = np.all(np.isfinite(y)) and np.all(y >= -1e-6) and np.allclose(y.sum(axis=1), 1.0, atol=1e-3)
            if not ok:
                raise ModelFileError(f"model {self.path!r} does not state {C.META_OUTPUT} and its outputs are "
                                     f"not probabilities (rows sum to {np.round(y.sum(axis=1), 3).tolist()}); "
                                     f"pass output='logits' (softmax applied) or output='probs'")
            self.output = "probs"
            self.metadata[C.META_OUTPUT] = "probs"

    # -- inference -----------------------------------------------------------------------------
    def run(self, x):
        """Model input (n, ...) -> raw output (n, C) float64, in chunks of max_batch (or the static batch)."""
        n = x.shape[0]
        chunk = self.static_batch or self.max_batch
        outs = []
        for s in range(0, n, chunk):
            xb = x[s:s + chunk]
            m = xb.shape[0]
            if self.static_batch and m < self.static_batch:
                pad = np.zeros((self.static_batch - m,) + xb.shape[1:], np.float32)
                xb = np.concatenate([xb, pad])
            feed = runtime.feeds(self.session, xb, self.metadata) if self.front_end else {self.input_name: xb}
            y = np.asarray(self.session.run([self.output_name], feed)[0])
            if y.ndim != 2 or y.shape[0] != xb.shape[0] or y.shape[1] != len(self.classes):
                raise ModelFileError(f"model {self.path!r} returned shape {list(y.shape)} for a batch of "
                                     f"{xb.shape[0]}; expected ({xb.shape[0]}, {len(self.classes)})")
            outs.append(y[:m].astype(np.float64))
        return np.concatenate(outs) if outs else np.zeros((0, len(self.classes)))


def read_contract(model):
    """(ONNX ModelProto, decoded metadata) of a model file or shipped model name whose contract passes ModelFile's
    check; ValueError (ModelFileError) or FileNotFoundError with that check's message otherwise."""
    mf = ModelFile(model)
    return mf.load_proto(), mf.metadata
