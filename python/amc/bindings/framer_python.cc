/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
/* Hand-written bindings. The hash below is the MD5 of the header; CMake stops with
 * "bindings ... out of sync" when the header changes: update the bindings, then the hash
 * (md5sum include/gnuradio/amc/framer.h).
 * BINDTOOL_GEN_AUTOMATIC(0)
 * BINDTOOL_USE_PYGCCXML(0)
 * BINDTOOL_HEADER_FILE(framer.h)
 * BINDTOOL_HEADER_FILE_HASH(92abff3163792caaef3f137301ed418e)
 */
#include <pybind11/pybind11.h>

namespace py = pybind11;

#include <gnuradio/amc/framer.h>
#include <framer_pydoc.h>

void bind_framer(py::module& m)
{
    using framer = ::gr::amc::framer;

    py::class_<framer, gr::block, gr::basic_block, std::shared_ptr<framer>>(
        m, "framer", D(framer))
        .def(py::init(&framer::make), py::arg("frame_len"), py::arg("hop"), D(framer, make))
        .def("frame_len", &framer::frame_len, D(framer, frame_len))
        .def("hop", &framer::hop, D(framer, hop))
        .def("first_sample", &framer::first_sample, py::arg("k"), D(framer, first_sample));
}
