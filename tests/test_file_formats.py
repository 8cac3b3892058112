# SPDX-License-Identifier: GPL-3.0-or-later
"""Dataset files read the way users of the original datasets and of SigMF tools read them: a RadioML 2018.01A
HDF5 loader (h5py, argmax(Y) decoded against the 24-class list), a RadioML 2016.10a pickle loader
(pickle.load with encoding='latin1', or 'bytes'), and the sigmf package's validator; and load_wav on the WAV
files scipy.io.wavfile reads."""
import json
import os
import pickle
import pickletools
import struct
import warnings

import h5py
import numpy as np
import pytest
import yaml
from scipy.io import wavfile

from conftest import run_cli

#: RadioML 2018.01A's classes in the paper's order, as RadioML loaders hard-code them.
RML2018_CLASSES = ['OOK', '4ASK', '8ASK', 'BPSK', 'QPSK', '8PSK', '16PSK', '32PSK', '16APSK', '32APSK', '64APSK',
                   '128APSK', '16QAM', '32QAM', '64QAM', '128QAM', '256QAM', 'AM-SSB-WC', 'AM-SSB-SC', 'AM-DSB-WC',
                   'AM-DSB-SC', 'FM', 'GMSK', 'OQPSK']


def test_hdf5_subset_decodes_with_the_radioml_2018_class_list(tmp_path):
    out = tmp_path / "two.h5"
    run_cli("generate", "--preset", "demo", "--classes", "QPSK", "BPSK", "--snrs", "0", "10", "-n", 3, "--workers", 1,
            "--output", out, "--quiet", check=True, timeout=300)
    # as a RadioML 2018.01A user reads the original file
    with h5py.File(out, "r") as f:
        X, Y, Z = f["X"], f["Y"], f["Z"]
        assert (X.shape, X.dtype, Y.shape, Y.dtype, Z.shape) == ((12, 1024, 2), np.float32, (12, 24), np.int64,
                                                                 (12, 1))
        names = [RML2018_CLASSES[i] for i in np.argmax(Y[...], 1)]
        assert names == ["QPSK"] * 6 + ["BPSK"] * 6                  # config order: QPSK, then BPSK
        assert Z[:, 0].tolist() == [0, 0, 0, 10, 10, 10] * 2
        assert np.all(Y[...].sum(1) == 1)
        assert json.loads(f.attrs["classes"]) == RML2018_CLASSES
        assert json.loads(f.attrs["classes_present"]) == ["QPSK", "BPSK"]
        # laid out as the original: contiguous, fixed size (fast random single-frame reads)
        assert (X.chunks, X.maxshape, Y.chunks, Z.chunks) == (None, (12, 1024, 2), None, None)
        x5 = X[5]                                                     # a PyTorch Dataset's __getitem__
    # gr-amc's own reader keeps the classes the file was made with
    from gnuradio.amc import datasets
    ds = datasets.load_dataset(str(out))
    assert ds.classes == ["QPSK", "BPSK"]
    assert ds.labels.tolist() == [0] * 6 + [1] * 6
    np.testing.assert_array_equal(ds.x[5], x5[:, 0] + 1j * x5[:, 1])


def test_hdf5_without_classes_present_loads_as_before(tmp_path):
    # a file of another writer (or an older gr-amc): Y's columns are the classes
    from gnuradio.amc import datasets
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as f:
        f["X"] = np.zeros((3, 4, 2), np.float32)
        f["Y"] = np.eye(2, dtype=np.int64)[[1, 0, 1]]
        f["Z"] = np.array([[2], [4], [6]], np.int64)
        f.attrs["classes"] = json.dumps(["QPSK", "BPSK"])
    ds = datasets.load_dataset(str(path))
    assert (ds.classes, ds.labels.tolist(), ds.snrs.tolist()) == (["QPSK", "BPSK"], [1, 0, 1], [2, 4, 6])
    # a classes_present that does not fit Y is refused, naming the attribute
    with h5py.File(path, "a") as f:
        f.attrs["classes_present"] = json.dumps(["QPSK"])
    with pytest.raises(ValueError, match=r"row 0 of Y is class 'BPSK', which is not in the attribute "
                                         r"'classes_present' \(QPSK\)"):
        datasets.load_dataset(str(path))
    with h5py.File(path, "a") as f:
        f.attrs["classes_present"] = json.dumps(["QPSK", "8PSK"])
    with pytest.raises(ValueError, match=r"'classes_present' lists \['8PSK'\], which are not among Y's columns"):
        datasets.load_dataset(str(path))


def test_hdf5_writer_total_frames(tmp_path):
    from gnuradio.amc import datasets
    x = (np.arange(12) + 1j * np.arange(12)).astype(np.complex64).reshape(3, 4)
    w = datasets.open_writer(str(tmp_path / "a.h5"), "hdf5", 4, classes=["BPSK"], total_frames=2)
    with pytest.raises(ValueError, match="0 \\+ 3 frames is more than the 2 announced"):
        w.append(x, ["BPSK"] * 3, [0, 0, 0])
    w.append(x[:1], ["BPSK"], [0])
    with pytest.raises(ValueError, match="1 frames were written, 2 announced"):
        w.commit()
    assert os.listdir(tmp_path) == []                                # aborted: no file, no temporary file


def test_pickle_keys_as_the_original(tmp_path):
    out = tmp_path / "d.pkl"
    run_cli("generate", "--preset", "rml2016a", "--classes", "QPSK", "8PSK", "--snrs", "-2", "4", "-n", 3, "--workers", 1,
            "--output", out, "--quiet", check=True, timeout=300)
    want = [("QPSK", -2), ("QPSK", 4), ("8PSK", -2), ("8PSK", 4)]
    # the usual RadioML 2016.10a load: keys (str, int), arrays float32 (n, 2, 128)
    d = pickle.load(open(out, "rb"), encoding="latin1")
    assert isinstance(d, dict) and list(d) == want
    for k, a in d.items():
        assert (type(k[0]), type(k[1])) == (str, int)
        assert (type(a), a.dtype, a.shape, a.flags["C_CONTIGUOUS"]) == (np.ndarray, np.float32, (3, 2, 128), True)
        np.testing.assert_allclose(np.abs(a[:, 0] + 1j * a[:, 1]).sum(1), 1.0, rtol=1e-5)   # l1 normalization
    # the class names are Python 2 strings, as in the original: bytes under encoding='bytes', str otherwise
    b = pickle.load(open(out, "rb"), encoding="bytes")
    assert list(b) == [(c.encode(), s) for c, s in want]
    for (c, s), a in b.items():
        np.testing.assert_array_equal(a, d[(c.decode(), s)])
    assert list(pickle.load(open(out, "rb"))) == want                 # the default encoding (ASCII) too
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(open(out, "rb").read())]
    assert ("SHORT_BINSTRING", "QPSK") in ops and ("SHORT_BINSTRING", "8PSK") in ops
    from gnuradio.amc import datasets
    ds = datasets.load_dataset(str(out))
    assert ds.classes == ["8PSK", "QPSK"] and len(ds) == 12


def test_sigmf_validates_with_sample_rate_and_edges(tmp_path):
    from sigmf import sigmffile, validate
    cfg = {"name": "s", "classes": ["BPSK", "GMSK"], "snrs": [0, 10], "frames_per_class_snr": 2, "frame_length": 64,
           "format": "sigmf", "shard_size": 2, "skip_samples": 0, "channel": {"preset": "rml2018", "samp_rate": 1e6}}
    c = tmp_path / "c.yml"
    c.write_text(yaml.safe_dump(cfg))
    run_cli("generate", "--config", c, "--workers", 1, "--output", tmp_path / "s.sigmf-meta", "--quiet", check=True,
            timeout=300)
    meta = json.load(open(tmp_path / "s.sigmf-meta"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                               # an undeclared extension is an error here
        validate.validate(meta)
        sigmffile.fromfile(str(tmp_path / "s.sigmf-meta")).validate()   # checks the sha512 of the data too
    g = meta["global"]
    assert g["core:sample_rate"] == 1e6                              # the channel's samp_rate
    assert g["core:extensions"] == [{"name": "amc", "version": "1.0.0", "optional": True}]
    assert meta["captures"] == [{"core:sample_start": 0}]
    ann = meta["annotations"]
    assert ann[0] == {"core:sample_start": 0, "core:sample_count": 64, "core:freq_lower_edge": -5e5,
                      "core:freq_upper_edge": 5e5, "core:label": "BPSK", "amc:snr_db": 0.0}
    assert [a["core:label"] for a in ann] == ["BPSK"] * 4 + ["GMSK"] * 4
    assert [a["amc:snr_db"] for a in ann] == [0.0, 0.0, 10.0, 10.0] * 2
    assert {(a["core:freq_lower_edge"], a["core:freq_upper_edge"]) for a in ann} == {(-5e5, 5e5)}
    assert [a["core:sample_start"] for a in ann] == [64 * i for i in range(8)]
    from gnuradio.amc import datasets
    ds = datasets.load_dataset(str(tmp_path / "s.sigmf-meta"))
    assert ds.classes == ["BPSK", "GMSK"] and ds.snrs.tolist() == [0.0, 0.0, 10.0, 10.0] * 2


# ---------------------------------------------------------------------------------------------------------------
# load_wav

def _expected(x):
    """What load_wav gives at the file's own rate: channels averaged, mean removed, peak 1."""
    x = np.asarray(x, np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    x = x - x.mean()
    return x / np.max(np.abs(x))


def _signal(n=400, channels=1):
    t = np.arange(n)
    x = 0.6 * np.sin(2 * np.pi * t / 37.0) + 0.2 * np.cos(2 * np.pi * t / 11.0) + 0.05
    return x if channels == 1 else np.stack([x, -0.5 * x + 0.1], axis=1)


def _extensible_wav(path, data, rate, float_samples):
    """A WAVE_FORMAT_EXTENSIBLE file (fmt chunk of 40 bytes, the PCM or IEEE-float sub-format GUID)."""
    data = np.asarray(data)
    channels = 1 if data.ndim == 1 else data.shape[1]
    bits = 8 * data.dtype.itemsize
    guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    sub = struct.pack("<H", 3 if float_samples else 1) + guid_tail
    block = channels * data.dtype.itemsize
    fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * block, block, bits, 22, bits,
                      (1 << channels) - 1) + sub
    payload = data.astype(data.dtype.newbyteorder("<")).tobytes()
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload)) + payload
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)


@pytest.mark.parametrize("kind", ["float32", "float64", "int16", "int32", "uint8", "float32-stereo", "int16-stereo"])
def test_load_wav_scipy_files(tmp_path, kind):
    from gnuradio.amc.dsp import audio as dsp_audio
    channels = 2 if kind.endswith("stereo") else 1
    x = _signal(channels=channels)
    dtype = kind.split("-")[0]
    if dtype.startswith("float"):
        data = x.astype(dtype)
        want = _expected(data)
    elif dtype == "uint8":
        data = np.round(x * 100 + 128).astype(np.uint8)
        want = _expected(data.astype(np.float64) - 128)
    else:
        data = np.round(x * (2 ** (8 * np.dtype(dtype).itemsize - 2))).astype(dtype)
        want = _expected(data)
    path = str(tmp_path / f"{kind}.wav")
    wavfile.write(path, 8000, data)
    got = dsp_audio.load_wav(path, rate=8000)
    assert got.dtype == np.float64 and got.shape == (400,)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # resampled to the audio rate: 25000 / 8000 = 25 / 8 samples per input sample
    assert len(dsp_audio.load_wav(path)) == 400 * 25 // 8


@pytest.mark.parametrize("float_samples", [True, False])
def test_load_wav_extensible(tmp_path, float_samples):
    from gnuradio.amc.dsp import audio as dsp_audio
    x = _signal(channels=2)
    data = x.astype(np.float32) if float_samples else np.round(x * 12000).astype(np.int16)
    path = str(tmp_path / "ext.wav")
    _extensible_wav(path, data, 16000, float_samples)
    with open(path, "rb") as f:
        assert struct.unpack("<H", f.read(22)[20:22])[0] == 0xFFFE     # WAVE_FORMAT_EXTENSIBLE
    rate, back = wavfile.read(path)
    assert rate == 16000
    np.testing.assert_array_equal(back, data)
    np.testing.assert_allclose(dsp_audio.load_wav(path, rate=16000), _expected(data), rtol=0, atol=1e-12)


def test_load_wav_bad_files(tmp_path):
    from gnuradio.amc.dsp import audio as dsp_audio

    def error(name, content=None, data=None, rate=8000):
        path = str(tmp_path / name)
        if data is not None:
            wavfile.write(path, rate, data)
        elif content is not None:
            with open(path, "wb") as f:
                f.write(content)
        with pytest.raises(ValueError) as e:
            dsp_audio.load_wav(path)
        return str(e.value)

    msg = error("text.wav", b"this is not a wav file")
    assert msg.startswith(f"audio_file: {str(tmp_path / 'text.wav')!r} is not a readable WAV file (")
    assert "allowed: uncompressed WAV: PCM 8-bit unsigned or 16/24/32-bit signed integer, or IEEE float" in msg
    wavfile.write(str(tmp_path / "ok.wav"), 8000, np.round(_signal() * 1000).astype(np.int16))
    whole = open(tmp_path / "ok.wav", "rb").read()
    assert "is not a readable WAV file" in error("cut.wav", whole[:30])
    # a compressed format (IMA ADPCM, format tag 0x11)
    adpcm = bytearray(whole)
    adpcm[20:22] = struct.pack("<H", 0x11)
    assert "is not a readable WAV file" in error("adpcm.wav", bytes(adpcm))
    assert error("empty.wav", data=np.zeros(0, np.int16)).endswith("holds no audio samples")
    assert error("flat.wav", data=np.full(500, 7, np.int16)).endswith("is silent (all samples equal)")
    nan = _signal().astype(np.float32)
    nan[3] = np.nan
    assert error("nan.wav", data=nan).endswith("holds 1 non-finite (NaN or infinite) sample(s)")
    assert "too short (25 samples" in error("short.wav", data=np.round(_signal(8) * 1000).astype(np.int16))
    assert error("missing.wav") == f"audio_file: no such file: {str(tmp_path / 'missing.wav')!r}"
