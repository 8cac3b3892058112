#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Training data from dataset files: several files joined into one array (normalized as the classifier will),
the SNR window and subsample, and the seeded 6:2:2 split.  numpy only."""
import os

import numpy as np

from .. import contract, datasets, runtime


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
        data_norm = datasets.dataset_normalization(d["attrs"])
        norm = normalization or data_norm
        if norm is None:
            raise ValueError(f"dataset {path!r} does not say how its frames were normalized (no config "
                           f"attribute); give --normalization ({', '.join(contract.NORMALIZATIONS)})")
        if norm not in contract.NORMALIZATIONS:
            raise ValueError(f"dataset {path!r}: normalization {norm!r} in its config is not one of "
                           f"{', '.join(contract.NORMALIZATIONS)}")
        if out is None:
            out = dict(labels=[], snrs=[], classes=d["classes"], normalization=norm, names=[], files=[])
            L = d["frames"].shape[1]
            if len(paths) > 1:  # sizes first, so that the frames are copied once into their final array
                total = len(d["frames"]) + sum(datasets.count_frames(q) for q in paths[1:])
                frames = np.empty((total, L), np.complex64)
        else:
            if d["classes"] != out["classes"]:
                raise ValueError(f"dataset {path!r} has the classes {d['classes']}; {paths[0]!r} has "
                               f"{out['classes']} (several files must list the same classes in the same order)")
            if d["frames"].shape[1] != L:
                raise ValueError(f"dataset {path!r} has frames of {d['frames'].shape[1]} samples; {paths[0]!r} "
                               f"has {L}")
            if norm != out["normalization"]:
                raise ValueError(f"dataset {path!r} was normalized with {norm!r}, {paths[0]!r} with "
                               f"{out['normalization']!r}; give --normalization to train on both")
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

