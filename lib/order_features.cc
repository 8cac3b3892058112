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
// version 2: decision-directed fits per QAM grid, and the folded histograms with the pi/4-corrected carrier
constexpr int k_grids = 5;                  // 16, 32, 64, 128, 256QAM
constexpr int k_dd_steps = 3;              // rounds of slicing, phase fit and taps refit
constexpr int k_dd_phases = 4;              // initial rotations in [0, pi/2)
constexpr int k_dd_starts = 2;             // the CMA's taps, then a plain matched filter
constexpr double k_dd_ridge = 1e-2;         // least-squares taps: ridge = k_dd_ridge * symbols
constexpr size_t k_v1_size = 2 * k_per_set + 1;
constexpr size_t k_v2_size = k_v1_size + 2 * k_grids + 2 * k_iq_bins * k_iq_bins;

// A QAM grid: odd levels -(m-1)..(m-1) per axis, scaled by c to unit power; cross grids leave out the
// corners where both |levels| exceed lim.
struct qam_grid {
    int m;
    int lim;  // 0: square
    double c; // level spacing / 2
    double inv_c;
};
const qam_grid k_qam[k_grids] = {
    { 4, 0, 1.0 / std::sqrt(10.0), std::sqrt(10.0) },  { 6, 3, 1.0 / std::sqrt(20.0), std::sqrt(20.0) },
    { 8, 0, 1.0 / std::sqrt(42.0), std::sqrt(42.0) },  { 12, 7, 1.0 / std::sqrt(82.0), std::sqrt(82.0) },
    { 16, 0, 1.0 / std::sqrt(170.0), std::sqrt(170.0) },
};

// The rings of a grid at unit power: |p|^2 and the mean of (p/|p|)^4 over the ring's points (real by the
// grid's symmetry), sorted by |p|^2.
struct grid_rings {
    std::vector<double> r2, u4;
    explicit grid_rings(const qam_grid& g)
    {
        std::vector<std::pair<double, double>> pts; // (r2, Re u^4)
        for (int i = -(g.m - 1); i <= g.m - 1; i += 2) {
            for (int q = -(g.m - 1); q <= g.m - 1; q += 2) {
                if (g.lim > 0 && std::abs(i) > g.lim && std::abs(q) > g.lim) {
                    continue;
                }
                const cd p(g.c * i, g.c * q);
                const cd u = p / std::abs(p);
                pts.emplace_back(std::norm(p), ((u * u) * (u * u)).real());
            }
        }
        std::sort(pts.begin(), pts.end());
        for (size_t a = 0; a < pts.size();) {
            size_t b = a;
            double sum = 0.0;
            while (b < pts.size() && pts[b].first - pts[a].first < 1e-9) {
                sum += pts[b].second;
                b++;
            }
            r2.push_back(pts[a].first);
            u4.push_back(sum / double(b - a));
            a = b;
        }
    }
    double weight(double a2) const // E[u^4] of the ring nearest |z|^2 = a2
    {
        const auto it = std::lower_bound(r2.begin(), r2.end(), a2);
        size_t i = size_t(it - r2.begin());
        if (i == r2.size() || (i > 0 && a2 - r2[i - 1] < r2[i] - a2)) {
            i--;
        }
        return u4[i];
    }
};
const grid_rings k_rings32(k_qam[1]), k_rings128(k_qam[3]);
// the grids whose carrier is ring-weighted (the cross grids), by grid
const grid_rings* const k_ring_carrier[k_grids] = { nullptr, &k_rings32, nullptr, &k_rings128, nullptr };
constexpr double k_max_cfo = 0.05; // cycles per symbol searched by the cross grids' carrier

inline int odd_level(double u, int m) // nearest odd integer to u in -(m-1)..(m-1)
{
    const int top = m - 1;
    const double h = std::max(-double(m), std::min(double(m), u)) * 0.5 + 64.0; // > 0: truncation is floor
    const int l = 2 * (int(h) - 64) + 1;
    return std::max(-top, std::min(top, l));
}

inline cd slice(const cd& y, const qam_grid& g)
{
    const double ur = y.real() * g.inv_c, ui = y.imag() * g.inv_c;
    int li = odd_level(ur, g.m), lq = odd_level(ui, g.m);
    if (g.lim > 0 && std::abs(li) > g.lim && std::abs(lq) > g.lim) {
        const int ai = li > 0 ? g.lim : -g.lim, aq = lq > 0 ? g.lim : -g.lim;
        const double di = (ur - ai) * (ur - ai) + (ui - lq) * (ui - lq);
        const double dq = (ur - li) * (ur - li) + (ui - aq) * (ui - aq);
        if (di < dq) {
            li = ai;
        } else {
            lq = aq;
        }
    }
    return cd(g.c * li, g.c * lq);
}

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
    // The carrier found for a set (steps 5, 7, 8 share it), with its unit-power symbols.
    struct set_carrier {
        bool ok = false;
        double w = 0.0, arg = 0.0; // per-symbol frequency, phase of the 4th power's line
        std::vector<cd> z;
    };

    size_t nf;  // rate search and carrier FFT size (>= 4 L)
    size_t nl;  // spectral-line FFT size (>= L)
    gr::fft::fft_complex_fwd fft_rate;
    gr::fft::fft_complex_fwd fft_line;
    std::vector<double> table;  // RRC at k_table points per symbol over [-k_span, k_span]
    std::vector<float> hann;
    std::vector<gr_complex> x, b2, sym, eq;
    std::vector<double> total, power, prefix, linepw;
    std::vector<cd> fx, cw; // the equalizer's unit-power input at 2 samples/symbol and its taps (y = sum fx conj(cw))
    size_t fns = 0;         // its output symbols
    set_carrier car_b, car_e; // the carriers of the sets before and after the equalizer (version 2)

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
          prefix(pow2_at_least(4 * len) + 1),
          linepw(pow2_at_least(len))
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
        fns = 0;
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
        fx.swap(xs);
        cw = w;
        fns = ns;
    }

    // The strongest line of an n-point spectrum (|spec|^2 into pw), among the bins at offsets -half..half from
    // 0 or, for half < 0, all bins: its bin, and its frequency in cycles per sample (-0.5..0.5) refined by
    // parabolic interpolation.
    static double line_peak(const gr_complex* spec, size_t n, long half, std::vector<double>& pw, size_t* at)
    {
        for (size_t k = 0; k < n; k++) {
            pw[k] = double(std::norm(spec[k]));
        }
        const long lo = half < 0 ? 0 : -half, hi = half < 0 ? long(n) - 1 : half;
        size_t best = 0;
        double top = -1.0;
        for (long i = lo; i <= hi; i++) {
            const size_t k = size_t((i + long(n)) % long(n));
            if (pw[k] > top) {
                top = pw[k];
                best = k;
            }
        }
        double f = (double(best) + parabolic(pw, best)) / double(n);
        if (f >= 0.5) {
            f -= 1.0;
        }
        *at = best;
        return f;
    }

    // The carrier of unit-power symbols z from the line of z^4 (parabolic refinement): the per-symbol
    // frequency (radians) and the line's phase (radians, of the 4th power).
    void carrier(const std::vector<cd>& z, double* w, double* arg)
    {
        const size_t n = z.size();
        gr_complex* in = fft_rate.get_inbuf();
        std::fill(in, in + nf, gr_complex(0.0f, 0.0f));
        for (size_t k = 0; k < n && k < nf; k++) {
            in[k] = gr_complex(z[k] * z[k] * z[k] * z[k]);
        }
        fft_rate.execute();
        const gr_complex* spec = fft_rate.get_outbuf();
        size_t best = 0;
        const double f = line_peak(spec, nf, -1, total, &best);
        *w = 2.0 * k_pi * f / 4.0;
        *arg = std::arg(cd(spec[best]));
    }

    // The 8 x 8 histogram over [0, 1.6)^2 of z e^{-j(ph + w k)}, phase folded into [0, pi/2).
    static void folded(const std::vector<cd>& z, double w, double ph, float* out)
    {
        const size_t n = z.size();
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
                out[size_t(bi * k_iq_bins + bq)] += float(1.0 / double(n));
            }
        }
    }

    // Step 8: the folded histogram of a set with the pi/4-corrected carrier phase.
    static void corrected_histogram(const set_carrier& car, float* out)
    {
        std::fill(out, out + k_iq_bins * k_iq_bins, 0.0f);
        if (car.ok) {
            folded(car.z, car.w, (car.arg - k_pi) / 4.0, out);
        }
    }

    // The ring-weighted 4th-power carrier of z (scaled by sqrt(g) to unit power) for a grid: per-symbol
    // frequency and phase of the largest line within +-k_max_cfo cycles per symbol (the weighted mean is
    // positive real at the right phase).
    void ring_carrier(const std::vector<cd>& z, double g, const grid_rings& rg, double* w, double* ph)
    {
        gr_complex* in = fft_line.get_inbuf();
        std::fill(in, in + nl, gr_complex(0.0f, 0.0f));
        const size_t n = std::min(z.size(), nl);
        for (size_t k = 0; k < n; k++) {
            const double a2 = std::norm(z[k]);
            if (a2 > 0.0) {
                const cd u2 = z[k] * z[k] / a2;
                in[k] = gr_complex(u2 * u2 * rg.weight(a2 * g));
            }
        }
        fft_line.execute();
        const gr_complex* spec = fft_line.get_outbuf();
        size_t best = 0;
        const double f = line_peak(spec, nl, long(std::floor(4.0 * k_max_cfo * double(nl))), linepw, &best);
        *w = 2.0 * k_pi * f / 4.0;
        *ph = std::arg(cd(spec[best])) / 4.0;
    }

    // Step 7: decision-directed fits per QAM grid on the equalizer's input (fx, fns symbols); the carriers of
    // the two starts are those of the sets after (e: the CMA's output) and before (b, one symbol earlier than
    // the plain matched filter's first output here) the equalizer.
    void dd_fits(float* out)
    {
        std::fill(out, out + 2 * k_grids, 0.0f);
        const size_t ns = fns;
        if (ns < 8 || !car_e.ok || !car_b.ok) {
            return;
        }
        // Gram matrix of the taps' inputs (a rotation per symbol leaves it unchanged), ridge added; its
        // Cholesky factor L (lower, row-major)
        cd gm[k_taps][k_taps];
        for (int a = 0; a < k_taps; a++) {
            for (int b = 0; b < k_taps; b++) {
                cd acc(0.0, 0.0);
                for (size_t k = 0; k < ns; k++) {
                    acc += std::conj(fx[2 * k + a]) * fx[2 * k + b];
                }
                gm[a][b] = acc;
            }
            gm[a][a] += k_dd_ridge * double(ns);
        }
        cd chol[k_taps][k_taps] = {};
        for (int i = 0; i < k_taps; i++) {
            for (int j = 0; j <= i; j++) {
                cd acc = gm[i][j];
                for (int k = 0; k < j; k++) {
                    acc -= chol[i][k] * std::conj(chol[j][k]);
                }
                if (i == j) {
                    chol[i][i] = std::sqrt(std::max(acc.real(), 1e-12));
                } else {
                    chol[i][j] = acc / chol[j][j].real();
                }
            }
        }
        auto solve = [&](const cd* rhs, cd* v) { // (L L^H) v = rhs
            cd t[k_taps];
            for (int i = 0; i < k_taps; i++) {
                cd acc = rhs[i];
                for (int k = 0; k < i; k++) {
                    acc -= chol[i][k] * t[k];
                }
                t[i] = acc / chol[i][i].real();
            }
            for (int i = k_taps - 1; i >= 0; i--) {
                cd acc = t[i];
                for (int k = i + 1; k < k_taps; k++) {
                    acc -= std::conj(chol[k][i]) * v[k];
                }
                v[i] = acc / chol[i][i].real();
            }
        };
        std::vector<cd> y(ns), rot(ns), d(ns), u(ns);
        auto filter = [&](const cd* v, std::vector<cd>& dst) { // dst_k = sum_j fx[2k + j] v_j
            for (size_t k = 0; k < ns; k++) {
                cd acc(0.0, 0.0);
                for (int j = 0; j < k_taps; j++) {
                    acc += fx[2 * k + j] * v[j];
                }
                dst[k] = acc;
            }
        };
        // y = u * rot at unit power, decisions d on grid g -> mean |y - d|^2
        auto fit = [&](const qam_grid& g) {
            double p = 0.0;
            for (size_t k = 0; k < ns; k++) {
                y[k] = u[k] * rot[k];
                p += std::norm(y[k]);
            }
            const double s = p > 0.0 ? 1.0 / std::sqrt(p / double(ns)) : 0.0;
            double e = 0.0;
            for (size_t k = 0; k < ns; k++) {
                y[k] *= s;
                d[k] = slice(y[k], g);
                e += std::norm(y[k] - d[k]);
            }
            return e / double(ns);
        };
        cd starts[k_dd_starts][k_taps];
        for (int j = 0; j < k_taps; j++) {
            starts[0][j] = std::conj(cw[j]);
            starts[1][j] = j == 2 * (k_taps / 4) ? cd(1.0, 0.0) : cd(0.0, 0.0);
        }
        // each start's output, filtered once for every grid
        std::vector<cd> u0[k_dd_starts];
        for (int s0 = 0; s0 < k_dd_starts; s0++) {
            u0[s0].resize(ns);
            filter(starts[s0], u0[s0]);
        }
        // start 0 (y = the CMA's output): the carrier of set e; start 1 (y_k = b_{k+1}): that of set b, one
        // symbol on.  The cross grids' 4th-power line is weak (its mean over the grid: -0.19 and -0.18 against
        // -0.6 to -0.68 for the square ones): their carrier weighs each (z/|z|)^4 by its ring's mean, searched
        // within +-k_max_cfo cycles per symbol.
        double cw4[k_grids][k_dd_starts], cph[k_grids][k_dd_starts];
        for (int s0 = 0; s0 < k_dd_starts; s0++) {
            const set_carrier& car = s0 == 0 ? car_e : car_b;
            double p = 0.0;
            for (const auto& v : u0[s0]) {
                p += std::norm(v);
            }
            const double g = p > 0.0 ? double(ns) / p : 0.0; // 1 / mean power
            for (int q = 0; q < k_grids; q++) {
                if (k_ring_carrier[q]) {
                    ring_carrier(u0[s0], g, *k_ring_carrier[q], &cw4[q][s0], &cph[q][s0]);
                } else {
                    cw4[q][s0] = car.w;
                    cph[q][s0] = (car.arg - k_pi) / 4.0 + (s0 == 0 ? 0.0 : car.w);
                }
            }
        }
        auto ramp = [&](double ph, double w) { // rot_k = e^{-j(ph + w k)}
            cd r = std::polar(1.0, -ph);
            const cd step = std::polar(1.0, -w);
            for (size_t k = 0; k < ns; k++) {
                rot[k] = r;
                r *= step;
            }
        };
        const double kc = 0.5 * double(ns - 1);
        // the fits of the coarse grids are the third start of the fine ones whose points cluster around
        // theirs at unit power: 64 and 256QAM around 16QAM's, 128QAM around 32QAM's
        const int coarse[k_grids] = { -1, -1, 0, 1, 0 };
        std::vector<cd> kept_v(size_t(k_grids) * k_taps), kept_rot(size_t(k_grids) * ns);
        for (int q = 0; q < k_grids; q++) {
            const qam_grid& g = k_qam[q];
            const double dmin2 = 4.0 * g.c * g.c;
            double best_res = -1.0, best_gain = 0.0;
            const int n_starts = coarse[q] < 0 ? k_dd_starts : k_dd_starts + 1;
            for (int s0 = 0; s0 < n_starts; s0++) {
                cd v[k_taps];
                if (s0 < k_dd_starts) {
                    std::copy(starts[s0], starts[s0] + k_taps, v);
                    u = u0[s0];
                    // carrier of this start, then the best of k_dd_phases rotations
                    double best_a = 0.0, best_e = -1.0;
                    for (int i = 0; i < k_dd_phases; i++) {
                        const double a = 0.5 * k_pi * double(i) / k_dd_phases;
                        ramp(cph[q][s0] - a, cw4[q][s0]);
                        const double e = fit(g);
                        if (best_e < 0.0 || e < best_e) {
                            best_e = e;
                            best_a = a;
                        }
                    }
                    ramp(cph[q][s0] - best_a, cw4[q][s0]);
                } else {
                    const size_t c = size_t(coarse[q]);
                    std::copy(&kept_v[c * k_taps], &kept_v[c * k_taps] + k_taps, v);
                    std::copy(&kept_rot[c * ns], &kept_rot[c * ns] + ns, rot.begin());
                    filter(v, u);
                }
                for (int it = 0; it < k_dd_steps; it++) {
                    fit(g);
                    // linear phase of y against d (small-angle, weights |d|^2): phi_k ~ a + b (k - kc)
                    double s0w = 0.0, s1 = 0.0, s2 = 0.0, r0 = 0.0, r1 = 0.0;
                    for (size_t k = 0; k < ns; k++) {
                        const double t = double(k) - kc;
                        const double wgt = std::norm(d[k]);
                        const double im = (y[k] * std::conj(d[k])).imag();
                        s0w += wgt;
                        s1 += wgt * t;
                        s2 += wgt * t * t;
                        r0 += im;
                        r1 += im * t;
                    }
                    const double det = s0w * s2 - s1 * s1;
                    if (det > 0.0) {
                        const double a = (r0 * s2 - r1 * s1) / det;
                        const double b = (s0w * r1 - s1 * r0) / det;
                        cd r = std::polar(1.0, -(a - b * kc));
                        const cd step = std::polar(1.0, -b);
                        for (size_t k = 0; k < ns; k++) {
                            rot[k] *= r;
                            r *= step;
                        }
                    }
                    // least-squares taps: min sum |rot_k (fx_k . v) - d_k|^2
                    cd rhs[k_taps] = {};
                    for (size_t k = 0; k < ns; k++) {
                        const cd t = std::conj(rot[k]) * d[k];
                        for (int j = 0; j < k_taps; j++) {
                            rhs[j] += std::conj(fx[2 * k + j]) * t;
                        }
                    }
                    solve(rhs, v);
                    filter(v, u);
                }
                const double res = fit(g);
                if (best_res < 0.0 || res < best_res) {
                    cd num(0.0, 0.0);
                    double den = 0.0;
                    for (size_t k = 0; k < ns; k++) {
                        num += y[k] * std::conj(d[k]);
                        den += std::norm(d[k]);
                    }
                    best_res = res;
                    best_gain = den > 0.0 ? std::abs(num) / den : 0.0;
                    std::copy(v, v + k_taps, &kept_v[size_t(q) * k_taps]);
                    std::copy(rot.begin(), rot.end(), &kept_rot[size_t(q) * ns]);
                }
            }
            out[2 * q] = float(std::log(best_res / dmin2 + 1e-6));
            out[2 * q + 1] = float(best_gain);
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
    void set_features(const std::vector<gr_complex>& z0, float* out, set_carrier* car = nullptr)
    {
        if (car) {
            car->ok = false;
        }
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
        double w = 0.0, arg = 0.0;
        carrier(z, &w, &arg);
        folded(z, w, arg / 4.0, out + o);
        if (car) {
            car->ok = true;
            car->w = w;
            car->arg = arg;
            car->z.swap(z);
        }
    }
};

size_t order_features::feature_size(int v)
{
    if (v < min_version || v > version) {
        throw std::invalid_argument("order_features: version must be " + std::to_string(min_version) + ".." +
                                    std::to_string(version) + ", got " + std::to_string(v));
    }
    return v == 1 ? k_v1_size : k_v2_size;
}

order_features::order_features(size_t frame_len, int v)
    : d_len(frame_len), d_version(v), d_impl(nullptr)
{
    if (frame_len < min_frame_len || frame_len > size_t(1) << 20) {
        throw std::invalid_argument("order_features: frame_len must be in 128..2^20, got " +
                                    std::to_string(frame_len));
    }
    feature_size(v); // checks the version
    d_impl.reset(new impl(frame_len));
}

order_features::~order_features() = default;

bool order_features::compute(const gr_complex* frame, float* out)
{
    impl& m = *d_impl;
    std::fill(out, out + size(), 0.0f);
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
    const bool v2 = d_version >= 2;
    m.set_features(m.sym, out, v2 ? &m.car_b : nullptr);
    m.set_features(m.eq, out + k_per_set, v2 ? &m.car_e : nullptr);
    out[2 * k_per_set] = float(std::log(sps));
    if (v2) {
        float* o = out + k_v1_size;
        m.dd_fits(o);
        m.corrected_histogram(m.car_e, o + 2 * k_grids);
        m.corrected_histogram(m.car_b, o + 2 * k_grids + k_iq_bins * k_iq_bins);
    }
    return true;
}

} // namespace amc
} // namespace gr
