/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
/* Hand-written bindings. The hash below is the MD5 of the header; CMake stops with
 * "bindings ... out of sync" when the header changes: update the bindings, then the hash
 * (md5sum include/gnuradio/amc/framer.h).
 * BINDTOOL_GEN_AUTOMATIC(0)
 * BINDTOOL_USE_PYGCCXML(0)
 * BINDTOOL_HEADER_FILE(framer.h)
 * BINDTOOL_HEADER_FILE_HASH(93b1178bf1297d5acf599ee3e15fdb3e)
 */
#include <pybind11/pybind11.h>

namespace py = pybind11;

#include <gnuradio/amc/framer.h>
#include <gnuradio/amc/kernels.h>
#include <framer_pydoc.h>

void bind_framer(py::module& m)
{
    using framer = ::gr::amc::framer;

    py::class_<framer, gr::block, gr::basic_block, std::shared_ptr<framer>>(
        m, "framer", D(framer))
        // long parameters: values beyond int reach the range check (ValueError naming them)
        // instead of failing pybind11's conversion with a TypeError
        .def(py::init([](long frame_len, long hop) {
                 gr::amc::check_framing(frame_len, hop);
                 return framer::make(static_cast<int>(frame_len), static_cast<int>(hop));
             }),
             py::arg("frame_len"),
             py::arg("hop"),
             D(framer, make))
        .def("frame_len", &framer::frame_len, D(framer, frame_len))
        .def("hop", &framer::hop, D(framer, hop))
        .def("first_sample", &framer::first_sample, py::arg("k"), D(framer, first_sample));
}
