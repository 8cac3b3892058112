/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_AMC_ORDER_FEATURES_H
#define INCLUDED_AMC_ORDER_FEATURES_H

#include <gnuradio/amc/api.h>
#include <gnuradio/gr_complex.h>
#include <cstddef>
#include <memory>
#include <vector>

namespace gr {
namespace amc {

/*!
 * \brief The blind receiver front end of the order specialists (docs/classifier.md, "Front ends").
 *
 * For one frame of a linearly modulated signal at an unknown symbol rate, timing and carrier:
 *  1. the symbol rate from the cyclic autocorrelation: the spectral line at the symbol rate of the lag
 *     products x(n) x*(n - tau), tau = 0..3, powers added, searched for 3.5..17 samples per symbol as the
 *     largest ratio to the local floor, refined by parabolic interpolation of the log power;
 *  2. the symbol timing from the phase of the line of |x|^2 at that rate;
 *  3. a root-raised-cosine matched filter (roll-off 0.35, 8 symbols each side) evaluated at 2 samples per
 *     symbol from the first symbol instant clear of the frame's edge;
 *  4. a 7-tap fractionally spaced constant-modulus equalizer (CMA) adapted on the frame's own symbols:
 *     30 steps of block gradient descent (step 0.05, output power held at 1) from a centre spike;
 *  5. for the symbol-spaced samples before (b) and after (e) the equalizer, each scaled to unit power:
 *     the spectral-line strengths max_f |mean((z/|z|)^M e^{-j 2 pi f k})| for M = 2, 4, 8, 16, 32 (carrier
 *     offset and phase do not matter), mean |z|^4, mean |z|^6, the standard deviation of |z|, a 12-bin
 *     histogram of |z| over [0, 2), and an 8 x 8 histogram over [0, 1.6)^2 of z after removing the carrier
 *     (from the 4th power's line) and folding the phase into [0, pi/2);
 *  6. the natural log of the estimated samples per symbol.
 *
 * That is 2 * (5 + 3 + 12 + 64) + 1 = 169 floats, in that order (b first): version 1.  Version 2 (the default)
 * appends 138 floats, 307 in all:
 *  7. decision-directed fits per QAM grid (16, 32, 64, 128, 256QAM, unit power): from two starts (the CMA's
 *     taps and a plain matched filter) the carrier from the 4th power's line (its mean is negative real for
 *     QPSK and QAM: pi/4 taken off; for the cross grids 32 and 128QAM, whose plain line is weak, each
 *     (z/|z|)^4 weighted by the mean over its ring of the grid, searched within +-0.05 cycles per symbol) and
 *     the best of 4 phase rotations in [0, pi/2), then 3 rounds of slicing to the grid, a linear phase fit of
 *     the decisions and a least-squares refit of the 7 taps; 64 and 256QAM also start from the 16QAM fit,
 *     128QAM from the 32QAM fit (their points cluster around those grids' at unit power). Per grid the
 *     natural log of (mean squared distance to the grid / the grid's squared minimum distance + 1e-6) and the
 *     gain |sum y d*| / sum |d|^2 of the best start: 10 floats;
 *  8. the 8 x 8 folded constellation histogram of 5 again, with the carrier phase of 7, after (e) and
 *     before (b) the equalizer: 128 floats.
 * The frame is scaled
 * to unit power first; an all-zero frame, one that is too short (under 128 samples) or that holds NaN/Inf
 * gives all-zero features. Deterministic; one object per thread (it owns its FFT plans and buffers).
 */
class AMC_API order_features
{
public:
    //! Latest version of the feature definition (written into model files, amc.front_end).
    static constexpr int version = 2;
    //! Oldest version still computed.
    static constexpr int min_version = 1;
    //! Number of features per frame of a version (169 for 1, 307 for 2).
    static size_t feature_size(int version = order_features::version);
    //! Shortest frame accepted (shorter frames give zeros).
    static constexpr size_t min_frame_len = 128;

    //! Throws std::invalid_argument for a frame_len outside 128..2^20 or a version outside min_version..version.
    explicit order_features(size_t frame_len, int version = order_features::version);
    ~order_features();
    order_features(const order_features&) = delete;
    order_features& operator=(const order_features&) = delete;

    //! Features of one frame of frame_len() samples into out[0 .. size()).
    //! Returns false (features all zero) for a zero, too short or non-finite frame.
    bool compute(const gr_complex* frame, float* out);

    size_t frame_len() const { return d_len; }
    //! The version this object computes and its number of features.
    int feature_version() const { return d_version; }
    size_t size() const { return feature_size(d_version); }
    //! Samples per symbol estimated for the last frame (0 if none).
    double last_samples_per_symbol() const { return d_last_sps; }
    //! Timing (time of a symbol instant, samples) estimated for the last frame.
    double last_timing() const { return d_last_t0; }

private:
    struct impl;
    size_t d_len;
    int d_version;
    double d_last_sps = 0.0;
    double d_last_t0 = 0.0;
    std::unique_ptr<impl> d_impl;
};

} // namespace amc
} // namespace gr

#endif /* INCLUDED_AMC_ORDER_FEATURES_H */
