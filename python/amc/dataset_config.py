#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Dataset configs: read and check them, and plan their shards (pure Python + numpy, no GNU Radio).

A *dataset preset* is a shipped config file (``gr-amc/presets/NAME.yml``); a *channel preset* is a named
set of channel parameters (``channel: {preset: rml2018}``, :data:`gnuradio.amc.dsp.channel.PRESETS`).
Config keys are documented in docs/datasets.md.  Every function here raises ``ValueError`` (``OSError``
for unreadable files) with a message naming the file or preset and the key.

**Seed-to-frame derivation.**  A dataset is cut into shards of at most ``shard_size`` frames of one
(class, SNR).  Shard k of (class, SNR) gets four 31-bit seeds from ``SeedSequence(stable_seed_words(seed,
class, SNR, k))``: the source's, the channel's, the shard's (written into the shard file) and the one its
drawn source parameters come from (:func:`draw_source`: samples per symbol, roll-off, pulse, BT and the
timing offset, each from its own stream).  So a frame depends only on (seed, class, SNR, shard index,
position in the shard) and the config, never on the number of workers or the machine's scheduling.
"""
import json
import math
import os

import numpy as np

from . import contract, paths
from .datasets import FORMATS, stable_seed_words
from .dsp.channel import PRESETS as CHANNEL_PRESETS
from .dsp.channel import resolve_params
from .dsp.modulation import ALL_CLASSES, PULSES, check_params

#: key -> one-line description (the allowed keys of a config file)
CONFIG_KEYS = {
    "name": "dataset name (text)",
    "description": "free text",
    "classes": "list of class names (or a comma-separated string, or rml2018a / rml2016a for all their classes)",
    "snrs": "SNRs in dB (Es/N0), integers: a list, {start, stop, step} (stop included) or 'start:stop:step'",
    "frames_per_class_snr": "frames per (class, SNR), integer > 0",
    "frame_length": "samples per frame, integer > 0",
    "normalization": "per-frame normalization",
    "format": "output format",
    "seed": "dataset seed, integer 0 .. 2**63-1",
    "shard_size": "frames per shard, integer > 0 (part of the dataset's definition: changes the output)",
    "skip_samples": "samples discarded at the start of each shard (filter and channel transients), integer >= 0",
    "source": "keyword arguments of amc.modulation_source (except modulation, seed, tag_interval); "
              "samples_per_symbol, rolloff, bt and pulse may be drawn per shard ({min, max[, scale: log]} or a "
              "list), timing_offset is drawn uniformly in [0, 1) per shard unless given",
    "channel": "keyword arguments of amc.radioml_channel (preset, ...; except snr_db, seed, tag_interval), or a "
               "list of such mappings: a channel mixture, one entry drawn uniformly per shard (repeat an entry "
               "to weight it)",
}
DEFAULTS = {"name": "dataset", "description": "", "shard_size": 256, "skip_samples": 1024, "source": {},
            "channel": {"preset": "rml2018"}, "seed": 0, "normalization": "rms", "format": "hdf5"}
REQUIRED = ("classes", "snrs", "frames_per_class_snr", "frame_length")
#: Largest dataset seed (SeedSequence and HDF5 attributes take it as a signed 64-bit integer).
MAX_SEED = 2 ** 63 - 1

#: Source arguments a config may give (the generator sets modulation, seed and tag_interval).
SOURCE_KEYS = ("samples_per_symbol", "rolloff", "pulse", "bt", "timing_offset", "audio_file", "speech_pauses")
#: Source arguments that may be drawn per shard, in the order (and with the stream index) they are drawn.
DRAWN_KEYS = ("samples_per_symbol", "rolloff", "bt", "pulse", "timing_offset")
SOURCE_DEFAULTS = {"samples_per_symbol": 8.0, "rolloff": 0.35, "bt": 0.5, "pulse": "rrc"}
#: Channel arguments a config may give (the generator sets snr_db, seed and tag_interval).
CHANNEL_KEYS = ("preset",) + tuple(CHANNEL_PRESETS["rml2016"])
#: The parameter-seed stream index of a channel mixture's draw (the source keys use 0 .. len(DRAWN_KEYS) - 1).
CHANNEL_DRAW_STREAM = 1000


# ------------------------------------------------------------------------------------------------
# files
# ------------------------------------------------------------------------------------------------
def preset_names():
    """Names of the shipped dataset presets (the .yml files in the data folder's presets/)."""
    try:
        d = paths.presets_dir()
    except FileNotFoundError:
        return []
    return sorted(f[:-4] for f in os.listdir(d) if f.endswith(".yml")) if os.path.isdir(d) else []


def preset_path(name):
    """Path of a shipped dataset preset; ValueError naming the available ones."""
    d = paths.presets_dir()
    p = os.path.join(d, str(name) + ".yml")
    if not os.path.isfile(p):
        raise ValueError(f"unknown preset {name!r}; available presets: {', '.join(preset_names()) or 'none'} "
                         f"(in {d})")
    return p


def read_yaml(path):
    """A config file -> dict (not yet checked)."""
    import yaml
    try:
        with open(path) as f:
            cfg = yaml.safe_load(f)
    except OSError as e:
        raise ValueError(f"cannot read config {path!r}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML: {e}") from None
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: a config must be a YAML mapping of keys ({', '.join(CONFIG_KEYS)}), "
                         f"got {type(cfg).__name__}")
    return cfg


def load_config(config, **overrides):
    """A checked config from a preset name, a config file path or a dict, with keys overridden.

    Returns (config, where) where ``where`` names it in messages."""
    if isinstance(config, dict):
        cfg, where = dict(config), "config"
    elif isinstance(config, (str, os.PathLike)) and (os.sep in str(config) or str(config).endswith((".yml", ".yaml"))):
        cfg, where = read_yaml(config), str(config)
    else:
        cfg, where = read_yaml(preset_path(config)), f"preset {config}"
    for k, v in overrides.items():
        if v is not None:
            cfg[k] = v
    cfg = check_config(cfg, where)
    check_blocks(cfg, where)
    return cfg, where


# ------------------------------------------------------------------------------------------------
# checking
# ------------------------------------------------------------------------------------------------
def _int(where, key, v, minimum, maximum=None):
    rng = f">= {minimum}" if maximum is None else f"in {minimum} .. {maximum}"
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer)) or not math.isfinite(v) or int(v) != v:
        raise ValueError(f"{where}: key {key!r}: must be an integer {rng}, got {v!r}")
    v = int(v)
    if v < minimum or (maximum is not None and v > maximum):
        raise ValueError(f"{where}: key {key!r}: must be an integer {rng}, got {v}")
    return v


def parse_snrs(v, where="config"):
    """SNR list from a list, {start, stop, step}, 'start:stop:step' or 'a,b,c' -> list of ints."""
    bad = (f"{where}: key 'snrs': {v!r} is not a valid SNR list; give integers in dB as a list, "
           f"{{start, stop, step}} (stop included) or 'start:stop:step'")
    if isinstance(v, str):
        s = v.strip()
        try:
            if ":" in s:
                parts = [float(x) for x in s.split(":")]
                if len(parts) not in (2, 3):
                    raise ValueError
                v = {"start": parts[0], "stop": parts[1], "step": parts[2] if len(parts) == 3 else 1}
            else:
                v = [float(x) for x in s.split(",") if x.strip()]
        except ValueError:
            raise ValueError(bad) from None
    if isinstance(v, dict):
        extra = set(v) - {"start", "stop", "step"}
        if extra or not {"start", "stop"} <= set(v):
            raise ValueError(f"{where}: key 'snrs': a range needs keys start, stop and optionally step "
                             f"(allowed: start, stop, step), got {sorted(v)}")
        start, stop, step = v["start"], v["stop"], v.get("step", 1)
        for k, x in (("start", start), ("stop", stop), ("step", step)):
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or int(x) != x:
                raise ValueError(f"{where}: key 'snrs': {k} must be an integer (dB), got {x!r}")
        start, stop, step = int(start), int(stop), int(step)
        if step == 0 or (stop - start) * step < 0:
            raise ValueError(f"{where}: key 'snrs': step {step} does not go from {start} to {stop}")
        v = list(range(start, stop + (1 if step > 0 else -1), step))
    if not isinstance(v, (list, tuple)) or not v:
        raise ValueError(bad)
    out = []
    for x in v:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or int(x) != x:
            raise ValueError(f"{where}: key 'snrs': {x!r} is not an integer SNR in dB (the RadioML layouts "
                             f"store integer SNRs)")
        if not -100 <= x <= 100:
            raise ValueError(f"{where}: key 'snrs': {x} dB is outside -100..100 dB")
        if int(x) in out:
            raise ValueError(f"{where}: key 'snrs': {int(x)} dB is listed twice")
        out.append(int(x))
    return out


def parse_classes(v, where="config"):
    """Class list from a list, 'A,B,...' or rml2018a / rml2016a (all their classes) -> list of names."""
    if isinstance(v, str):
        if v.strip().lower() in ("rml2018a", "rml2018"):
            return list(contract.CLASSES_2018)
        if v.strip().lower() in ("rml2016a", "rml2016"):
            return list(contract.CLASSES_2016)
        v = [c.strip() for c in v.split(",") if c.strip()]
    if not isinstance(v, (list, tuple)) or not v:
        raise ValueError(f"{where}: key 'classes': must be a non-empty list of class names, got {v!r}")
    out = []
    for c in v:
        if not isinstance(c, str) or c not in ALL_CLASSES:
            raise ValueError(f"{where}: key 'classes': unknown class {c!r}; allowed: {', '.join(ALL_CLASSES)}")
        if c in out:
            raise ValueError(f"{where}: key 'classes': class {c!r} is listed twice")
        out.append(c)
    return out


def check_config(cfg, where="config"):
    """Validate a config dict (from YAML + overrides) -> resolved dict with every key. Raises ValueError."""
    unknown = [k for k in cfg if k not in CONFIG_KEYS]
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(CONFIG_KEYS)}")
    missing = [k for k in REQUIRED if k not in cfg]
    if missing:
        raise ValueError(f"{where}: missing key {missing[0]!r} ({CONFIG_KEYS[missing[0]]})")
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
    out.update(cfg)
    for k in ("name", "description"):
        if not isinstance(out[k], str):
            raise ValueError(f"{where}: key {k!r}: must be text, got {out[k]!r}")
    out["classes"] = parse_classes(out["classes"], where)
    out["snrs"] = parse_snrs(out["snrs"], where)
    out["frames_per_class_snr"] = _int(where, "frames_per_class_snr", out["frames_per_class_snr"], 1)
    out["frame_length"] = _int(where, "frame_length", out["frame_length"], 1)
    out["seed"] = _int(where, "seed", out["seed"], 0, MAX_SEED)
    out["shard_size"] = _int(where, "shard_size", out["shard_size"], 1)
    out["skip_samples"] = _int(where, "skip_samples", out["skip_samples"], 0)
    if out["normalization"] not in contract.NORMALIZATIONS:
        raise ValueError(f"{where}: key 'normalization': unknown value {out['normalization']!r}; "
                         f"allowed: {', '.join(contract.NORMALIZATIONS)}")
    if out["format"] not in FORMATS:
        raise ValueError(f"{where}: key 'format': unknown value {out['format']!r}; allowed: {', '.join(FORMATS)}")
    if out["source"] is None:
        out["source"] = {}
    if not isinstance(out["source"], dict):
        raise ValueError(f"{where}: key 'source': must be a mapping of block arguments, got {out['source']!r}")
    ch = {} if out["channel"] is None else out["channel"]
    if isinstance(ch, (list, tuple)):
        if not ch:
            raise ValueError(f"{where}: key 'channel': an empty list; give at least one channel mapping")
        for j, c in enumerate(ch):
            if not isinstance(c, dict):
                raise ValueError(f"{where}: key 'channel[{j}]': must be a mapping of block arguments, got {c!r}")
        out["channel"] = [{"preset": "rml2018", **c} for c in ch]
    elif isinstance(ch, dict):
        out["channel"] = {"preset": "rml2018", **ch}
    else:
        raise ValueError(f"{where}: key 'channel': must be a mapping of block arguments or a list of them "
                         f"(a channel mixture), got {ch!r}")
    return out


def channel_entries(cfg):
    """The channel mappings of a (check_config-ed) config: one, or the entries of a channel mixture."""
    ch = cfg["channel"]
    return list(ch) if isinstance(ch, list) else [ch]


def draw_channel(channel, param_seed):
    """The channel arguments of one shard: the mapping itself, or for a channel mixture (a list) one entry drawn
    uniformly from ``param_seed`` (its own stream, so the source draws do not change)."""
    if not isinstance(channel, list):
        return dict(channel)
    rng = np.random.default_rng([int(param_seed), CHANNEL_DRAW_STREAM])
    return dict(channel[int(rng.integers(len(channel)))])


def _draw_spec(where, key, v):
    """Check a drawable source value: a plain value, {min, max[, scale]} or a non-empty list."""
    name = f"{where}: key 'source.{key}'"
    if isinstance(v, dict):
        if key == "pulse":
            raise ValueError(f"{name}: a pulse is a name or a list of names ({', '.join(PULSES)}), not a range")
        extra = set(v) - {"min", "max", "scale"}
        if extra or not {"min", "max"} <= set(v):
            raise ValueError(f"{name}: a range needs keys min and max and optionally scale (linear or log), "
                             f"got {sorted(v)}")
        for b in ("min", "max"):
            if isinstance(v[b], bool) or not isinstance(v[b], (int, float)) or not math.isfinite(v[b]):
                raise ValueError(f"{name}: {b} must be a number, got {v[b]!r}")
        if v["min"] > v["max"]:
            raise ValueError(f"{name}: min {v['min']} is above max {v['max']}")
        scale = v.get("scale", "linear")
        if scale not in ("linear", "log"):
            raise ValueError(f"{name}: scale must be linear or log, got {scale!r}")
        if scale == "log" and v["min"] <= 0:
            raise ValueError(f"{name}: a log-scale range needs min > 0, got {v['min']}")
        return [v["min"], v["max"]]
    if isinstance(v, (list, tuple)):
        if not v:
            raise ValueError(f"{name}: an empty list; give at least one value")
        return list(v)
    if key == "timing_offset" and v == "random":
        return [0.0]
    return [v]


def check_blocks(cfg, where="config"):
    """Check the source and channel arguments of a (check_config-ed) config: names, and every value the
    blocks would get (the ends of drawn ranges and each listed value) with the blocks' own checks, without
    running anything.  Raises ValueError naming the key."""
    for k in cfg["source"]:
        if k not in SOURCE_KEYS:
            raise ValueError(f"{where}: key 'source.{k}': not an argument of amc.modulation_source; "
                             f"allowed: {', '.join(SOURCE_KEYS)}")
    entries = channel_entries(cfg)
    names = [f"channel[{j}]" for j in range(len(entries))] if isinstance(cfg["channel"], list) else ["channel"]
    for name, entry in zip(names, entries):
        for k in entry:
            if k not in CHANNEL_KEYS:
                raise ValueError(f"{where}: key '{name}.{k}': not an argument of amc.radioml_channel; "
                                 f"allowed: {', '.join(CHANNEL_KEYS)}")
    src = cfg["source"]
    values = {k: _draw_spec(where, k, src[k]) if k in DRAWN_KEYS else [src[k]]
              for k in SOURCE_KEYS if k in src}
    probe = dict(SOURCE_DEFAULTS, timing_offset=0.0)
    for k, vals in values.items():
        if k in ("audio_file", "speech_pauses"):
            continue
        for v in vals:
            args = dict(probe, **{k: v})
            try:
                check_params(cfg["classes"][0], args["samples_per_symbol"], args["rolloff"], 0, args["pulse"],
                             args["bt"], args["timing_offset"])
            except ValueError as e:
                raise ValueError(f"{where}: key 'source.{k}': {e}") from None
    if "speech_pauses" in src and not isinstance(src["speech_pauses"], bool):
        raise ValueError(f"{where}: key 'source.speech_pauses': must be true or false, got {src['speech_pauses']!r}")
    if src.get("audio_file"):
        if src.get("speech_pauses") is False:
            raise ValueError(f"{where}: key 'source.speech_pauses': false applies to the built-in audio only, "
                             f"not with source.audio_file")
        from .dsp.audio import load_wav
        try:
            load_wav(src["audio_file"])
        except ValueError as e:
            raise ValueError(f"{where}: key 'source.audio_file': {e}") from None
    rates = []
    for name, entry in zip(names, entries):
        ch = dict(entry)
        preset = ch.pop("preset")
        if not isinstance(preset, str) or preset not in CHANNEL_PRESETS:
            raise ValueError(f"{where}: key '{name}.preset': unknown channel preset {preset!r}; "
                             f"allowed: {', '.join(CHANNEL_PRESETS)}")
        try:
            rates.append(resolve_params(preset, snr_db=float(cfg["snrs"][0]), seed=0, **ch)["samp_rate"])
        except ValueError as e:
            raise ValueError(f"{where}: key '{name}': {e}") from None
    if len(set(rates)) > 1:
        raise ValueError(f"{where}: key 'channel': the entries of a channel mixture must share one sample rate "
                         f"(a dataset has one), got {', '.join(f'{r:g}' for r in rates)} Hz")


# ------------------------------------------------------------------------------------------------
# shards
# ------------------------------------------------------------------------------------------------
def shard_seeds(seed, cls, snr, shard):
    """(source seed, channel seed, shard seed, parameter seed) of one shard: stable, independent of process
    and order (31-bit integers)."""
    ss = np.random.SeedSequence(entropy=stable_seed_words(seed, cls, snr, shard))
    return tuple(int(x) & 0x7FFFFFFF for x in ss.generate_state(4, dtype=np.uint32))


def draw_source(source, param_seed):
    """The source arguments of one shard: drawn values replaced by a draw from ``param_seed`` (each key
    from its own stream, so adding a range for one key does not change the others), ``timing_offset``
    uniform in [0, 1) unless given as a number."""
    out = {k: v for k, v in source.items() if k not in DRAWN_KEYS}
    for i, key in enumerate(DRAWN_KEYS):
        rng = np.random.default_rng([int(param_seed), i])
        spec = source.get(key, "random" if key == "timing_offset" else None)
        if spec is None:
            continue
        if spec == "random":
            out[key] = float(rng.uniform(0.0, 1.0))
        elif isinstance(spec, dict):
            lo, hi = float(spec["min"]), float(spec["max"])
            if spec.get("scale", "linear") == "log":
                out[key] = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            else:
                out[key] = float(rng.uniform(lo, hi))
        elif isinstance(spec, (list, tuple)):
            out[key] = spec[int(rng.integers(len(spec)))]
        else:
            out[key] = spec
    return out


def make_job(cfg, cls, snr, shard, n, seeds, path=None, index=0):
    """One shard's job dict (what run_shard and batch.shard_frames take)."""
    src_seed, ch_seed, shard_seed, param_seed = seeds
    return {
        "index": index, "path": path, "cls": cls, "snr": snr, "shard": shard, "n": n,
        "frame_length": cfg["frame_length"], "normalization": cfg["normalization"],
        "source": draw_source(cfg["source"], param_seed), "channel": draw_channel(cfg["channel"], param_seed),
        "classes": list(cfg["classes"]), "config": dataset_config_json(cfg),
        "source_seed": src_seed, "channel_seed": ch_seed, "shard_seed": shard_seed,
        "skip_frames": -(-cfg["skip_samples"] // cfg["frame_length"]),
    }


def plan_shards(cfg, parts_dir=None):
    """Every shard of the dataset, in merge order (classes in config order, SNRs in config order, shards in
    order); ``path`` is the shard file in ``parts_dir`` (None without one)."""
    jobs = []
    n, size = cfg["frames_per_class_snr"], cfg["shard_size"]
    for ci, cls in enumerate(cfg["classes"]):
        for snr in cfg["snrs"]:
            for k in range(-(-n // size)):
                name = f"c{ci:02d}_{cls}_snr{snr:+04d}_s{k:05d}.h5"
                path = os.path.join(parts_dir, name) if parts_dir else None
                jobs.append(make_job(cfg, cls, snr, k, min(size, n - k * size), shard_seeds(cfg["seed"], cls, snr, k),
                                     path, len(jobs)))
    return jobs


def stream_job(cfg, seed, i, n=None):
    """Shard i of an endless random stream (training on the fly): class and SNR drawn uniformly from the
    config's lists, seeds from (seed, 'stream', i), so a stream never repeats a dataset's shard."""
    ss = np.random.SeedSequence(entropy=stable_seed_words(seed, "stream", i))
    pick, *seeds = ss.generate_state(5, dtype=np.uint32)
    rng = np.random.default_rng(int(pick))
    cls = cfg["classes"][int(rng.integers(len(cfg["classes"])))]
    snr = cfg["snrs"][int(rng.integers(len(cfg["snrs"])))]
    seeds = tuple(int(x) & 0x7FFFFFFF for x in seeds)
    return make_job(cfg, cls, snr, i, n or cfg["shard_size"], seeds, None, i)


def dataset_config_json(cfg):
    """The config stored in the dataset (everything that defines its contents; no paths, no worker count)."""
    return json.dumps(cfg, sort_keys=True, separators=(",", ":"))
