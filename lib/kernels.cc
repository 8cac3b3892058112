/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <gnuradio/amc/kernels.h>
#include <volk/volk.h>
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <stdexcept>

namespace gr {
namespace amc {

namespace {
const std::vector<std::string> k_mode_names = { "rms", "peak", "l1", "iq_std", "none" };

void zero(gr_complex* out, size_t len)
{
    std::fill(out, out + len, gr_complex(0.0f, 0.0f));
}

void scale(const gr_complex* in, gr_complex* out, size_t len, float s)
{
    // interleaved floats: one multiply over 2*len values
    volk_32f_s32f_multiply_32f(reinterpret_cast<float*>(out),
                               reinterpret_cast<const float*>(in),
                               s,
                               static_cast<unsigned int>(2 * len));
}
} // namespace

std::vector<std::string> norm_mode_names() { return k_mode_names; }

norm_mode parse_norm_mode(const std::string& name)
{
    for (size_t i = 0; i < k_mode_names.size(); i++) {
        if (k_mode_names[i] == name) {
            return static_cast<norm_mode>(i);
        }
    }
    throw std::invalid_argument("amc: unknown normalization mode '" + name +
                                "'; allowed: rms, peak, l1, iq_std, none");
}

std::string norm_mode_name(norm_mode mode)
{
    return k_mode_names.at(static_cast<size_t>(mode));
}

frame_status normalize_frame(const gr_complex* in, gr_complex* out, size_t len, norm_mode mode)
{
    if (len == 0) {
        return frame_status::ZERO_POWER;
    }
    const float* f = reinterpret_cast<const float*>(in);
    // Power in double: finite for any finite float input, NaN/Inf otherwise; and the
    // largest |I| or |Q| (to tell a frame of zero or subnormal values).
    double p0 = 0.0, p1 = 0.0, p2 = 0.0, p3 = 0.0;
    float m0 = 0.0f, m1 = 0.0f;
    size_t i = 0;
    const size_t n2 = 2 * len;
    for (; i + 4 <= n2; i += 4) {
        p0 += double(f[i]) * f[i];
        p1 += double(f[i + 1]) * f[i + 1];
        p2 += double(f[i + 2]) * f[i + 2];
        p3 += double(f[i + 3]) * f[i + 3];
        m0 = std::max(m0, std::max(std::fabs(f[i]), std::fabs(f[i + 2])));
        m1 = std::max(m1, std::max(std::fabs(f[i + 1]), std::fabs(f[i + 3])));
    }
    for (; i < n2; i++) {
        p0 += double(f[i]) * f[i];
        m0 = std::max(m0, std::fabs(f[i]));
    }
    const double power = (p0 + p1) + (p2 + p3);
    if (!std::isfinite(power)) {
        zero(out, len);
        return frame_status::NON_FINITE;
    }
    // Zero, or a level that underflows (every value subnormal): zeros in every mode.
    if (power == 0.0 || std::max(m0, m1) < FLT_MIN) {
        zero(out, len);
        return frame_status::ZERO_POWER;
    }
    // A scale factor (positive, in double) that is not a finite float: the level underflows.
    auto usable = [](double g) { return g <= double(FLT_MAX); };
    switch (mode) {
    case norm_mode::RMS: {
        const double g = 1.0 / std::sqrt(power / double(len));
        if (!usable(g)) {
            zero(out, len);
            return frame_status::ZERO_POWER;
        }
        scale(in, out, len, static_cast<float>(g));
        break;
    }
    case norm_mode::PEAK: {
        double m = 0.0;
        for (size_t k = 0; k < len; k++) {
            const double a = double(f[2 * k]) * f[2 * k] + double(f[2 * k + 1]) * f[2 * k + 1];
            m = a > m ? a : m;
        }
        const double g = 1.0 / std::sqrt(m);
        if (!usable(g)) {
            zero(out, len);
            return frame_status::ZERO_POWER;
        }
        scale(in, out, len, static_cast<float>(g));
        break;
    }
    case norm_mode::L1: {
        double s = 0.0;
        for (size_t k = 0; k < len; k++) {
            s += std::sqrt(double(f[2 * k]) * f[2 * k] + double(f[2 * k + 1]) * f[2 * k + 1]);
        }
        const double g = 1.0 / s;
        if (!usable(g)) {
            zero(out, len);
            return frame_status::ZERO_POWER;
        }
        scale(in, out, len, static_cast<float>(g));
        break;
    }
    case norm_mode::IQ_STD: {
        double si = 0.0, sq = 0.0, sii = 0.0, sqq = 0.0;
        for (size_t k = 0; k < len; k++) {
            const double a = f[2 * k], b = f[2 * k + 1];
            si += a;
            sq += b;
            sii += a * a;
            sqq += b * b;
        }
        const double mi = si / len, mq = sq / len;
        const double vi = std::max(sii / len - mi * mi, 0.0);
        const double vq = std::max(sqq / len - mq * mq, 0.0);
        // A rail with no spread (e.g. Q of a noiseless BPSK), or a spread so small that its
        // scale is not a finite float, is left unscaled.
        const double di = vi > 0.0 ? 1.0 / std::sqrt(vi) : 1.0;
        const double dq = vq > 0.0 ? 1.0 / std::sqrt(vq) : 1.0;
        const float gi = usable(di) ? static_cast<float>(di) : 1.0f;
        const float gq = usable(dq) ? static_cast<float>(dq) : 1.0f;
        for (size_t k = 0; k < len; k++) {
            out[k] = gr_complex(in[k].real() * gi, in[k].imag() * gq);
        }
        break;
    }
    case norm_mode::NONE:
        if (out != in) {
            std::copy(in, in + len, out);
        }
        break;
    }
    return frame_status::OK;
}

void check_framing(long frame_len, long hop)
{
    if (frame_len <= 0) {
        throw std::invalid_argument("amc: frame_len must be > 0, got " +
                                    std::to_string(frame_len));
    }
    if (frame_len > max_frame_len) {
        throw std::invalid_argument("amc: frame_len must be <= " +
                                    std::to_string(max_frame_len) + " (2^20), got " +
                                    std::to_string(frame_len));
    }
    if (hop <= 0) {
        throw std::invalid_argument("amc: hop must be > 0, got " + std::to_string(hop));
    }
    if (hop > max_hop) {
        throw std::invalid_argument("amc: hop must be <= " + std::to_string(max_hop) +
                                    " (2^30), got " + std::to_string(hop));
    }
}

size_t frame_count(size_t n, size_t frame_len, size_t hop)
{
    if (frame_len == 0 || hop == 0 || n < frame_len) {
        return 0;
    }
    return (n - frame_len) / hop + 1;
}

size_t extract_frames(
    const gr_complex* in, size_t n, size_t frame_len, size_t hop, gr_complex* out)
{
    const size_t nf = frame_count(n, frame_len, hop);
    for (size_t k = 0; k < nf; k++) {
        std::copy(in + k * hop, in + k * hop + frame_len, out + k * frame_len);
    }
    return nf;
}

} // namespace amc
} // namespace gr
