#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""amc.dataset_sink: write labelled frames to a dataset file (RadioML HDF5 / pickle layouts, SigMF).

Input: a vector stream of ``frame_len`` complex samples per item (one frame per item, as made by
``amc.framer`` and ``amc.normalizer``), carrying ``amc:truth`` (symbol: class name) and ``amc:snr_db``
(double) tags. The framer puts each tag on the index of the frame(s) whose span holds it. A frame's label
is the latest ``amc:truth`` tag at or before its index, its SNR the latest ``amc:snr_db`` tag (the current
values are kept across work() calls, so tags need not repeat on every frame).

The file is written by :mod:`gnuradio.amc.datasets` writers: streamed to a temporary file in the output
folder, renamed to ``path`` only when the flowgraph stops (``stop()``). See the GRC documentation in
grc/amc_dataset_sink.block.yml and docs/datasets.md.
"""
import json
import os

import numpy as np
import pmt
from gnuradio import gr

from . import contract
from . import datasets


class dataset_sink(gr.sync_block):
    """Dataset writer sink.

    Parameters
    ----------
    frame_len : int > 0, samples per frame (the input vector length).
    path : output file. For SigMF, the base name or either file name (``x``, ``x.sigmf-meta``, ``x.sigmf-data``).
    fmt : "hdf5" (RadioML 2018.01A layout), "pickle" (RadioML 2016.10a layout) or "sigmf".
    classes : class names (list, tuple or comma-separated string): the class order (HDF5 ``Y``'s columns are
        the full RadioML 2018.01A or 2016.10a list when every class is from it, see ``datasets.hdf5_columns``).
        Empty: the classes seen, ordered as in the contract lists (2018 order, then 2016, then by name).
        A frame whose label is not in a non-empty ``classes`` is an error: logged, no file is written,
        and the block ends the flowgraph (returns WORK_DONE).
    config : the generation config stored in the file (a string, or a dict stored as JSON).
    seed : int stored in the file's attributes.
    num_frames : 0 = write every labelled frame until the flowgraph stops. N > 0 = write exactly N frames,
        then end the flowgraph; the file is committed only if all N were written (a flowgraph stopped
        earlier leaves no file). HDF5 ``X`` is contiguous when N > 0 (the length is known), else resizable
        in chunks of ``datasets.HDF5_CHUNK_FRAMES`` frames.
    skip_frames : frames discarded at the start (e.g. filter and channel transients); their tags still count.
    sample_rate : sample rate in Hz, written into SigMF metadata as ``core:sample_rate`` (0: the generator's
        nominal 200 kS/s, ``datasets.DEFAULT_SAMPLE_RATE``).

    Frames without an ``amc:truth`` or ``amc:snr_db`` value yet are dropped, counted
    (:meth:`frames_unlabeled`) and reported through the block logger (the first one and a total at stop).
    """

    def __init__(self, frame_len, path, fmt="hdf5", classes=(), config="", seed=0, num_frames=0,
                 skip_frames=0, sample_rate=0.0):
        try:
            frame_len = int(frame_len)
        except (TypeError, ValueError):
            raise ValueError(f"dataset_sink: frame_len must be an integer > 0, got {frame_len!r}") from None
        if frame_len <= 0:
            raise ValueError(f"dataset_sink: frame_len must be > 0, got {frame_len}")
        if fmt not in datasets.FORMATS:
            raise ValueError(f"dataset_sink: unknown fmt {fmt!r}; allowed: {', '.join(datasets.FORMATS)}")
        if not isinstance(path, str) or not path.strip():
            raise ValueError(f"dataset_sink: path must be a non-empty file name, got {path!r}")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise ValueError(f"dataset_sink: the folder of path {path!r} ({folder}) does not exist")
        try:
            classes = datasets.check_classes(classes, "dataset_sink: classes")
        except ValueError as e:
            raise ValueError(str(e)) from None
        if not isinstance(config, str):
            try:
                config = json.dumps(config, sort_keys=True)
            except TypeError:
                raise ValueError(f"dataset_sink: config must be a string or a JSON-serialisable dict, "
                                 f"got {type(config).__name__}") from None
        for name, v in (("seed", seed), ("num_frames", num_frames), ("skip_frames", skip_frames)):
            if int(v) != v:
                raise ValueError(f"dataset_sink: {name} must be an integer, got {v!r}")
        if int(num_frames) < 0:
            raise ValueError(f"dataset_sink: num_frames must be >= 0 (0 = no limit), got {num_frames}")
        if int(skip_frames) < 0:
            raise ValueError(f"dataset_sink: skip_frames must be >= 0, got {skip_frames}")
        if float(sample_rate) < 0:
            raise ValueError(f"dataset_sink: sample_rate must be >= 0, got {sample_rate}")

        gr.sync_block.__init__(self, name="dataset_sink", in_sig=[(np.complex64, frame_len)], out_sig=None)
        self.frame_len = frame_len
        self.path = path
        self.fmt = fmt
        self.classes = classes
        self.config = config
        self.seed = int(seed)
        self.num_frames = int(num_frames)
        self.skip_frames = int(skip_frames)
        self.sample_rate = float(sample_rate)
        self._key_truth = pmt.intern(contract.TAG_TRUTH)
        self._key_snr = pmt.intern(contract.TAG_SNR)
        self._writer = None
        self._reset()

    def _reset(self):
        self._truth = None
        self._snr = None
        self._written = 0
        self._unlabeled = 0
        self._error = None
        self._committed = False
        self._files = []
        self._done = False

    # -- accessors (read them after the flowgraph has stopped) --
    def frames_written(self):
        """Frames written to the file (so far)."""
        return self._written

    def frames_unlabeled(self):
        """Frames dropped because no amc:truth or amc:snr_db tag had been seen yet."""
        return self._unlabeled

    def committed(self):
        """True once the file has been renamed to its final name."""
        return self._committed

    def error(self):
        """Why no file was written (a string), or None."""
        return self._error

    def output_files(self):
        """The final file name(s) after a commit (SigMF: data and meta), else []."""
        return list(self._files)

    # -- GNU Radio --
    def start(self):
        self._reset()
        try:
            self._writer = datasets.open_writer(self.path, self.fmt, self.frame_len, classes=self.classes,
                                                config=self.config, seed=self.seed,
                                                sample_rate=self.sample_rate,
                                                total_frames=self.num_frames or None)
        except Exception as e:  # noqa: BLE001  a start() that raises leaves GNU Radio's other threads waiting
            self._error = f"cannot create {self.path!r}: {e}"
            self.logger.error(self._error)
            self._writer = None
        return True

    def stop(self):
        w, self._writer = self._writer, None
        if w is None:
            return True
        if self._unlabeled:
            self.logger.error(f"{self._unlabeled} frame(s) without an {contract.TAG_TRUTH} / {contract.TAG_SNR} "
                              f"tag were dropped")
        if self._error is None and self.num_frames and self._written < self.num_frames:
            self._error = (f"stopped after {self._written} of the {self.num_frames} frames asked for; "
                           f"no file written")
        if self._error is not None:
            w.abort()
            self.logger.error(f"{self.path}: {self._error}")
            return True
        try:
            self._files = w.commit()
            self._committed = True
        except Exception as e:   # disk full, ...: report, leave no file
            self._error = f"could not write the file: {e}"
            self.logger.error(f"{self.path}: {self._error}")
        if w.snr_rounded and self.fmt != "sigmf":
            self.logger.warn("non-integer SNR values were rounded to integers (the RadioML layouts store "
                             "integer SNRs)")
        return True

    def _apply_tag(self, tag):
        if pmt.eq(tag.key, self._key_truth):
            v = tag.value
            if pmt.is_symbol(v):
                self._truth = pmt.symbol_to_string(v)
            else:
                self._truth = str(pmt.to_python(v))
        elif pmt.eq(tag.key, self._key_snr):
            try:
                self._snr = float(pmt.to_python(tag.value))
            except (TypeError, ValueError):
                self.logger.error(f"{contract.TAG_SNR} tag with a non-numeric value {tag.value} ignored")

    def work(self, input_items, output_items):
        inp = input_items[0]
        n = len(inp)
        if self._writer is None or self._done:
            return -1
        n0 = self.nitems_read(0)
        if self.num_frames:
            n = min(n, self.num_frames - self._written + max(0, self.skip_frames - n0))
        tags = sorted(self.get_tags_in_window(0, 0, n), key=lambda t: t.offset)
        # segments of frames that share the same (truth, snr): boundaries at tag offsets
        bounds = sorted({t.offset - n0 for t in tags} | {0, n})
        ti = 0
        frames, labels, snrs = [], [], []
        for a, b in zip(bounds[:-1], bounds[1:]):
            while ti < len(tags) and tags[ti].offset - n0 <= a:
                self._apply_tag(tags[ti])
                ti += 1
            a = max(a, self.skip_frames - n0)          # drop the transient
            if a >= b:
                continue
            if self._truth is None or self._snr is None:
                if self._unlabeled == 0:
                    self.logger.error(f"frame {n0 + a} has no {contract.TAG_TRUTH} / {contract.TAG_SNR} tag at or "
                                      f"before it: dropped (further ones are counted)")
                self._unlabeled += b - a
                continue
            if self.classes and self._truth not in self.classes:
                self._error = (f"frame {n0 + a} is labelled {self._truth!r}, which is not in classes "
                               f"({', '.join(self.classes)}); no file written")
                self.logger.error(self._error)
                self._done = True
                break
            frames.append(inp[a:b])
            labels.extend([self._truth] * (b - a))
            snrs.extend([self._snr] * (b - a))
        if frames:
            f = np.concatenate(frames) if len(frames) > 1 else frames[0]
            try:
                self._writer.append(f, labels, snrs)
            except (OSError, ValueError) as e:
                self._error = f"write failed: {e}"
                self.logger.error(self._error)
                self._done = True
                return -1
            self._written += len(f)
        if self._done:
            return -1
        if self.num_frames and self._written >= self.num_frames:
            self._done = True
            return -1   # WORK_DONE: ends the flowgraph; stop() commits the file
        return n
