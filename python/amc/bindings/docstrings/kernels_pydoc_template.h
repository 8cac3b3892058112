/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "pydoc_macros.h"
#define D(...) DOC(gr, amc, __VA_ARGS__)
// Docstrings for the kernel function bindings (copied as kernels_pydoc.h at build time).

static const char* __doc_gr_amc_frame_signal = R"doc(frame_signal(x, frame_len, hop) -> ndarray complex64 (n, frame_len)

The framer's kernel on an array: frame k = x[k*hop : k*hop + frame_len], complete frames only.
x must be 1-D complex (converted to complex64). 0 < frame_len <= MAX_FRAME_LEN (2^20) and
0 < hop <= MAX_HOP (2^30), else ValueError.)doc";
static const char* __doc_gr_amc_normalize_frames = R"doc(normalize_frames(frames, mode) -> (out, status)

The normalizer's kernel on an array: frames is (n, L) complex (converted to complex64); out is
(n, L) complex64, each row normalized alone; status is int8 (n,): 0 ok, 1 zero power (row left
zero), 2 held NaN/Inf (row zeroed). A row whose level underflows (every value zero or
subnormal, or a scale factor that is not a finite float) is zeroed with status 1, in every mode.
mode: rms, peak, l1, iq_std or none. 0 < L <= MAX_FRAME_LEN (2^20), else ValueError.)doc";
static const char* __doc_gr_amc_normalization_modes = R"doc(The normalization mode names.)doc";
