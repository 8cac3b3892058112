#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/img/wild_frames.png: four frames of the wild preset at 30 dB (I/Q of 200 samples and spectra).

    PYTHONPATH=build/test_modules GR_AMC_DATA_DIR=gr-amc .venv/bin/python scripts/plot_wild_frames.py
"""
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from gnuradio.amc import batch

fig, axes = plt.subplots(4, 2, figsize=(10, 8))
for row, cls in zip(axes, ("QPSK", "16QAM", "GMSK", "AM-DSB-SC")):
    x, _, _, params = batch.frames(dict(name="fig", classes=[cls], snrs=[30], frames_per_class_snr=1,
                                        frame_length=1024, source={"samples_per_symbol": {"min": 4, "max": 16,
                                                                                          "scale": "log"},
                                                                   "rolloff": {"min": 0.2, "max": 0.5}},
                                        channel={"preset": "rml2018"}), 1, seed=3)
    p = params[0]
    row[0].plot(x[0, :200].real, lw=0.8, label="I")
    row[0].plot(x[0, :200].imag, lw=0.8, label="Q")
    row[0].set_title(f"{cls}: {p['samples_per_symbol']:.2f} samples/symbol, roll-off {p['rolloff']:.2f}, "
                     f"timing {p['timing_offset']:.2f}", fontsize=9)
    f = np.fft.fftshift(np.fft.fftfreq(1024))
    s = np.fft.fftshift(np.abs(np.fft.fft(x[0] * np.hanning(1024))) ** 2)
    row[1].plot(f, 10 * np.log10(s / s.max() + 1e-12), lw=0.8)
    row[1].set_ylim(-60, 3)
    row[1].set_ylabel("dB")
axes[0][0].legend(fontsize=8)
axes[-1][0].set_xlabel("sample")
axes[-1][1].set_xlabel("frequency (cycles/sample)")
fig.tight_layout()
fig.savefig("docs/img/wild_frames.png", dpi=80)
