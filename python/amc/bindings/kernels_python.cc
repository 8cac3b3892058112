/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
/* Hand-written bindings of the kernel functions as plain functions on numpy arrays.
 * The hash below is the MD5 of the header (md5sum include/gnuradio/amc/kernels.h).
 * BINDTOOL_GEN_AUTOMATIC(0)
 * BINDTOOL_USE_PYGCCXML(0)
 * BINDTOOL_HEADER_FILE(kernels.h)
 * BINDTOOL_HEADER_FILE_HASH(e027819b7b89110e65e963d538d16116)
 */
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

#include <gnuradio/amc/kernels.h>
#include <kernels_pydoc.h>

namespace {
using carray = py::array_t<gr_complex, py::array::c_style | py::array::forcecast>;

py::array frame_signal(carray x, long frame_len, long hop)
{
    gr::amc::check_framing(frame_len, hop);
    if (x.ndim() != 1) {
        throw std::invalid_argument("frame_signal: x must be 1-D, got " +
                                    std::to_string(x.ndim()) + " dimensions");
    }
    const size_t n = static_cast<size_t>(x.shape(0));
    const size_t nf = gr::amc::frame_count(n, frame_len, hop);
    carray out({ static_cast<py::ssize_t>(nf), static_cast<py::ssize_t>(frame_len) });
    const gr_complex* src = x.data();
    gr_complex* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        gr::amc::extract_frames(src, n, frame_len, hop, dst);
    }
    return std::move(out);
}

py::tuple normalize_frames(carray frames, const std::string& mode)
{
    const gr::amc::norm_mode m = gr::amc::parse_norm_mode(mode);
    if (frames.ndim() != 2) {
        throw std::invalid_argument("normalize_frames: frames must be 2-D (n, L), got " +
                                    std::to_string(frames.ndim()) + " dimensions");
    }
    const size_t n = static_cast<size_t>(frames.shape(0));
    const size_t len = static_cast<size_t>(frames.shape(1));
    if (frames.shape(0) > 0) {
        gr::amc::check_framing(static_cast<long>(len), 1);
    }
    carray out({ frames.shape(0), frames.shape(1) });
    py::array_t<int8_t> status(static_cast<py::ssize_t>(n));
    const gr_complex* src = frames.data();
    gr_complex* dst = out.mutable_data();
    int8_t* st = status.mutable_data();
    {
        py::gil_scoped_release release;
        for (size_t i = 0; i < n; i++) {
            st[i] = static_cast<int8_t>(
                gr::amc::normalize_frame(src + i * len, dst + i * len, len, m));
        }
    }
    return py::make_tuple(out, status);
}
} // namespace

void bind_kernels(py::module& m)
{
    m.def("frame_signal",
          &frame_signal,
          py::arg("x"),
          py::arg("frame_len"),
          py::arg("hop"),
          D(frame_signal));
    m.def("normalize_frames",
          &normalize_frames,
          py::arg("frames"),
          py::arg("mode") = "rms",
          D(normalize_frames));
    m.def("normalization_modes", &gr::amc::norm_mode_names, D(normalization_modes));
    m.attr("MAX_FRAME_LEN") = gr::amc::max_frame_len;
    m.attr("MAX_HOP") = gr::amc::max_hop;
}
