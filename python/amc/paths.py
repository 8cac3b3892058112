"""Where gr-amc finds its data (shipped models, dataset presets).

Search order: the GR_AMC_DATA_DIR environment variable; when running from the build tree
(build/test_modules) the source tree's gr-amc/ folder; otherwise the installed share/gr-amc (an
installed module knows no source tree).
"""
import os

from . import _config

__version__ = _config.VERSION


def data_dir():
    env = os.environ.get("GR_AMC_DATA_DIR")
    if env:
        return env
    candidates = [c for c in (_config.INSTALLED_DATA_DIR, _config.SOURCE_DATA_DIR) if c]
    if "test_modules" in os.path.abspath(__file__):
        candidates.reverse()
    for c in candidates:
        if os.path.isdir(c):
            return c
    raise FileNotFoundError(
        "gr-amc data folder not found (looked in %s); set GR_AMC_DATA_DIR" % ", ".join(candidates))


def models_dir():
    return os.path.join(data_dir(), "models")


def presets_dir():
    return os.path.join(data_dir(), "presets")


def shipped_models():
    """Names of the models shipped in gr-amc/models (file names without .onnx)."""
    d = models_dir()
    if not os.path.isdir(d):
        return []
    return sorted(f[:-5] for f in os.listdir(d) if f.endswith(".onnx"))


def resolve_model(name_or_path):
    """A path to an .onnx file, or the name of a shipped model -> an existing path.

    Raises FileNotFoundError naming what was tried and the shipped models.
    """
    p = os.path.expanduser(str(name_or_path))
    if os.path.isfile(p):
        return p
    if os.sep not in p and not p.endswith(".onnx"):
        cand = os.path.join(models_dir(), p + ".onnx")
        if os.path.isfile(cand):
            return cand
    raise FileNotFoundError(
        f"model {name_or_path!r} not found: not a file, and not a shipped model "
        f"(shipped: {', '.join(shipped_models()) or 'none'})")
