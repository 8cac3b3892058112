/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
/* Hand-written bindings of the order-feature front end as plain functions on numpy arrays.
 * The hash below is the MD5 of the header (md5sum include/gnuradio/amc/order_features.h).
 * BINDTOOL_GEN_AUTOMATIC(0)
 * BINDTOOL_USE_PYGCCXML(0)
 * BINDTOOL_HEADER_FILE(order_features.h)
 * BINDTOOL_HEADER_FILE_HASH(7b8547ce682b35416948dd645b28445b)
 */
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <memory>

namespace py = pybind11;

#include <gnuradio/amc/order_features.h>
#include <order_features_pydoc.h>

namespace {
using carray = py::array_t<gr_complex, py::array::c_style | py::array::forcecast>;

void check_frames(const carray& frames, const char* what)
{
    if (frames.ndim() != 2) {
        throw std::invalid_argument(std::string(what) + ": frames must be 2-D (n, L), got " +
                                    std::to_string(frames.ndim()) + " dimensions");
    }
    const auto len = static_cast<size_t>(frames.shape(1));
    if (len < gr::amc::order_features::min_frame_len || len > (size_t(1) << 20)) {
        throw std::invalid_argument(std::string(what) + ": frames must hold 128..2^20 samples, got " +
                                    std::to_string(len));
    }
}

// One front end per thread, frame length and version: its FFT plans are made once.
gr::amc::order_features& front_end(size_t len, int version)
{
    thread_local std::unique_ptr<gr::amc::order_features> f;
    if (!f || f->frame_len() != len || f->feature_version() != version) {
        f.reset(new gr::amc::order_features(len, version));
    }
    return *f;
}

py::array order_features(carray frames, int version)
{
    check_frames(frames, "order_features");
    const size_t n = static_cast<size_t>(frames.shape(0));
    const size_t len = static_cast<size_t>(frames.shape(1));
    const size_t nf = gr::amc::order_features::feature_size(version); // throws for an unknown version
    py::array_t<float> out({ static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(nf) });
    const gr_complex* src = frames.data();
    float* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        gr::amc::order_features& f = front_end(len, version);
        for (size_t i = 0; i < n; i++) {
            f.compute(src + i * len, dst + i * nf);
        }
    }
    return std::move(out);
}

py::tuple blind_symbol_rate(carray frames)
{
    check_frames(frames, "blind_symbol_rate");
    const size_t n = static_cast<size_t>(frames.shape(0));
    const size_t len = static_cast<size_t>(frames.shape(1));
    py::array_t<double> sps(static_cast<py::ssize_t>(n)), t0(static_cast<py::ssize_t>(n));
    const gr_complex* src = frames.data();
    double* s = sps.mutable_data();
    double* t = t0.mutable_data();
    {
        py::gil_scoped_release release;
        gr::amc::order_features& f = front_end(len, 1); // steps 1-2 are those of every version
        std::vector<float> tmp(f.size());
        for (size_t i = 0; i < n; i++) {
            f.compute(src + i * len, tmp.data());
            s[i] = f.last_samples_per_symbol();
            t[i] = f.last_timing();
        }
    }
    return py::make_tuple(sps, t0);
}
} // namespace

void bind_order_features(py::module& m)
{
    m.def("order_features", &order_features, py::arg("frames"),
          py::arg("version") = int(gr::amc::order_features::version), D(order_features));
    m.def("order_features_size", [](int v) { return gr::amc::order_features::feature_size(v); },
          py::arg("version"), "Number of order features per frame of a version (169 for 1, 307 for 2).");
    m.def("blind_symbol_rate", &blind_symbol_rate, py::arg("frames"), D(blind_symbol_rate));
    m.attr("ORDER_FEATURES_SIZE") = gr::amc::order_features::feature_size();
    m.attr("ORDER_FEATURES_VERSION") = gr::amc::order_features::version;
    m.attr("ORDER_FEATURES_MIN_VERSION") = gr::amc::order_features::min_version;
}
