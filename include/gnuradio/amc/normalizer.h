/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_AMC_NORMALIZER_H
#define INCLUDED_AMC_NORMALIZER_H

#include <gnuradio/amc/api.h>
#include <gnuradio/sync_block.h>
#include <string>

namespace gr {
namespace amc {

/*!
 * \brief Normalizes each frame of a vector stream on its own.
 * \ingroup amc
 *
 * \details
 * Input and output: vectors of \p frame_len complex samples, one frame each. Modes:
 * "rms" (unit average power), "peak" (max |x| = 1), "l1" (sum |x| = 1, RadioML 2016.10a),
 * "iq_std" (I and Q each to unit standard deviation), "none" (copy).
 * A zero-power frame stays zeros; so does a frame whose level underflows (every value zero
 * or subnormal, or a scale factor that is not a finite float), in every mode: both are
 * counted by zero_frames(). A frame holding NaN or Inf is zeroed (never passed on),
 * counted (nonfinite_frames()) and reported through the block logger at most once per second.
 * Tags pass through unchanged (same frame index).
 */
class AMC_API normalizer : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<normalizer> sptr;

    /*!
     * \param frame_len samples per frame (1 .. 2^20, max_frame_len)
     * \param mode "rms", "peak", "l1", "iq_std" or "none"
     * \throws std::invalid_argument on a bad frame_len or mode
     */
    static sptr make(int frame_len, const std::string& mode = "rms");

    virtual std::string mode() const = 0;
    /*! \brief Frames that held NaN/Inf and were zeroed so far. */
    virtual uint64_t nonfinite_frames() const = 0;
    /*! \brief Frames with zero power, or a level that underflows, so far (output zeros). */
    virtual uint64_t zero_frames() const = 0;
};

} // namespace amc
} // namespace gr

#endif /* INCLUDED_AMC_NORMALIZER_H */
