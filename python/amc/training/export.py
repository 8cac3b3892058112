#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""A trained torch model -> a self-describing ONNX file: torch.onnx.export (legacy exporter, dynamic batch axis,
opset 17), the contract written into metadata_props (docs/classifier.md lists the keys), and a check that ONNX
Runtime and PyTorch agree on real inputs, as one batch and frame by frame, before any byte is written."""
import io
import warnings

import numpy as np
import onnx
import torch

from .. import contract, runtime
from .zoo import model_spec


def export_onnx(model, example, metadata, output_kind="logits", check_inputs=None, atol=1e-3, rtol=1e-3):
    """Export a torch model to ONNX bytes with a dynamic batch axis and the contract in metadata_props.

    The graph is run with ONNX Runtime on check_inputs (default: example) as one batch and frame by frame, and
    compared with PyTorch; RuntimeError if they differ by more than atol + rtol*|torch|.  Returns
    (bytes, max_abs_diff)."""
    model = model.cpu().eval()
    # the wrapper must be in eval mode too: torch.onnx.export puts the module back into the mode it found it in,
    # recursively, so a training-mode wrapper would leave batch norm and dropout in training mode for the check
    net = torch.nn.Sequential(model, torch.nn.Softmax(dim=-1)).eval() if output_kind == "probs" else model
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # the legacy exporter's deprecation notice, and its RNN batch-size warning: the batch axis is checked below
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*batch_size other than 1.*")
        torch.onnx.export(net, (torch.from_numpy(example[:1]),), buf, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
                          opset_version=17, dynamo=False)
    proto = onnx.load_from_string(buf.getvalue())
    del proto.metadata_props[:]
    for k, v in contract.encode_metadata(metadata).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.producer_name = "gr-amc"
    proto.doc_string = f"gr-amc {metadata.get(contract.META_MODEL, '')} modulation classifier"
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()

    xs = example if check_inputs is None else check_inputs
    with torch.no_grad():
        ref = net(torch.from_numpy(xs)).numpy()
    sess = runtime.session(data, threads=0)
    name = sess.get_inputs()[0].name
    got = sess.run(None, {name: xs})[0]
    singles = np.concatenate([sess.run(None, {name: xs[i:i + 1]})[0] for i in range(min(len(xs), 8))])
    diff = float(np.max(np.abs(got - ref)))
    diff1 = float(np.max(np.abs(singles - ref[:len(singles)])))
    tol = atol + rtol * float(np.max(np.abs(ref)))
    if not (got.shape == ref.shape and diff <= tol and diff1 <= tol):
        raise RuntimeError(f"ONNX export check failed: ONNX Runtime differs from PyTorch by {max(diff, diff1):.3g} "
                           f"(tolerance {tol:.3g}); the file was not written")
    return data, max(diff, diff1)


def contract_metadata(name, classes, frame_length, normalization="rms", output="logits"):
    """The contract keys a zoo model's ONNX file needs (representation and layout from the zoo)."""
    representation, layout = model_spec(name)
    return {contract.META_CLASSES: list(classes), contract.META_FRAME_LENGTH: frame_length,
            contract.META_INPUT_LAYOUT: layout, contract.META_REPRESENTATION: representation,
            contract.META_NORMALIZATION: normalization, contract.META_OUTPUT: output, contract.META_MODEL: name}

