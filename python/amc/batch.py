#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The batch generator: the frames of ``gr-amc generate`` straight from numpy (no GNU Radio needed).

``gr-amc generate`` runs one GNU Radio flowgraph per shard (modulation_source -> radioml_channel ->
framer -> normalizer -> dataset_sink).  The two Python blocks only wrap the numpy classes
:class:`~gnuradio.amc.dsp.modulation.Modulator` and :class:`~gnuradio.amc.dsp.channel.ChannelModel`, so
this module makes the same frames without a flowgraph: the same shard plan (dataset_config), the same
seeds, the same samples, framed back to back and normalized as the C++ kernel does (a test compares
the two front doors frame by frame).  It needs only numpy and scipy, so it runs where GNU Radio is not
installed (a GPU machine) and inside DataLoader workers (training on the fly).

- :func:`shard_frames` (one shard's job) -> frames, labels, SNRs, parameters;
- :func:`dataset_frames` (a config) -> every frame of the dataset ``gr-amc generate`` would write, in its
  order;
- :func:`frames` (a config, n, seed) -> n frames of a random stream of shards (class and SNR drawn per
  shard), the stream training on the fly draws from.
"""
import numpy as np

from . import dataset_config
from .dsp.channel import ChannelModel
from .dsp.modulation import Modulator
from .dsp.normalize import normalize

#: Samples pushed through the channel per step.
_CHUNK = 1 << 16


def _channel_args(job):
    ch = dict(job["channel"])
    return dict(ch, preset=ch.pop("preset", "rml2018"), snr_db=float(job["snr"]), seed=job["channel_seed"])


def shard_samples(job):
    """The channel output of one shard: the first (skip_frames + n) * frame_length samples (complex64)."""
    mod = Modulator(job["cls"], seed=job["source_seed"], **job["source"])
    chan = ChannelModel(**_channel_args(job))
    need = (job["skip_frames"] + job["n"]) * job["frame_length"]
    out = np.empty(need, dtype=np.complex64)
    got = 0
    while got < need:
        chan.push(mod.read(_CHUNK))
        y, _ = chan.pull(need - got)
        out[got:got + len(y)] = y
        got += len(y)
    return out


def shard_frames(job):
    """One shard (a job of dataset_config.plan_shards or stream_job) -> (x complex64 (n, L), labels int64
    (n,) indices into job['classes'], snrs float64 (n,), params dict: the class, SNR, seeds and drawn
    source arguments shared by the shard's frames)."""
    L, n = job["frame_length"], job["n"]
    y = shard_samples(job)[job["skip_frames"] * L:].reshape(n, L)
    x = normalize(y, job["normalization"])
    labels = np.full(n, job["classes"].index(job["cls"]), dtype=np.int64)
    snrs = np.full(n, float(job["snr"]))
    params = dict(job["source"], cls=job["cls"], snr_db=float(job["snr"]), source_seed=job["source_seed"],
                  channel_seed=job["channel_seed"], shard=job["shard"], channel=job["channel"]["preset"])
    return x, labels, snrs, params


def _concat(parts):
    if not parts:
        return (np.zeros((0, 0), np.complex64), np.zeros(0, np.int64), np.zeros(0), [])
    x = np.concatenate([p[0] for p in parts])
    lab = np.concatenate([p[1] for p in parts])
    snr = np.concatenate([p[2] for p in parts])
    params = [p[3] for p in parts for _ in range(len(p[0]))]
    return x, lab, snr, params


def dataset_frames(config, **overrides):
    """Every frame of the dataset ``gr-amc generate`` makes from ``config`` (a dataset preset name, a config
    file or a dict; keys overridden by ``overrides``), in the file's order -> (x, labels, snrs, params per
    frame).  For the same config and seed the frames equal the file's."""
    cfg, _ = dataset_config.load_config(config, **overrides)
    return _concat([shard_frames(j) for j in dataset_config.plan_shards(cfg)])


def frames(config, n, seed, shard_size=None, start=0, **overrides):
    """``n`` frames of the random stream of shards of ``config`` with ``seed`` (shards start, start+1, ...;
    each of ``shard_size`` frames, default the config's): class and SNR drawn per shard, every drawn source
    parameter and the timing offset per shard.  Deterministic; never the frames of a dataset file.
    Returns (x, labels, snrs, params per frame)."""
    cfg, _ = dataset_config.load_config(config, **overrides)
    size = int(shard_size or cfg["shard_size"])
    parts, got, i = [], 0, int(start)
    while got < n:
        job = dataset_config.stream_job(cfg, seed, i, min(size, n - got))
        parts.append(shard_frames(job))
        got += job["n"]
        i += 1
    return _concat(parts)
