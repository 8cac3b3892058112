#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The options of a training run (training.fit.train) and their defaults: the one list, which ``gr-amc train``
turns into its command-line options.  No torch here, so that parsing stays cheap."""
import dataclasses

SCHEDULES = ("plateau", "cosine", "wsd")
#: How dataset files are read: auto streams HDF5 files whose in-memory training would not fit in memory.
STREAMING = ("auto", "on", "off")


class TrainingError(ValueError):
    """A training option or input the caller can fix (the message names it)."""


@dataclasses.dataclass
class TrainOptions:
    """Everything a training run takes; the fields are the long options of ``gr-amc train`` (docs/models.md)."""
    model: str
    output: str
    data: list = dataclasses.field(default_factory=list)
    generate: str = None
    frames_per_epoch: int = 65536
    val_frames: int = 4096
    stream_shard_size: int = 16
    workers: int = 0
    streaming: str = "auto"
    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    patience: int = 6
    schedule: str = "plateau"
    decay_epochs: int = None
    clip_grad: float = 0.0
    seed: int = 0
    device: str = "cpu"
    threads: int = 0
    max_minutes: float = 0.0
    min_snr: float = None
    max_snr: float = None
    max_frames: int = 0
    normalization: str = None
    hidden: int = None
    output_kind: str = "logits"
    dataset_name: str = None
    checkpoint: str = None
    resume: bool = False
    init_weights: str = None
    int8: bool = False
    fp16: bool = False
    report: str = None
    quiet: bool = False
    command_line: str = None  # recorded in the model's amc.training metadata (default: this process's command line)


def default(name):
    """The default of the TrainOptions field `name`."""
    f = TrainOptions.__dataclass_fields__[name]
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
