/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_AMC_FRAMER_H
#define INCLUDED_AMC_FRAMER_H

#include <gnuradio/amc/api.h>
#include <gnuradio/block.h>

namespace gr {
namespace amc {

/*!
 * \brief Cuts a complex stream into frames of \p frame_len samples, one every \p hop samples.
 * \ingroup amc
 *
 * \details
 * Input: complex stream. Output: vector stream of \p frame_len complex samples.
 * Output frame k holds input samples [k*hop, k*hop + frame_len) (absolute offsets counted from
 * the start of the stream), so the absolute offset of frame k's first input sample is k*hop
 * (see first_sample()). hop < frame_len overlaps frames; hop > frame_len skips the samples
 * between them. Only complete frames are produced.
 *
 * Tags: every upstream tag (for example amc:truth, amc:snr_db) is copied, with its key, value
 * and srcid, onto every output frame whose span holds the tag's offset (so with overlap a tag
 * can land on several frames). A tag in a skipped gap (hop > frame_len) lands on the next
 * frame. The output tag offset is the frame index k. The output does not depend on how the
 * scheduler chunks the stream.
 *
 * Limits: 0 < frame_len <= 2^20 (max_frame_len) and 0 < hop <= 2^30 (max_hop). Memory does
 * not grow with the hop: the samples of a skipped gap are consumed as they come (their tags
 * are kept for the next frame), so the upstream buffer needs to hold only about one frame
 * (GNU Radio sizes it from relative_rate(), which is therefore 1/max(frame_len, min(hop,
 * 65536)) rather than the true 1/hop).
 */
class AMC_API framer : virtual public gr::block
{
public:
    typedef std::shared_ptr<framer> sptr;

    /*!
     * \param frame_len samples per frame (1 .. 2^20)
     * \param hop samples between the starts of consecutive frames (1 .. 2^30)
     * \throws std::invalid_argument if frame_len or hop is out of range (the message
     *         names the parameter, its value and the limit)
     */
    static sptr make(int frame_len, int hop);

    virtual int frame_len() const = 0;
    virtual int hop() const = 0;
    /*! \brief Absolute offset of the first input sample of output frame \p k (k*hop). */
    virtual uint64_t first_sample(uint64_t k) const = 0;
};

} // namespace amc
} // namespace gr

#endif /* INCLUDED_AMC_FRAMER_H */
