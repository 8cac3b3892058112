/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_AMC_FRAMER_IMPL_H
#define INCLUDED_AMC_FRAMER_IMPL_H

#include <gnuradio/amc/framer.h>

namespace gr {
namespace amc {

class framer_impl : public framer
{
private:
    const uint64_t d_frame_len;
    const uint64_t d_hop;
    // Input the scheduler can always be asked for: GNU Radio makes the upstream buffer at
    // least twice this (relative_rate is 1/d_request); never less than one frame.
    const uint64_t d_request;
    std::vector<tag_t> d_tags;
    // Tags of a skipped gap already consumed; they all belong to the next frame.
    std::vector<tag_t> d_pending;

    // Absolute input offset where frame k's tag window begins: frame k takes the tags in
    // [window_start(k), k*hop + frame_len), i.e. its span plus the skipped gap before it.
    uint64_t window_start(uint64_t k) const
    {
        if (k == 0) {
            return 0;
        }
        return std::min(k * d_hop, (k - 1) * d_hop + d_frame_len);
    }

public:
    framer_impl(int frame_len, int hop);
    ~framer_impl() override;

    int frame_len() const override { return static_cast<int>(d_frame_len); }
    int hop() const override { return static_cast<int>(d_hop); }
    uint64_t first_sample(uint64_t k) const override { return k * d_hop; }

    bool start() override;
    void forecast(int noutput_items, gr_vector_int& ninput_items_required) override;

    int general_work(int noutput_items,
                     gr_vector_int& ninput_items,
                     gr_vector_const_void_star& input_items,
                     gr_vector_void_star& output_items) override;
};

} // namespace amc
} // namespace gr

#endif /* INCLUDED_AMC_FRAMER_IMPL_H */
