#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Audio sources for the analog classes of the modulation source (pure numpy/scipy).

* :class:`SpeechLikeAudio` — a seeded, endless, speech-like signal: words of 1-4 syllables, each of
  voiced (glottal pulse train, jittered pitch that glides) or unvoiced (noise) excitation through
  formant resonators, band-limited to 150 Hz - 4 kHz, with a half-sine syllable envelope and a fixed
  level; 40-200 ms pauses between words and 0.3-0.6 s pauses (and maybe a new "speaker": pitch,
  loudness) after every fourth word; soft-limited (tanh) to |a| < 1; starts at a random offset.
  About a third of it is silence (the pauses); with ``pauses=False`` the words follow each other
  without pauses (continuous speech, no silent stretches beyond the syllable envelopes' edges).
* :class:`WavAudio` — a user's WAV file (:func:`load_wav`: integer PCM or float, plain or
  WAVE_FORMAT_EXTENSIBLE), mixed to mono, resampled to the audio rate, DC removed,
  scaled to peak 1 and looped from a random start offset.

Both produce fixed-size blocks of ``block`` samples at ``AUDIO_RATE``, so their output depends only
on the seed (and file), never on the scheduler.
"""
import os
import struct

import numpy as np
from scipy import signal

#: Sample rate of the audio sources (Hz): the nominal 200 kS/s output rate divided by 8.
AUDIO_RATE = 25000.0
#: Fixed audio block length (samples at AUDIO_RATE).
AUDIO_BLOCK = 4096


def _resonator(freq, bw, rate):
    """Second-order resonator (a formant): pole radius from the bandwidth; unit gain at its peak."""
    r = np.exp(-np.pi * bw / rate)
    th = 2 * np.pi * freq / rate
    a = np.array([1.0, -2 * r * np.cos(th), r * r])
    # gain so the peak is ~1
    w = np.exp(-1j * th)
    g = abs(a[0] + a[1] * w + a[2] * w * w)
    return np.array([g]), a


class SpeechLikeAudio:
    """Endless seeded speech-like audio at ``rate`` Hz, produced in blocks of ``block`` samples.

    ``pauses=False`` leaves out the pauses between words and phrases (continuous speech).
    """

    #: gain before the tanh soft limiter (active-speech RMS about 0.3 before limiting)
    DRIVE = 0.3

    def __init__(self, rng, rate=AUDIO_RATE, block=AUDIO_BLOCK, pauses=True):
        self.rng = rng
        self.pauses = bool(pauses)
        self.rate = float(rate)
        self.block = int(block)
        self._pending = []
        self._npending = 0
        self._left = 0
        self._words = 0
        self._new_speaker()
        self._hp = signal.butter(2, 150.0, "highpass", fs=self.rate, output="sos")
        self._lp = signal.butter(6, 4000.0, "lowpass", fs=self.rate, output="sos")
        self._zhp = np.zeros((self._hp.shape[0], 2))
        self._zlp = np.zeros((self._lp.shape[0], 2))
        self._glottal = signal.butter(2, 800.0, "lowpass", fs=self.rate)
        # random start offset: drop up to one second of the synthetic speech
        self._skip = int(self.rng.integers(0, int(self.rate)))

    def _new_speaker(self):
        self.f0 = self.rng.uniform(85.0, 230.0)
        self.loud = self.rng.uniform(0.9, 1.0)

    def _segment(self):
        rng, fs = self.rng, self.rate
        if self._left == 0:                           # end of a word: a pause
            self._left = int(rng.integers(1, 5))      # syllables in the next word
            self._words += 1
            if self._words % 4 == 0:                  # end of a phrase: longer pause, maybe a new speaker
                n = int(rng.uniform(0.3, 0.6) * fs)
                if rng.random() < 0.5:
                    self._new_speaker()
            else:
                n = int(rng.uniform(0.04, 0.2) * fs)
            if self.pauses:
                return np.zeros(n)
        self._left -= 1
        n = int(rng.uniform(0.08, 0.28) * fs)
        t = np.arange(n) / n
        if rng.random() < 0.75:                       # voiced: glottal pulse train
            glide = 1.0 + 0.15 * (rng.uniform(-1, 1) + t * rng.uniform(-1, 1))
            f0 = self.f0 * glide * (1.0 + 0.01 * rng.standard_normal(n))   # jitter
            ph = np.cumsum(f0 / fs)
            exc = np.zeros(n)
            exc[1:][np.diff(np.floor(ph)) > 0] = 1.0
            exc = signal.lfilter(*self._glottal, exc) + 0.03 * rng.standard_normal(n)
            formants = ((rng.uniform(300, 850), 90.0), (rng.uniform(850, 2300), 120.0),
                        (rng.uniform(2300, 3300), 180.0))
        else:                                          # unvoiced: fricative noise
            exc = rng.standard_normal(n)
            formants = ((rng.uniform(1500, 2500), 400.0), (rng.uniform(2500, 3800), 500.0))
        x = exc
        for f, bw in formants:
            x = signal.lfilter(*_resonator(f, bw, fs), x)
        x = signal.sosfilt(self._lp, signal.sosfilt(self._hp, x))     # speech band, before the level
        x = x * np.sin(np.pi * t)                                      # syllable envelope
        rms = np.sqrt(np.mean(x * x))
        if rms > 0:
            x = x * (self.loud * rng.uniform(0.9, 1.0) / rms)
        return x

    def next_block(self):
        while self._npending < self.block + self._skip:
            seg = self._segment()
            self._pending.append(seg)
            self._npending += len(seg)
        buf = np.concatenate(self._pending)
        if self._skip:
            buf = buf[self._skip:]
            self._skip = 0
        out, rest = buf[:self.block], buf[self.block:]
        self._pending = [rest]
        self._npending = len(rest)
        out, self._zhp = signal.sosfilt(self._hp, out, zi=self._zhp)
        out, self._zlp = signal.sosfilt(self._lp, out, zi=self._zlp)
        return np.tanh(self.DRIVE * out)


#: Long-term mean square of :class:`SpeechLikeAudio`: 600 s measured with seeds 20240601, 1, 2 and 777
#: gave 0.04157, 0.04124, 0.04146 and 0.04214 (see :func:`measure_speech_power`; a QA test re-checks it;
#: 10 s windows vary by about +-6 % (std)). The analog modulators divide by it for unit average power.
SPEECH_POWER = 0.0416
#: The same for ``SpeechLikeAudio(pauses=False)``: 600 s with seeds 20240601, 1, 2 and 777 gave
#: 0.06040, 0.06087, 0.06031 and 0.06006 (the pauses are about 31 % of the time with pauses).
SPEECH_POWER_CONTINUOUS = 0.0604


def speech_power(pauses=True):
    """Long-term mean square of the built-in speech-like audio (:data:`SPEECH_POWER`, or
    :data:`SPEECH_POWER_CONTINUOUS` without pauses)."""
    return SPEECH_POWER if pauses else SPEECH_POWER_CONTINUOUS


def measure_speech_power(seconds, seed, pauses=True):
    """Mean square of ``seconds`` of :class:`SpeechLikeAudio` made with ``seed``."""
    src = SpeechLikeAudio(np.random.default_rng(seed), pauses=pauses)
    nblocks = max(1, int(seconds * AUDIO_RATE / AUDIO_BLOCK))
    acc = 0.0
    for _ in range(nblocks):
        b = src.next_block()
        acc += float(np.dot(b, b))
    return acc / (nblocks * AUDIO_BLOCK)


#: What :func:`load_wav` reads, for its error messages.
WAV_FORMATS = ("uncompressed WAV: PCM 8-bit unsigned or 16/24/32-bit signed integer, or IEEE float 32/64-bit, "
               "plain or WAVE_FORMAT_EXTENSIBLE, any rate, mono or multi-channel")


def load_wav(path, rate=AUDIO_RATE):
    """Read a WAV file (see :data:`WAV_FORMATS`; read with ``scipy.io.wavfile``) as mono float64 at ``rate``:
    channels averaged, resampled, mean removed, scaled to peak 1. Raises ValueError naming the file for a
    missing, unreadable, compressed, empty, non-finite, silent or too short file."""
    import warnings
    from scipy.io import wavfile
    if not isinstance(path, str) or not path:
        raise ValueError(f"audio_file: expected a path to a WAV file, got {path!r}")
    if not os.path.isfile(path):
        raise ValueError(f"audio_file: no such file: {path!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)   # extra chunks (LIST, fact...) are skipped
            fs, data = wavfile.read(path)
    except (ValueError, EOFError, OSError, struct.error, IndexError) as e:
        raise ValueError(f"audio_file: {path!r} is not a readable WAV file ({type(e).__name__}: {e}); "
                         f"allowed: {WAV_FORMATS}") from None
    data = np.asarray(data)
    if data.dtype.kind == "u" and data.dtype.itemsize == 1:
        x = data.astype(np.float64) - 128.0
    elif data.dtype.kind == "i":
        x = data.astype(np.float64)            # scipy left-justifies 24-bit samples in int32
    elif data.dtype.kind == "f":
        x = data.astype(np.float64)
    else:
        raise ValueError(f"audio_file: {path!r} holds {data.dtype} samples; allowed: {WAV_FORMATS}")
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"audio_file: {path!r} holds no audio samples")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"audio_file: {path!r} holds {int(np.sum(~np.isfinite(x)))} non-finite (NaN or "
                         f"infinite) sample(s)")
    if fs <= 0:
        raise ValueError(f"audio_file: {path!r} has an invalid sample rate {fs}")
    if np.all(x == x[0]):      # before resampling, whose edge transients would make a constant look like audio
        raise ValueError(f"audio_file: {path!r} is silent (all samples equal)")
    g = np.gcd(int(rate), int(fs))
    up, down = int(rate) // g, int(fs) // g
    if up != 1 or down != 1:
        x = signal.resample_poly(x, up, down)
    x = x - np.mean(x)
    peak = np.max(np.abs(x)) if len(x) else 0.0
    if not np.isfinite(peak) or peak <= 0:
        raise ValueError(f"audio_file: {path!r} is silent (all samples equal)")
    if len(x) < 64:
        raise ValueError(f"audio_file: {path!r} is too short ({len(x)} samples at {rate:g} Hz; need >= 64)")
    return x / peak


class WavAudio:
    """A WAV file, looped from a random start offset, in fixed blocks of ``block`` samples."""

    def __init__(self, path, rng, rate=AUDIO_RATE, block=AUDIO_BLOCK):
        self.data = load_wav(path, rate)
        self.block = int(block)
        self.pos = int(rng.integers(0, len(self.data)))
        self.power = float(np.mean(self.data ** 2))

    def next_block(self):
        n, d = self.block, self.data
        idx = (self.pos + np.arange(n)) % len(d)
        self.pos = (self.pos + n) % len(d)
        return d[idx]
