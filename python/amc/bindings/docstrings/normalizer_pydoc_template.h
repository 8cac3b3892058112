/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "pydoc_macros.h"
#define D(...) DOC(gr, amc, __VA_ARGS__)
// Docstrings for the normalizer bindings (written by hand; copied as normalizer_pydoc.h at build time).

static const char* __doc_gr_amc_normalizer = R"doc(Normalizes each frame of a vector stream on its own.

Modes: rms (unit average power), peak (max |x| = 1), l1 (sum |x| = 1), iq_std (I and Q each to
unit standard deviation), none. Zero-power frames stay zeros, and so do frames whose level
underflows (every value zero or subnormal, or a scale that is not a finite float), in every mode;
both are counted by zero_frames(). Frames with NaN/Inf are zeroed, counted and logged at most
once a second.)doc";
static const char* __doc_gr_amc_normalizer_make = R"doc(make(frame_len, mode="rms") -> normalizer

Raises ValueError on frame_len outside 1 .. 2^20 or an unknown mode.)doc";
static const char* __doc_gr_amc_normalizer_mode = R"doc(The normalization mode's name.)doc";
static const char* __doc_gr_amc_normalizer_nonfinite_frames = R"doc(Frames that held NaN/Inf (zeroed) so far.)doc";
static const char* __doc_gr_amc_normalizer_zero_frames = R"doc(Zero-power frames (or frames whose level underflows) so far.)doc";
