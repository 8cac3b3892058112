# SPDX-License-Identifier: GPL-3.0-or-later
"""The classifier's tags do not depend on max_batch or on how the scheduler chunks the stream, with
every real architecture of the model zoo (untrained, exported by export_onnx), not only with
the tiny test models: max_batch 1 with max_noutput_items 100 and max_batch 64 with the default
chunking give bit-identical amc:probs on the same frame offsets."""
import numpy as np
import pmt
import pytest
import torch
from conftest import run_classifier, zoo_contract
from gnuradio.amc import contract
from gnuradio.amc.training import zoo
from gnuradio.amc.training.export import export_onnx
from gnuradio.amc import fileio

L = 64
N_FRAMES = 24


def export(name, path):
    torch.manual_seed(0)
    classes = ["BPSK", "QPSK", "8PSK", "16QAM"]
    net = zoo.build(name, len(classes), L).eval()
    rep, layout = zoo.model_spec(name)
    x = contract.to_model_input(np.zeros((2, L), np.complex64) + 1, rep, layout)
    blob, _ = export_onnx(net, x, zoo_contract(name, classes, L))
    fileio.atomic_write_bytes(blob, path)
    return path


def probs_tags(path, stream, max_batch, max_noutput, hop):
    _, tags = run_classifier(path, stream, max_noutput, max_batch=max_batch, hop=hop, smoothing=3)
    return [(t.offset, list(pmt.f32vector_elements(t.value))) for t in tags[contract.TAG_PROBS]]


@pytest.mark.parametrize("name", zoo.MODEL_NAMES)
def test_tags_identical_for_batch_1_and_64(name, tmp_path):
    path = export(name, str(tmp_path / f"{name}.onnx"))
    rng = np.random.default_rng(5)
    stream = ((rng.standard_normal(N_FRAMES * L) + 1j * rng.standard_normal(N_FRAMES * L)) * 2).astype(np.complex64)
    hop = 48  # overlapping frames
    a = probs_tags(path, stream, 1, 100, hop)
    b = probs_tags(path, stream, 64, None, hop)
    assert [o for o, _ in a] == list(range(0, len(stream) - L + 1, hop))
    assert a == b
