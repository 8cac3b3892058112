# SPDX-License-Identifier: GPL-3.0-or-later
"""Signals as receivers see them: random timing phase, drawn symbol rates, and the batch generator that
makes the same frames as `gr-amc generate` without GNU Radio."""
import numpy as np
import pytest

from conftest import run_cli


def timing_phase(frame, sps):
    """Timing phase (fraction of a symbol, [0, 1)) of one frame from the phase of the symbol-rate line of
    |x|^2: for symbol k centred on sample (k - t) sps the line's phase is 2 pi t."""
    n = np.arange(len(frame))
    line = np.sum(np.abs(frame) ** 2 * np.exp(-2j * np.pi * n / sps))
    return float(np.mod(np.angle(line) / (2 * np.pi), 1.0))


def test_timing_phase_is_uniform_and_measured_right():
    from scipy import stats
    from gnuradio.amc import batch
    # AWGN at 30 dB, fixed 8 samples/symbol: the timing phase is what the generator drew for the shard
    cfg = dict(name="t", classes=["QPSK", "16QAM", "8PSK"], snrs=[30], frames_per_class_snr=4, frame_length=1024,
               shard_size=1, skip_samples=0, seed=3, channel={"preset": "awgn"},
               source={"samples_per_symbol": 8, "rolloff": 0.35})
    x, lab, snr, params = batch.frames(cfg, 300, seed=11, shard_size=1)
    drawn = np.array([p["timing_offset"] for p in params])
    measured = np.array([timing_phase(f, 8) for f in x])
    err = np.angle(np.exp(2j * np.pi * (measured - drawn))) / (2 * np.pi)
    assert np.percentile(np.abs(err), 90) < 0.05                  # the measurement sees the drawn phase
    assert stats.kstest(measured, "uniform").pvalue > 0.01        # and it is uniform over [0, 1)
    # a dataset made the old way (one fixed offset) fails the same test
    fixed = dict(cfg, source=dict(cfg["source"], timing_offset=0.0))
    x0, *_ = batch.frames(fixed, 100, seed=11, shard_size=1)
    assert stats.kstest([timing_phase(f, 8) for f in x0], "uniform").pvalue < 1e-6


def test_generated_files_have_uniform_timing_for_1_and_2_workers(tmp_path):
    """`gr-amc generate` (the flowgraph path) with 1 and 2 workers: the same file, and the timing phases
    measured in it are uniform over [0, 1) symbol (one draw per shard of 1 frame)."""
    import yaml
    from scipy import stats
    from gnuradio.amc import datasets
    cfg = dict(name="timing", classes=["QPSK", "16QAM", "8PSK"], snrs=[30], frames_per_class_snr=40,
               frame_length=1024, shard_size=1, skip_samples=0, seed=41, normalization="rms", format="hdf5",
               channel={"preset": "awgn"}, source={"samples_per_symbol": 8, "rolloff": 0.35})
    path = tmp_path / "t.yml"
    path.write_text(yaml.safe_dump(cfg))
    outs = []
    for w in (1, 2):
        out = tmp_path / f"t{w}.h5"
        run_cli("generate", "--config", path, "--output", out, "--workers", w, "--quiet", check=True, timeout=300)
        outs.append(out)
    assert outs[0].read_bytes() == outs[1].read_bytes()
    ds = datasets.load_dataset(str(outs[0]))
    phases = np.array([timing_phase(f, 8) for f in ds.x])
    assert len(phases) == 120
    assert stats.kstest(phases, "uniform").pvalue > 0.01
    # the phases are not a handful of repeated values: every shard drew its own
    assert len(np.unique(np.round(phases, 3))) > 100


def test_drawn_symbol_rates_and_rolloffs_follow_the_config():
    from gnuradio.amc import batch
    cfg = dict(name="t", classes=["BPSK", "64QAM"], snrs=[30], frames_per_class_snr=4, frame_length=1024,
               shard_size=1, skip_samples=0, channel={"preset": "awgn"},
               source={"samples_per_symbol": {"min": 4, "max": 16, "scale": "log"}, "rolloff": [0.2, 0.5],
                       "pulse": "rrc"})
    x, lab, snr, params = batch.frames(cfg, 120, seed=5, shard_size=1)
    sps = np.array([p["samples_per_symbol"] for p in params])
    assert sps.min() >= 4 and sps.max() <= 16 and len(np.unique(sps)) == len(sps)
    assert 0.35 < np.mean(np.log(sps) < np.log(8)) < 0.65            # log-uniform: half below 8
    assert set(p["rolloff"] for p in params) == {0.2, 0.5}
    # each frame's spectrum: 99 % of the power inside the drawn band edge (1 + rolloff) / (2 sps), and a
    # raised-cosine share 1 - 0.1817 rolloff of it inside the Nyquist frequency 1 / (2 sps)
    errs = []
    for f, s, p in zip(x, sps, params):
        spec = np.abs(np.fft.fftshift(np.fft.fft(f * np.hanning(len(f))))) ** 2
        fr = np.fft.fftshift(np.fft.fftfreq(len(f)))
        edge = (1 + p["rolloff"]) / (2 * s)
        assert spec[np.abs(fr) <= edge + 3 / len(f)].sum() / spec.sum() > 0.99
        inside = spec[np.abs(fr) <= 1 / (2 * s)].sum() / spec.sum()
        errs.append(inside - (1 - 0.1817 * p["rolloff"]))
    assert np.max(np.abs(errs)) < 0.1 and abs(np.mean(errs)) < 0.01, errs


def test_batch_generator_equals_gr_amc_generate(tmp_path):
    from gnuradio.amc import batch, datasets
    out = tmp_path / "w.h5"
    args = ["--preset", "wild", "-n", 3, "--shard-size", 2, "--classes", "QPSK", "GMSK", "AM-SSB-SC", "OQPSK",
            "--snrs", "0", "20"]
    run_cli("generate", *args, "--output", out, "--workers", 2, check=True, timeout=300)
    ds = datasets.load_dataset(str(out))
    x, lab, snr, params = batch.dataset_frames("wild", frames_per_class_snr=3, shard_size=2,
                                               classes=["QPSK", "GMSK", "AM-SSB-SC", "OQPSK"], snrs=[0, 20])
    np.testing.assert_array_equal(ds.x, x)
    np.testing.assert_array_equal(ds.labels, lab)
    np.testing.assert_array_equal(ds.snrs, snr)
    # every shard drew its own symbol rate and timing offset (shards of 2 frames share them)
    per_shard = {(p["cls"], p["snr_db"], p["shard"]): (p["samples_per_symbol"], p["timing_offset"]) for p in params}
    assert len(set(per_shard.values())) == len(per_shard) == 4 * 2 * 2


def test_batch_normalize_equals_the_kernel():
    from gnuradio import amc
    from gnuradio.amc import batch
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((40, 256)) + 1j * rng.standard_normal((40, 256))).astype(np.complex64)
    x[3] = 0
    x[5, 7] = np.nan
    x[6] *= 1e-30
    x[7] *= 1e-39                 # subnormal
    x[8] = 0
    x[8, 0] = 1e-37               # one tiny sample: the rms scale overflows
    from gnuradio.amc.dsp.normalize import normalize_frames
    for mode in ("rms", "peak", "l1", "iq_std", "none"):
        want, status = amc.normalize_frames(x, mode)
        np.testing.assert_array_equal(batch.normalize(x, mode), np.asarray(want), err_msg=mode)
        # the twin's status (what runtime.normalize reports without the compiled module) is the kernel's
        got, got_status = normalize_frames(x, mode)
        np.testing.assert_array_equal(got_status, np.asarray(status, np.int8), err_msg=mode)


def test_bad_draw_specs_are_refused_up_front():
    from gnuradio.amc import dataset_config
    base = dict(classes=["QPSK"], snrs=[0], frames_per_class_snr=1, frame_length=128)
    for source, msg in (({"samples_per_symbol": {"min": 1, "max": 8}}, "source.samples_per_symbol"),
                        ({"samples_per_symbol": {"min": 8, "max": 4}}, "min 8 is above max 4"),
                        ({"rolloff": {"min": 0.2}}, "a range needs keys min and max"),
                        ({"rolloff": [0.2, 1.5]}, "rolloff: must be a number in (0, 1]"),
                        ({"pulse": ["rrc", "sinc"]}, "unknown pulse 'sinc'"),
                        ({"pulse": {"min": 1, "max": 2}}, "not a range"),
                        ({"timing_offset": 1.5}, "timing_offset"),
                        ({"samples_per_symbol": {"min": 0, "max": 8, "scale": "log"}}, "needs min > 0")):
        with pytest.raises(ValueError, match="source") as e:
            dataset_config.load_config(dict(base, source=source))
        assert msg in str(e.value)
    with pytest.raises(ValueError, match="channel.*doppler_hz"):
        dataset_config.load_config(dict(base, channel={"preset": "rml2018", "doppler_hz": -1}))
    with pytest.raises(ValueError, match="seed"):
        dataset_config.load_config(dict(base, seed=2 ** 63))
