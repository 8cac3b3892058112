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

namespace {
// Hops up to this many samples keep relative_rate = 1/max(hop, frame_len) (the upstream
// buffer then holds two hops, so several frames come per call); above it the buffer stays
// this size (or one frame, if larger) and skipped gaps are consumed in pieces.
constexpr uint64_t k_max_rate_hop = 1 << 16;

uint64_t request_size(uint64_t frame_len, uint64_t hop)
{
    return std::max(frame_len, std::min(hop, k_max_rate_hop));
}
} // namespace

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
      d_hop(hop),
      d_request(request_size(frame_len, hop))
{
    set_tag_propagation_policy(TPP_DONT); // tags are placed by general_work
    // Only used by GNU Radio to size the upstream buffer (see d_request).
    set_relative_rate(1, d_request);
}

framer_impl::~framer_impl() {}

bool framer_impl::start()
{
    d_pending.clear();
    return true;
}

void framer_impl::forecast(int noutput_items, gr_vector_int& ninput_items_required)
{
    // Invariant: window_start(k) <= nitems_read <= k*hop for the next frame k; the next frame
    // starts (k*hop - nitems_read) samples into the input (what is left of a skipped gap).
    // Asking for more than d_request could exceed the buffer: with d_request items general_work
    // always progresses (it consumes gap samples, or a frame of <= d_request samples is complete).
    const uint64_t k = nitems_written(0);
    const uint64_t lead = k * d_hop - nitems_read(0);
    const uint64_t n = static_cast<uint64_t>(std::max(noutput_items, 1));
    const uint64_t need = lead + (n - 1) * d_hop + d_frame_len;
    ninput_items_required[0] = static_cast<int>(std::min(need, d_request));
}

int framer_impl::general_work(int noutput_items,
                              gr_vector_int& ninput_items,
                              gr_vector_const_void_star& input_items,
                              gr_vector_void_star& output_items)
{
    const gr_complex* in = static_cast<const gr_complex*>(input_items[0]);
    gr_complex* out = static_cast<gr_complex*>(output_items[0]);

    const uint64_t k0 = nitems_written(0);
    const uint64_t read = nitems_read(0);
    const uint64_t avail = static_cast<uint64_t>(std::max(ninput_items[0], 0));
    const uint64_t avail_end = read + avail;
    const uint64_t start0 = k0 * d_hop; // first sample of frame k0 (>= read)

    // Complete frames available in this call.
    uint64_t n = 0;
    if (start0 + d_frame_len <= avail_end) {
        n = std::min(static_cast<uint64_t>(noutput_items),
                     (avail_end - start0 - d_frame_len) / d_hop + 1);
    }
    if (n == 0) {
        // Frame k0 is incomplete: consume what is available of the gap before it, keeping
        // its tags (all in frame k0's window) for that frame.
        const uint64_t c = std::min(start0 - read, avail);
        if (c > 0) {
            get_tags_in_range(d_tags, 0, read, read + c);
            d_pending.insert(d_pending.end(), d_tags.begin(), d_tags.end());
            consume_each(static_cast<int>(c));
        }
        return 0;
    }
    const uint64_t span = (n - 1) * d_hop + d_frame_len;
    extract_frames(in + (start0 - read), span, d_frame_len, d_hop, out);

    // Tags: the kept ones go to frame k0; each tag still in the buffer goes onto every
    // produced frame whose window holds it.
    for (const tag_t& t : d_pending) {
        add_item_tag(0, k0, t.key, t.value, t.srcid);
    }
    d_pending.clear();
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
