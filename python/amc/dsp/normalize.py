#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Per-frame normalization in numpy: the twin of the C++ kernel ``amc.normalize_frames`` (same modes, same
float64 level and float32 scale, same zeroed frames), for the batch generator and for machines without the
compiled module.  A test compares the two frame by frame."""
import numpy as np

from ..contract import NORMALIZATIONS


def normalize(frames, mode):
    """normalize_frames without the status: the normalized complex64 frames."""
    return normalize_frames(frames, mode)[0]


def normalize_frames(frames, mode):
    """Per-frame normalization of complex64 frames (n, L), as the C++ kernel ``amc.normalize_frames``
    computes it (level in float64, one float32 scale per frame; ``iq_std`` one per rail): frames with no
    power, a non-finite sample, only subnormal samples or a scale that overflows come out as zeros (in
    every mode, ``none`` included).  Returns (complex64 frames, int8 status per frame) like the kernel:
    0 normalized, 1 zeroed for no usable power, 2 zeroed for a NaN/Inf sample."""
    if mode not in NORMALIZATIONS:
        raise ValueError(f"normalization: unknown mode {mode!r}; allowed: {', '.join(NORMALIZATIONS)}")
    x = np.ascontiguousarray(frames, dtype=np.complex64)
    flat = x.view(np.float32).reshape(x.shape[0], -1)
    tiny = np.all(np.abs(flat) < np.finfo(np.float32).tiny, axis=1)          # zero or subnormal only
    nonfinite = ~np.all(np.isfinite(flat), axis=1)
    if mode == "none":
        out = x.copy()
        out[tiny | nonfinite] = 0
        return out, _status(tiny | nonfinite, nonfinite)
    f = x.view(np.float32).reshape(x.shape[0], -1, 2).astype(np.float64)
    a2 = f[..., 0] ** 2 + f[..., 1] ** 2
    power = a2.sum(axis=1)
    L = x.shape[1]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if mode == "iq_std":
            m = f.mean(axis=1)
            v = np.maximum((f ** 2).mean(axis=1) - m ** 2, 0.0)
            g = np.where(v > 0, 1.0 / np.sqrt(v), 1.0).astype(np.float32)            # (n, 2)
            out = (x.view(np.float32).reshape(x.shape[0], -1, 2) * g[:, None, :]).reshape(x.shape[0], -1)
            out = out.view(np.complex64)
            scale_ok = np.all(np.isfinite(g), axis=1)
        else:
            level = {"rms": np.sqrt(power / L), "peak": np.sqrt(a2.max(axis=1)),
                     "l1": np.sqrt(a2).sum(axis=1)}[mode]
            s = (1.0 / level).astype(np.float32)
            scale_ok = np.isfinite(s)
            out = x * s[:, None]
    bad = tiny | ~np.isfinite(power) | (power == 0) | ~scale_ok | ~np.all(np.isfinite(out.view(np.float32)), axis=1)
    out[bad] = 0
    return out, _status(bad, nonfinite)


def _status(zeroed, nonfinite):
    return np.where(nonfinite, 2, np.where(zeroed, 1, 0)).astype(np.int8)

