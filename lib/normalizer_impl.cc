/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "normalizer_impl.h"
#include <gnuradio/io_signature.h>

namespace gr {
namespace amc {

normalizer::sptr normalizer::make(int frame_len, const std::string& mode)
{
    check_framing(frame_len, 1);
    const norm_mode m = parse_norm_mode(mode); // throws on an unknown mode
    return gnuradio::make_block_sptr<normalizer_impl>(frame_len, m);
}

normalizer_impl::normalizer_impl(int frame_len, norm_mode mode)
    : gr::sync_block("normalizer",
                     gr::io_signature::make(1, 1, sizeof(gr_complex) * frame_len),
                     gr::io_signature::make(1, 1, sizeof(gr_complex) * frame_len)),
      d_frame_len(frame_len),
      d_mode(mode)
{
}

normalizer_impl::~normalizer_impl() {}

int normalizer_impl::work(int noutput_items,
                          gr_vector_const_void_star& input_items,
                          gr_vector_void_star& output_items)
{
    const gr_complex* in = static_cast<const gr_complex*>(input_items[0]);
    gr_complex* out = static_cast<gr_complex*>(output_items[0]);

    for (int i = 0; i < noutput_items; i++) {
        const frame_status s =
            normalize_frame(in + i * d_frame_len, out + i * d_frame_len, d_frame_len, d_mode);
        if (s == frame_status::NON_FINITE) {
            d_nonfinite++;
        } else if (s == frame_status::ZERO_POWER) {
            d_zero++;
        }
    }

    // Report NaN/Inf frames at most once a second.
    if (d_nonfinite > d_nonfinite_logged) {
        const auto now = std::chrono::steady_clock::now();
        if (!d_logged_once || now - d_last_log >= std::chrono::seconds(1)) {
            d_logger->warn("{:d} frame(s) held NaN/Inf and were zeroed ({:d} in total)",
                           d_nonfinite - d_nonfinite_logged,
                           d_nonfinite);
            d_nonfinite_logged = d_nonfinite;
            d_last_log = now;
            d_logged_once = true;
        }
    }
    return noutput_items;
}

} // namespace amc
} // namespace gr
