#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""``amc.modulation_source``: a seeded source of any RadioML 2018.01A / 2016.10a class.

Output: complex64 baseband, unit average power, tagged with ``amc:truth`` (PMT symbol: the class name)
at offset 0 and every ``tag_interval`` samples. The samples come from
:class:`gnuradio.amc.dsp.modulation.Modulator` (pure numpy), which generates in fixed-size internal blocks,
so the stream is identical whatever chunk sizes the scheduler asks for. See docs/generation.md for
how each class is made.
"""
import numpy as np
import pmt
from gnuradio import gr

from .contract import TAG_TRUTH
from .dsp.modulation import ALL_CLASSES, Modulator
from .block_utils import add_periodic_tags, check_tag_interval, large_output_buffer

__all__ = ["modulation_source", "MODULATIONS"]

#: Every class name the source accepts (2018.01A names, then the 2016.10a-only names).
MODULATIONS = ALL_CLASSES


class modulation_source(gr.sync_block):
    """Seeded complex baseband source of one modulation class.

    Args:
        modulation: class name, one of :data:`MODULATIONS` (e.g. ``'QPSK'``, ``'128APSK'``, ``'AM-SSB-SC'``,
            ``'QAM16'``, ``'WBFM'``).
        samples_per_symbol: samples per symbol, any real number in [2, 32] (digital classes; the analog
            classes are defined at a nominal 200 kS/s and ignore it).
        rolloff: RRC roll-off in (0, 1] (linear classes and OQPSK with ``pulse='rrc'``).
        seed: non-negative integer; payload bits and audio derive from it.
        tag_interval: ``amc:truth`` every this many samples (0: only at offset 0).
        audio_file: optional PCM WAV file that drives the analog classes instead of the built-in
            speech-like audio.
        speech_pauses: True (default): the built-in audio pauses between words and phrases, as speech
            does (about 31 % of the time; in a pause the analog classes send a bare carrier, or nothing
            for the suppressed-carrier ones, and cannot be told apart). False: continuous speech.
            Only for the built-in audio (False with an ``audio_file`` is an error).
        pulse: pulse of the linear classes and OQPSK: ``'rrc'`` (root-raised cosine, ``rolloff``),
            ``'rect'`` (rectangular, one symbol long) or ``'gaussian'`` (Gaussian, ``bt``).
        bt: bandwidth-time product of the Gaussian pulse, in [0.1, 2] (``pulse='gaussian'`` only).
        timing_offset: where sample 0 falls in the symbol period, a fraction of a symbol in [0, 1):
            symbol k is centred on sample (k - timing_offset) * samples_per_symbol (digital classes).
    """

    def __init__(self, modulation="QPSK", samples_per_symbol=8, rolloff=0.35, seed=0, tag_interval=1024,
                 audio_file="", speech_pauses=True, pulse="rrc", bt=0.5, timing_offset=0.0):
        self.tag_interval = check_tag_interval(tag_interval)
        if audio_file is None:
            audio_file = ""
        if not isinstance(audio_file, str):
            raise ValueError(f"audio_file: expected a path string ('' for the built-in audio), got {audio_file!r}")
        self.mod = Modulator(modulation, samples_per_symbol, rolloff, seed, audio_file, speech_pauses, pulse, bt,
                             timing_offset)
        gr.sync_block.__init__(self, name="amc_modulation_source", in_sig=None, out_sig=[np.complex64])
        large_output_buffer(self)
        self.modulation = modulation
        self._key = pmt.intern(TAG_TRUTH)
        self._val = pmt.intern(modulation)
        self._src = pmt.intern(self.alias() if hasattr(self, "alias") else "amc_modulation_source")

    def work(self, input_items, output_items):
        out = output_items[0]
        n = len(out)
        out[:] = self.mod.read(n)
        start = self.nitems_written(0)
        add_periodic_tags(self, start, n, self.tag_interval, self._key, self._val, self._src)
        return n
