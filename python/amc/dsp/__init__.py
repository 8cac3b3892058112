#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The signal processing behind gr-amc's generator blocks: pure numpy and scipy, no GNU Radio, no torch.

- :mod:`.modulation`: :class:`~.modulation.Modulator`, an endless seeded baseband stream of any RadioML
  2016.10a / 2018.01A class (used by ``amc.modulation_source`` and the batch generator).
- :mod:`.audio`: the analog classes' audio (speech-like synthesis, WAV files through scipy).
- :mod:`.filters`: pulse shapes, streaming FIR and polyphase filters, the fractional pulse shaper.
- :mod:`.channel`: :class:`~.channel.ChannelModel` and the channel presets (:data:`~.channel.PRESETS`): the
  impairments of ``amc.radioml_channel`` (clock and carrier offset walks, fading multipath, AWGN at an Es/N0).

Layer: imports only :mod:`gnuradio.amc.contract` (class lists) from the rest of the package; everything above
(blocks, batch generator, training) imports from here, never the reverse.
"""
