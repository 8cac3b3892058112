#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Training on the fly (``gr-amc train --generate CONFIG``): frames drawn fresh from the batch generator.

Seeds (documented in docs/models.md): the training stream is ``batch``'s random stream of shards with the
run's seed; epoch e (1-based) uses shards ``(e - 1) * S .. e * S - 1`` with S = frames_per_epoch /
shard_size, so no frame is ever drawn twice, and a resumed run continues the same stream.  The validation
and test sets are fixed streams with their own seeds (``seed + VALIDATION_OFFSET`` and
``seed + TEST_OFFSET``), so they share no shard, no channel draw and no timing phase with training.

Shards hold frames of one (class, SNR): each DataLoader worker makes ``mix_shards`` shards at a time,
shuffles their frames together and yields them, so a batch holds many classes, SNRs, symbol rates and
timing phases.  Needs torch only for the IterableDataset (imported when a loader is made).
"""
import time

import numpy as np

from .. import batch, contract, dataset_config

VALIDATION_OFFSET = 1 << 40
TEST_OFFSET = 2 << 40


def fixed_set(cfg, n, seed, shard_size, representation, layout):
    """A fixed labelled set of n frames (validation/test): (model input, labels, snrs)."""
    x, lab, snr, _ = batch.frames(cfg, n, seed, shard_size=shard_size)
    return contract.to_model_input(x, representation, layout), lab, snr


def shard_range(epoch, frames_per_epoch, shard_size):
    """The stream shard indices of an epoch (1-based)."""
    per = -(-int(frames_per_epoch) // int(shard_size))
    return range((epoch - 1) * per, epoch * per)


def make_loader(cfg, seed, epoch, frames_per_epoch, shard_size, batch_size, representation, layout, workers=0,
                mix_shards=64, rank=0, world=1):
    """A torch DataLoader over one epoch of fresh frames: batches (x float32 tensor, y int64 tensor).
    ``workers`` DataLoader worker processes generate (0: in this process).  Of `world` training processes (torchrun),
    process `rank` generates every world-th shard of the epoch; ValueError unless they share the shards evenly."""
    import torch

    shards = shard_range(epoch, frames_per_epoch, shard_size)
    if len(shards) % world:
        raise ValueError(f"{len(shards)} shards per epoch (--frames-per-epoch / --stream-shard-size) cannot be shared "
                         f"evenly by {world} processes")
    shards = shards[rank::world]

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            wid, nw = (info.id, info.num_workers) if info else (0, 1)
            mine = shards[wid::nw]
            rng = np.random.default_rng([int(seed), epoch, wid] if world == 1 else [int(seed), epoch, rank, wid])
            for s in range(0, len(mine), mix_shards):
                parts = [batch.shard_frames(dataset_config.stream_job(cfg, seed, i, shard_size))
                         for i in mine[s:s + mix_shards]]
                x = np.concatenate([p[0] for p in parts])
                y = np.concatenate([p[1] for p in parts])
                order = rng.permutation(len(x))
                xm = contract.to_model_input(x[order], representation, layout)
                for j in range(len(xm)):
                    yield xm[j], y[order[j]]

    return torch.utils.data.DataLoader(Stream(), batch_size=batch_size, num_workers=int(workers),
                                       persistent_workers=False)


class Timer:
    """Seconds spent waiting for batches (generation, when the loader runs in this process)."""

    def __init__(self, it):
        self.it, self.seconds = iter(it), 0.0

    def __iter__(self):
        return self

    def __next__(self):
        t = time.process_time()
        try:
            return next(self.it)
        finally:
            self.seconds += time.process_time() - t
