/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "pydoc_macros.h"
#define D(...) DOC(gr, amc, __VA_ARGS__)
// Docstrings for the order-feature front end bindings (copied as order_features_pydoc.h at build time).

static const char* __doc_gr_amc_order_features = R"doc(order_features(frames, version=ORDER_FEATURES_VERSION) -> ndarray float32 (n, order_features_size(version))

The blind receiver front end of the order specialists (docs/classifier.md, "Front ends"), per row of
frames (n, L) complex (converted to complex64), 128 <= L <= 2^20: symbol rate and timing from the
cyclic autocorrelation, RRC matched filter at 2 samples/symbol, 7-tap constant-modulus equalizer, then
spectral lines of the M-th powers, amplitude moments and histograms and a folded constellation
histogram of the symbols before and after the equalizer, and log(samples per symbol) (version 1, 169
floats); version 2 (307) adds decision-directed fits per QAM grid (16..256QAM) and the folded histograms
with the corrected carrier phase. A zero or non-finite row gives zeros. ValueError for a bad shape or a
version outside ORDER_FEATURES_MIN_VERSION..ORDER_FEATURES_VERSION.)doc";
static const char* __doc_gr_amc_blind_symbol_rate = R"doc(blind_symbol_rate(frames) -> (sps float64 (n,), t0 float64 (n,))

The front end's symbol-rate and timing estimates per row: samples per symbol (3.5..17) and the time
of a symbol instant in samples (0 <= t0 < sps); 0 for a zero or non-finite row.)doc";
