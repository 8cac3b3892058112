/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <gnuradio/amc/order_features.h>
#include <gnuradio/fft/fft.h>
#include <volk/volk.h>
#include <algorithm>
#include <cmath>
#include <complex>
#include <stdexcept>

namespace gr {
namespace amc {

namespace {
typedef std::complex<double> cd;

constexpr double k_pi = 3.14159265358979323846;
constexpr double k_min_sps = 3.5;   // symbol-rate search range, samples per symbol
constexpr double k_max_sps = 17.0;
constexpr int k_lags = 4;           // lag products x(n) x*(n - tau), tau = 0..k_lags-1
constexpr double k_rolloff = 0.35;  // matched filter
constexpr int k_span = 8;           // symbols each side
constexpr int k_table = 64;         // filter table points per symbol
constexpr int k_taps = 7;           // equalizer taps at 2 samples per symbol
constexpr int k_iters = 30;
constexpr double k_mu = 0.05;
constexpr int k_powers = 5;         // spectral lines of the M-th powers, M = 2, 4, 8, 16, 32
constexpr int k_amp_bins = 12;      // |z| over [0, 2)
constexpr int k_iq_bins = 8;        // folded constellation over [0, 1.6)^2
constexpr size_t k_per_set = k_powers + 3 + k_amp_bins + k_iq_bins * k_iq_bins;

size_t pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n) {
        p <<= 1;
    }
    return p;
}

double rrc_value(double t) // t in symbols; unit peak-free shape, energy normalized later
{
    const double b = k_rolloff;
    if (std::fabs(t) < 1e-9) {
        return 1.0 - b + 4.0 * b / k_pi;
    }
    if (std::fabs(std::fabs(4.0 * b * t) - 1.0) < 1e-9) {
        return b / std::sqrt(2.0) *
               ((1.0 + 2.0 / k_pi) * std::sin(k_pi / (4.0 * b)) +
                (1.0 - 2.0 / k_pi) * std::cos(k_pi / (4.0 * b)));
    }
    return (std::sin(k_pi * t * (1.0 - b)) + 4.0 * b * t * std::cos(k_pi * t * (1.0 + b))) /
           (k_pi * t * (1.0 - (4.0 * b * t) * (4.0 * b * t)));
}

// Parabolic refinement of a peak at bin i of a circular array of size n: the fractional offset in -0.5..0.5.
double parabolic(const std::vector<double>& v, size_t i)
{
    const size_t n = v.size();
    const double a = v[(i + n - 1) % n], b = v[i], c = v[(i + 1) % n];
    const double den = a - 2.0 * b + c;
    if (den == 0.0) {
        return 0.0;
    }
    return std::max(-0.5, std::min(0.5, 0.5 * (a - c) / den));
}
} // namespace

struct order_features::impl {
    size_t nf;  // rate search and carrier FFT size (>= 4 L)
    size_t nl;  // spectral-line FFT size (>= L)
    gr::fft::fft_complex_fwd fft_rate;
    gr::fft::fft_complex_fwd fft_line;
    std::vector<double> table;  // RRC at k_table points per symbol over [-k_span, k_span]
    std::vector<float> hann;
    std::vector<gr_complex> x, b2, sym, eq;
    std::vector<double> total, power, prefix;

    explicit impl(size_t len)
        : nf(pow2_at_least(4 * len)),
          nl(pow2_at_least(len)),
          fft_rate(static_cast<int>(pow2_at_least(4 * len)), 1),
          fft_line(static_cast<int>(pow2_at_least(len)), 1),
          table(2 * k_span * k_table + 2),
          hann(len),
          x(len),
          total(pow2_at_least(4 * len)),
          power(len),
          prefix(pow2_at_least(4 * len) + 1)
    {
        for (size_t i = 0; i < table.size(); i++) {
            table[i] = rrc_value(double(i) / k_table - k_span);
        }
        for (size_t n = 0; n < len; n++) {
            hann[n] = float(0.5 - 0.5 * std::cos(2.0 * k_pi * double(n) / double(len - 1)));
        }
    }

    double rrc(double t) const // t in symbols, linear interpolation in the table; 0 outside the span
    {
        const double u = (t + k_span) * k_table;
        if (u < 0.0 || u >= double(2 * k_span * k_table)) {
            return 0.0;
        }
        const size_t i = static_cast<size_t>(u);
        const double f = u - double(i);
        return table[i] * (1.0 - f) + table[i + 1] * f;
    }

    // Steps 1-2: samples per symbol and the time of a symbol instant; x is at unit power.
    double rate_and_timing(const gr_complex* xs, size_t len, double* t0)
    {
        std::fill(total.begin(), total.end(), 0.0);
        for (int tau = 0; tau < k_lags; tau++) {
            gr_complex* in = fft_rate.get_inbuf();
            std::fill(in, in + nf, gr_complex(0.0f, 0.0f));
            cd mean(0.0, 0.0);
            for (size_t n = size_t(tau); n < len; n++) {
                mean += cd(xs[n] * std::conj(xs[n - tau]));
            }
            mean /= double(len);
            for (size_t n = 0; n < len; n++) {
                const cd p = n >= size_t(tau) ? cd(xs[n] * std::conj(xs[n - tau])) : cd(0.0, 0.0);
                in[n] = gr_complex((p - mean) * double(hann[n]));
            }
            fft_rate.execute();
            const gr_complex* out = fft_rate.get_outbuf();
            for (size_t k = 0; k < nf; k++) {
                total[k] += double(std::norm(out[k]));
            }
        }
        // The line with the largest ratio to its local floor: the mean over +-8 frame resolutions, the
        // +-1.5 nearest left out (the continuous part of the lag products' spectrum grows towards 0).
        const size_t res = nf / len;
        const long half = long(8 * res), gap = long(3 * res / 2);
        prefix[0] = 0.0;
        for (size_t k = 0; k < nf; k++) {
            prefix[k + 1] = prefix[k] + total[k];
        }
        auto range_sum = [&](long a, long b) { // sum of total[a..b], circular, a <= b, |b - a| < nf
            double s = 0.0;
            while (a < 0) {
                s += prefix[nf] - prefix[size_t(a + long(nf))];
                a = 0;
            }
            if (b >= long(nf)) {
                s += prefix[size_t(b - long(nf)) + 1];
                b = long(nf) - 1;
            }
            return s + prefix[size_t(b) + 1] - prefix[size_t(a)];
        };
        const long lo = long(std::ceil(double(nf) / k_max_sps));
        const long hi = long(std::floor(double(nf) / k_min_sps));
        const double count = double(2 * half + 1 - (2 * gap + 1));
        // where the lag products have no power at all (beyond their bandwidth, noise-free frames) the floor
        // is window leakage; a thousandth of the mean power (under the noise floor of any real frame, 30 dB
        // SNR included) keeps such empty bins from looking like lines
        const double least = 1e-3 * prefix[nf] / double(nf);
        long best = -1;
        double best_ratio = -1.0;
        for (long i = lo; i <= hi; i++) {
            const double floor_mean =
                (range_sum(i - half, i + half) - range_sum(i - gap, i + gap)) / count;
            const double ratio = total[size_t(i)] / std::max(floor_mean, least);
            if (ratio > best_ratio) {
                best_ratio = ratio;
                best = i;
            }
        }
        const double fs = (double(best) + parabolic(total, size_t(best))) / double(nf);
        // timing: |x|^2 of an RRC-shaped signal peaks at the symbol instants
        double pm = 0.0;
        for (size_t n = 0; n < len; n++) {
            power[n] = double(std::norm(xs[n]));
            pm += power[n];
        }
        pm /= double(len);
        cd acc(0.0, 0.0), rot(1.0, 0.0);
        const cd step = std::polar(1.0, -2.0 * k_pi * fs);
        for (size_t n = 0; n < len; n++) {
            acc += (power[n] - pm) * rot;
            rot *= step;
            if ((n & 255) == 255) {
                rot /= std::abs(rot);
            }
        }
        const double period = 1.0 / fs;
        double t = std::fmod(-std::arg(acc) / (2.0 * k_pi * fs), period);
        if (t < 0.0) {
            t += period;
        }
        *t0 = t;
        return period;
    }

    // Step 3: matched-filter samples at 2 per symbol from the first symbol instant clear of the edges.
    void matched(const gr_complex* xs, size_t len, double sps, double t0)
    {
        b2.clear();
        const double edge = k_span * sps;
        const double first = t0 + sps * std::ceil((edge - t0) / sps);
        for (double t = first; t < double(len) - edge; t += sps / 2.0) {
            const long n0 = std::max(0L, long(std::ceil(t - edge)));
            const long n1 = std::min(long(len) - 1, long(std::floor(t + edge)));
            cd acc(0.0, 0.0);
            const double inv = 1.0 / sps;
            for (long n = n0; n <= n1; n++) {
                acc += cd(xs[n]) * rrc((t - double(n)) * inv);
            }
            b2.push_back(gr_complex(acc));
        }
    }

    // Step 4: block-gradient fractionally spaced CMA on b2 -> eq at one sample per symbol.
    void cma()
    {
        eq.clear();
        if (b2.size() < size_t(k_taps) + 2) {
            return;
        }
        double p = 0.0;
        for (const auto& v : b2) {
            p += double(std::norm(v));
        }
        const double g = p > 0.0 ? 1.0 / std::sqrt(p / double(b2.size())) : 0.0;
        std::vector<cd> xs(b2.size());
        for (size_t i = 0; i < b2.size(); i++) {
            xs[i] = cd(b2[i]) * g;
        }
        const size_t ns = (xs.size() - k_taps) / 2;
        std::vector<cd> w(k_taps, cd(0.0, 0.0)), grad(k_taps), y(ns);
        w[2 * (k_taps / 4)] = 1.0;
        auto output = [&]() {
            for (size_t k = 0; k < ns; k++) {
                cd acc(0.0, 0.0);
                for (int j = 0; j < k_taps; j++) {
                    acc += xs[2 * k + j] * std::conj(w[j]);
                }
                y[k] = acc;
            }
        };
        // Each step: the output at unit power (w scaled with it), then the gradient step on the
        // constant-modulus cost mean((|y|^2 - R)^2), R = mean|y|^4 / mean|y|^2.
        for (int it = 0; it < k_iters; it++) {
            output();
            double m2 = 0.0, m4 = 0.0;
            for (size_t k = 0; k < ns; k++) {
                const double a = std::norm(y[k]);
                m2 += a;
                m4 += a * a;
            }
            if (!(m2 > 0.0) || !std::isfinite(m2)) {
                return;
            }
            const double s = 1.0 / std::sqrt(m2 / double(ns));
            for (auto& v : w) {
                v *= s;
            }
            for (size_t k = 0; k < ns; k++) {
                y[k] *= s;
            }
            const double r = (m4 * s * s * s * s) / (m2 * s * s);
            std::fill(grad.begin(), grad.end(), cd(0.0, 0.0));
            for (size_t k = 0; k < ns; k++) {
                const cd e = std::conj(y[k]) * (std::norm(y[k]) - r);
                for (int j = 0; j < k_taps; j++) {
                    grad[j] += xs[2 * k + j] * e;
                }
            }
            for (int j = 0; j < k_taps; j++) {
                w[j] -= k_mu * grad[j] / double(ns);
            }
        }
        output();
        eq.resize(ns);
        for (size_t k = 0; k < ns; k++) {
            eq[k] = gr_complex(y[k]);
        }
    }

    double line(const std::vector<cd>& um) // max_f |mean(um e^{-j 2 pi f k})|
    {
        gr_complex* in = fft_line.get_inbuf();
        std::fill(in, in + nl, gr_complex(0.0f, 0.0f));
        const size_t n = std::min(um.size(), nl);
        for (size_t k = 0; k < n; k++) {
            in[k] = gr_complex(um[k]);
        }
        fft_line.execute();
        const gr_complex* out = fft_line.get_outbuf();
        float best = 0.0f;
        for (size_t k = 0; k < nl; k++) {
            best = std::max(best, std::norm(out[k]));
        }
        return std::sqrt(double(best)) / double(n);
    }

    // Step 5: the features of one set of symbol-spaced samples.
    void set_features(const std::vector<gr_complex>& z0, float* out)
    {
        std::fill(out, out + k_per_set, 0.0f);
        const size_t n = z0.size();
        if (n < 8) {
            return;
        }
        double p = 0.0;
        for (const auto& v : z0) {
            p += double(std::norm(v));
        }
        if (!(p > 0.0) || !std::isfinite(p)) {
            return;
        }
        const double g = 1.0 / std::sqrt(p / double(n));
        std::vector<cd> z(n), u(n);
        std::vector<double> a(n);
        for (size_t k = 0; k < n; k++) {
            z[k] = cd(z0[k]) * g;
            a[k] = std::abs(z[k]);
            u[k] = a[k] > 1e-9 ? z[k] / a[k] : cd(0.0, 0.0);
        }
        size_t o = 0;
        std::vector<cd> um(u);
        for (int i = 0; i < k_powers; i++) { // each power the square of the one before
            for (auto& v : um) {
                v *= v;
            }
            out[o++] = float(line(um));
        }
        double m4 = 0.0, m6 = 0.0, m1 = 0.0;
        for (size_t k = 0; k < n; k++) {
            const double a2 = a[k] * a[k];
            m1 += a[k];
            m4 += a2 * a2;
            m6 += a2 * a2 * a2;
        }
        m1 /= double(n);
        double var = 0.0;
        for (size_t k = 0; k < n; k++) {
            var += (a[k] - m1) * (a[k] - m1);
        }
        out[o++] = float(m4 / double(n));
        out[o++] = float(m6 / double(n));
        out[o++] = float(std::sqrt(var / double(n)));
        for (size_t k = 0; k < n; k++) {
            const int b = int(a[k] / 2.0 * k_amp_bins);
            if (b >= 0 && b < k_amp_bins) {
                out[o + size_t(b)] += float(1.0 / double(n));
            }
        }
        o += k_amp_bins;
        // carrier from the line of z^4 (parabolic refinement), then the phase folded into [0, pi/2)
        gr_complex* in = fft_rate.get_inbuf();
        std::fill(in, in + nf, gr_complex(0.0f, 0.0f));
        for (size_t k = 0; k < n && k < nf; k++) {
            in[k] = gr_complex(z[k] * z[k] * z[k] * z[k]);
        }
        fft_rate.execute();
        const gr_complex* spec = fft_rate.get_outbuf();
        size_t best = 0;
        for (size_t k = 0; k < nf; k++) {
            total[k] = double(std::norm(spec[k]));
            if (total[k] > total[best]) {
                best = k;
            }
        }
        double f = (double(best) + parabolic(total, best)) / double(nf);
        if (f >= 0.5) {
            f -= 1.0;
        }
        const double w = 2.0 * k_pi * f / 4.0;
        const double ph = std::arg(cd(spec[best])) / 4.0;
        cd rot = std::polar(1.0, -ph);
        const cd step = std::polar(1.0, -w);
        for (size_t k = 0; k < n; k++) {
            const cd zc = z[k] * rot;
            rot *= step;
            double ang = std::fmod(std::arg(zc), k_pi / 2.0);
            if (ang < 0.0) {
                ang += k_pi / 2.0;
            }
            const double r = std::abs(zc);
            const int bi = int(r * std::cos(ang) / 1.6 * k_iq_bins);
            const int bq = int(r * std::sin(ang) / 1.6 * k_iq_bins);
            if (bi >= 0 && bi < k_iq_bins && bq >= 0 && bq < k_iq_bins) {
                out[o + size_t(bi * k_iq_bins + bq)] += float(1.0 / double(n));
            }
        }
    }
};

size_t order_features::feature_size() { return 2 * k_per_set + 1; }

order_features::order_features(size_t frame_len)
    : d_len(frame_len), d_impl(nullptr)
{
    if (frame_len < min_frame_len || frame_len > size_t(1) << 20) {
        throw std::invalid_argument("order_features: frame_len must be in 128..2^20, got " +
                                    std::to_string(frame_len));
    }
    d_impl.reset(new impl(frame_len));
}

order_features::~order_features() = default;

bool order_features::compute(const gr_complex* frame, float* out)
{
    impl& m = *d_impl;
    std::fill(out, out + feature_size(), 0.0f);
    d_last_sps = 0.0;
    d_last_t0 = 0.0;
    double p = 0.0;
    for (size_t n = 0; n < d_len; n++) {
        p += double(std::norm(frame[n]));
    }
    if (!(p > 0.0) || !std::isfinite(p)) {
        return false;
    }
    const float g = float(1.0 / std::sqrt(p / double(d_len)));
    volk_32f_s32f_multiply_32f(reinterpret_cast<float*>(m.x.data()),
                               reinterpret_cast<const float*>(frame),
                               g,
                               static_cast<unsigned int>(2 * d_len));
    double t0 = 0.0;
    const double sps = m.rate_and_timing(m.x.data(), d_len, &t0);
    d_last_sps = sps;
    d_last_t0 = t0;
    m.matched(m.x.data(), d_len, sps, t0);
    m.sym.clear();
    for (size_t i = 0; i < m.b2.size(); i += 2) {
        m.sym.push_back(m.b2[i]);
    }
    m.cma();
    m.set_features(m.sym, out);
    m.set_features(m.eq, out + k_per_set);
    out[2 * k_per_set] = float(std::log(sps));
    return true;
}

} // namespace amc
} // namespace gr
