/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <gnuradio/amc/kernels.h>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

using namespace gr::amc;

namespace {
std::vector<gr_complex> random_frame(size_t n, unsigned seed, float amp = 3.0f)
{
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.2f, amp);
    std::vector<gr_complex> v(n);
    for (auto& x : v) {
        x = gr_complex(d(g), 0.5f * d(g));
    }
    return v;
}
} // namespace

BOOST_AUTO_TEST_CASE(rms_gives_unit_average_power)
{
    auto x = random_frame(1024, 1);
    std::vector<gr_complex> y(x.size());
    BOOST_CHECK(normalize_frame(x.data(), y.data(), x.size(), norm_mode::RMS) ==
                frame_status::OK);
    double p = 0;
    for (auto v : y)
        p += std::norm(v);
    BOOST_CHECK_CLOSE(p / y.size(), 1.0, 1e-3);
    // the shape is kept: y = x * positive constant
    const double g = y[0].real() / x[0].real();
    BOOST_CHECK_GT(g, 0.0);
    for (size_t i = 0; i < x.size(); i++) {
        BOOST_CHECK_CLOSE(y[i].imag(), x[i].imag() * g, 1e-2);
    }
}

BOOST_AUTO_TEST_CASE(peak_l1_and_iq_std)
{
    auto x = random_frame(777, 2);
    std::vector<gr_complex> y(x.size());
    normalize_frame(x.data(), y.data(), x.size(), norm_mode::PEAK);
    double m = 0;
    for (auto v : y)
        m = std::max(m, double(std::abs(v)));
    BOOST_CHECK_CLOSE(m, 1.0, 1e-4);

    normalize_frame(x.data(), y.data(), x.size(), norm_mode::L1);
    double s = 0;
    for (auto v : y)
        s += std::abs(v);
    BOOST_CHECK_CLOSE(s, 1.0, 1e-3);

    normalize_frame(x.data(), y.data(), x.size(), norm_mode::IQ_STD);
    double mi = 0, mq = 0, vi = 0, vq = 0;
    for (auto v : y) {
        mi += v.real();
        mq += v.imag();
    }
    mi /= y.size();
    mq /= y.size();
    for (auto v : y) {
        vi += (v.real() - mi) * (v.real() - mi);
        vq += (v.imag() - mq) * (v.imag() - mq);
    }
    BOOST_CHECK_CLOSE(std::sqrt(vi / y.size()), 1.0, 1e-3);
    BOOST_CHECK_CLOSE(std::sqrt(vq / y.size()), 1.0, 1e-3);

    normalize_frame(x.data(), y.data(), x.size(), norm_mode::NONE);
    for (size_t i = 0; i < x.size(); i++)
        BOOST_CHECK(y[i] == x[i]);
}

BOOST_AUTO_TEST_CASE(in_place_works)
{
    auto x = random_frame(64, 3);
    auto y = x;
    normalize_frame(y.data(), y.data(), y.size(), norm_mode::RMS);
    std::vector<gr_complex> z(x.size());
    normalize_frame(x.data(), z.data(), x.size(), norm_mode::RMS);
    for (size_t i = 0; i < x.size(); i++)
        BOOST_CHECK(y[i] == z[i]);
}

BOOST_AUTO_TEST_CASE(zero_and_nonfinite_frames)
{
    for (auto mode : { norm_mode::RMS, norm_mode::PEAK, norm_mode::L1, norm_mode::IQ_STD,
                       norm_mode::NONE }) {
        std::vector<gr_complex> z(128, gr_complex(0, 0)), out(128, gr_complex(5, 5));
        BOOST_CHECK(normalize_frame(z.data(), out.data(), z.size(), mode) ==
                    frame_status::ZERO_POWER);
        for (auto v : out)
            BOOST_CHECK(v == gr_complex(0, 0));

        for (float bad : { std::numeric_limits<float>::quiet_NaN(),
                           std::numeric_limits<float>::infinity(),
                           -std::numeric_limits<float>::infinity() }) {
            auto x = random_frame(128, 4);
            x[77] = gr_complex(0.0f, bad);
            BOOST_CHECK(normalize_frame(x.data(), out.data(), x.size(), mode) ==
                        frame_status::NON_FINITE);
            for (auto v : out)
                BOOST_CHECK(v == gr_complex(0, 0));
        }
    }
}

BOOST_AUTO_TEST_CASE(large_but_finite_is_not_nonfinite)
{
    std::vector<gr_complex> x(256, gr_complex(1e30f, -1e30f)), y(256);
    BOOST_CHECK(normalize_frame(x.data(), y.data(), x.size(), norm_mode::RMS) ==
                frame_status::OK);
    BOOST_CHECK_CLOSE(std::norm(y[0]), 1.0, 1e-3);
}

BOOST_AUTO_TEST_CASE(mode_names)
{
    BOOST_CHECK(parse_norm_mode("rms") == norm_mode::RMS);
    BOOST_CHECK(parse_norm_mode("iq_std") == norm_mode::IQ_STD);
    BOOST_CHECK_EQUAL(norm_mode_name(norm_mode::L1), "l1");
    try {
        parse_norm_mode("max");
        BOOST_FAIL("no exception");
    } catch (const std::invalid_argument& e) {
        BOOST_CHECK(std::string(e.what()).find("'max'") != std::string::npos);
        BOOST_CHECK(std::string(e.what()).find("rms, peak, l1, iq_std, none") !=
                    std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(framing_overlap_and_skip)
{
    std::vector<gr_complex> x(100);
    for (size_t i = 0; i < x.size(); i++)
        x[i] = gr_complex(float(i), 0);
    // overlap: frames of 10 every 4 samples -> starts 0,4,...,88 (23 frames)
    BOOST_CHECK_EQUAL(frame_count(100, 10, 4), 23u);
    std::vector<gr_complex> out(23 * 10);
    BOOST_CHECK_EQUAL(extract_frames(x.data(), x.size(), 10, 4, out.data()), 23u);
    BOOST_CHECK_EQUAL(out[22 * 10].real(), 88.0f);
    BOOST_CHECK_EQUAL(out[22 * 10 + 9].real(), 97.0f);
    // skip: frames of 10 every 25 -> starts 0,25,50,75
    BOOST_CHECK_EQUAL(frame_count(100, 10, 25), 4u);
    BOOST_CHECK_EQUAL(extract_frames(x.data(), x.size(), 10, 25, out.data()), 4u);
    BOOST_CHECK_EQUAL(out[3 * 10].real(), 75.0f);
    BOOST_CHECK_EQUAL(frame_count(9, 10, 4), 0u);
    BOOST_CHECK_THROW(check_framing(0, 4), std::invalid_argument);
    BOOST_CHECK_THROW(check_framing(10, 0), std::invalid_argument);
}
