/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_AMC_NORMALIZER_IMPL_H
#define INCLUDED_AMC_NORMALIZER_IMPL_H

#include <gnuradio/amc/kernels.h>
#include <gnuradio/amc/normalizer.h>
#include <chrono>

namespace gr {
namespace amc {

class normalizer_impl : public normalizer
{
private:
    const size_t d_frame_len;
    const norm_mode d_mode;
    uint64_t d_nonfinite = 0;
    uint64_t d_zero = 0;
    uint64_t d_nonfinite_logged = 0;
    std::chrono::steady_clock::time_point d_last_log;
    bool d_logged_once = false;

public:
    normalizer_impl(int frame_len, norm_mode mode);
    ~normalizer_impl() override;

    std::string mode() const override { return norm_mode_name(d_mode); }
    uint64_t nonfinite_frames() const override { return d_nonfinite; }
    uint64_t zero_frames() const override { return d_zero; }

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace amc
} // namespace gr

#endif /* INCLUDED_AMC_NORMALIZER_IMPL_H */
