/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <gnuradio/amc/order_features.h>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <complex>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <vector>

using namespace gr::amc;

namespace {
const double pi = 3.14159265358979323846;

double rrc(double t, double b) // root raised cosine, t in symbols
{
    if (std::fabs(t) < 1e-9)
        return 1.0 - b + 4.0 * b / pi;
    if (std::fabs(std::fabs(4.0 * b * t) - 1.0) < 1e-9)
        return b / std::sqrt(2.0) * ((1 + 2 / pi) * std::sin(pi / (4 * b)) + (1 - 2 / pi) * std::cos(pi / (4 * b)));
    return (std::sin(pi * t * (1 - b)) + 4 * b * t * std::cos(pi * t * (1 + b))) / (pi * t * (1 - 16 * b * b * t * t));
}

// Symbols drawn from `points` at sps samples per symbol, roll-off 0.3, first symbol instant at sample tau; a
// second path `late` symbols later with gain g2 (0: none).
std::vector<gr_complex> linear(size_t n, const std::vector<std::complex<double>>& points, double sps, double tau,
                               unsigned seed, double late = 0.0, std::complex<double> g2 = 0.0, double cfo = 0.0)
{
    std::mt19937 g(seed);
    std::uniform_int_distribution<int> d(0, int(points.size()) - 1);
    const int nsym = int(n / sps) + 20;
    std::vector<std::complex<double>> a(nsym);
    for (auto& v : a)
        v = points[d(g)];
    std::vector<gr_complex> x(n);
    for (size_t i = 0; i < n; i++) {
        std::complex<double> acc = 0.0;
        for (int k = 0; k < nsym; k++) {
            const double t = (double(i) - tau) / sps - (k - 10);
            if (std::fabs(t) < 10)
                acc += a[k] * rrc(t, 0.3);
            if (late > 0 && std::fabs(t - late) < 10)
                acc += g2 * a[k] * rrc(t - late, 0.3);
        }
        x[i] = gr_complex(acc * std::polar(1.0, 2 * pi * cfo * double(i)));
    }
    return x;
}

std::vector<gr_complex> psk(size_t n, int m, double sps, double tau, unsigned seed, double late = 0.0,
                            std::complex<double> g2 = 0.0)
{
    std::vector<std::complex<double>> p(m);
    for (int k = 0; k < m; k++)
        p[k] = std::polar(1.0, 2 * pi * k / m + pi / m);
    return linear(n, p, sps, tau, seed, late, g2);
}

// m x m odd levels (unnormalized: the front end scales); lim > 0: a cross grid without the corners where both
// |levels| exceed lim (32QAM: m 6, lim 3)
std::vector<std::complex<double>> square_qam(int m, int lim = 0)
{
    std::vector<std::complex<double>> p;
    for (int i = 0; i < m; i++)
        for (int q = 0; q < m; q++) {
            const int li = 2 * i - (m - 1), lq = 2 * q - (m - 1);
            if (lim == 0 || std::abs(li) <= lim || std::abs(lq) <= lim)
                p.emplace_back(li, lq);
        }
    return p;
}

std::vector<float> features(order_features& f, const std::vector<gr_complex>& x)
{
    std::vector<float> out(f.size());
    BOOST_REQUIRE(f.compute(x.data(), out.data()));
    return out;
}

// offsets of the feature sets (b: before the equalizer, e: after), see order_features.h
const size_t set_size = (order_features::feature_size(1) - 1) / 2;
const size_t dd_fits = order_features::feature_size(1); // version 2: (log residual, gain) per grid 16..256QAM
const size_t line8 = 2; // the 8th power's line: index 2 of M = 2, 4, 8, 16, 32
} // namespace

BOOST_AUTO_TEST_CASE(feature_layout)
{
    BOOST_CHECK_EQUAL(order_features::feature_size(1), 2 * (5 + 3 + 12 + 64) + 1);
    BOOST_CHECK_EQUAL(order_features::feature_size(), 169 + 2 * 5 + 2 * 64);
    BOOST_CHECK_EQUAL(order_features::version, 2);
    BOOST_CHECK_THROW(order_features(64), std::invalid_argument);
    BOOST_CHECK_THROW(order_features(1024, 0), std::invalid_argument);
    BOOST_CHECK_THROW(order_features(1024, 3), std::invalid_argument);
    BOOST_CHECK_THROW(order_features::feature_size(3), std::invalid_argument);
    // version 2 extends version 1: the same first 169 features
    order_features f1(1024, 1), f2(1024);
    BOOST_CHECK_EQUAL(f1.size(), 169u);
    auto x = psk(1024, 8, 6.1, 2.5, 9);
    auto a = features(f1, x), b = features(f2, x);
    for (size_t i = 0; i < a.size(); i++)
        BOOST_CHECK_EQUAL(a[i], b[i]);
}

BOOST_AUTO_TEST_CASE(decision_directed_fits_find_the_qam_grid)
{
    // clean 16QAM and 64QAM, and both behind a second path a quarter symbol late and 2 dB down: the fit to
    // the frame's own grid is close, to every other grid far (log(residual / d_min^2), random ~ log(1/6));
    // the 64QAM fit does not converge on every frame (one in 8 here)
    order_features f(1024);
    const int grids[5] = { 4, 6, 8, 12, 16 }; // levels per axis of 16, 32, 64, 128, 256QAM
    for (int own : { 0, 2 }) {
        int close = 0;
        for (double late : { 0.0, 0.25 }) {
            for (unsigned s = 0; s < 4; s++) {
                auto v = features(f, linear(1024, square_qam(grids[own]), 7.3, 1.0 + s, 40 + s, late,
                                            std::polar(0.79, 1.3)));
                std::ostringstream m;
                for (int q = 0; q < 5; q++)
                    m << " " << v[dd_fits + 2 * q];
                BOOST_TEST_MESSAGE("QAM grid " << grids[own] << "x" << grids[own] << " late " << late
                                               << ": log residuals" << m.str());
                if (own == 0) {
                    BOOST_CHECK_LT(v[dd_fits], -5.0f);
                    BOOST_CHECK_GT(v[dd_fits + 1], 0.95f); // gain near 1 on its own grid
                }
                close += v[dd_fits + 2 * own] < -3.0f;
                for (int q = 0; q < 5; q++)
                    if (q != own)
                        BOOST_CHECK_GT(v[dd_fits + 2 * q], -2.6f);
            }
        }
        BOOST_CHECK_GE(close, own == 0 ? 8 : 7);
    }
}

BOOST_AUTO_TEST_CASE(symbol_rate_and_timing_are_found_blind)
{
    order_features f(1024);
    for (double sps : { 4.3, 8.0, 12.7 }) {
        for (double frac : { 0.3, 0.8 }) {
            auto x = psk(1024, 4, sps, frac * sps, 7);
            features(f, x);
            BOOST_TEST_MESSAGE("sps " << sps << " -> " << f.last_samples_per_symbol() << ", timing "
                                      << frac * sps << " -> " << f.last_timing());
            BOOST_CHECK_LT(std::fabs(f.last_samples_per_symbol() / sps - 1.0), 0.002);
            double e = std::fmod(f.last_timing() - frac * sps, sps);
            e = std::min(std::fabs(e), sps - std::fabs(e));
            BOOST_CHECK_LT(e / sps, 0.1);
        }
    }
}

BOOST_AUTO_TEST_CASE(psk_order_lines_and_the_equalizer)
{
    order_features f(1024);
    // clean 8PSK: the 8th power's line is (nearly) whole; for 16PSK it is not, its 16th is
    auto p8 = features(f, psk(1024, 8, 8.0, 2.0, 3));
    auto p16 = features(f, psk(1024, 16, 8.0, 2.0, 3));
    BOOST_CHECK_GT(p8[line8], 0.9f);
    BOOST_CHECK_LT(p16[line8], 0.3f);
    BOOST_CHECK_GT(p16[line8 + 1], 0.6f);
    // a second path a quarter symbol late and 2 dB down smears the constellation; the CMA undoes most of it
    double before = 0, after = 0;
    for (unsigned s = 0; s < 8; s++) {
        auto v = features(f, psk(1024, 8, 8.0, 2.0, 10 + s, 0.25, std::polar(0.79, 1.0)));
        before += v[line8] / 8.0;
        after += v[set_size + line8] / 8.0;
    }
    BOOST_TEST_MESSAGE("8PSK under 2-path ISI, 8th-power line before/after CMA: " << before << " " << after);
    BOOST_CHECK_GT(after, 0.95);
    BOOST_CHECK_LT(1.0 - after, (1.0 - before) / 4.0); // the line's shortfall cut at least 4-fold
}

BOOST_AUTO_TEST_CASE(cross_qam_carrier_from_its_rings)
{
    // 32QAM, whose plain 4th-power line is too weak on ~140 symbols: with a carrier offset of 0.015 cycles per
    // symbol, the ring-weighted carrier and the fit find its grid
    order_features f(1024);
    BOOST_CHECK_EQUAL(square_qam(6, 3).size(), 32u);
    int close = 0;
    for (unsigned s = 0; s < 8; s++) {
        auto v = features(f, linear(1024, square_qam(6, 3), 7.3, 1.0 + 0.7 * s, 60 + s, 0.0, 0.0, 0.015 / 7.3));
        BOOST_TEST_MESSAGE("32QAM, carrier offset: log residuals " << v[dd_fits] << " " << v[dd_fits + 2] << " "
                                                                    << v[dd_fits + 4] << " " << v[dd_fits + 6]
                                                                    << " " << v[dd_fits + 8]);
        close += v[dd_fits + 2] < -4.0f;
        for (int q : { 0, 2, 3, 4 })
            BOOST_CHECK_GT(v[dd_fits + 2 * q], -2.6f);
    }
    BOOST_CHECK_GE(close, 7);
}

BOOST_AUTO_TEST_CASE(gain_and_carrier_phase_do_not_matter)
{
    order_features f(1024);
    auto x = psk(1024, 16, 6.3, 1.1, 5);
    auto a = features(f, x);
    for (auto& v : x)
        v *= std::polar(3.0f, 0.7f);
    auto b = features(f, x);
    double worst = 0;
    for (size_t i = 0; i < a.size(); i++)
        worst = std::max(worst, double(std::fabs(a[i] - b[i])));
    BOOST_CHECK_LT(worst, 0.02);
}

BOOST_AUTO_TEST_CASE(unusable_frames_give_zeros)
{
    order_features f(256);
    std::vector<float> out(f.size(), 5.0f);
    std::vector<gr_complex> z(256, gr_complex(0, 0));
    BOOST_CHECK(!f.compute(z.data(), out.data()));
    for (float v : out)
        BOOST_CHECK_EQUAL(v, 0.0f);
    auto x = psk(256, 4, 4.0, 0.0, 1);
    x[17] = gr_complex(std::numeric_limits<float>::quiet_NaN(), 0);
    std::fill(out.begin(), out.end(), 5.0f);
    BOOST_CHECK(!f.compute(x.data(), out.data()));
    for (float v : out)
        BOOST_CHECK_EQUAL(v, 0.0f);
}
