#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""ONNX Runtime classifier blocks: ``amc.classifier`` and ``amc.classifier_sink``.

The blocks frame a complex stream (frame k starts at sample k*hop and holds frame_len samples),
normalize each frame and turn it into the model input with the C++ kernels (``amc.frame_signal``,
``amc.normalize_frames``) and ``contract.to_model_input``, run ONNX Runtime on all the frames that
are complete in one call (up to ``max_batch``) and report one result per classified frame:

* ``amc.classifier`` passes every input sample through unaltered and tags the first sample of each
  classified frame with ``amc:label`` (symbol), ``amc:confidence`` (double) and ``amc:probs``
  (f32vector, in the model's class order);
* both blocks publish a PMT dict per classified frame on the message port ``classification``.

Everything the blocks need to know about the model (frame length, classes, representation, input
layout, normalization, logits or probabilities) comes from the model's ``metadata_props``; see
``contract.py`` and docs/classifier.md.

Stream handling: a sample can leave the block only once every frame starting at or before it has
been classified (its tag must be attached before the sample is passed on). The block therefore
keeps a look-ahead of less than one frame (plus the overlap when hop < frame_len) in the upstream
buffer: it asks the scheduler (``forecast``) for enough input to complete the frames covering the
output it produces, consumes exactly what it outputs, and never waits for a batch to fill. At the
end of a *finite* stream (the upstream block has finished, seen through ``amc.input_state``, since
GNU Radio's Python bindings do not expose it) the samples of the last, incomplete frame are passed
on untagged: that frame is never classified, and no sample is lost.
"""
import threading
import time

import numpy as np
import pmt
from gnuradio import gr

from . import contract as C
from . import runtime
from .amc_python import MAX_HOP, frame_signal, input_state
from .model_file import ModelFile, int_param as _int_param

#: Per-frame status, reported in the message field ``status``.
STATUS_OK = 0          # classified
STATUS_ZERO = 1        # all-zero frame: not classified, label unknown, confidence 0
STATUS_NONFINITE = 2   # NaN/Inf in the frame: not classified, label unknown, confidence 0
STATUS_BAD_OUTPUT = 3  # the model returned NaN/Inf for the frame: label unknown, confidence 0
STATUS_NAMES = {STATUS_OK: "ok", STATUS_ZERO: "zero", STATUS_NONFINITE: "nonfinite",
                STATUS_BAD_OUTPUT: "bad_output"}

#: Second message port: a pair (label . "<label> (<confidence>)") per classified frame, for GUIs
#: (e.g. Message Pair to Var -> a QT GUI Label variable).
LABEL_PORT = "label"

_LOG_INTERVAL_S = 5.0
#: Largest sample span reserved (history, output buffer) for a batch: 2^18 complex samples (2 MiB).
_MAX_BATCH_SPAN = 1 << 18  # rate limit of the repeated warnings (skipped / unusable frames)


def softmax(x):
    """Row-wise softmax in float64 (stable)."""
    x = np.asarray(x, dtype=np.float64)
    z = x - np.max(x, axis=1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=1, keepdims=True)


class ModelRunner(ModelFile):
    """An ONNX model with its amc contract checked (``model_file.ModelFile``, the check every entry point
    shares): complex frames in, class probabilities out, normalized by the C++ kernel.

    Raises at construction: FileNotFoundError (no such file / shipped model), ValueError (not an
    ONNX model, missing or contradictory metadata, input/output shapes that contradict the
    metadata, bad parameter values). Used by the classifier blocks and by tests/benchmarks.
    """

    def __init__(self, model, max_batch=64, threads=1, frame_len=0, classes=None,
                 input_layout="", representation="", normalization="", output=""):
        super().__init__(model, threads=threads, max_batch=max_batch, overrides=dict(
            frame_len=frame_len, classes=classes, input_layout=input_layout,
            representation=representation, normalization=normalization, output=output))

    # -- inference -----------------------------------------------------------------------------
    def model_input(self, frames):
        """Complex frames (n, L) -> (float32 model input, status int8 (n,)) via the C++ kernel."""
        return runtime.model_input(frames, self.normalization, self.representation, self.layout)

    def classify(self, frames):
        """Complex frames (n, L) -> (probs float64 (n, C), status int8 (n,)).

        Frames that are all zero or hold NaN/Inf are not run through the model (probs all 0);
        rows where the model returns NaN/Inf get status STATUS_BAD_OUTPUT and probs all 0.
        """
        frames = np.asarray(frames)
        n = frames.shape[0]
        probs = np.zeros((n, len(self.classes)), np.float64)
        x, status = self.model_input(frames)
        ok = np.flatnonzero(status == STATUS_OK)
        if ok.size:
            y = self.run(x[ok] if ok.size < n else x)
            with np.errstate(all="ignore"):
                if self.output == "logits":
                    y = softmax(y)
            bad = ~np.all(np.isfinite(y), axis=1)
            if bad.any():
                y[bad] = 0.0
                status[ok[bad]] = STATUS_BAD_OUTPUT
            probs[ok] = y
        return probs, status


class _classifier_base(gr.basic_block):
    """Shared implementation of classifier (pass-through) and classifier_sink (no output)."""

    def __init__(self, name, passthrough, model, hop, max_batch, threads, smoothing, threshold,
                 realtime, frame_len, classes, input_layout, representation, normalization, output):
        runner = ModelRunner(model, max_batch=max_batch, threads=threads, frame_len=frame_len,
                             classes=classes, input_layout=input_layout, representation=representation,
                             normalization=normalization, output=output)
        hop = _int_param("hop", hop, 0, ">= 0 (0 = frame length: back-to-back frames)")
        if hop > MAX_HOP:
            raise ValueError(f"hop must be <= {MAX_HOP} (2^30), got {hop}")
        smoothing = _int_param("smoothing", smoothing, 1, ">= 1 (1 = no smoothing)")
        threshold = self._check_threshold(threshold)
        if not isinstance(realtime, (bool, np.bool_, int)):
            raise ValueError(f"realtime must be True or False, got {realtime!r}")
        gr.basic_block.__init__(self, name=name, in_sig=[np.complex64],
                                out_sig=[np.complex64] if passthrough else None)
        self._runner = runner
        self._passthrough = passthrough
        self._L = runner.frame_len
        self._hop = hop or runner.frame_len
        self._max_batch = runner.max_batch
        self._realtime = bool(realtime)
        self._threshold = threshold
        self._smoothing = smoothing
        self._classes = list(runner.classes)
        self._class_syms = [pmt.intern(c) for c in self._classes]
        self._unknown_sym = pmt.intern(C.UNKNOWN_LABEL)
        self._port = pmt.intern(C.MSG_PORT)
        self.message_port_register_out(self._port)
        self._label_port = pmt.intern(LABEL_PORT)
        self.message_port_register_out(self._label_port)
        self._k_label_pair = pmt.intern("label")
        self._pub_dict = self._pub_label = True  # refined in start() from the subscribers
        self._start_error = None
        # bound C++ methods, looked up once (the Python gateway forwards each lookup otherwise)
        self._add_tag = self.gateway.add_item_tag
        self._pub = self.gateway.message_port_pub
        self._k_label, self._k_conf, self._k_probs = (pmt.intern(C.TAG_LABEL), pmt.intern(C.TAG_CONFIDENCE),
                                                      pmt.intern(C.TAG_PROBS))
        self._k_truth, self._k_snr = pmt.intern(C.TAG_TRUTH), pmt.intern(C.TAG_SNR)
        self._srcid = pmt.intern(self.alias())
        # Room for a full batch: history makes GNU Radio size the upstream buffer to hold
        # max_batch frames (the block ignores the history items themselves; see general_work),
        # and the output must take the samples of a full batch in one call (the scheduler offers
        # at most half of an output buffer per call).
        span = min(self._max_batch * self._hop, _MAX_BATCH_SPAN) + self._L
        self.set_history(span)
        self._hist = span - 1
        if passthrough:
            self.set_min_output_buffer(2 * span)
        self._lock = threading.Lock()
        self._reset_state()
        self.logger.info(
            f"model {runner.path}: {len(self._classes)} classes, frame_len {self._L}, hop {self._hop}, "
            f"{runner.representation}/{runner.layout}, normalization {runner.normalization}, "
            f"output {runner.output}, batch {'static ' + str(runner.static_batch) if runner.static_batch else '<= ' + str(self._max_batch)}"
            + (f", {runner.metadata[C.META_ROTATIONS]}-rotation ensemble"
               if C.META_ROTATIONS in runner.metadata else ""))

    def _reset_state(self):
        self._consumed = 0      # == nitems_read(0)
        self._next = 0          # absolute start of the next frame to classify (or skip)
        self._hist_rows = np.zeros((0, len(self._classes)))  # last smoothing-1 usable frames' probs
        self._tag_scan = 0      # absolute offset up to which truth/SNR tags have been collected
        self._truth_tags = []   # [(offset, value)] sorted
        self._snr_tags = []
        self._n_classified = 0
        self._n_skipped = 0
        self._n_unusable = 0
        self._skipped_since_msg = 0
        self._last_warn = {}

    @staticmethod
    def _check_threshold(threshold):
        try:
            t = float(threshold)
        except (TypeError, ValueError):
            raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}") from None
        if not (0.0 <= t <= 1.0):
            raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
        return t

    # -- public accessors --------------------------------------------------------------------
    def frame_len(self):
        return self._L

    def hop(self):
        return self._hop

    def classes(self):
        return list(self._classes)

    def model_path(self):
        return self._runner.path

    def metadata(self):
        return dict(self._runner.metadata)

    def threshold(self):
        return self._threshold

    def set_threshold(self, threshold):
        self._threshold = self._check_threshold(threshold)

    def smoothing(self):
        return self._smoothing

    def set_smoothing(self, smoothing):
        k = _int_param("smoothing", smoothing, 1, ">= 1 (1 = no smoothing)")
        with self._lock:  # the work thread may be smoothing right now
            if k != self._smoothing:
                self._smoothing = k
                self._hist_rows = self._hist_rows[len(self._hist_rows) - (k - 1):] if k > 1 else self._hist_rows[:0]

    def realtime(self):
        return self._realtime

    def classified(self):
        """Frames classified so far (including unusable ones reported as unknown)."""
        return self._n_classified

    def skipped(self):
        """Frames skipped by the real-time mode so far (never classified, no tag, no message)."""
        return self._n_skipped

    def unusable(self):
        """Classified frames that were all zero or held NaN/Inf (reported as unknown, confidence 0)."""
        return self._n_unusable

    # -- scheduler interface -------------------------------------------------------------------
    def start(self):
        # An exception out of start() would leave every other block of the flowgraph waiting forever
        # at the scheduler's start barrier (GNU Radio 3.10): log it and end the stream in general_work.
        self._start_error = None
        try:
            # Build the per-frame messages only for ports that something listens to.
            self._pub_dict = pmt.length(self.message_subscribers(self._port)) > 0
            self._pub_label = pmt.length(self.message_subscribers(self._label_port)) > 0
        except Exception as e:
            self._start_error = f"{type(e).__name__}: {e}"
            self.logger.error(f"start failed ({self._start_error}): the flowgraph is stopped")
        return True

    def forecast(self, noutput_items, ninputs):
        # Input needed to make progress at all (general_work then handles everything available):
        # items before the next frame start are decided and can pass at once; otherwise the
        # frame starting at the next item must be complete. Plus the history items.
        free = self._next - self._consumed
        if free <= 0 and self._input_state()[0]:
            free = 1  # the stream has ended: one item is enough for general_work to flush the rest
        return [self._hist + (1 if free > 0 else self._L)] * ninputs

    def _input_state(self):
        """(upstream done, items available) of the input: see amc.input_state."""
        return input_state(self.detail().input(0))

    def general_work(self, input_items, output_items):
        if self._start_error is not None:
            return -1  # WORK_DONE: start() failed (logged there)
        inp = input_items[0][self._hist:]  # the history items (already passed on) are not used
        n_in = len(inp)
        nread = self._consumed
        n_win = min(n_in, len(output_items[0])) if self._passthrough else n_in
        win_end = nread + n_win
        avail_end = nread + n_in
        L, hop = self._L, self._hop
        m = 0
        if self._next < win_end and self._next + L <= avail_end:
            m = min((win_end - 1 - self._next) // hop, (avail_end - L - self._next) // hop) + 1
        skip = 0
        if m > self._max_batch:
            if self._realtime:
                skip = m - self._max_batch
            m = self._max_batch
        if skip:
            self._n_skipped += skip
            self._skipped_since_msg += skip
            self._next += skip * hop
            self._warn("skip", f"real-time mode: cannot keep up, {self._n_skipped} frames skipped so far")
        if m:
            self._collect_tags(nread, avail_end)
            first = self._next
            seg = inp[first - nread:first - nread + (m - 1) * hop + L]
            frames = frame_signal(seg, L, hop)
            probs, status = self._runner.classify(frames)
            self._emit_batch(first, probs, status)
            self._next = first + m * hop
            self._prune_tags()
        p = max(0, min(n_win, self._next - nread))
        if p < n_win and self._next + L > avail_end:
            # Everything available is decided except the last, incomplete frame. Pass it on
            # untagged if the stream has ended and this call holds the last item.
            done, total = self._input_state()
            if done and total == len(input_items[0]):
                self.logger.debug(f"end of stream: {avail_end - self._next} samples of an incomplete "
                                  f"frame at {self._next} passed on unclassified")
                p = n_win
        if self._passthrough and p:
            output_items[0][:p] = inp[:p]
        self.consume(0, p)
        self._consumed += p
        return p if self._passthrough else 0

    # -- per-frame results -----------------------------------------------------------------------
    def _smooth(self, valid_probs):
        """Smoothed probabilities for a run of usable frames, in stream order.

        Row j is the mean of the last min(k, available) usable frames up to and including j.
        Every window is summed in the same order, starting from 0.0, whatever the batch
        boundaries, so the result does not depend on how the stream was chunked.
        """
        k = self._smoothing
        nv = valid_probs.shape[0]
        if k == 1 or nv == 0:
            return valid_probs
        hist = self._hist_rows
        V = np.concatenate([np.zeros((k - 1 - len(hist), valid_probs.shape[1])), hist, valid_probs])
        S = np.zeros_like(valid_probs)
        for i in range(k):
            S += V[i:i + nv]
        counts = np.minimum(k, len(hist) + 1 + np.arange(nv))
        self._hist_rows = V[-(k - 1):][max(0, k - 1 - len(hist) - nv):]
        return S / counts[:, None]

    def _emit_batch(self, first, probs, status):
        """Tags and messages for m consecutive frames starting at absolute offset `first`."""
        m = probs.shape[0]
        ok = status == STATUS_OK
        sm = np.zeros_like(probs)
        with self._lock:
            sm[ok] = self._smooth(probs[ok])
        best = np.argmax(sm, axis=1)
        conf = sm[np.arange(m), best]
        conf[~ok] = 0.0
        sm32 = sm.astype(np.float32).tolist()
        thr = self._threshold
        self._n_classified += m
        nbad = int(m - np.count_nonzero(ok))
        if nbad:
            self._n_unusable += nbad
            j = int(np.flatnonzero(~ok)[-1])
            self._warn("unusable", f"{self._n_unusable} frames were all zero, held NaN/Inf or made the "
                                   f"model return NaN/Inf (latest at sample {first + j * self._hop}: "
                                   f"{STATUS_NAMES[int(status[j])]}); reported as {C.UNKNOWN_LABEL}")
        if not (self._passthrough or self._pub_label or self._pub_dict):
            return  # a sink nobody listens to: nothing to build
        hop, nc = self._hop, len(self._classes)
        syms, unknown = self._class_syms, self._unknown_sym
        add_tag, srcid = self._add_tag, self._srcid
        k_label, k_conf, k_probs = self._k_label, self._k_conf, self._k_probs
        init_f32, from_double = pmt.init_f32vector, pmt.from_double
        for j, (c, b, good) in enumerate(zip(conf.tolist(), best.tolist(), ok.tolist())):
            offset = first + j * hop
            label = syms[b] if good and c >= thr else unknown
            pv = init_f32(nc, sm32[j])
            cv = from_double(c)
            if self._passthrough:
                add_tag(0, offset, k_label, label, srcid)
                add_tag(0, offset, k_conf, cv, srcid)
                add_tag(0, offset, k_probs, pv, srcid)
            if self._pub_label:
                self._pub(self._label_port, pmt.cons(self._k_label_pair, pmt.intern(
                    f"{pmt.symbol_to_string(label)} ({c:.2f})")))
            if self._pub_dict:
                self._pub(self._port, self._message(offset, label, cv, pv, int(status[j])))
            self._skipped_since_msg = 0

    def _message(self, offset, label, cv, pv, status):
        d = pmt.make_dict()
        d = pmt.dict_add(d, pmt.intern("label"), label)
        d = pmt.dict_add(d, pmt.intern("confidence"), cv)
        d = pmt.dict_add(d, pmt.intern("probs"), pv)
        d = pmt.dict_add(d, pmt.intern("offset"), pmt.from_uint64(offset))
        d = pmt.dict_add(d, pmt.intern("frame_len"), pmt.from_long(self._L))
        d = pmt.dict_add(d, pmt.intern("hop"), pmt.from_long(self._hop))
        d = pmt.dict_add(d, pmt.intern("status"), pmt.intern(STATUS_NAMES[status]))
        d = pmt.dict_add(d, pmt.intern("skipped"), pmt.from_uint64(self._skipped_since_msg))
        d = pmt.dict_add(d, pmt.intern("skipped_total"), pmt.from_uint64(self._n_skipped))
        truth = self._tag_value(self._truth_tags, offset)
        if truth is not None:
            d = pmt.dict_add(d, pmt.intern("truth"), truth)
        snr = self._tag_value(self._snr_tags, offset)
        if snr is not None:
            d = pmt.dict_add(d, pmt.intern("snr_db"), snr)
        return d

    # -- ground truth tags (amc:truth, amc:snr_db) seen upstream -------------------------------
    def _collect_tags(self, nread, avail_end):
        start = max(self._tag_scan, nread)
        if start >= avail_end:
            return
        for key, store in ((self._k_truth, self._truth_tags), (self._k_snr, self._snr_tags)):
            for t in self.get_tags_in_range(0, start, avail_end, key):
                store.append((t.offset, t.value))
            store.sort(key=lambda ov: ov[0])
        self._tag_scan = avail_end

    def _tag_value(self, tags, offset):
        """Value in effect at the frame's first sample: the last tag at or before it; else the
        first tag inside the frame; None if none."""
        best = None
        for off, val in tags:
            if off <= offset:
                best = val
            elif off < offset + self._L and best is None:
                return val
            else:
                break
        return best

    def _prune_tags(self):
        for store in (self._truth_tags, self._snr_tags):
            i = 0
            while i + 1 < len(store) and store[i + 1][0] <= self._next:
                i += 1
            if i:
                del store[:i]

    def _warn(self, kind, msg):
        now = time.monotonic()
        if now - self._last_warn.get(kind, -1e9) >= _LOG_INTERVAL_S:
            self._last_warn[kind] = now
            self.logger.warn(msg)


class classifier(_classifier_base):
    """Modulation classifier: complex stream in, the same samples out, tagged per classified frame.

    Args:
        model: path to an .onnx file, or the name of a model shipped in gr-amc/models
            (e.g. "amc-default").
        hop: samples between the starts of consecutive classified frames; 0 = the frame length
            (back-to-back frames); larger skips samples between frames; smaller overlaps frames.
        max_batch: most frames per ONNX Runtime call (all frames complete in one work call, up to
            this number, go to one call; the block never waits for a batch to fill).
        threads: ONNX Runtime intra-op threads (0 = ONNX Runtime's default); inter-op is 1.
        smoothing: average the probabilities over the last k usable frames (1 = off).
        threshold: label "unknown" when the (smoothed) confidence is below this (0..1).
        realtime: when more than max_batch complete frames wait in one call, classify only the
            newest max_batch and skip the older ones (counted, see skipped()); default off:
            every frame is classified.
        frame_len, classes, input_layout, representation, normalization, output: supply metadata
            the model lacks (0 / empty = from the model); a value contradicting the model's
            metadata is an error.
    """

    def __init__(self, model="amc-default", hop=0, max_batch=64, threads=1, smoothing=1,
                 threshold=0.0, realtime=False, frame_len=0, classes=None, input_layout="",
                 representation="", normalization="", output=""):
        _classifier_base.__init__(self, "amc_classifier", True, model, hop, max_batch, threads,
                                  smoothing, threshold, realtime, frame_len, classes, input_layout,
                                  representation, normalization, output)


class classifier_sink(_classifier_base):
    """Modulation classifier without a stream output: one message per classified frame on the
    port ``classification``. Same parameters as ``amc.classifier``."""

    def __init__(self, model="amc-default", hop=0, max_batch=64, threads=1, smoothing=1,
                 threshold=0.0, realtime=False, frame_len=0, classes=None, input_layout="",
                 representation="", normalization="", output=""):
        _classifier_base.__init__(self, "amc_classifier_sink", False, model, hop, max_batch, threads,
                                  smoothing, threshold, realtime, frame_len, classes, input_layout,
                                  representation, normalization, output)
