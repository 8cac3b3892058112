/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "pydoc_macros.h"
#define D(...) DOC(gr, amc, __VA_ARGS__)
// Docstrings for the framer bindings (written by hand; copied as framer_pydoc.h at build time).

static const char* __doc_gr_amc_framer = R"doc(Cuts a complex stream into frames of frame_len samples, one every hop samples.

Output frame k holds input samples [k*hop, k*hop + frame_len). hop < frame_len overlaps,
hop > frame_len skips. Each upstream tag lands on every frame whose span holds it (a tag in a
skipped gap lands on the next frame), at output offset k.)doc";
static const char* __doc_gr_amc_framer_make = R"doc(make(frame_len, hop) -> framer

frame_len: samples per frame (1 .. MAX_FRAME_LEN = 2^20); hop: samples between frame starts
(1 .. MAX_HOP = 2^30). Raises ValueError naming the parameter and the limit otherwise.
Memory does not grow with the hop (a skipped gap is consumed as it comes).)doc";
static const char* __doc_gr_amc_framer_frame_len = R"doc(Samples per frame.)doc";
static const char* __doc_gr_amc_framer_hop = R"doc(Samples between frame starts.)doc";
static const char* __doc_gr_amc_framer_first_sample = R"doc(Absolute offset of output frame k's first input sample (k*hop).)doc";
