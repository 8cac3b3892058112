#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Dataset files: writers and one reader for the three formats gr-amc writes.

Formats (see docs/datasets.md):

* ``hdf5``: the RadioML 2018.01A layout. ``X`` float32 (N, L, 2) (I, Q), ``Y`` int64 one-hot (N, C),
  ``Z`` int64 (N, 1) SNR in dB, plus file attributes ``classes`` (JSON list, the order of ``Y``'s columns:
  the full RadioML 2018.01A or 2016.10a list when the file's classes come from it, see
  :func:`hdf5_columns`), ``classes_present`` (JSON list, the classes the file was written with),
  ``config`` (JSON string: the full generation config), ``seed`` and ``gr_amc_version``. ``X`` is
  contiguous when the writer knows the number of frames in advance (as the original file), else
  resizable in chunks of :data:`HDF5_CHUNK_FRAMES` frames.
* ``pickle``: the RadioML 2016.10a layout, a pickled dict ``{(class, snr): float32 array (n, 2, L)}``
  that loads with ``pickle.load(f, encoding='latin1')``; the class is a Python 2 string (``str`` under
  ``encoding='latin1'``, ``bytes`` under ``encoding='bytes'``, as in the original file), the snr an ``int``.
* ``sigmf``: a ``.sigmf-data`` file (``cf32_le``, the frames one after the other) and a ``.sigmf-meta``
  file written by the ``sigmf`` package with ``core:sample_rate`` and one annotation per frame
  (``core:label`` = class, ``amc:snr_db`` = SNR, ``core:freq_lower_edge`` / ``core:freq_upper_edge`` =
  -fs/2 / +fs/2, the frame's whole band at baseband) and the class list, config, seed and version in the
  global object.

Writers stream to a temporary file in the destination folder and only ``commit()`` renames it to the
final name (``os.replace``), so a killed run never leaves a file that looks complete.
This module needs only numpy, h5py and sigmf (no GNU Radio), so training code can import it.
"""
import dataclasses
import json
import math
import os
import pickle
import shutil
import struct
import tempfile
import zlib

import numpy as np

from . import contract

FORMATS = ("hdf5", "pickle", "sigmf")
#: Usual file name extension of each format (the first one is the one gr-amc writes by default).
EXTENSIONS = {
    "hdf5": (".h5", ".hdf5"),
    "pickle": (".pkl", ".pickle", ".dat"),
    "sigmf": (".sigmf-meta", ".sigmf-data", ".sigmf"),
}
#: SigMF key (in each annotation) holding a frame's SNR in dB.
SIGMF_SNR_KEY = "amc:snr_db"
#: Sample rate (Hz) written as SigMF ``core:sample_rate`` when none is given: the generator's nominal output
#: rate (the rate of the analog classes and of every channel preset's ``samp_rate``).
DEFAULT_SAMPLE_RATE = 200e3
#: Frames per chunk of a resizable HDF5 ``X`` (a writer that does not know the number of frames in advance):
#: small chunks keep a random single-frame read cheap (one chunk of 32 frames is read for it), see
#: bench/README.md ("HDF5 layout").
HDF5_CHUNK_FRAMES = 32

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def format_from_path(path):
    """The format implied by a file name's extension, or None."""
    p = str(path).lower()
    for fmt, exts in EXTENSIONS.items():
        if p.endswith(exts):
            return fmt
    return None


def default_extension(fmt):
    check_format(fmt)
    return EXTENSIONS[fmt][0]


def check_format(fmt):
    if fmt not in FORMATS:
        raise ValueError(f"unknown dataset format {fmt!r}; allowed: {', '.join(FORMATS)}")
    return fmt


def sigmf_paths(path):
    """(data path, meta path) of a SigMF recording named by its base name or either file."""
    p = str(path)
    for ext in (".sigmf-meta", ".sigmf-data"):
        if p.endswith(ext):
            p = p[: -len(ext)]
            break
    return p + ".sigmf-data", p + ".sigmf-meta"


def final_paths(path, fmt):
    """The file(s) a writer creates for ``path`` in format ``fmt``."""
    check_format(fmt)
    return list(sigmf_paths(path)) if fmt == "sigmf" else [str(path)]


def class_sort_key(name):
    """Order used when classes are discovered from the data: 2018 order, then 2016 order, then by name."""
    if name in contract.CLASSES_2018:
        return (0, contract.CLASSES_2018.index(name), name)
    if name in contract.CLASSES_2016:
        return (1, contract.CLASSES_2016.index(name), name)
    return (2, 0, name)


def hdf5_columns(classes):
    """The columns of HDF5 ``Y`` for a file of ``classes``: the full RadioML 2018.01A list (its order) when every
    class is one of its 24, else the full RadioML 2016.10a list when every class is one of its 11, else
    ``classes`` itself. A RadioML loader that decodes ``argmax(Y)`` against the 24-class list then gets the
    right names for a file of a few 2018.01A classes."""
    classes = list(classes)
    for full in (contract.CLASSES_2018, contract.CLASSES_2016):
        if all(c in full for c in classes):
            return list(full)
    return classes


def check_classes(classes, what="classes"):
    """A list of unique, non-empty class names (a comma-separated string is accepted too)."""
    if classes is None:
        return []
    if isinstance(classes, str):
        classes = [c.strip() for c in classes.split(",") if c.strip()]
    out = []
    for c in classes:
        if isinstance(c, bytes):
            c = c.decode()
        if not isinstance(c, str) or not c.strip():
            raise ValueError(f"{what}: every class must be a non-empty string, got {c!r}")
        if c in out:
            raise ValueError(f"{what}: class {c!r} is listed twice")
        out.append(c)
    return out


# ------------------------------------------------------------------------------------------------
# Writers
# ------------------------------------------------------------------------------------------------
class DatasetWriter:
    """Base class: collects frames with their labels and SNRs, streams them to a temporary file.

    ``classes``: the class list (its order; HDF5 ``Y``'s columns are :func:`hdf5_columns` of it). If empty,
    the classes are the ones seen, in the order of :func:`class_sort_key`. A label outside a non-empty ``classes`` raises
    ValueError in :meth:`append` (nothing of that call is written).
    ``sample_rate``: Hz, for SigMF's ``core:sample_rate`` (0: :data:`DEFAULT_SAMPLE_RATE`).
    ``total_frames``: the number of frames that will be appended, when known (None: not known). HDF5 then
    writes ``X`` contiguous; more frames than that raise ValueError in :meth:`append`, fewer in :meth:`commit`.
    """

    fmt = None

    def __init__(self, path, frame_len, classes=(), config="", seed=0, sample_rate=0.0, total_frames=None):
        frame_len = int(frame_len)
        if frame_len <= 0:
            raise ValueError(f"frame_len must be > 0, got {frame_len}")
        if total_frames is not None:
            if isinstance(total_frames, bool) or int(total_frames) != total_frames or total_frames < 0:
                raise ValueError(f"total_frames must be an integer >= 0 or None, got {total_frames!r}")
            total_frames = int(total_frames)
        sample_rate = float(sample_rate)
        if not math.isfinite(sample_rate) or sample_rate < 0:
            raise ValueError(f"sample_rate must be a finite number >= 0 (0: {DEFAULT_SAMPLE_RATE:g}), "
                             f"got {sample_rate!r}")
        self.path = str(path)
        self.frame_len = frame_len
        self.classes = check_classes(classes)
        self.discover = not self.classes
        self.config = config if isinstance(config, str) else json.dumps(config, sort_keys=True)
        self.seed = int(seed)
        self.sample_rate = sample_rate or DEFAULT_SAMPLE_RATE
        self.total_frames = total_frames
        self.n_frames = 0
        self.snr_rounded = False        # an SNR was not an integer (HDF5 Z / pickle keys hold integers)
        self._labels = []               # chunks of int16 class indices (into self.classes)
        self._snrs = []                 # chunks of float64 SNRs
        self._closed = False
        dirname = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(dirname):
            raise FileNotFoundError(f"folder {dirname!r} of the output file {self.path!r} does not exist")
        self._dir = dirname

    # -- helpers --
    def _tmp_name(self, final, suffix=".tmp"):
        fd, name = tempfile.mkstemp(dir=self._dir, prefix=os.path.basename(final) + ".", suffix=suffix)
        os.close(fd)
        os.chmod(name, 0o666 & ~_UMASK)   # mkstemp makes 0600 files; give the usual permissions
        return name

    def _label_indices(self, labels):
        idx = np.empty(len(labels), np.int16)
        for i, name in enumerate(labels):
            if isinstance(name, bytes):
                name = name.decode()
            try:
                idx[i] = self.classes.index(name)
            except ValueError:
                if not self.discover:
                    raise ValueError(f"class {name!r} is not in the dataset's classes "
                                     f"({', '.join(self.classes)})") from None
                self.classes.append(name)
                idx[i] = len(self.classes) - 1
        return idx

    def append(self, frames, labels, snrs):
        """Add frames (n, L) complex, their class names (n,) and SNRs in dB (n,)."""
        if self._closed:
            raise RuntimeError("writer already committed or aborted")
        frames = np.asarray(frames)
        if frames.ndim != 2 or frames.shape[1] != self.frame_len:
            raise ValueError(f"frames must have shape (n, {self.frame_len}), got {frames.shape}")
        n = frames.shape[0]
        snrs = np.asarray(snrs, np.float64).reshape(-1)
        if len(labels) != n or len(snrs) != n:
            raise ValueError(f"{n} frames but {len(labels)} labels and {len(snrs)} SNRs")
        if n == 0:
            return
        if self.total_frames is not None and self.n_frames + n > self.total_frames:
            raise ValueError(f"{self.n_frames} + {n} frames is more than the {self.total_frames} announced "
                             f"(total_frames)")
        idx = self._label_indices(labels)
        if not np.all(np.isfinite(snrs)):
            raise ValueError("SNR values must be finite")
        if np.any(snrs != np.round(snrs)):
            self.snr_rounded = True
        self._write(np.ascontiguousarray(frames, dtype=np.complex64), idx, snrs)
        self._labels.append(idx)
        self._snrs.append(snrs)
        self.n_frames += n

    def _final_order(self):
        """(classes, remap) where remap maps the indices used so far to the final class order."""
        if not self.discover:
            return list(self.classes), np.arange(len(self.classes), dtype=np.int16)
        final = sorted(self.classes, key=class_sort_key)
        remap = np.array([final.index(c) for c in self.classes], np.int16)
        return final, remap

    def labels(self):
        classes, remap = self._final_order()
        idx = np.concatenate(self._labels) if self._labels else np.zeros(0, np.int16)
        return classes, remap[idx].astype(np.int64) if len(remap) else idx.astype(np.int64)

    def snrs(self):
        return np.concatenate(self._snrs) if self._snrs else np.zeros(0)

    def commit(self):
        """Finish the file(s) and rename them to their final names. Returns the final path(s)."""
        if self._closed:
            raise RuntimeError("writer already committed or aborted")
        try:
            if self.total_frames is not None and self.n_frames != self.total_frames:
                raise ValueError(f"{self.n_frames} frames were written, {self.total_frames} announced "
                                 f"(total_frames); no file written")
            out = self._commit()
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return out

    def abort(self):
        """Remove the temporary file(s); the final file is never created."""
        if self._closed:
            return
        self._closed = True
        self._abort()

    # -- to implement --
    def _write(self, frames, idx, snrs):
        raise NotImplementedError

    def _commit(self):
        raise NotImplementedError

    def _abort(self):
        raise NotImplementedError

    def _attrs(self, classes):
        from .paths import __version__
        return {"classes": json.dumps(list(classes)), "config": self.config, "seed": self.seed,
                "gr_amc_version": __version__, "frame_length": self.frame_len}


def _remove(path):
    try:
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    except FileNotFoundError:
        pass


class Hdf5Writer(DatasetWriter):
    """RadioML 2018.01A layout. ``X`` and ``Z`` are contiguous when ``total_frames`` is known (the layout of the
    original file, the fastest for random single-frame reads), else resizable in chunks of
    :data:`HDF5_CHUNK_FRAMES` frames (fewer when that is over 1 MiB); ``Y`` is written at commit, one-hot over
    :func:`hdf5_columns`."""

    fmt = "hdf5"

    def __init__(self, *args, buffer_bytes=1 << 20, **kwargs):
        super().__init__(*args, **kwargs)
        import h5py
        self._tmp = self._tmp_name(self.path)
        self._f = h5py.File(self._tmp, "w")
        L = self.frame_len
        if self.total_frames is not None:
            N = self.total_frames
            self._X = self._f.create_dataset("X", shape=(N, L, 2), dtype="<f4", track_times=False)
            self._Z = self._f.create_dataset("Z", shape=(N, 1), dtype="<i8", track_times=False)
            self._resize = False
            self._flush_at = max(1, buffer_bytes // (8 * L))
        else:
            chunk = max(1, min(HDF5_CHUNK_FRAMES, (1 << 20) // (8 * L)))
            self._X = self._f.create_dataset("X", shape=(0, L, 2), maxshape=(None, L, 2), dtype="<f4",
                                             chunks=(chunk, L, 2), track_times=False)
            self._Z = self._f.create_dataset("Z", shape=(0, 1), maxshape=(None, 1), dtype="<i8",
                                             chunks=(4096, 1), track_times=False)
            self._resize = True
            self._flush_at = chunk
        self._buf = []
        self._nbuf = 0
        self._written = 0

    def _write(self, frames, idx, snrs):
        self._buf.append((frames.copy(), snrs))   # copy: frames may be a view of a scheduler buffer
        self._nbuf += len(frames)
        if self._nbuf >= self._flush_at:
            self._flush()

    def _flush(self):
        if not self._buf:
            return
        frames = np.concatenate([b[0] for b in self._buf])
        snrs = np.concatenate([b[1] for b in self._buf])
        self._buf, self._nbuf = [], 0
        n0, n = self._written, len(frames)
        if self._resize:
            self._X.resize(n0 + n, axis=0)
            self._Z.resize(n0 + n, axis=0)
        self._X[n0:n0 + n] = frames.view(np.float32).reshape(n, self.frame_len, 2)
        self._Z[n0:n0 + n, 0] = np.round(snrs).astype(np.int64)
        self._written += n

    def _commit(self):
        self._flush()
        present, labels = self.labels()
        columns = hdf5_columns(present)
        to_col = np.array([columns.index(c) for c in present], np.int64)
        C = len(columns)
        Y = self._f.create_dataset("Y", shape=(self.n_frames, C), dtype="<i8", track_times=False)
        step = 65536
        for s in range(0, self.n_frames, step):
            lab = to_col[labels[s:s + step]]
            y = np.zeros((len(lab), C), np.int64)
            y[np.arange(len(lab)), lab] = 1
            Y[s:s + len(lab)] = y
        attrs = self._attrs(columns)
        attrs["classes_present"] = json.dumps(list(present))
        for k, v in attrs.items():
            self._f.attrs[k] = v
        self._f.close()
        os.replace(self._tmp, self.path)
        return [self.path]

    def _abort(self):
        try:
            self._f.close()
        except Exception:
            pass
        _remove(self._tmp)


class _LazyArray:
    """Pickles exactly like the numpy array stored in a raw file, loading it only while it is pickled."""

    def __init__(self, path, shape):
        self.path, self.shape = path, shape

    def __reduce__(self):
        a = np.fromfile(self.path, dtype="<f4").reshape(self.shape)
        return a.__reduce__()


class _Py2Str(str):
    """A class name pickled as a Python 2 string (opcode SHORT_BINSTRING), as the keys of the original
    RadioML 2016.10a file are: it loads as ``str`` with ``encoding='latin1'`` (and the default ASCII), as
    ``bytes`` with ``encoding='bytes'``, exactly as the original's keys do."""


class _Py2KeyPickler(pickle._Pickler):
    """The pure-Python pickler, writing :class:`_Py2Str` as a Python 2 string."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2str(self, obj):
        b = obj.encode("latin1")
        if len(b) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(b)]) + b)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(b)) + b)
        self.memoize(obj)

    dispatch[_Py2Str] = _save_py2str


def _pickle_key_name(name):
    """The class name as the original file's keys hold it (a Python 2 string) when latin-1 can encode it."""
    try:
        name.encode("latin1")
    except UnicodeEncodeError:
        return name
    return _Py2Str(name)


class PickleWriter(DatasetWriter):
    """RadioML 2016.10a layout. Frames are spooled to one raw file per (class, SNR) key in a temporary
    folder; commit() pickles the dict one key at a time (memory: one key's array, not the dataset).
    Keys are (class, snr) with the class a Python 2 string and the SNR an int, as in the original file, so
    that every ``encoding`` of ``pickle.load`` gives the same keys as the original's (docs/datasets.md)."""

    fmt = "pickle"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._spool = tempfile.mkdtemp(dir=self._dir, prefix=os.path.basename(self.path) + ".", suffix=".tmpdir")
        self._files = {}   # (class index, snr int) -> [file object, n frames]

    def _write(self, frames, idx, snrs):
        snr_i = np.round(snrs).astype(np.int64)
        x = np.stack([frames.real, frames.imag], axis=1).astype("<f4")   # (n, 2, L)
        keys = idx.astype(np.int64) * (1 << 20) + snr_i
        # group consecutive runs with the same key (usually the whole call)
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        ends = np.r_[starts[1:], len(keys)]
        for s, e in zip(starts, ends):
            key = (int(idx[s]), int(snr_i[s]))
            ent = self._files.get(key)
            if ent is None:
                fname = os.path.join(self._spool, f"k{len(self._files):05d}.f32")
                ent = self._files[key] = [open(fname, "wb"), 0, fname]
            ent[0].write(x[s:e].tobytes())
            ent[1] += e - s

    def _commit(self):
        classes, remap = self._final_order()
        items = []
        for (ci, snr), (fh, n, fname) in self._files.items():
            fh.close()
            items.append(((classes[remap[ci]], snr), _LazyArray(fname, (n, 2, self.frame_len))))
        items.sort(key=lambda kv: (classes.index(kv[0][0]), kv[0][1]))
        items = [((_pickle_key_name(c), int(snr)), a) for (c, snr), a in items]
        tmp = self._tmp_name(self.path)
        with open(tmp, "wb") as f:
            p = _Py2KeyPickler(f, protocol=4)
            p.fast = True   # no memo: each array is freed once written
            p.dump(dict(items))
        os.replace(tmp, self.path)
        _remove(self._spool)
        return [self.path]

    def _abort(self):
        for fh, _, _ in self._files.values():
            try:
                fh.close()
            except Exception:
                pass
        _remove(self._spool)


class SigmfWriter(DatasetWriter):
    """SigMF recording: data streamed to a temporary .sigmf-data; the metadata (one annotation per frame)
    is made with the sigmf package at commit. Memory: labels and SNRs (a few bytes per frame) until commit."""

    fmt = "sigmf"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.data_path, self.meta_path = sigmf_paths(self.path)
        self._tmp_data = self._tmp_name(self.data_path)
        self._fh = open(self._tmp_data, "wb")

    def _write(self, frames, idx, snrs):
        self._fh.write(frames.astype("<c8").tobytes())

    def _commit(self):
        from sigmf import SigMFFile, hashing
        from .paths import __version__
        self._fh.close()
        classes, labels = self.labels()
        snrs = self.snrs()
        L = self.frame_len
        fs = self.sample_rate
        glob = {
            "core:datatype": "cf32_le",
            "core:sample_rate": fs,
            "core:description": f"gr-amc dataset: {self.n_frames} frames of {L} samples, "
                                       f"one annotation per frame (core:label = class, {SIGMF_SNR_KEY} = SNR)",
            "core:recorder": f"gr-amc {__version__}",
            "core:extensions": [{"name": "amc", "version": "1.0.0", "optional": True}],
            "amc:classes": list(classes),
            "amc:config": self.config,
            "amc:seed": self.seed,
            "amc:gr_amc_version": __version__,
            "amc:frame_length": L,
        }
        # no core:frequency (simulated baseband): the edges are relative to baseband; the frame's carrier
        # offset and bandwidth are not known here, so an annotation spans the whole band
        annotations = [{"core:sample_start": int(i) * L,
                        "core:sample_count": L,
                        "core:freq_lower_edge": -fs / 2,
                        "core:freq_upper_edge": fs / 2,
                        "core:label": classes[int(lab)],
                        SIGMF_SNR_KEY: float(s)}
                       for i, (lab, s) in enumerate(zip(labels, snrs))]
        meta = SigMFFile(metadata={"global": glob, "captures": [{"core:sample_start": 0}],
                                   "annotations": annotations})
        meta.set_global_field("core:sha512",
                              hashing.calculate_sha512(filename=self._tmp_data))
        meta.validate()
        tmp_meta = self._tmp_name(self.meta_path)
        with open(tmp_meta, "w") as f:
            meta.dump(f, pretty=True)
            f.write("\n")
        # data first: a data file without its metadata does not look like a complete recording
        os.replace(self._tmp_data, self.data_path)
        os.replace(tmp_meta, self.meta_path)
        return [self.data_path, self.meta_path]

    def _abort(self):
        try:
            self._fh.close()
        except Exception:
            pass
        _remove(self._tmp_data)


_WRITERS = {"hdf5": Hdf5Writer, "pickle": PickleWriter, "sigmf": SigmfWriter}


def open_writer(path, fmt, frame_len, classes=(), config="", seed=0, sample_rate=0.0, total_frames=None):
    """A :class:`DatasetWriter` for ``fmt`` (one of FORMATS) writing ``path`` atomically on commit().
    ``sample_rate`` (Hz, 0: :data:`DEFAULT_SAMPLE_RATE`) and ``total_frames`` (None: not known): see
    :class:`DatasetWriter`."""
    check_format(fmt)
    return _WRITERS[fmt](path, frame_len, classes=classes, config=config, seed=seed, sample_rate=sample_rate,
                         total_frames=total_frames)


# ------------------------------------------------------------------------------------------------
# Restricted unpickler: a RadioML-layout pickle needs numpy arrays, dtypes and plain containers only
# ------------------------------------------------------------------------------------------------
def _np_attr(*names):
    """The first of the dotted numpy names that exists (numpy 2 moved numpy.core to numpy._core)."""
    import importlib
    for name in names:
        mod, _, attr = name.rpartition(".")
        try:
            return getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError):
            continue
    raise ValueError(f"numpy provides none of {names}")


class _Refused(pickle.UnpicklingError):
    """Something a RadioML-layout pickle does not need (the message says what)."""


class _ForbiddenGlobal(_Refused):
    """A global outside the allowed list (the message is its dotted name)."""


def _safe_reconstruct(subtype, shape, dtype):
    # numpy pickles an array as _reconstruct(ndarray, (0,), b"b") + __setstate__; nothing else
    # is needed, and a large initial shape would only allocate memory.
    if subtype is not np.ndarray:
        raise _Refused(f"array reconstruction of {subtype!r} (only numpy.ndarray)")
    if not isinstance(shape, tuple) or int(np.prod(shape)) > 1:
        raise _Refused(f"array reconstruction with initial shape {shape!r} (numpy writes (0,))")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


def _safe_frombuffer(buf, dtype, shape, order):
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order)


def _safe_encode(obj, encoding="utf-8"):
    # Python 3 pickles bytes for protocols 0-2 as _codecs.encode(str, "latin1")
    if not isinstance(obj, str) or encoding != "latin1":
        raise _Refused(f"_codecs.encode({type(obj).__name__}, {encoding!r}) (only of a str, to latin1)")
    return obj.encode("latin1")


def _safe_bytes(*args):
    # Python 3 pickles b"" for protocols 0-2 as bytes()
    if args:
        raise _Refused("bytes() with arguments (only bytes())")
    return b""


#: (module, name) -> the object the restricted unpickler gives for it (Python 3 names: find_class
#: maps Python 2 names such as __builtin__ first, as pickle's own fix_imports does).
_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _safe_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _safe_frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _safe_encode,
    ("builtins", "bytes"): _safe_bytes,
}
_PICKLE_LAZY = {
    # numpy scalars (e.g. an np.int64 SNR in a key): scalar(dtype, bytes) builds one from raw bytes
    ("numpy.core.multiarray", "scalar"): ("numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar"),
    ("numpy._core.multiarray", "scalar"): ("numpy._core.multiarray.scalar", "numpy.core.multiarray.scalar"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles only numpy arrays, dtypes, numpy scalars and builtin containers/strings/numbers.

    Any other global (a function, a class) is refused before it is looked up, so a planted
    payload (for example ``os.system``) never runs."""

    def find_class(self, module, name):
        import _compat_pickle
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        obj = _PICKLE_ALLOWED.get((module, name))
        if obj is not None:
            return obj
        if (module, name) in _PICKLE_LAZY:
            return _np_attr(*_PICKLE_LAZY[(module, name)])
        raise _ForbiddenGlobal(f"{module}.{name}")


def _safe_pickle_load(path):
    """Load a RadioML-layout pickle with the restricted unpickler; every failure is a ValueError
    naming the file (a forbidden global is named too)."""
    try:
        with open(path, "rb") as f:
            return _RestrictedUnpickler(f, encoding="latin1").load()
    except _ForbiddenGlobal as e:
        raise ValueError(f"{path}: refused to load the pickle: it needs the global '{e}', which a RadioML-layout "
                         f"dataset (a dict of numpy arrays) does not use; only numpy arrays, dtypes and scalars "
                         f"and builtin tuples, strings, bytes and numbers are allowed") from None
    except _Refused as e:
        raise ValueError(f"{path}: refused to load the pickle: {e}") from None
    except (EOFError, pickle.UnpicklingError) as e:
        raise ValueError(f"{path}: truncated or corrupt pickle ({e or 'no data'})") from None
    except (OSError, MemoryError):
        raise
    except Exception as e:  # noqa: BLE001  (a corrupt stream can make any constructor fail)
        raise ValueError(f"{path}: corrupt pickle ({type(e).__name__}: {e})") from None


# ------------------------------------------------------------------------------------------------
# Reader
# ------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Dataset:
    """A labelled dataset in memory.

    x: complex64 (N, L) frames; labels: int64 (N,) indices into ``classes``; snrs: (N,) SNR in dB
    (int64 for HDF5/pickle, float64 for SigMF); classes: list of class names; attrs: file attributes
    (``format``, ``classes``, ``config``, ``seed``, ``gr_amc_version`` when the file has them).
    """
    x: np.ndarray
    labels: np.ndarray
    snrs: np.ndarray
    classes: list
    attrs: dict

    def __len__(self):
        return len(self.labels)

    @property
    def frame_length(self):
        return self.x.shape[1]

    def config(self):
        """The generation config stored in the file, as a dict ({} when the file has none)."""
        c = self.attrs.get("config")
        if not c:
            return {}
        try:
            return json.loads(c)
        except ValueError:
            import yaml
            return yaml.safe_load(c)


def detect_format(path):
    """The format of a dataset file: from its extension, else from an HDF5 signature or a SigMF
    metadata file beside it. Nothing else is guessed from the contents (a pickle is never)."""
    fmt = format_from_path(path)
    if fmt:
        return fmt
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except (IsADirectoryError, FileNotFoundError):
        head = b""
    if head == _HDF5_MAGIC:
        return "hdf5"
    if os.path.exists(str(path) + ".sigmf-meta"):
        return "sigmf"
    if not os.path.exists(str(path)):
        raise FileNotFoundError(f"dataset file {str(path)!r} does not exist")
    exts = "; ".join(f"{fmt}: {', '.join(e)}" for fmt, e in EXTENSIONS.items())
    raise ValueError(f"cannot tell the format of {str(path)!r} from its name ({exts}); it has no HDF5 "
                     f"signature and no .sigmf-meta beside it (a pickle is only read from a pickle extension "
                     f"or an explicit format)")


def _default_classes(n):
    if n == len(contract.CLASSES_2018):
        return list(contract.CLASSES_2018)
    if n == len(contract.CLASSES_2016):
        return list(contract.CLASSES_2016)
    return [f"class{i}" for i in range(n)]


def _remap(ds, classes):
    """Express ds.labels as indices into ``classes`` (which must hold every class present)."""
    classes = check_classes(classes)
    present = sorted(set(ds.labels.tolist()))
    missing = [ds.classes[i] for i in present if ds.classes[i] not in classes]
    if missing:
        raise ValueError(f"dataset holds classes {missing} that are not in the requested classes {classes}")
    table = np.array([classes.index(c) if c in classes else -1 for c in ds.classes], np.int64)
    ds.labels = table[ds.labels] if len(ds.labels) else ds.labels
    ds.classes = list(classes)
    return ds


def load_dataset(path, fmt=None, classes=None):
    """Load an HDF5 (RadioML 2018.01A layout), pickle (RadioML 2016.10a layout) or SigMF dataset.

    ``fmt``: force a format (default: from the extension; see :func:`detect_format`).
    ``classes``: optional class list to express the labels in (e.g. a model's class order).
    Returns a :class:`Dataset`. Works on the original RadioML files too (classes then default to the
    contract lists: 24 columns -> RadioML 2018.01A order, pickles -> the classes present, 2016 order first).
    An HDF5 file with a ``classes_present`` attribute (gr-amc writes one) gets that list as its classes, ``Y``'s
    columns being the full list in ``classes``.
    Pickles are read with a restricted unpickler (numpy arrays and plain containers only). A file that
    is truncated or inconsistent (shapes, ``Y`` not one-hot, ``X``/``Y``/``Z`` lengths, SNRs not
    finite, labels outside the class list) raises ValueError naming the file and the dataset.
    """
    path = str(path)
    fmt = check_format(fmt) if fmt else detect_format(path)
    ds = {"hdf5": _load_hdf5, "pickle": _load_pickle, "sigmf": _load_sigmf}[fmt](path)
    ds.attrs["format"] = fmt
    if classes is not None:
        ds = _remap(ds, classes)
    return ds


def _check_real_array(a, what):
    """a as a numpy array of real numbers, or ValueError (``what`` names the file and dataset)."""
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{what} must hold real numbers, got dtype {a.dtype}")
    return a


def _check_snrs(snrs, what):
    bad = ~np.isfinite(snrs)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what}: {int(bad.sum())} SNR value(s) are not finite (the first at row {i}: {snrs[i]})")


#: Rows of Y and Z checked at a time when an HDF5 file's header is read (bounded memory for any file size).
_HDF5_LABEL_ROWS = 1 << 16


def _hdf5_open_error(path, e):
    if isinstance(e, (FileNotFoundError, PermissionError, IsADirectoryError)):
        return e
    return ValueError(f"{path}: cannot read the HDF5 file (truncated or corrupt?): {e}")


def _hdf5_header(f, path):
    """The labels, SNRs, classes and attributes of an open RadioML 2018.01A-layout file, without reading X:
    dict(labels int64 (N,), snrs int64 (N,), classes, attrs, frames N, frame_length L, chunk_rows: the rows of one
    HDF5 chunk of X, or 0 for a contiguous X).  Y and Z are checked in blocks of rows, so the memory is that of the
    labels whatever the file's size.  ValueError naming the file and dataset for anything inconsistent."""
    import h5py
    for k in ("X", "Y", "Z"):
        if k not in f:
            raise ValueError(f"{path}: not a RadioML 2018.01A-layout file (no dataset {k!r})")
        if not isinstance(f[k], h5py.Dataset):
            raise ValueError(f"{path}: {k!r} is a group, not a dataset")
        if f[k].dtype.kind not in "biuf":
            raise ValueError(f"{path}: dataset {k} must hold real numbers, got dtype {f[k].dtype}")
    X, Y, Z = f["X"], f["Y"], f["Z"]
    attrs = {}
    for k, v in f.attrs.items():
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, np.generic):
            v = v.item()
        attrs[k] = v
    if X.ndim != 3 or X.shape[2] != 2 or X.shape[1] < 1:
        raise ValueError(f"{path}: dataset X must have shape (N, L, 2) with L >= 1, got {X.shape}")
    if Y.ndim != 2 or Y.shape[1] < 1:
        raise ValueError(f"{path}: dataset Y must have shape (N, C) with C >= 1 (one-hot), got {Y.shape}")
    if Z.ndim not in (1, 2) or (Z.ndim == 2 and Z.shape[1] != 1):
        raise ValueError(f"{path}: dataset Z must have shape (N, 1) or (N,), got {Z.shape}")
    if not (len(X) == len(Y) == len(Z)):
        raise ValueError(f"{path}: datasets X, Y and Z must have the same length, got {len(X)}, {len(Y)} "
                         f"and {len(Z)} rows")
    n = len(Y)
    labels = np.zeros(n, np.int64)
    z = np.zeros(n, np.float64)
    for a in range(0, n, _HDF5_LABEL_ROWS):
        b = min(n, a + _HDF5_LABEL_ROWS)
        yb = np.asarray(Y[a:b])
        not01 = (yb != 0) & (yb != 1)
        if np.any(not01):
            i = int(np.flatnonzero(not01.any(axis=1))[0])
            raise ValueError(f"{path}: dataset Y is not one-hot: values other than 0 and 1 "
                             f"(the first in row {a + i}: {yb[i].tolist()})")
        ones = np.count_nonzero(yb, axis=1)
        if np.any(ones != 1):
            i = int(np.flatnonzero(ones != 1)[0])
            bad = sum(int(np.sum(np.count_nonzero(np.asarray(Y[c:c + _HDF5_LABEL_ROWS]), axis=1) != 1))
                      for c in range(0, n, _HDF5_LABEL_ROWS))
            raise ValueError(f"{path}: dataset Y is not one-hot: {bad} row(s) do not have "
                             f"exactly one 1 (the first is row {a + i}, with {int(ones[i])})")
        labels[a:b] = np.argmax(yb, axis=1)
        z[a:b] = np.asarray(Z[a:b]).reshape(b - a)
    _check_snrs(z, f"{path}: dataset Z")
    if "classes" in attrs:
        try:
            classes = check_classes(json.loads(attrs["classes"]), f"{path}: attribute 'classes'")
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: attribute 'classes' is not a JSON list of class names: {e}") from None
        if len(classes) != Y.shape[1]:
            raise ValueError(f"{path}: dataset Y has {Y.shape[1]} columns but the attribute 'classes' lists "
                             f"{len(classes)} classes")
    else:
        classes = _default_classes(Y.shape[1])
    if "classes_present" in attrs:
        # Y's columns are a full class list; the labels are expressed in the classes the file was written with
        try:
            present = check_classes(json.loads(attrs["classes_present"]), f"{path}: attribute 'classes_present'")
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: attribute 'classes_present' is not a JSON list of class names: {e}") from None
        outside = [c for c in present if c not in classes]
        if outside:
            raise ValueError(f"{path}: attribute 'classes_present' lists {outside}, which are not among Y's "
                             f"columns (attribute 'classes')")
        table = np.array([present.index(c) if c in present else -1 for c in classes], np.int64)
        mapped = table[labels]
        if np.any(mapped < 0):
            i = int(np.flatnonzero(mapped < 0)[0])
            raise ValueError(f"{path}: row {i} of Y is class {classes[int(labels[i])]!r}, which is not in "
                             f"the attribute 'classes_present' ({', '.join(present)})")
        labels, classes = mapped, present
    return dict(labels=labels, snrs=z.astype(np.int64), classes=list(classes), attrs=attrs, frames=n,
                frame_length=int(X.shape[1]), chunk_rows=int(X.chunks[0]) if X.chunks else 0)


def read_hdf5_frames(f, start, stop):
    """Rows start..stop-1 of an open HDF5 file's X as complex64 frames (n, L): one contiguous read."""
    X = f["X"]
    return np.ascontiguousarray(X[start:stop], dtype=np.float32).view(np.complex64)[..., 0]


def hdf5_header(path):
    """:func:`_hdf5_header` of the file at `path` (opened and closed here), for readers that stream X."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            return _hdf5_header(f, path)
    except (OSError, RuntimeError) as e:
        raise _hdf5_open_error(path, e) from None


def _load_hdf5(path):
    import h5py
    try:
        with h5py.File(path, "r") as f:
            h = _hdf5_header(f, path)
            x = read_hdf5_frames(f, 0, h["frames"])
    except (OSError, RuntimeError) as e:
        raise _hdf5_open_error(path, e) from None
    return Dataset(x, h["labels"], h["snrs"], h["classes"], h["attrs"])


def _load_pickle(path):
    d = _safe_pickle_load(path)
    if not isinstance(d, dict):
        raise ValueError(f"{path}: not a RadioML 2016.10a-layout pickle (a dict {{(class, snr): array}}), "
                         f"got a {type(d).__name__}")
    norm = {}
    for k, v in d.items():
        if not (isinstance(k, tuple) and len(k) == 2):
            raise ValueError(f"{path}: key {k!r} is not (class, snr)")
        c = k[0].decode("latin1") if isinstance(k[0], bytes) else k[0]
        if not isinstance(c, str) or not c.strip():
            raise ValueError(f"{path}: key {k!r}: the class must be a non-empty string")
        snr = k[1]
        if isinstance(snr, (bool, np.bool_)) or not isinstance(snr, (int, float, np.integer, np.floating)):
            raise ValueError(f"{path}: key {k!r}: the SNR must be a number, got {type(snr).__name__}")
        if not math.isfinite(float(snr)) or abs(snr) >= 2 ** 62:
            raise ValueError(f"{path}: key {k!r}: the SNR is not a finite number")
        if (c, snr) in norm:
            raise ValueError(f"{path}: key {k!r} is listed twice")
        a = _check_real_array(v, f"{path}: array for key {k!r}")
        if a.ndim != 3 or a.shape[1] != 2 or a.shape[2] < 1:
            raise ValueError(f"{path}: array for key {k!r} must have shape (n, 2, L) with L >= 1, got {a.shape}")
        norm[(c, snr)] = a.astype(np.float32, copy=False)
    # 2016 names first in the 2016 order (the pickle is the 2016 layout), then 2018 order, then by name
    classes = sorted({c for c, _ in norm}, key=lambda c: ((0, contract.CLASSES_2016.index(c), c)
                                                          if c in contract.CLASSES_2016 else
                                                          (1,) + class_sort_key(c)))
    xs, labels, snrs = [], [], []
    L = None
    for (c, snr) in sorted(norm, key=lambda k: (classes.index(k[0]), k[1])):
        a = norm[(c, snr)]
        if L is None:
            L = a.shape[2]
        elif a.shape[2] != L:
            raise ValueError(f"{path}: frame lengths differ between keys ({L} and {a.shape[2]} at {(c, snr)!r})")
        xs.append((a[:, 0, :] + 1j * a[:, 1, :]).astype(np.complex64))
        labels.append(np.full(len(a), classes.index(c), np.int64))
        snrs.append(np.full(len(a), snr, np.int64))
    if not xs:
        return Dataset(np.zeros((0, 0), np.complex64), np.zeros(0, np.int64), np.zeros(0, np.int64), [], {})
    return Dataset(np.concatenate(xs), np.concatenate(labels), np.concatenate(snrs), classes,
                   {"classes": json.dumps(classes)})


def _load_sigmf(path):
    from sigmf import sigmffile
    from sigmf.error import SigMFError
    data_path, meta_path = sigmf_paths(path[:-len(".sigmf")] if path.endswith(".sigmf") else path)
    for p in (meta_path, data_path):
        if not os.path.isfile(p):
            raise FileNotFoundError(f"SigMF file {p!r} does not exist")
    try:
        meta = sigmffile.fromfile(meta_path)
    except (SigMFError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{meta_path}: not a valid SigMF metadata file ({type(e).__name__}: {e})") from None
    if meta.get_global_field("core:datatype") != "cf32_le":
        raise ValueError(f"{meta_path}: datatype {meta.get_global_field('core:datatype')!r} is not cf32_le")
    if os.path.getsize(data_path) % 8:
        raise ValueError(f"{data_path}: size {os.path.getsize(data_path)} bytes is not a whole number of cf32_le "
                         f"samples (8 bytes each): truncated?")
    raw = np.fromfile(data_path, dtype="<c8")
    ann = meta.get_annotations()
    classes = meta.get_global_field("amc:classes")
    names = [a.get("core:label") for a in ann]
    if classes is None:
        if any(not isinstance(c, str) for c in names):
            i = next(i for i, c in enumerate(names) if not isinstance(c, str))
            raise ValueError(f"{meta_path}: annotation {i} has no core:label (the class)")
        classes = sorted(set(names), key=class_sort_key)
    else:
        classes = check_classes(classes, f"{meta_path}: amc:classes")
    index = {c: i for i, c in enumerate(classes)}
    labels = np.empty(len(ann), np.int64)
    for i, c in enumerate(names):
        if c not in index:
            raise ValueError(f"{meta_path}: annotation {i} has core:label {c!r}, which is not in amc:classes "
                             f"({', '.join(classes)})")
        labels[i] = index[c]
    lengths = {a.get("core:sample_count") for a in ann}
    if len(lengths) > 1:
        raise ValueError(f"{meta_path}: annotations have different lengths "
                         f"{sorted(lengths, key=lambda v: (v is None, str(v)))}")
    L = lengths.pop() if lengths else int(meta.get_global_field("amc:frame_length") or 0)
    if isinstance(L, bool) or not isinstance(L, int) or (ann and L < 1):
        raise ValueError(f"{meta_path}: core:sample_count must be a positive integer, got {L!r}")
    x = np.zeros((len(ann), L), np.complex64)
    for i, a in enumerate(ann):
        s = a.get("core:sample_start")
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ValueError(f"{meta_path}: annotation {i}: core:sample_start must be an integer >= 0, got {s!r}")
        if s + L > len(raw):
            raise ValueError(f"{meta_path}: annotation {i} spans samples [{s}, {s + L}) but {data_path} holds "
                             f"{len(raw)} samples (truncated?)")
        x[i] = raw[s:s + L]
    snrs = np.empty(len(ann), np.float64)
    for i, a in enumerate(ann):
        v = a.get(SIGMF_SNR_KEY)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise ValueError(f"{meta_path}: annotation {i}: {SIGMF_SNR_KEY} must be a finite number, got {v!r}")
        snrs[i] = v
    attrs = {"classes": json.dumps(list(classes))}
    for k, ak in (("config", "amc:config"), ("seed", "amc:seed"), ("gr_amc_version", "amc:gr_amc_version"),
                  ("frame_length", "amc:frame_length")):
        v = meta.get_global_field(ak)
        if v is not None:
            attrs[k] = v
    return Dataset(x, labels, snrs, list(classes), attrs)


def stable_seed_words(*items):
    """Entropy words (non-negative ints) from ints and strings, stable across processes and runs."""
    out = []
    for it in items:
        if isinstance(it, str):
            out.append(zlib.crc32(it.encode()))
        else:
            v = int(it)
            out.append(v & 0xFFFFFFFF)
            if v >> 32:        # wider integers (seeds up to 2**63-1) keep every bit; small ones keep one word
                out += [(v >> 32) & 0xFFFFFFFF, 0x5EED]
    return out


# ------------------------------------------------------------------------------------------------
# Frames for models: a dataset file as the arrays training and evaluation use
# ------------------------------------------------------------------------------------------------
def load_data(path):
    """Dataset file -> dict(frames complex64 (N, L), labels int (N,), snrs float (N,), classes list, attrs dict).

    Uses datasets.load_dataset (the shared reader); raises FileNotFoundError or ValueError naming the file on failure."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"dataset file {path!r} does not exist")
    try:
        ds = load_dataset(path)
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"cannot read dataset {path!r}: {e}") from None
    out = dict(frames=np.asarray(ds.x), labels=np.asarray(ds.labels).astype(np.int64).ravel(),
               snrs=np.asarray(ds.snrs, dtype=np.float64).ravel(), classes=[str(c) for c in ds.classes],
               attrs=dict(ds.attrs or {}))
    if out["frames"].ndim != 2 or not np.iscomplexobj(out["frames"]):
        raise ValueError(f"dataset {path!r}: expected complex frames (N, L), got {out['frames'].dtype} "
                       f"{out['frames'].shape}")
    return out


def count_frames(path):
    """Number of frames in a dataset file without keeping them (a cheap header read for HDF5)."""
    try:
        import h5py
        with h5py.File(path, "r") as f:
            if "X" in f:
                return int(f["X"].shape[0])
    except (OSError, ImportError):
        pass
    return len(load_data(path)["labels"])


def dataset_normalization(attrs):
    """The per-frame normalization the generator applied (from the file's attributes or config), or None."""
    for key in ("normalization", "amc.normalization", "norm"):
        if key in attrs:
            v = attrs[key]
            v = v.decode() if isinstance(v, bytes) else str(v)
            return v
    cfg = attrs.get("config")
    if isinstance(cfg, (str, bytes)):
        try:
            cfg = json.loads(cfg)
        except ValueError:
            cfg = None
    if isinstance(cfg, dict):
        for k in ("normalization", "normalize"):
            if isinstance(cfg.get(k), str):
                return cfg[k]
        fr = cfg.get("framing") or cfg.get("frames") or {}
        if isinstance(fr, dict) and isinstance(fr.get("normalization"), str):
            return fr["normalization"]
    return None


def dataset_name(attrs, path):
    """'<config name> seed <seed>' from the file's attributes, else the file name."""
    name = None
    for key in ("preset", "dataset", "name"):
        if key in attrs:
            v = attrs[key]
            name = v.decode() if isinstance(v, bytes) else str(v)
    cfg = attrs.get("config")
    if name is None and isinstance(cfg, (str, bytes)):
        try:
            name = json.loads(cfg).get("name")
        except (ValueError, AttributeError):
            name = None
    if name is None:
        return os.path.basename(path)
    return f"{name} seed {attrs['seed']}" if "seed" in attrs else name

