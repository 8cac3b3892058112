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

BOOST_AUTO_TEST_CASE(underflowing_frames_are_zero_power_in_every_mode)
{
    const float sub = 1e-39f; // subnormal
    BOOST_REQUIRE(std::fpclassify(sub) == FP_SUBNORMAL);
    for (auto mode : { norm_mode::RMS, norm_mode::PEAK, norm_mode::L1, norm_mode::IQ_STD,
                       norm_mode::NONE }) {
        const std::string name = norm_mode_name(mode);
        std::vector<gr_complex> out(128);
        // every value subnormal, with and without spread
        std::vector<gr_complex> a(128, gr_complex(sub, -sub));
        for (size_t i = 0; i < a.size(); i += 3)
            a[i] = gr_complex(2 * sub, 0.0f);
        // one smallest subnormal among zeros
        std::vector<gr_complex> b(128, gr_complex(0, 0));
        b[64] = gr_complex(0.0f, std::numeric_limits<float>::denorm_min());
        for (auto* x : { &a, &b }) {
            std::fill(out.begin(), out.end(), gr_complex(5, 5));
            BOOST_CHECK_MESSAGE(normalize_frame(x->data(), out.data(), x->size(), mode) ==
                                    frame_status::ZERO_POWER,
                                name);
            for (auto v : out)
                BOOST_CHECK(v == gr_complex(0, 0));
        }
        // tiny but normal values are normalized (finite output, not zeroed)
        std::vector<gr_complex> c(128, gr_complex(2e-38f, -3e-38f));
        c[5] = gr_complex(-2e-38f, 3e-38f);
        BOOST_CHECK_MESSAGE(normalize_frame(c.data(), out.data(), c.size(), mode) ==
                                frame_status::OK,
                            name);
        for (auto v : out)
            BOOST_CHECK(std::isfinite(v.real()) && std::isfinite(v.imag()));
        BOOST_CHECK_GT(std::abs(out[0]), 0.0f);
    }
}

BOOST_AUTO_TEST_CASE(rms_scale_overflow_is_zero_power)
{
    // one normal sample (1.5e-38) among 1023 zeros: rms level 4.7e-40, its inverse is not a
    // finite float; the other modes' scales are finite
    std::vector<gr_complex> x(1024, gr_complex(0, 0)), y(1024);
    x[7] = gr_complex(1.5e-38f, 0.0f);
    BOOST_CHECK(normalize_frame(x.data(), y.data(), x.size(), norm_mode::RMS) ==
                frame_status::ZERO_POWER);
    for (auto v : y)
        BOOST_CHECK(v == gr_complex(0, 0));
    BOOST_CHECK(normalize_frame(x.data(), y.data(), x.size(), norm_mode::PEAK) ==
                frame_status::OK);
    BOOST_CHECK_CLOSE(y[7].real(), 1.0f, 1e-4);
    BOOST_CHECK(normalize_frame(x.data(), y.data(), x.size(), norm_mode::L1) ==
                frame_status::OK);
    BOOST_CHECK_CLOSE(y[7].real(), 1.0f, 1e-4);
}

BOOST_AUTO_TEST_CASE(iq_std_rail_with_underflowing_spread_is_unscaled)
{
    std::vector<gr_complex> x(64), y(64);
    for (size_t i = 0; i < x.size(); i++)
        x[i] = gr_complex(float(i) - 31.5f, (i % 2) * 2e-39f);
    BOOST_CHECK(normalize_frame(x.data(), y.data(), x.size(), norm_mode::IQ_STD) ==
                frame_status::OK);
    for (size_t i = 0; i < x.size(); i++) {
        BOOST_CHECK(std::isfinite(y[i].imag()));
        BOOST_CHECK_EQUAL(y[i].imag(), x[i].imag());
    }
}

BOOST_AUTO_TEST_CASE(framing_limits)
{
    BOOST_CHECK_EQUAL(max_frame_len, 1L << 20);
    BOOST_CHECK_EQUAL(max_hop, 1L << 30);
    BOOST_CHECK_NO_THROW(check_framing(max_frame_len, max_hop));
    BOOST_CHECK_NO_THROW(check_framing(1, 1));
    auto message = [](long frame_len, long hop) {
        try {
            check_framing(frame_len, hop);
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("no exception");
    };
    BOOST_CHECK_EQUAL(message(max_frame_len + 1, 1),
                      "amc: frame_len must be <= 1048576 (2^20), got 1048577");
    BOOST_CHECK_EQUAL(message(16, max_hop + 1),
                      "amc: hop must be <= 1073741824 (2^30), got 1073741825");
    BOOST_CHECK_EQUAL(message(-1, 16), "amc: frame_len must be > 0, got -1");
    BOOST_CHECK_EQUAL(message(16, 1L << 40),
                      "amc: hop must be <= 1073741824 (2^30), got 1099511627776");
    // frame_count/extract_frames near the limits: no overflow in k*hop + frame_len
    BOOST_CHECK_EQUAL(frame_count(size_t(3) * max_hop, max_frame_len, max_hop), 3u);
    BOOST_CHECK_EQUAL(frame_count(size_t(3) * max_hop - 1, 2, max_hop), 3u);
    BOOST_CHECK_EQUAL(frame_count(size_t(2) * max_hop + 1, 2, max_hop), 2u);
}
