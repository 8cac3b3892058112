#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""gr-amc: automatic modulation classification for GNU Radio.

C++ kernels (framer, normalizer and the functions frame_signal / normalize_frames) come from the
pybind11 module amc_python; the dataset generation and classifier blocks are Python.
"""

# An installed module first puts its private folder of Python dependencies (onnxruntime, h5py, sigmf...,
# installed there by `make install`) on sys.path, so Debian's python3 and GNU Radio Companion find them.
from . import optional as _optional
_optional.add_deps_dir()

from .amc_python import *  # noqa: F401,F403  (C++ blocks and kernels)
from .paths import __version__  # noqa: F401
from . import contract  # noqa: F401

# Python blocks (each module adds its own line here)
from .modulation_source import modulation_source  # noqa: F401
from .radioml_channel import radioml_channel  # noqa: F401
from .dataset_sink import dataset_sink  # noqa: F401
from .classifier import classifier, classifier_sink  # noqa: F401
