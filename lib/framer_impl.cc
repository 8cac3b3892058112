/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "framer_impl.h"
#include <gnuradio/amc/kernels.h>
#include <gnuradio/io_signature.h>
#include <algorithm>

namespace gr {
namespace amc {

framer::sptr framer::make(int frame_len, int hop)
{
    check_framing(frame_len, hop);
    return gnuradio::make_block_sptr<framer_impl>(frame_len, hop);
}

framer_impl::framer_impl(int frame_len, int hop)
    : gr::block("framer",
                gr::io_signature::make(1, 1, sizeof(gr_complex)),
                gr::io_signature::make(1, 1, sizeof(gr_complex) * frame_len)),
      d_frame_len(frame_len),
      d_hop(hop)
{
    set_tag_propagation_policy(TPP_DONT); // tags are placed by general_work
    set_relative_rate(1, static_cast<uint64_t>(hop));
}

framer_impl::~framer_impl() {}

void framer_impl::forecast(int noutput_items, gr_vector_int& ninput_items_required)
{
    // Invariant: nitems_read == window_start(next frame), so the next frame starts
    // (k*hop - nitems_read) samples into the input (the rest of a skipped gap).
    const uint64_t k = nitems_written(0);
    const uint64_t lead = k * d_hop - nitems_read(0);
    const uint64_t n = static_cast<uint64_t>(std::max(noutput_items, 1));
    ninput_items_required[0] = static_cast<int>(lead + (n - 1) * d_hop + d_frame_len);
}

int framer_impl::general_work(int noutput_items,
                              gr_vector_int& ninput_items,
                              gr_vector_const_void_star& input_items,
                              gr_vector_void_star& output_items)
{
    const gr_complex* in = static_cast<const gr_complex*>(input_items[0]);
    gr_complex* out = static_cast<gr_complex*>(output_items[0]);

    const uint64_t k0 = nitems_written(0);
    const uint64_t read = nitems_read(0); // == window_start(k0)
    const uint64_t avail_end = read + static_cast<uint64_t>(ninput_items[0]);

    // Complete frames available in this call.
    uint64_t n = 0;
    while (n < static_cast<uint64_t>(noutput_items) &&
           (k0 + n) * d_hop + d_frame_len <= avail_end) {
        n++;
    }
    if (n == 0) {
        return 0;
    }
    for (uint64_t j = 0; j < n; j++) {
        const gr_complex* src = in + ((k0 + j) * d_hop - read);
        std::copy(src, src + d_frame_len, out + j * d_frame_len);
    }

    // Tags: each goes onto every produced frame whose window holds it.
    const uint64_t last = k0 + n - 1;
    const uint64_t end = last * d_hop + d_frame_len;
    get_tags_in_range(d_tags, 0, read, end);
    for (const tag_t& t : d_tags) {
        const uint64_t o = t.offset;
        const uint64_t kmin = o >= d_frame_len ? (o - d_frame_len) / d_hop + 1 : 0;
        const uint64_t kmax = o / d_hop + 1;
        for (uint64_t k = std::max(kmin, k0); k <= std::min(kmax, last); k++) {
            if (window_start(k) <= o && o < k * d_hop + d_frame_len) {
                add_item_tag(0, k, t.key, t.value, t.srcid);
            }
        }
    }

    // Consume up to the next frame's window start.
    consume_each(static_cast<int>(window_start(k0 + n) - read));
    return static_cast<int>(n);
}

} // namespace amc
} // namespace gr
