/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <gnuradio/amc/input_state.h>
#include <gnuradio/thread/thread.h>

namespace gr {
namespace amc {

input_state read_input_state(gr::buffer_reader& reader)
{
    gr::thread::scoped_lock guard(*reader.mutex());
    input_state s;
    s.done = reader.done();
    s.items_available = reader.items_available();
    return s;
}

} // namespace amc
} // namespace gr
