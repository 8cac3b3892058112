#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""``amc.radioml_channel``: RadioML-style channel impairments as one GNU Radio block.

Sample-rate offset -> multipath fading -> carrier frequency offset -> random phase -> AWGN at an exact
Es/N0 (see :mod:`gnuradio.amc.dsp.channel` and docs/generation.md). Emits ``amc:snr_db`` (PMT double)
at output offset 0 and every ``tag_interval`` output samples, and passes every upstream tag
(``amc:truth`` ...) through; with a sample-rate offset an input tag lands on the output sample nearest
to its input time. Deterministic from the seed and independent of the scheduler's chunking.
"""
import math

import numpy as np
import pmt
from gnuradio import gr

from .block_utils import add_periodic_tags, check_tag_interval, large_output_buffer
from .contract import TAG_SNR
from .dsp.channel import FADING_MODES, PRESETS, SRO_HALF, ChannelModel

__all__ = ["radioml_channel", "PRESETS", "FADING_MODES"]


class radioml_channel(gr.basic_block):
    """RadioML-style channel: complex64 in, complex64 out.

    Args:
        preset: ``'rml2016'``, ``'rml2016-compat'``, ``'rml2018'`` or ``'awgn'`` (see docs/generation.md).
        snr_db: Es/N0 in dB; noise variance is 10**(-snr_db/10) (input assumed unit power).
        seed: non-negative integer (ignored by ``rml2016-compat``, which always uses 0x1337).
        samp_rate, sro_std, sro_max, cfo_std, cfo_max, fading, k_factor, doppler_hz, delays, mags,
        random_phase, noise: override the preset (None: the preset's value). Units: Hz (std: Hz per
        sample of the random walk), delays in samples, fading one of 'none', 'rayleigh', 'rician'.
        tag_interval: ``amc:snr_db`` every this many output samples (0: only at offset 0).
        random_start: start the SRO and CFO walks at a uniformly random point of +-max instead of 0
            (None: the preset's; True only in ``rml2018``).
    """

    def __init__(self, preset="rml2018", snr_db=10.0, seed=0, samp_rate=None, sro_std=None, sro_max=None,
                 cfo_std=None, cfo_max=None, fading=None, k_factor=None, doppler_hz=None, delays=None,
                 mags=None, random_phase=None, noise=None, tag_interval=1024, random_start=None):
        self.tag_interval = check_tag_interval(tag_interval)
        self.model = ChannelModel(preset=preset, snr_db=snr_db, seed=seed, samp_rate=samp_rate,
                                  sro_std=sro_std, sro_max=sro_max, cfo_std=cfo_std, cfo_max=cfo_max,
                                  fading=fading, k_factor=k_factor, doppler_hz=doppler_hz, delays=delays,
                                  mags=mags, random_phase=random_phase, noise=noise, random_start=random_start)
        gr.basic_block.__init__(self, name="amc_radioml_channel", in_sig=[np.complex64], out_sig=[np.complex64])
        self.set_tag_propagation_policy(gr.TPP_DONT)
        large_output_buffer(self)
        self.params = dict(self.model.p)
        self._snr_key = pmt.intern(TAG_SNR)
        self._snr_val = pmt.from_double(float(self.model.p["snr_db"]))
        self._src = pmt.intern("amc_radioml_channel")
        self._pending = []            # upstream tags consumed but not yet emitted: (offset, key, value, srcid)
        self._sro = self.model.use_sro
        self._max_ratio = 1.0 + self.model.p["sro_max"] / self.model.p["samp_rate"]

    def snr_db(self):
        return self.model.p["snr_db"]

    def forecast(self, noutput_items, ninputs):
        # one input per output: with SRO the block may produce fewer outputs than asked (it keeps 8
        # samples of interpolation context), which general blocks may do; asking for more would make
        # the scheduler drop the end of a finite stream
        return [noutput_items] * ninputs

    def general_work(self, input_items, output_items):
        inp = input_items[0]
        out = output_items[0]
        nin, nout = len(inp), len(out)
        m = self.model
        if self._sro:
            need = int(math.ceil(m.tau_next + nout * self._max_ratio)) + SRO_HALF + 2 - m.n_in
        else:
            need = nout - m._npending
        take = max(0, min(nin, need))
        if take:
            nread = self.nitems_read(0)
            for t in self.get_tags_in_range(0, nread, nread + take):
                self._pending.append((t.offset, t.key, t.value, t.srcid))
            m.push(inp[:take])
            self.consume(0, take)
        y, taus = m.pull(nout)
        n = len(y)
        if n == 0:
            return 0
        out[:n] = y
        start = self.nitems_written(0)
        # upstream tags
        if self._pending:
            keep = []
            for off, key, val, src in self._pending:
                if taus is None:
                    o = off if off < start + n else None
                else:
                    j = int(np.searchsorted(taus, off - 0.5, side="left"))
                    o = start + j if j < n else None
                if o is None:
                    keep.append((off, key, val, src))
                else:
                    self.add_item_tag(0, o, key, val, src)
            self._pending = keep
        # amc:snr_db
        add_periodic_tags(self, start, n, self.tag_interval, self._snr_key, self._snr_val, self._src)
        return n
