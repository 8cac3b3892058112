# SPDX-License-Identifier: GPL-3.0-or-later
"""Catalogue of bad inputs: each must end in a clear error naming the fault (file, dataset,
parameter, limit) or in a defined output, never in a traceback from deep inside a library or a
silently wrong result.

Sections: dataset pickles (planted payloads must not run), truncated and inconsistent dataset files
(HDF5, pickle, SigMF), framer / normalizer / framing-kernel parameters, classifier framing limits,
frames whose level underflows (denormals), and bad model files (one message from every entry point).
"""
import codecs
import io
import json
import os
import pickle
import re
import struct

import numpy as np
import pytest

from amc_fixtures import tiny_models as tm
from gnuradio import amc  # noqa: E402
from gnuradio.amc import datasets  # noqa: E402
from gnuradio.amc import model_file

L = 16
MODES = ("rms", "peak", "l1", "iq_std", "none")
EXTS = ("hdf5: .h5, .hdf5; pickle: .pkl, .pickle, .dat; sigmf: .sigmf-meta, .sigmf-data, .sigmf")
ALLOWED = ("which a RadioML-layout dataset (a dict of numpy arrays) does not use; only numpy arrays, dtypes "
           "and scalars and builtin tuples, strings, bytes and numbers are allowed")


def refused(path, glob):
    return f"{path}: refused to load the pickle: it needs the global '{glob}', {ALLOWED}"


def load_error(path, **kw):
    with pytest.raises(ValueError) as e:
        datasets.load_dataset(str(path), **kw)
    return str(e.value)


def good_dict(n=3):
    rng = np.random.default_rng(0)
    return {("QPSK", 10): rng.standard_normal((n, 2, L)).astype(np.float32),
            ("BPSK", -2): rng.standard_normal((n, 2, L)).astype(np.float32)}


class Py2Pickler(pickle._Pickler):
    """Writes str and bytes with Python 2's str opcodes, as Python 2 (c)Pickle wrote RadioML 2016.10a."""
    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2str(self, obj):
        b = obj.encode("latin1") if isinstance(obj, str) else obj
        if self.proto >= 1:
            self.write(pickle.SHORT_BINSTRING + bytes([len(b)]) + b if len(b) < 256 else
                       pickle.BINSTRING + struct.pack("<i", len(b)) + b)
        else:
            self.write(pickle.STRING + b"'" + codecs.escape_encode(b)[0] + b"'\n")
        self.memoize(obj)

    dispatch[str] = save_py2str
    dispatch[bytes] = save_py2str


def py2_dumps(obj, protocol):
    f = io.BytesIO()
    Py2Pickler(f, protocol).dump(obj)
    return f.getvalue()


# ------------------------------------------------------------------------------------------------
# Planted payloads: refused by name, never run
# ------------------------------------------------------------------------------------------------
class _System:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Eval:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w')",))


class _RunString:
    """numpy's own test helper executes a string: an allowed module must not mean allowed names."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        from numpy.testing._private.utils import runstring
        return (runstring, (f"open({str(self.marker)!r}, 'w')", {}))


class _Popen:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import subprocess
        return (subprocess.Popen, (["touch", str(self.marker)],))


class _Obj:
    pass


PAYLOADS = [
    ("os.system as a value", lambda m: {("QPSK", 0): _System(m)}, "posix.system", 2),
    ("os.system, protocol 0", lambda m: {("QPSK", 0): _System(m)}, "posix.system", 0),
    ("os.system, protocol 4", lambda m: {("QPSK", 0): _System(m)}, "posix.system", 4),
    ("os.system, protocol 5", lambda m: {("QPSK", 0): _System(m)}, "posix.system", 5),
    ("os.system as the whole file", lambda m: _System(m), "posix.system", 4),
    ("os.system as a key", lambda m: {(_System(m), 0): np.zeros((1, 2, L), np.float32)}, "posix.system", 4),
    ("os.system after a good array", lambda m: [good_dict(), _System(m)], "posix.system", 4),
    ("eval", lambda m: {("QPSK", 0): _Eval(m)}, "builtins.eval", 4),
    ("numpy runstring", lambda m: {("QPSK", 0): _RunString(m)}, "numpy.testing._private.utils.runstring", 4),
    ("subprocess.Popen", lambda m: {("QPSK", 0): _Popen(m)}, "subprocess.Popen", 2),
    ("a plain class instance", lambda m: {("QPSK", 0): _Obj()}, "test_bad_inputs._Obj", 2),
]


@pytest.mark.parametrize("what,make,glob,protocol", PAYLOADS, ids=[p[0] for p in PAYLOADS])
def test_pickle_payload_is_refused_and_never_runs(tmp_path, what, make, glob, protocol):
    marker = tmp_path / "PAYLOAD_RAN"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(make(marker), protocol=protocol))
    assert load_error(path) == refused(path, glob)
    assert not marker.exists()


def test_pickle_payload_without_extension_is_not_sniffed(tmp_path):
    marker = tmp_path / "PAYLOAD_RAN"
    path = tmp_path / "RML2016.10a_dict"
    path.write_bytes(pickle.dumps({("QPSK", 0): _System(marker)}, protocol=2))
    assert load_error(path) == (
        f"cannot tell the format of {str(path)!r} from its name ({EXTS}); it has no HDF5 signature and no "
        f".sigmf-meta beside it (a pickle is only read from a pickle extension or an explicit format)")
    # forced to a pickle, it goes through the restricted unpickler all the same
    assert load_error(path, fmt="pickle") == refused(path, "posix.system")
    assert not marker.exists()


def test_pickle_array_with_a_large_initial_shape_is_refused(tmp_path):
    # _reconstruct(ndarray, (2**40,), b'b'): numpy never writes this; it would only allocate memory
    path = tmp_path / "bomb.pkl"
    path.write_bytes(b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n\x8a\x06\x00\x00\x00\x00"
                     b"\x00\x01\x85U\x01b\x87R.")
    assert load_error(path) == (f"{path}: refused to load the pickle: array reconstruction with initial "
                                f"shape (1099511627776,) (numpy writes (0,))")


@pytest.mark.parametrize("protocol", [0, 2])
def test_python2_numpy_pickles_load(tmp_path, protocol):
    """A RadioML 2016.10a pickle as Python 2 numpy wrote it (str opcodes, numpy.core names) loads."""
    d = good_dict()
    d[("AM-SSB", 0)] = np.zeros((0, 2, L), np.float32)
    path = tmp_path / "rml2016.pkl"
    path.write_bytes(py2_dumps(d, protocol))
    ds = datasets.load_dataset(str(path))
    assert ds.classes == ["AM-SSB", "BPSK", "QPSK"]
    assert ds.snrs.tolist() == [-2] * 3 + [10] * 3
    np.testing.assert_array_equal(ds.x[:3], d[("BPSK", -2)][:, 0] + 1j * d[("BPSK", -2)][:, 1])
    np.testing.assert_array_equal(ds.x[3:], d[("QPSK", 10)][:, 0] + 1j * d[("QPSK", 10)][:, 1])


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_python3_numpy_pickles_load(tmp_path, protocol):
    d = good_dict()
    d[("QPSK", np.int64(4))] = np.ones((2, 2, L), np.float32)   # a numpy scalar SNR
    d[("8PSK", 0)] = np.zeros((0, 2, L), np.float32)            # empty: bytes() in protocols 0-2
    path = tmp_path / "d.pkl"
    path.write_bytes(pickle.dumps(d, protocol=protocol))
    ds = datasets.load_dataset(str(path))
    assert ds.classes == ["8PSK", "BPSK", "QPSK"]
    assert ds.snrs.tolist() == [-2] * 3 + [4] * 2 + [10] * 3


# ------------------------------------------------------------------------------------------------
# Truncated files
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("keep", [0, 1, 40, 0.5, -1])
def test_truncated_pickle(tmp_path, keep):
    full = pickle.dumps(good_dict(), protocol=4)
    n = int(len(full) * keep) if isinstance(keep, float) else (len(full) + keep if keep < 0 else keep)
    path = tmp_path / "cut.pkl"
    path.write_bytes(full[:n])
    msg = load_error(path)
    assert re.fullmatch(re.escape(f"{path}: truncated or corrupt pickle (") + r".+\)", msg), msg
    assert any(w in msg for w in ("truncated", "Ran out of input", "no data")), msg


def write_h5(path, X, Y, Z, classes=None, extra=None):
    import h5py
    with h5py.File(path, "w") as f:
        if X is not None:
            f["X"] = X
        if Y is not None:
            f["Y"] = Y
        if Z is not None:
            f["Z"] = Z
        if classes is not None:
            f.attrs["classes"] = classes if isinstance(classes, str) else json.dumps(classes)
        for k, v in (extra or {}).items():
            f[k] = v
    return str(path)


def good_h5_arrays(n=6, c=3):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, L, 2)).astype(np.float32)
    Y = np.zeros((n, c), np.int64)
    Y[np.arange(n), np.arange(n) % c] = 1
    Z = (np.arange(n, dtype=np.int64) * 2 - 4).reshape(n, 1)
    return X, Y, Z


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.9])
def test_truncated_hdf5(tmp_path, fraction):
    X, Y, Z = good_h5_arrays(200)
    full = write_h5(tmp_path / "full.h5", X, Y, Z, ["a", "b", "c"])
    data = open(full, "rb").read()
    path = tmp_path / "cut.h5"
    path.write_bytes(data[:max(int(len(data) * fraction), 0)])
    msg = load_error(path)
    assert msg.startswith(f"{path}: cannot read the HDF5 file (truncated or corrupt?): "), msg


def test_hdf5_extension_on_a_pickle(tmp_path):
    path = tmp_path / "really_a_pickle.h5"
    path.write_bytes(pickle.dumps(good_dict()))
    assert load_error(path).startswith(f"{path}: cannot read the HDF5 file (truncated or corrupt?): ")


# ------------------------------------------------------------------------------------------------
# Inconsistent HDF5 files
# ------------------------------------------------------------------------------------------------
def _bad_h5(case):
    X, Y, Z = good_h5_arrays()
    classes = ["a", "b", "c"]
    if case == "two ones":
        Y[2, :2] = 1
    elif case == "no one":
        Y[4] = 0
    elif case == "value 2":
        Y[1, 0] = 2
    elif case == "float NaN":
        Y = Y.astype(np.float32)
        Y[3, 1] = np.nan
    elif case == "Y 1-D":
        Y = np.argmax(Y, 1)
    elif case == "X short":
        X = X[:5]
    elif case == "Y long":
        Y = np.concatenate([Y, Y[:1]])
    elif case == "Z short":
        Z = Z[:4]
    elif case == "Z NaN":
        Z = Z.astype(np.float64)
        Z[2, 0] = np.nan
    elif case == "Z inf":
        Z = Z.astype(np.float32)
        Z[5, 0] = -np.inf
    elif case == "Z 2 columns":
        Z = np.concatenate([Z, Z], 1)
    elif case == "X not (N, L, 2)":
        X = X.reshape(6, 8, 4)
    elif case == "X complex":
        X = X[..., 0] + 1j * X[..., 1]
    elif case == "classes count":
        classes = ["a", "b"]
    elif case == "classes not JSON":
        classes = "a, b, c"
    elif case == "classes duplicate":
        classes = ["a", "b", "a"]
    elif case == "no Y":
        Y = None
    return X, Y, Z, classes


H5_CASES = {
    "two ones": "dataset Y is not one-hot: 1 row(s) do not have exactly one 1 (the first is row 2, with 3)",
    "no one": "dataset Y is not one-hot: 1 row(s) do not have exactly one 1 (the first is row 4, with 0)",
    "value 2": "dataset Y is not one-hot: values other than 0 and 1 (the first in row 1: [2, 1, 0])",
    "float NaN": "dataset Y is not one-hot: values other than 0 and 1 (the first in row 3: [1.0, nan, 0.0])",
    "Y 1-D": "dataset Y must have shape (N, C) with C >= 1 (one-hot), got (6,)",
    "X short": "datasets X, Y and Z must have the same length, got 5, 6 and 6 rows",
    "Y long": "datasets X, Y and Z must have the same length, got 6, 7 and 6 rows",
    "Z short": "datasets X, Y and Z must have the same length, got 6, 6 and 4 rows",
    "Z NaN": "dataset Z: 1 SNR value(s) are not finite (the first at row 2: nan)",
    "Z inf": "dataset Z: 1 SNR value(s) are not finite (the first at row 5: -inf)",
    "Z 2 columns": "dataset Z must have shape (N, 1) or (N,), got (6, 2)",
    "X not (N, L, 2)": "dataset X must have shape (N, L, 2) with L >= 1, got (6, 8, 4)",
    "X complex": "dataset X must hold real numbers, got dtype complex64",
    "classes count": "dataset Y has 3 columns but the attribute 'classes' lists 2 classes",
    "classes not JSON": "attribute 'classes' is not a JSON list of class names: Expecting value: line 1 column 1 "
                        "(char 0)",
    "classes duplicate": "attribute 'classes' is not a JSON list of class names: ",
    "no Y": "not a RadioML 2018.01A-layout file (no dataset 'Y')",
}


@pytest.mark.parametrize("case", list(H5_CASES))
def test_inconsistent_hdf5(tmp_path, case):
    X, Y, Z, classes = _bad_h5(case)
    path = write_h5(tmp_path / "bad.h5", X, Y, Z, classes)
    msg = load_error(path)
    expected = f"{path}: {H5_CASES[case]}"
    if case == "classes duplicate":
        assert msg == expected + f"{path}: attribute 'classes': class 'a' is listed twice"
    else:
        assert msg == expected


def test_valid_hdf5_still_loads(tmp_path):
    X, Y, Z = good_h5_arrays()
    path = write_h5(tmp_path / "good.h5", X, Y.astype(np.float32), Z.reshape(-1), ["a", "b", "c"])
    ds = datasets.load_dataset(path)
    assert ds.labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert ds.snrs.tolist() == [-4, -2, 0, 2, 4, 6]
    np.testing.assert_array_equal(ds.x, X[..., 0] + 1j * X[..., 1])


# ------------------------------------------------------------------------------------------------
# Inconsistent pickles
# ------------------------------------------------------------------------------------------------
def _arr(*shape, dtype=np.float32):
    return np.zeros(shape, dtype)


PICKLE_CASES = [
    ("a list", [1, 2], "not a RadioML 2016.10a-layout pickle (a dict {(class, snr): array}), got a list"),
    ("key not a pair", {"QPSK": _arr(1, 2, L)}, "key 'QPSK' is not (class, snr)"),
    ("NaN SNR", {("QPSK", float("nan")): _arr(1, 2, L)}, "key ('QPSK', nan): the SNR is not a finite number"),
    ("inf SNR", {("QPSK", float("inf")): _arr(1, 2, L)}, "key ('QPSK', inf): the SNR is not a finite number"),
    ("string SNR", {("QPSK", "10"): _arr(1, 2, L)}, "key ('QPSK', '10'): the SNR must be a number, got str"),
    ("empty class", {("", 0): _arr(1, 2, L)}, "key ('', 0): the class must be a non-empty string"),
    ("shape (n, 3, L)", {("QPSK", 0): _arr(4, 3, L)},
     "array for key ('QPSK', 0) must have shape (n, 2, L) with L >= 1, got (4, 3, 16)"),
    ("shape (n, L)", {("QPSK", 0): _arr(4, L)},
     "array for key ('QPSK', 0) must have shape (n, 2, L) with L >= 1, got (4, 16)"),
    ("complex array", {("QPSK", 0): _arr(1, 2, L, dtype=np.complex64)},
     "array for key ('QPSK', 0) must hold real numbers, got dtype complex64"),
    ("strings", {("QPSK", 0): np.array([["a", "b"]])}, "array for key ('QPSK', 0) must hold real numbers, got dtype <U1"),
    ("frame lengths differ", {("QPSK", 0): _arr(1, 2, L), ("BPSK", 0): _arr(1, 2, L + 1)},
     "frame lengths differ between keys (17 and 16 at ('QPSK', 0))"),
]


@pytest.mark.parametrize("what,obj,words", PICKLE_CASES, ids=[c[0] for c in PICKLE_CASES])
def test_inconsistent_pickle(tmp_path, what, obj, words):
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=4))
    assert load_error(path) == f"{path}: {words}"


# ------------------------------------------------------------------------------------------------
# Inconsistent SigMF recordings
# ------------------------------------------------------------------------------------------------
def write_sigmf(base, n=3, data_samples=None, annotation=None, classes=("QPSK", "BPSK")):
    data = (np.arange((n * L) if data_samples is None else data_samples) * (1 + 1j)).astype("<c8")
    data.tofile(str(base) + ".sigmf-data")
    ann = [{"core:sample_start": i * L, "core:sample_count": L, "core:label": "QPSK", "amc:snr_db": 4.0}
           for i in range(n)]
    if annotation:
        annotation(ann)
    glob = {"core:datatype": "cf32_le", "core:version": "1.0.0"}
    if classes is not None:
        glob["amc:classes"] = list(classes)
    with open(str(base) + ".sigmf-meta", "w") as f:
        json.dump({"global": glob, "captures": [{"core:sample_start": 0}], "annotations": ann}, f)
    return str(base) + ".sigmf-meta"


SIGMF_CASES = [
    ("no SNR", dict(annotation=lambda a: a[1].pop("amc:snr_db")),
     "annotation 1: amc:snr_db must be a finite number, got None"),
    ("NaN SNR", dict(annotation=lambda a: a[2].update({"amc:snr_db": float("nan")})),
     "annotation 2: amc:snr_db must be a finite number, got nan"),
    ("string SNR", dict(annotation=lambda a: a[0].update({"amc:snr_db": "high"})),
     "annotation 0: amc:snr_db must be a finite number, got 'high'"),
    ("label not in classes", dict(annotation=lambda a: a[1].update({"core:label": "FM"})),
     "annotation 1 has core:label 'FM', which is not in amc:classes (QPSK, BPSK)"),
    ("no label and no class list", dict(classes=None, annotation=lambda a: a[2].pop("core:label")),
     "annotation 2 has no core:label (the class)"),
    ("lengths differ", dict(annotation=lambda a: a[1].update({"core:sample_count": 8})),
     "annotations have different lengths [16, 8]"),
    ("annotation past the data (truncated data)", dict(data_samples=2 * L + 5),
     "annotation 2 spans samples [32, 48) but {data} holds 37 samples (truncated?)"),
]


@pytest.mark.parametrize("what,kw,words", SIGMF_CASES, ids=[c[0] for c in SIGMF_CASES])
def test_inconsistent_sigmf(tmp_path, what, kw, words):
    meta = write_sigmf(tmp_path / "rec", **kw)
    data = meta[:-len("meta")] + "data"
    assert load_error(meta) == f"{meta}: " + words.format(data=data)


def test_sigmf_data_not_whole_samples(tmp_path):
    meta = write_sigmf(tmp_path / "rec")
    data = meta[:-len("meta")] + "data"
    with open(data, "ab") as f:
        f.write(b"\x00\x01\x02")
    assert load_error(meta) == (f"{data}: size {3 * L * 8 + 3} bytes is not a whole number of cf32_le samples "
                                f"(8 bytes each): truncated?")


def test_sigmf_meta_not_json(tmp_path):
    meta = write_sigmf(tmp_path / "rec")
    with open(meta, "w") as f:
        f.write('{"global": {"core:datatype": "cf32_le"')
    msg = load_error(meta)
    assert msg.startswith(f"{meta}: not a valid SigMF metadata file (JSONDecodeError: "), msg


def test_valid_sigmf_still_loads(tmp_path):
    meta = write_sigmf(tmp_path / "rec")
    ds = datasets.load_dataset(meta)
    assert ds.classes == ["QPSK", "BPSK"] and ds.labels.tolist() == [0, 0, 0] and ds.snrs.tolist() == [4.0] * 3
    np.testing.assert_array_equal(ds.x[1], np.arange(L, 2 * L) * (1 + 1j))


# ------------------------------------------------------------------------------------------------
# Block and kernel parameters
# ------------------------------------------------------------------------------------------------
FL, HOP = "frame_len must be", "hop must be"
PARAMS = [
    ("framer frame_len 0", lambda: amc.framer(0, 16), "amc: frame_len must be > 0, got 0"),
    ("framer hop 0", lambda: amc.framer(16, 0), "amc: hop must be > 0, got 0"),
    ("framer hop -5", lambda: amc.framer(16, -5), "amc: hop must be > 0, got -5"),
    ("framer frame_len 2^20+1", lambda: amc.framer((1 << 20) + 1, 16),
     "amc: frame_len must be <= 1048576 (2^20), got 1048577"),
    ("framer hop 2^30+1", lambda: amc.framer(16, (1 << 30) + 1),
     "amc: hop must be <= 1073741824 (2^30), got 1073741825"),
    ("framer hop 2^31 (beyond int)", lambda: amc.framer(16, 1 << 31),
     "amc: hop must be <= 1073741824 (2^30), got 2147483648"),
    ("normalizer frame_len 0", lambda: amc.normalizer(0, "rms"), "amc: frame_len must be > 0, got 0"),
    ("normalizer frame_len 2^20+1", lambda: amc.normalizer((1 << 20) + 1, "rms"),
     "amc: frame_len must be <= 1048576 (2^20), got 1048577"),
    ("normalizer mode", lambda: amc.normalizer(16, "max"),
     "amc: unknown normalization mode 'max'; allowed: rms, peak, l1, iq_std, none"),
    ("frame_signal hop 2^30+1", lambda: amc.frame_signal(np.zeros(64, np.complex64), 16, (1 << 30) + 1),
     "amc: hop must be <= 1073741824 (2^30), got 1073741825"),
    ("frame_signal 2-D", lambda: amc.frame_signal(np.zeros((2, 8), np.complex64), 4, 4),
     "frame_signal: x must be 1-D, got 2 dimensions"),
    ("normalize_frames rows too long", lambda: amc.normalize_frames(np.zeros((1, (1 << 20) + 1), np.complex64)),
     "amc: frame_len must be <= 1048576 (2^20), got 1048577"),
    ("normalize_frames mode", lambda: amc.normalize_frames(np.zeros((1, 8), np.complex64), "loud"),
     "amc: unknown normalization mode 'loud'; allowed: rms, peak, l1, iq_std, none"),
]


@pytest.mark.parametrize("what,call,message", PARAMS, ids=[p[0] for p in PARAMS])
def test_bad_block_parameters(what, call, message):
    with pytest.raises(ValueError) as e:
        call()
    assert str(e.value) == message


@pytest.fixture(scope="module")
def energy(tmp_path_factory):
    return tm.energy_model(str(tmp_path_factory.mktemp("m") / "energy.onnx"), frame_len=32)


@pytest.mark.parametrize("kw,message", [
    (dict(hop=(1 << 30) + 1), "hop must be <= 1073741824 (2^30), got 1073741825"),
    (dict(frame_len=(1 << 20) + 1), "frame_len must be <= 1048576 (2^20), got 1048577"),
])
def test_classifier_framing_limits(energy, kw, message):
    for make in (amc.classifier, amc.classifier_sink):
        with pytest.raises(ValueError) as e:
            make(energy, **kw)
        assert str(e.value) == message


def test_classifier_model_frame_length_beyond_limit(tmp_path):
    path = tm.energy_model(str(tmp_path / "m.onnx"), frame_len=32, meta={"amc.frame_length": str((1 << 20) + 1)})
    with pytest.raises(ValueError) as e:
        amc.classifier(path)
    assert str(e.value) == (f"model {path!r}: metadata amc.frame_length='1048577' is invalid (must be <= 1048576 "
                            f"(2^20), the framing kernels' limit)")


def test_classifier_hop_at_the_limit_constructs(energy):
    assert amc.classifier(energy, hop=1 << 30).hop() == 1 << 30


def test_classifier_large_hop_classifies_every_frame(energy):
    """hop 2^23 + 3 (the framer lost frames from 2^23): 3 frames classified, at 0, hop, 2*hop."""
    import pmt
    from gnuradio import blocks, gr
    hop = (1 << 23) + 3
    tb = gr.top_block()
    src = blocks.vector_source_c((np.arange(1000) % 7 + 1j).astype(np.complex64).tolist(), True)
    head = blocks.head(gr.sizeof_gr_complex, 2 * hop + 32 + 100)
    clf = amc.classifier(energy, hop=hop)
    snk = blocks.vector_sink_c()
    tb.connect(src, head, clf, snk)
    tb.run()
    assert len(snk.data()) == 2 * hop + 132
    offsets = [t.offset for t in snk.tags() if pmt.symbol_to_string(t.key) == "amc:label"]
    assert offsets == [0, hop, 2 * hop]
    assert clf.classified() == 3


# ------------------------------------------------------------------------------------------------
# Frames whose level underflows: a defined output (zeros, counted), never NaN/Inf
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_denormal_frames(mode):
    from gnuradio import blocks, gr
    x = np.zeros((4, L), np.complex64)
    x[0] = 1e-39 - 1e-39j                          # subnormal everywhere
    x[1, 3] = complex(np.float32(1.4e-45), 0)       # the smallest subnormal, once
    x[2] = (np.arange(L) % 3) * np.float32(4e-39)   # subnormal with spread
    x[3] = np.arange(L) + 1j                        # a normal frame
    y, status = amc.normalize_frames(x, mode)
    assert status.tolist() == [1, 1, 1, 0]
    assert np.all(y[:3] == 0) and np.all(np.isfinite(y))
    tb = gr.top_block()
    src = blocks.vector_source_c(x.ravel().tolist(), False, L)
    norm = amc.normalizer(L, mode)
    snk = blocks.vector_sink_c(L)
    tb.connect(src, norm, snk)
    tb.run()
    out = np.array(snk.data(), np.complex64).reshape(-1, L)
    np.testing.assert_array_equal(out, y)
    assert (norm.zero_frames(), norm.nonfinite_frames()) == (3, 0)


# --- model files: one contract check for every entry point ----------------------------------------------------

BAD_MODELS = {
    "not ONNX": lambda p: (open(p, "wb").write(b"not an onnx model\n"), p)[1],
    "no amc.classes": lambda p: tm.energy_model(p, frame_len=L, drop_meta=("amc.classes",)),
    "classes not JSON": lambda p: tm.energy_model(p, frame_len=L, meta={"amc.classes": "early,late"}),
    "duplicate classes": lambda p: tm.energy_model(p, frame_len=L, meta={"amc.classes": '["a", "a"]'}),
    "frame length not a number": lambda p: tm.energy_model(p, frame_len=L, meta={"amc.frame_length": "long"}),
    "frame length beyond 2^20": lambda p: tm.energy_model(p, frame_len=L, meta={"amc.frame_length": str(1 << 21)}),
    "unknown normalization": lambda p: tm.energy_model(p, frame_len=L, meta={"amc.normalization": "loud"}),
    "unknown layout": lambda p: tm.energy_model(p, frame_len=L, meta={"amc.input_layout": "2,L"}),
    "shape against frame length": lambda p: tm.energy_model(p, frame_len=2 * L, meta={"amc.frame_length": str(L)}),
    "output against classes": lambda p: tm.energy_model(p, frame_len=L, n_outputs=2,
                                                       meta={"amc.classes": '["a", "b", "c"]'}),
    "unstated logits": lambda p: tm.energy_model(p, frame_len=L, output="logits", drop_meta=("amc.output",)),
}
BAD_MODEL_WORDS = {
    "not ONNX": "not a valid ONNX model", "no amc.classes": "lacks the metadata_props key(s) amc.classes",
    "classes not JSON": "metadata amc.classes='early,late' is invalid", "duplicate classes": "duplicate class names",
    "frame length not a number": "metadata amc.frame_length='long' is invalid",
    "frame length beyond 2^20": "must be <= 1048576 (2^20)", "unknown normalization": "amc.normalization='loud'",
    "unknown layout": "amc.input_layout='2,L' is not allowed", "shape against frame length": "needs (N, 2, 16)",
    "output against classes": "the output must be (N, 3)", "unstated logits": "outputs are not probabilities",
}


@pytest.mark.parametrize("what", sorted(BAD_MODELS))
def test_every_entry_point_refuses_a_bad_model_with_one_message(tmp_path, what):
    """The classifier block and the offline commands (evaluate, variant, train --init-weights, sweeps all read
    models through model_file.read_contract) share model_file.ModelFile: the same file gets the same message."""
    path = BAD_MODELS[what](str(tmp_path / "bad.onnx"))
    with pytest.raises(ValueError) as block:
        amc.classifier(path)
    with pytest.raises(ValueError) as offline:
        model_file.read_contract(path)
    assert str(block.value) == str(offline.value)
    assert BAD_MODEL_WORDS[what] in str(block.value) and path in str(block.value)


def test_each_command_reports_the_shared_message(tmp_path):
    """One bad file through each command line: exit status 2, the shared message, no traceback."""
    from conftest import run_cli
    path = BAD_MODELS["output against classes"](str(tmp_path / "bad.onnx"))
    with pytest.raises(ValueError) as block:
        amc.classifier(path)
    data = tmp_path / "d.h5"
    run_cli("generate", "--preset", "demo", "-n", 12, "--snrs", "10", "--classes", "BPSK", "QPSK", "--frame-length", 16,
            "--output", data, "--quiet", "--workers", 1, check=True)
    runs = {"evaluate": run_cli("evaluate", data, "-m", path, "-o", tmp_path / "ev", "--no-latency"),
            "sweep": run_cli("evaluate", "--sweep", "snr", "-m", path, "-o", tmp_path / "sw"),
            "variant": run_cli("variant", path, "-o", tmp_path / "v.onnx", "--fp16"),
            "train": run_cli("train", data, "-m", "cnn1", "-o", tmp_path / "t.onnx", "--epochs", 1,
                             "--init-weights", path)}
    for cmd, p in runs.items():
        assert p.returncode == 2, (cmd, p.stdout, p.stderr)
        assert str(block.value) in p.stderr and "Traceback" not in p.stderr, (cmd, p.stderr)


# --- a bounded, seeded fuzz of the kernels' bindings ----------------------------------------------------------

def _fuzz_signal(rng, n):
    kind = rng.integers(6)
    x = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * 10.0 ** rng.uniform(-45, 38)
    if kind == 1 and n:
        x[rng.integers(n, size=max(1, n // 10))] = rng.choice([np.nan, np.inf, -np.inf])
    elif kind == 2:
        x[:] = 0
    elif kind == 3:
        x = x * 1e-40                                   # denormal in complex64
    x = x.astype(rng.choice([np.complex64, np.complex128]))
    return x[::2] if kind == 4 else x                   # a strided view


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")   # complex128 near 1e38
def test_kernel_bindings_fuzz():
    """3,000 seeded calls of frame_signal and normalize_frames with random lengths, frame lengths and hops (in
    and beyond the limits, negative, zero), random levels (denormal to near float32's top), NaN/Inf and strided
    arrays: every call returns the reference result or raises ValueError/TypeError naming the parameter, never
    crashes the interpreter; no NaN/Inf ever leaves normalize_frames."""
    rng = np.random.default_rng(2026)
    limits = [-5, 0, 1, 2, 7, 64, 1024, amc.MAX_FRAME_LEN, amc.MAX_FRAME_LEN + 1, 1 << 31, 1 << 40]
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(1500):
        x = _fuzz_signal(rng, int(rng.integers(0, 3000)))
        L = int(rng.choice(limits)) if rng.random() < 0.3 else int(rng.integers(1, 300))
        hop = int(rng.choice(limits + [amc.MAX_HOP, amc.MAX_HOP + 1])) if rng.random() < 0.3 \
            else int(rng.integers(1, 300))
        try:
            fr = np.asarray(amc.frame_signal(x, L, hop))
        except (ValueError, TypeError) as e:
            assert re.search(r"frame_len|hop|x must", str(e)), str(e)
            assert L < 1 or hop < 1 or L > amc.MAX_FRAME_LEN or hop > amc.MAX_HOP, (L, hop, str(e))
            outcomes["refused"] += 1
            continue
        k = 0 if len(x) < L else (len(x) - L) // hop + 1
        assert fr.shape == (k, L)
        if k:
            ref = np.stack([x[i * hop:i * hop + L] for i in range(k)]).astype(np.complex64)
            np.testing.assert_array_equal(fr, ref)
        outcomes["ok"] += 1
    for _ in range(1500):
        n, L = int(rng.integers(0, 20)), int(rng.integers(1, 400))
        frames = _fuzz_signal(rng, 2 * n * L)[:n * L].reshape(n, L)
        mode = str(rng.choice(list(MODES) + ["power", ""]))
        try:
            y, status = amc.normalize_frames(frames, mode)
        except (ValueError, TypeError) as e:
            assert mode not in MODES and "normalization mode" in str(e), (mode, str(e))
            outcomes["refused"] += 1
            continue
        y, status = np.asarray(y), np.asarray(status)
        assert y.shape == frames.shape and status.shape == (n,) and set(status.tolist()) <= {0, 1, 2}
        assert np.all(np.isfinite(y))
        ok = status == 0
        if mode == "rms" and ok.any():
            np.testing.assert_allclose(np.sqrt(np.mean(np.abs(y[ok]) ** 2, axis=1)), 1.0, rtol=1e-3)
        assert np.all(y[~ok] == 0)
        outcomes["ok"] += 1
    assert outcomes["ok"] > 1500 and outcomes["refused"] > 300, outcomes
