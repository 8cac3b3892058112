#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Training data from dataset files: several files joined into one array (normalized as the classifier will),
the SNR window and subsample, and the seeded 6:2:2 split; or, for HDF5 files larger than memory, the same split
streamed in row blocks (:class:`StreamedFiles`, :func:`make_file_loader`).  numpy only, but for the loader."""
import os

import numpy as np

from .. import contract, datasets, runtime


def file_normalization(path, attrs, normalization=None):
    """The normalization to apply to a file's frames: `normalization`, or the generator's from its attributes;
    ValueError naming the file when neither is known or the value is not a known mode."""
    norm = normalization or datasets.dataset_normalization(attrs)
    if norm is None:
        raise ValueError(f"dataset {path!r} does not say how its frames were normalized (no config "
                         f"attribute); give --normalization ({', '.join(contract.NORMALIZATIONS)})")
    if norm not in contract.NORMALIZATIONS:
        raise ValueError(f"dataset {path!r}: normalization {norm!r} in its config is not one of "
                         f"{', '.join(contract.NORMALIZATIONS)}")
    return norm


def check_joinable(path, first, got, want):
    """Files trained on as one must agree: `got` and `want` are (classes, frame length, normalization) of `path`
    and of the first file `first`; ValueError naming both otherwise."""
    (classes, length, norm), (classes0, length0, norm0) = got, want
    if classes != classes0:
        raise ValueError(f"dataset {path!r} has the classes {classes}; {first!r} has "
                         f"{classes0} (several files must list the same classes in the same order)")
    if length != length0:
        raise ValueError(f"dataset {path!r} has frames of {length} samples; {first!r} has {length0}")
    if norm != norm0:
        raise ValueError(f"dataset {path!r} was normalized with {norm!r}, {first!r} with "
                         f"{norm0!r}; give --normalization to train on both")


def load_training_data(paths, normalization=None):
    """One or more dataset files -> dict(frames, labels, snrs, classes) as load_data's, the frames normalized with
    `normalization` by runtime.normalize (default: the generator's normalization, which must then be the same for every file), plus
    "normalization" (the one applied), "names" (dataset_name of each file) and "files" (their paths).  Frames are
    copied file by file into one array, so the peak memory is the total plus about two files (one as read, one
    normalized)."""
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not paths:
        raise ValueError("no dataset file given")
    out, frames, pos, total = None, None, 0, 0
    for path in paths:
        d = datasets.load_data(path)
        norm = file_normalization(path, d["attrs"], normalization)
        if out is None:
            out = dict(labels=[], snrs=[], classes=d["classes"], normalization=norm, names=[], files=[])
            L = d["frames"].shape[1]
            if len(paths) > 1:  # sizes first, so that the frames are copied once into their final array
                total = len(d["frames"]) + sum(datasets.count_frames(q) for q in paths[1:])
                frames = np.empty((total, L), np.complex64)
        else:
            check_joinable(path, paths[0], (d["classes"], d["frames"].shape[1], norm),
                           (out["classes"], L, out["normalization"]))
        x = runtime.normalize(d["frames"], norm)[0]
        if frames is None:
            frames = x
        else:
            if pos + len(x) > total:
                raise ValueError(f"dataset {path!r} changed while it was read")
            frames[pos:pos + len(x)] = x
        pos += len(x)
        out["labels"].append(d["labels"])
        out["snrs"].append(d["snrs"])
        out["names"].append(datasets.dataset_name(d["attrs"], path))
        out["files"].append(path)
        del d, x
    out["frames"] = frames[:pos]
    out["labels"] = np.concatenate(out["labels"])
    out["snrs"] = np.concatenate(out["snrs"])
    return out


def split_indices(n, seed, fractions=(0.6, 0.2, 0.2)):
    """Seeded 6:2:2 split of range(n) -> (train, val, test) index arrays (sorted)."""
    perm = np.random.default_rng(seed).permutation(n)
    n_tr = int(round(fractions[0] * n))
    n_va = int(round(fractions[1] * n))
    return np.sort(perm[:n_tr]), np.sort(perm[n_tr:n_tr + n_va]), np.sort(perm[n_tr + n_va:])


def select_frames(data, min_snr=None, max_snr=None, max_frames=0, seed=0):
    """Indices of the frames used for training (SNR window, seeded subsample)."""
    keep = np.ones(len(data["labels"]), bool)
    if min_snr is not None:
        keep &= data["snrs"] >= min_snr
    if max_snr is not None:
        keep &= data["snrs"] <= max_snr
    idx = np.flatnonzero(keep)
    if max_frames and len(idx) > max_frames:
        idx = np.sort(np.random.default_rng(seed + 7919).choice(idx, max_frames, replace=False))
    return idx



# ------------------------------------------------------------------------------------------------
# HDF5 files larger than memory: the same frames, streamed in blocks of rows
# ------------------------------------------------------------------------------------------------
#: Bytes of X read at a time by the streaming reader (rounded to whole HDF5 chunks of X when X is chunked).
BLOCK_BYTES = 1 << 20
#: Blocks a streaming reader mixes at a time (a RadioML file is sorted by class and SNR, so a block holds one or
#: two (class, SNR) cells; 64 blocks mix as many cells as the on-the-fly stream's 64 shards).
MIX_BLOCKS = 64
#: Frames per piece a streaming DataLoader worker hands over (the training process cuts them into batches).
PIECE_FRAMES = 256
#: ``--streaming auto`` streams when the in-memory path's peak (this many times the frames' bytes) would not fit in
#: the memory available.
IN_MEMORY_PEAK = 3.0


def _cgroup_memory_files():
    """(limit file, usage file) pairs of this process's memory cgroup: v2 (memory.max) and v1
    (memory.limit_in_bytes), at the process's own cgroup path and at the mount's root."""
    pairs, root = [], "/sys/fs/cgroup"
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            pairs.append((f"{root}{path}/memory.max", f"{root}{path}/memory.current"))
        elif "memory" in controllers.split(","):
            base = f"{root}/{controllers}"
            pairs.append((f"{base}{path}/memory.limit_in_bytes", f"{base}{path}/memory.usage_in_bytes"))
    pairs += [(f"{root}/memory.max", f"{root}/memory.current"),
              (f"{root}/memory/memory.limit_in_bytes", f"{root}/memory/memory.usage_in_bytes")]
    return pairs


def available_memory():
    """Bytes of memory this process may still use: MemAvailable of /proc/meminfo, lowered by the limit of its
    memory cgroup (v2 memory.max or v1 memory.limit_in_bytes) when one is set; None when nothing can be read."""
    best = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    best = int(line.split()[1]) * 1024
    except OSError:
        pass
    for limit, usage in _cgroup_memory_files():
        try:
            with open(limit) as f:
                raw = f.read().strip()
            if raw == "max" or int(raw) >= 1 << 60:
                continue
            with open(usage) as f:
                free = max(0, int(raw) - int(f.read().strip()))
        except (OSError, ValueError):
            continue
        best = free if best is None else min(best, free)
    return best


def needs_streaming(frame_bytes, available):
    """True when frames of `frame_bytes` bytes should be streamed: the in-memory path peaks at about
    IN_MEMORY_PEAK times them (docs/scaling.md), more than `available` bytes (None: unknown, never stream)."""
    return available is not None and IN_MEMORY_PEAK * frame_bytes > available


def is_hdf5(path):
    return datasets.detect_format(str(path)) == "hdf5"


class StreamedFiles:
    """The frames of one or more HDF5 files (RadioML 2018.01A layout) without X in memory: labels, SNRs and classes
    read from the headers (as :func:`load_training_data` gives them), X read later in blocks of whole rows.

    Row i of the joined files is row i - offset[k] of file k.  The files must agree as load_training_data
    requires (classes, frame length, normalization)."""

    def __init__(self, paths, normalization=None):
        paths = [paths] if isinstance(paths, (str, os.PathLike)) else [str(p) for p in paths]
        if not paths:
            raise ValueError("no dataset file given")
        labels, snrs, self.offsets, self.chunk_rows, self.names = [], [], [0], [], []
        self.files = paths
        for path in paths:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"dataset file {path!r} does not exist")
            if not is_hdf5(path):
                raise ValueError(f"dataset {path!r}: streaming reads HDF5 files (RadioML 2018.01A layout) only; "
                                 f"train on it in memory (--streaming off)")
            try:
                h = datasets.hdf5_header(path)
            except ValueError as e:
                raise ValueError(f"cannot read dataset {path!r}: {e}") from None
            norm = file_normalization(path, h["attrs"], normalization)
            if not labels:
                self.classes, self.frame_length, self.normalization = h["classes"], h["frame_length"], norm
            else:
                check_joinable(path, paths[0], (h["classes"], h["frame_length"], norm),
                               (self.classes, self.frame_length, self.normalization))
            labels.append(h["labels"])
            snrs.append(h["snrs"].astype(np.float64))
            self.offsets.append(self.offsets[-1] + h["frames"])
            self.chunk_rows.append(h["chunk_rows"])
            self.names.append(datasets.dataset_name(h["attrs"], path))
        self.labels, self.snrs = np.concatenate(labels), np.concatenate(snrs)
        self.block_rows = []
        for c in self.chunk_rows:
            rows = max(1, BLOCK_BYTES // (8 * self.frame_length))
            self.block_rows.append(max(1, -(-rows // c)) * c if c else rows)

    def __len__(self):
        return len(self.labels)

    @property
    def frame_bytes(self):
        return 8 * self.frame_length * len(self)

    def blocks(self, rows):
        """The blocks holding any of the sorted global `rows`: list of (file index, start, stop, rows of the block
        as global indices), in file order.  Blocks are aligned to X's chunks (or to BLOCK_BYTES for a contiguous
        X), so that each is one sequential read."""
        rows = np.asarray(rows, np.int64)
        out = []
        for k in range(len(self.files)):
            lo, hi = self.offsets[k], self.offsets[k + 1]
            mine = rows[(rows >= lo) & (rows < hi)]
            if not len(mine):
                continue
            b = self.block_rows[k]
            which = (mine - lo) // b
            cut = np.flatnonzero(np.diff(which)) + 1
            for part in np.split(mine, cut):
                start = lo + (int(part[0]) - lo) // b * b
                out.append((k, start - lo, min(hi, start + b) - lo, part))
        return out

    def read(self, block, handles):
        """The normalized frames (complex64) of one block's rows; `handles` caches this process's open files."""
        import h5py
        k, start, stop, rows = block
        f = handles.get(k)
        if f is None:
            try:
                f = handles[k] = h5py.File(self.files[k], "r")
            except OSError as e:
                raise ValueError(f"cannot open dataset {self.files[k]!r}: {e}") from None
        why = None
        try:
            x = datasets.read_hdf5_frames(f, start, stop)
            if len(x) != stop - start:
                why = f"got {len(x)} rows"
        except (OSError, RuntimeError) as e:
            why = str(e)
        if why is not None:
            raise ValueError(f"dataset {self.files[k]!r}: cannot read rows {start}..{stop - 1} of X (changed or "
                             f"truncated while training?): {why}")
        x = x[rows - self.offsets[k] - start]
        return runtime.normalize(x, self.normalization)[0]

    def gather(self, rows):
        """The normalized frames of the sorted global `rows`, in that order, read block by block (one pass)."""
        rows = np.asarray(rows, np.int64)
        out = np.empty((len(rows), self.frame_length), np.complex64)
        handles, pos = {}, 0
        try:
            for blk in self.blocks(rows):
                x = self.read(blk, handles)
                out[pos:pos + len(x)] = x
                pos += len(x)
        finally:
            for f in handles.values():
                f.close()
        return out


def epoch_plan(files, rows, seed, epoch, world):
    """The blocks of one epoch for each of `world` training processes: the blocks holding the training `rows`,
    in a seeded order of this epoch, dealt round robin; and the frames every process trains on (the fewest any
    process holds, so that every process takes the same number of steps)."""
    blocks = files.blocks(rows)
    order = np.random.default_rng([int(seed), int(epoch), 0x5EED]).permutation(len(blocks))
    dealt = [[blocks[i] for i in order[r::world]] for r in range(world)]
    counts = [sum(len(b[3]) for b in d) for d in dealt]
    return dealt, min(counts)


def make_file_loader(files, rows, seed, epoch, batch_size, representation, layout, workers=0, rank=0, world=1,
                     mix_blocks=MIX_BLOCKS):
    """Batches (x float32 tensor, y int64 tensor) of one epoch over the training `rows` of `files`
    (a StreamedFiles), X read in blocks: every block holding training rows is read once per epoch, in a seeded
    order; each DataLoader worker (``workers``; 0: this process) opens the files itself, reads its blocks in
    turn (sequential reads of whole chunks), mixes `mix_blocks` of them and hands over shuffled pieces, which this
    process cuts into batches of `batch_size`.  Of `world` processes (torchrun), process `rank` reads every
    world-th block and all take the same number of frames, in whole batches when world > 1.
    Returns (iterable of batches, number of batches)."""
    import torch

    dealt, common = epoch_plan(files, rows, seed, epoch, world)
    mine = dealt[rank]
    quota = common if world == 1 else common // batch_size * batch_size
    labels = files.labels

    class Blocks(torch.utils.data.IterableDataset):
        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            wid, nw = (info.id, info.num_workers) if info else (0, 1)
            rng = np.random.default_rng([int(seed), int(epoch), rank, wid, 0x5EED])
            handles = {}
            try:
                todo = mine[wid::nw]
                for s in range(0, len(todo), mix_blocks):
                    group = todo[s:s + mix_blocks]
                    x = np.concatenate([files.read(b, handles) for b in group])
                    y = labels[np.concatenate([b[3] for b in group])]
                    order = rng.permutation(len(x))
                    for a in range(0, len(x), PIECE_FRAMES):
                        take = order[a:a + PIECE_FRAMES]
                        yield (torch.from_numpy(contract.to_model_input(x[take], representation, layout)),
                               torch.from_numpy(y[take]))
            finally:
                for f in handles.values():
                    f.close()

    loader = torch.utils.data.DataLoader(Blocks(), batch_size=None, num_workers=int(workers),
                                         persistent_workers=False)

    def batches():
        xs, ys, held, done = [], [], 0, 0
        for xb, yb in loader:
            xs.append(xb)
            ys.append(yb)
            held += len(yb)
            while held >= batch_size and done + batch_size <= quota:
                x, y = torch.cat(xs), torch.cat(ys)
                yield x[:batch_size], y[:batch_size]
                xs, ys, held, done = [x[batch_size:]], [y[batch_size:]], held - batch_size, done + batch_size
            if done + batch_size > quota and done + held >= quota:
                break
        if quota - done > 0 and held:
            x, y = torch.cat(xs), torch.cat(ys)
            yield x[:quota - done], y[:quota - done]

    return batches(), -(-quota // batch_size)


def hdf5_frame_bytes(path):
    """Bytes of an HDF5 file's frames as complex64 (N * L * 8), from X's shape alone."""
    import h5py
    with h5py.File(path, "r") as f:
        if "X" not in f or len(f["X"].shape) != 3:
            raise ValueError(f"{path}: no dataset X of shape (N, L, 2)")
        n, L = f["X"].shape[:2]
    return 8 * int(n) * int(L)
