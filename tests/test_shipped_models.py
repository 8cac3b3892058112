# SPDX-License-Identifier: GPL-3.0-or-later
"""The shipped models on signals they were not made from: timing phase and symbol rate (docs/models.md,
"Robustness"). Frames come from the batch generator with the robustness sweeps' own seeds (no training stream
uses them), on an AWGN channel at 20 dB, so only the swept quantity changes.

Timing: a frame may start anywhere in the symbol period. Over the offsets 0..7 samples at 8 samples per symbol,
each linear class's number of correct answers must be what one accuracy gives at every offset (a chi-square
test of homogeneity, p >= 0.001); where that accuracy is >= 0.98, where binomial noise is small enough to see
it, the spread between offsets must be at most 5 points (256 frames per class and offset). The default of the
previous release fails this for 14 of 18 classes (QPSK 1.00 at offset 0, 0.09 three samples later).

Symbol rate: the target's eight classes at 4, 6, 10 and 16 samples per symbol (96 frames per class and value). The
target is a mean >= 0.90 with none below 0.70: the default (with its order-feature fusion head) reaches it and is
held to it; the GRU does not (docs/models.md: it takes QAM16 for QAM64), and is held to what it reaches: the mean
and the classes whose mean over the four rates is >= 0.85 (the release-2 default: mean 0.30, none).
"""
import numpy as np
import pytest
from scipy.stats import chi2_contingency

from gnuradio.amc import paths, robustness

SPS_CLASSES_2018 = ["BPSK", "QPSK", "8PSK", "16APSK", "16QAM", "64QAM", "4ASK", "OQPSK"]
SPS_CLASSES_2016 = ["BPSK", "QPSK", "8PSK", "QAM16", "QAM64", "PAM4"]   # the 2016 list's counterparts
SPS_VALUES = [4, 6, 10, 16]

# name, classes of the sps target, what is asserted: (mean over classes and rates, classes with a mean >= 0.85,
# the lowest single cell)
CASES = [("amc-default", SPS_CLASSES_2018, (0.90, set(SPS_CLASSES_2018), 0.70)),
         ("amc-default-fp32", SPS_CLASSES_2018, (0.90, set(SPS_CLASSES_2018), 0.70)),
         ("amc-gru", SPS_CLASSES_2016, (0.78, {"BPSK", "QPSK", "8PSK", "PAM4"}, 0.0))]


def timing_findings(result, frames):
    """Classes whose accuracy depends on the timing offset: [(class, reason)] for a sweep result."""
    bad = []
    for c in result["classes"]:
        acc = np.asarray(result["accuracy"][c])
        right = np.rint(acc * frames).astype(int)
        table = np.stack([right, frames - right])
        pooled = right.sum() / (frames * len(acc))
        if 0 < pooled < 1:
            p = chi2_contingency(table)[1]
            if p < 1e-3:
                bad.append((c, f"accuracy {np.round(acc, 2).tolist()} is not one accuracy (chi-square p = {p:.1e})"))
                continue
        if pooled >= 0.98 and acc.max() - acc.min() > 0.05:
            bad.append((c, f"spread {acc.max() - acc.min():.2f} > 0.05 at accuracy {pooled:.3f}"))
    return bad


def test_timing_check_catches_a_timing_dependent_answer():
    """The check itself: an accuracy that collapses at one offset is found, binomial noise around one
    accuracy is not."""
    rng = np.random.default_rng(0)
    noisy = (rng.binomial(96, 0.6, 8) / 96).tolist()
    res = {"classes": ["A", "B", "C"], "accuracy": {"A": [1.0] * 3 + [0.06] + [1.0] * 4, "B": noisy,
                                                    "C": [1.0] * 7 + [0.9]}}
    found = dict(timing_findings(res, 96))
    assert set(found) == {"A", "C"}
    assert "chi-square" in found["A"] and "chi-square" in found["C"]


@pytest.mark.parametrize("name, sps_classes, reached", CASES)
def test_shipped_model_is_flat_over_timing_phase(name, sps_classes, reached):
    res = robustness.sweep(paths.resolve_model(name), "timing", snr=20, frames_per_class=256)
    print(robustness.markdown(res, name))
    assert len(res["classes"]) >= 6
    assert timing_findings(res, 256) == []


@pytest.mark.parametrize("name, sps_classes, reached", CASES)
def test_shipped_model_holds_over_symbol_rates(name, sps_classes, reached):
    res = robustness.sweep(paths.resolve_model(name), "sps", snr=20, frames_per_class=96,
                           values=SPS_VALUES, classes=sps_classes)
    print(robustness.markdown(res, name))
    acc = np.array([res["accuracy"][c] for c in sps_classes])
    mean_reached, good_reached, lowest = reached
    assert acc.mean() >= mean_reached, f"mean {acc.mean():.3f} over {sps_classes} x {SPS_VALUES}"
    good = {c for c, a in zip(sps_classes, acc) if a.mean() >= 0.85}
    assert good >= good_reached, f"classes with a mean >= 0.85: {sorted(good)}"
    assert acc.min() >= lowest, f"lowest cell {acc.min():.2f} ({np.unravel_index(acc.argmin(), acc.shape)})"


@pytest.mark.parametrize("name", ["amc-default", "amc-default-fp32"])
def test_shipped_default_has_its_front_end_and_network(name):
    """amc-default-fp32 is its network with a fusion head on order-features version 2; amc-default is the same file
    with the network quantized to int8: the contract names the front end, the head is the same, and the network
    inside is the one the recipe trained (rn1d, 24 classes), runnable alone."""
    from gnuradio.amc import contract
    from gnuradio.amc.model_file import read_contract
    from gnuradio.amc.training.fusion import base_network
    proto, meta = read_contract(name)
    assert meta[contract.META_FRONT_END] == {"name": "order-features", "version": 2, "input": "features",
                                             "size": 307}
    assert meta[contract.META_FUSION]["presets"] == ["wild", "wild-mix"]
    assert meta[contract.META_FUSION]["command"].startswith("gr-amc fuse ")
    net = base_network(proto, meta)
    assert [i.name for i in net.graph.input] == ["input"] and meta[contract.META_MODEL] == "rn1d"
    quantized = {n.op_type for n in net.graph.node} & {"QuantizeLinear", "DequantizeLinear"}
    assert bool(quantized) == (name == "amc-default")


def test_shipped_default_is_the_fp32_file_with_an_int8_network():
    """Both files hold the same float32 head (initializers under the head's prefix, equal)."""
    from onnx import numpy_helper
    from gnuradio.amc.fused_graph import HEAD_PREFIX
    from gnuradio.amc.model_file import read_contract

    def head(name):
        proto, _ = read_contract(name)
        return {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer if i.name.startswith(HEAD_PREFIX)}
    a, b = head("amc-default"), head("amc-default-fp32")
    assert len(a) >= 6 and a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
