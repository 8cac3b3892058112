/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
/* Hand-written bindings. The hash below is the MD5 of the header; CMake stops with
 * "bindings ... out of sync" when the header changes: update the bindings, then the hash
 * (md5sum include/gnuradio/amc/normalizer.h).
 * BINDTOOL_GEN_AUTOMATIC(0)
 * BINDTOOL_USE_PYGCCXML(0)
 * BINDTOOL_HEADER_FILE(normalizer.h)
 * BINDTOOL_HEADER_FILE_HASH(14a03b1fa7237027f8f1b766694b9a9d)
 */
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

#include <gnuradio/amc/kernels.h>
#include <gnuradio/amc/normalizer.h>
#include <normalizer_pydoc.h>

void bind_normalizer(py::module& m)
{
    using normalizer = ::gr::amc::normalizer;

    py::class_<normalizer, gr::sync_block, gr::block, gr::basic_block,
               std::shared_ptr<normalizer>>(m, "normalizer", D(normalizer))
        // long frame_len: values beyond int reach the range check (ValueError naming them)
        .def(py::init([](long frame_len, const std::string& mode) {
                 gr::amc::check_framing(frame_len, 1);
                 return normalizer::make(static_cast<int>(frame_len), mode);
             }),
             py::arg("frame_len"),
             py::arg("mode") = "rms",
             D(normalizer, make))
        .def("mode", &normalizer::mode, D(normalizer, mode))
        .def("nonfinite_frames", &normalizer::nonfinite_frames, D(normalizer, nonfinite_frames))
        .def("zero_frames", &normalizer::zero_frames, D(normalizer, zero_frames));
}
