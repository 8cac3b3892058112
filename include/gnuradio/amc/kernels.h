/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_AMC_KERNELS_H
#define INCLUDED_AMC_KERNELS_H

#include <gnuradio/amc/api.h>
#include <gnuradio/gr_complex.h>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gr {
namespace amc {

/*!
 * \brief Per-frame normalization modes.
 *
 * - RMS: unit average power, mean |x|^2 = 1.
 * - PEAK: max |x| = 1.
 * - L1: sum |x| = 1 (RadioML 2016.10a's convention).
 * - IQ_STD: I and Q each scaled to unit standard deviation (means are kept).
 * - NONE: copy.
 */
enum class norm_mode { RMS = 0, PEAK = 1, L1 = 2, IQ_STD = 3, NONE = 4 };

/*! \brief Result of normalizing one frame. */
enum class frame_status : int8_t {
    OK = 0,         //!< normalized
    ZERO_POWER = 1, //!< all samples zero, or a level that underflows: output is zeros
    NON_FINITE = 2  //!< the frame held NaN or Inf: output is zeros
};

/*! \brief Largest frame length the framing and normalization kernels and blocks accept
 *  (2^20 samples, 8 MiB per frame): GNU Radio allocates buffers of a few frames. */
constexpr long max_frame_len = 1L << 20;
/*! \brief Largest hop (samples between frame starts) accepted (2^30 samples). */
constexpr long max_hop = 1L << 30;

/*! \brief "rms", "peak", "l1", "iq_std" or "none" -> mode; throws std::invalid_argument
 *  naming the bad value and the allowed ones. */
AMC_API norm_mode parse_norm_mode(const std::string& name);
/*! \brief mode -> its name */
AMC_API std::string norm_mode_name(norm_mode mode);
/*! \brief The allowed mode names, in enum order. */
AMC_API std::vector<std::string> norm_mode_names();

/*!
 * \brief Normalizes one frame of \p len samples from \p in into \p out (may alias \p in).
 *
 * A zero-power frame stays zeros (ZERO_POWER); a frame holding NaN or Inf is zeroed
 * (NON_FINITE) so that no NaN/Inf is ever passed on. A frame whose level underflows is
 * zeroed and reported ZERO_POWER too, in every mode ("none" included): every I and Q value
 * below the smallest normal float (FLT_MIN, about 1.2e-38: zero or subnormal), or a scale
 * factor that is not a finite float (for example "rms" of one tiny sample among many zeros).
 * In "iq_std", a rail whose own scale would not be finite is left unscaled, like a rail
 * with no spread.
 */
AMC_API frame_status
normalize_frame(const gr_complex* in, gr_complex* out, size_t len, norm_mode mode);

/*! \brief Number of complete frames of \p frame_len samples, one starting every \p hop
 *  samples from sample 0, in \p n samples. */
AMC_API size_t frame_count(size_t n, size_t frame_len, size_t hop);

/*!
 * \brief Copies frame k = in[k*hop, k*hop + frame_len) to out[k*frame_len ...] for every
 * complete frame; returns the number of frames written (frame_count(n, frame_len, hop)).
 */
AMC_API size_t extract_frames(
    const gr_complex* in, size_t n, size_t frame_len, size_t hop, gr_complex* out);

/*! \brief Throws std::invalid_argument unless 0 < frame_len <= max_frame_len and
 *  0 < hop <= max_hop; the message names the parameter, its value and the limit. */
AMC_API void check_framing(long frame_len, long hop);

} // namespace amc
} // namespace gr

#endif /* INCLUDED_AMC_KERNELS_H */
