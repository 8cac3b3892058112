/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
/* Hand-written binding of read_input_state for Python blocks.
 * The hash below is the MD5 of the header (md5sum include/gnuradio/amc/input_state.h).
 * BINDTOOL_GEN_AUTOMATIC(0)
 * BINDTOOL_USE_PYGCCXML(0)
 * BINDTOOL_HEADER_FILE(input_state.h)
 * BINDTOOL_HEADER_FILE_HASH(9833fc0e7b068052cc133aa88baf6a60)
 */
#include <pybind11/pybind11.h>

namespace py = pybind11;

#include <gnuradio/amc/input_state.h>
#include <input_state_pydoc.h>

void bind_input_state(py::module& m)
{
    m.def(
        "input_state",
        [](gr::buffer_reader_sptr reader) {
            if (!reader) {
                throw std::invalid_argument(
                    "input_state: no reader (the block is not connected or not running)");
            }
            const gr::amc::input_state s = gr::amc::read_input_state(*reader);
            return py::make_tuple(s.done, s.items_available);
        },
        py::arg("reader"),
        D(input_state));
}
