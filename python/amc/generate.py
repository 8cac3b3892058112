#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""`gr-amc generate`: make a labelled dataset with gr-amc's GNU Radio blocks.

The work is split into shards of at most ``shard_size`` frames of one (class, SNR). Each shard runs ONE
flowgraph  modulation_source -> radioml_channel -> framer -> normalizer -> dataset_sink  that writes
``<out>.parts/<shard>.h5`` atomically; its seeds derive from (seed, class, SNR, shard index) through
numpy's SeedSequence, so the dataset does not depend on the number of workers. Shards run in parallel
worker processes; when all are done they are merged, in a fixed order (classes in config order, SNRs in
config order, shards in order), into the output file, also atomically. A shard file exists only once its
shard is complete, so an interrupted run resumes where it stopped when rerun with the same arguments.

Config keys are documented in docs/datasets.md and checked by :func:`check_config`.
"""
import json
import math
import os
import sys
import time

from .cli import CliError

PRESETS = ("demo", "rml2016a", "rml2018a")

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
    "seed": "dataset seed, integer >= 0",
    "shard_size": "frames per shard, integer > 0 (part of the dataset's definition: changes the output)",
    "skip_samples": "samples discarded at the start of each shard (filter and channel transients), integer >= 0",
    "source": "keyword arguments of amc.modulation_source (except modulation, seed, tag_interval)",
    "channel": "keyword arguments of amc.radioml_channel (preset, ...; except snr_db, seed, tag_interval)",
}
DEFAULTS = {"name": "dataset", "description": "", "shard_size": 256, "skip_samples": 1024, "source": {},
            "channel": {"preset": "rml2018"}, "seed": 0, "normalization": "rms", "format": "hdf5"}
REQUIRED = ("classes", "snrs", "frames_per_class_snr", "frame_length")
# block arguments set by the generator itself
_SOURCE_FIXED = ("modulation", "seed", "tag_interval")
_CHANNEL_FIXED = ("snr_db", "seed", "tag_interval")
_CHANNEL_PRESETS_FALLBACK = ("rml2016", "rml2016-compat", "rml2018", "awgn")


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------
#: what an option left unset means, in `gr-amc generate --help`
HELP_UNSET = "from the preset or --config"


def configure_parser(p):
    src = p.add_mutually_exclusive_group()
    src.add_argument("--config", metavar="FILE.yml",
                     help="dataset config file (YAML); keys in docs/datasets.md (default: none, use --preset)")
    src.add_argument("--preset", metavar="NAME",
                     help=f"a shipped preset: {', '.join(PRESETS)} (default: demo when no --config)")
    p.add_argument("-n", "--frames-per-class-snr", type=int, metavar="N", help="frames per (class, SNR)")
    p.add_argument("--snrs", metavar="LIST",
                   help="SNRs in dB: 'a,b,c' or 'start:stop:step' (stop included); write --snrs=-20:30:2 "
                        "when the list starts with a minus sign")
    p.add_argument("--classes", metavar="A,B,...", help="comma-separated class names")
    p.add_argument("--frame-length", type=int, metavar="L", help="samples per frame")
    p.add_argument("--normalization", metavar="MODE", help="rms, peak, l1, iq_std or none")
    p.add_argument("--format", metavar="FMT", help="hdf5, pickle or sigmf (default: from --out's extension, "
                                                   "else the config's)")
    p.add_argument("--seed", type=int, help="dataset seed")
    p.add_argument("--shard-size", type=int, metavar="N", help="frames per shard (changes the output)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes (default: the number of CPU cores); does not change the output")
    p.add_argument("--out", metavar="FILE", help="output file (default: <name>.<ext> in the current folder)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output file, and discard shards left by a run with another config")
    p.add_argument("--keep-parts", action="store_true", help="keep the <out>.parts/ shard folder after merging")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--dry-run", action="store_true", help="check the config, print it and the plan, make nothing")


def _preset_path(name):
    from . import paths
    try:
        d = paths.presets_dir()
    except FileNotFoundError as e:
        raise CliError(str(e)) from None
    p = os.path.join(d, name + ".yml")
    if not os.path.isfile(p):
        avail = sorted(f[:-4] for f in os.listdir(d) if f.endswith(".yml")) if os.path.isdir(d) else []
        raise CliError(f"unknown preset {name!r}; available presets: {', '.join(avail) or 'none'} (in {d})")
    return p


def _read_yaml(path):
    import yaml
    try:
        with open(path) as f:
            cfg = yaml.safe_load(f)
    except OSError as e:
        raise CliError(f"cannot read config {path!r}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise CliError(f"{path}: not valid YAML: {e}") from None
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, dict):
        raise CliError(f"{path}: a config must be a YAML mapping of keys ({', '.join(CONFIG_KEYS)}), "
                       f"got {type(cfg).__name__}")
    return cfg


# ------------------------------------------------------------------------------------------------
# config checking
# ------------------------------------------------------------------------------------------------
def _int(where, key, v, minimum):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v:
        raise CliError(f"{where}: key {key!r}: must be an integer >= {minimum}, got {v!r}")
    v = int(v)
    if v < minimum:
        raise CliError(f"{where}: key {key!r}: must be an integer >= {minimum}, got {v}")
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
            raise CliError(bad) from None
    if isinstance(v, dict):
        extra = set(v) - {"start", "stop", "step"}
        if extra or not {"start", "stop"} <= set(v):
            raise CliError(f"{where}: key 'snrs': a range needs keys start, stop and optionally step "
                           f"(allowed: start, stop, step), got {sorted(v)}")
        start, stop, step = v["start"], v["stop"], v.get("step", 1)
        for k, x in (("start", start), ("stop", stop), ("step", step)):
            if isinstance(x, bool) or not isinstance(x, (int, float)) or int(x) != x:
                raise CliError(f"{where}: key 'snrs': {k} must be an integer (dB), got {x!r}")
        start, stop, step = int(start), int(stop), int(step)
        if step == 0 or (stop - start) * step < 0:
            raise CliError(f"{where}: key 'snrs': step {step} does not go from {start} to {stop}")
        v = list(range(start, stop + (1 if step > 0 else -1), step))
    if not isinstance(v, (list, tuple)) or not v:
        raise CliError(bad)
    out = []
    for x in v:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or int(x) != x:
            raise CliError(f"{where}: key 'snrs': {x!r} is not an integer SNR in dB (the RadioML layouts "
                           f"store integer SNRs)")
        if not -100 <= x <= 100:
            raise CliError(f"{where}: key 'snrs': {x} dB is outside -100..100 dB")
        if int(x) in out:
            raise CliError(f"{where}: key 'snrs': {int(x)} dB is listed twice")
        out.append(int(x))
    return out


def _known_classes():
    from . import contract
    return list(contract.CLASSES_2018) + [c for c in contract.CLASSES_2016 if c not in contract.CLASSES_2018]


def parse_classes(v, where="config"):
    from . import contract
    if isinstance(v, str):
        if v.strip().lower() in ("rml2018a", "rml2018"):
            return list(contract.CLASSES_2018)
        if v.strip().lower() in ("rml2016a", "rml2016"):
            return list(contract.CLASSES_2016)
        v = [c.strip() for c in v.split(",") if c.strip()]
    if not isinstance(v, (list, tuple)) or not v:
        raise CliError(f"{where}: key 'classes': must be a non-empty list of class names, got {v!r}")
    known = _known_classes()
    out = []
    for c in v:
        if not isinstance(c, str) or c not in known:
            raise CliError(f"{where}: key 'classes': unknown class {c!r}; allowed: {', '.join(known)}")
        if c in out:
            raise CliError(f"{where}: key 'classes': class {c!r} is listed twice")
        out.append(c)
    return out


def check_config(cfg, where="config"):
    """Validate a config dict (from YAML + overrides) -> resolved dict with every key. Raises CliError."""
    from . import contract, datasets
    unknown = [k for k in cfg if k not in CONFIG_KEYS]
    if unknown:
        raise CliError(f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(CONFIG_KEYS)}")
    missing = [k for k in REQUIRED if k not in cfg]
    if missing:
        raise CliError(f"{where}: missing key {missing[0]!r} ({CONFIG_KEYS[missing[0]]})")
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
    out.update(cfg)
    for k in ("name", "description"):
        if not isinstance(out[k], str):
            raise CliError(f"{where}: key {k!r}: must be text, got {out[k]!r}")
    out["classes"] = parse_classes(out["classes"], where)
    out["snrs"] = parse_snrs(out["snrs"], where)
    out["frames_per_class_snr"] = _int(where, "frames_per_class_snr", out["frames_per_class_snr"], 1)
    out["frame_length"] = _int(where, "frame_length", out["frame_length"], 1)
    out["seed"] = _int(where, "seed", out["seed"], 0)
    out["shard_size"] = _int(where, "shard_size", out["shard_size"], 1)
    out["skip_samples"] = _int(where, "skip_samples", out["skip_samples"], 0)
    if out["normalization"] not in contract.NORMALIZATIONS:
        raise CliError(f"{where}: key 'normalization': unknown value {out['normalization']!r}; "
                       f"allowed: {', '.join(contract.NORMALIZATIONS)}")
    if out["format"] not in datasets.FORMATS:
        raise CliError(f"{where}: key 'format': unknown value {out['format']!r}; "
                       f"allowed: {', '.join(datasets.FORMATS)}")
    for k in ("source", "channel"):
        if out[k] is None:
            out[k] = {}
        if not isinstance(out[k], dict):
            raise CliError(f"{where}: key {k!r}: must be a mapping of block arguments, got {out[k]!r}")
    if "preset" not in out["channel"]:
        out["channel"] = dict(out["channel"], preset="rml2018")
    return out


def _block_params(func):
    import inspect
    sig = inspect.signature(func)
    return [n for n, p in sig.parameters.items()
            if n != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def check_blocks(cfg, where="config"):
    """Check the source/channel arguments against the blocks' real signatures (imports gnuradio.amc)."""
    try:
        from gnuradio import amc
        src, chan = amc.modulation_source, amc.radioml_channel
    except (ImportError, AttributeError) as e:
        raise CliError(f"the gr-amc blocks cannot be imported ({e}); is gr-amc built and on PYTHONPATH?") from None
    for key, block, fixed in (("source", src, _SOURCE_FIXED), ("channel", chan, _CHANNEL_FIXED)):
        allowed = [n for n in _block_params(block) if n not in fixed]
        for k in cfg[key]:
            if k not in allowed:
                raise CliError(f"{where}: key '{key}.{k}': not an argument of amc."
                               f"{'modulation_source' if key == 'source' else 'radioml_channel'}; "
                               f"allowed: {', '.join(allowed)}")
    presets = _CHANNEL_PRESETS_FALLBACK
    try:
        import importlib
        mod = importlib.import_module("gnuradio.amc.radioml_channel")
        presets = tuple(getattr(mod, "PRESETS", presets))
    except ImportError:
        pass
    if cfg["channel"]["preset"] not in presets:
        raise CliError(f"{where}: key 'channel.preset': unknown channel preset {cfg['channel']['preset']!r}; "
                       f"allowed: {', '.join(presets)}")
    try:
        import importlib
        mod = importlib.import_module("gnuradio.amc.modulation_source")
        supported = getattr(mod, "MODULATIONS", None)
    except ImportError:
        supported = None
    if supported:
        for c in cfg["classes"]:
            if c not in supported:
                raise CliError(f"{where}: key 'classes': class {c!r} is not made by amc.modulation_source; "
                               f"allowed: {', '.join(supported)}")


def build_config(args):
    """Config from --config/--preset plus command-line overrides -> (resolved config, where)."""
    if args.config:
        where = args.config
        cfg = _read_yaml(args.config)
    else:
        name = args.preset or "demo"
        where = f"preset {name}"
        cfg = _read_yaml(_preset_path(name))
    overrides = {"frames_per_class_snr": args.frames_per_class_snr, "frame_length": args.frame_length,
                 "normalization": args.normalization, "seed": args.seed, "shard_size": args.shard_size}
    for k, v in overrides.items():
        if v is not None:
            cfg[k] = v
    if args.snrs is not None:
        cfg["snrs"] = parse_snrs(args.snrs, "--snrs")
    if args.classes is not None:
        cfg["classes"] = parse_classes(args.classes, "--classes")
    from . import datasets
    fmt_out = datasets.format_from_path(args.out) if args.out else None
    if args.format is not None:
        if args.format not in datasets.FORMATS:
            raise CliError(f"--format: unknown format {args.format!r}; allowed: {', '.join(datasets.FORMATS)}")
        if fmt_out and fmt_out != args.format:
            raise CliError(f"--out {args.out!r} has the extension of format {fmt_out}, but --format is "
                           f"{args.format}; use an extension of {', '.join(datasets.EXTENSIONS[args.format])}")
        cfg["format"] = args.format
    elif fmt_out:
        cfg["format"] = fmt_out
    return check_config(cfg, where), where


# ------------------------------------------------------------------------------------------------
# shards
# ------------------------------------------------------------------------------------------------
def shard_seeds(seed, cls, snr, shard):
    """(source seed, channel seed, shard seed) for one shard: stable, independent of process and order."""
    import numpy as np
    from .datasets import stable_seed_words
    ss = np.random.SeedSequence(entropy=stable_seed_words(seed, cls, snr, shard))
    st = ss.generate_state(3, dtype=np.uint32)
    return tuple(int(x) & 0x7FFFFFFF for x in st)


def plan_shards(cfg, parts_dir):
    """Every shard of the dataset, in merge order."""
    jobs = []
    n, size = cfg["frames_per_class_snr"], cfg["shard_size"]
    config_json = dataset_config_json(cfg)
    skip_frames = -(-cfg["skip_samples"] // cfg["frame_length"])
    for ci, cls in enumerate(cfg["classes"]):
        for snr in cfg["snrs"]:
            for k in range(-(-n // size)):
                src_seed, ch_seed, shard_seed = shard_seeds(cfg["seed"], cls, snr, k)
                name = f"c{ci:02d}_{cls}_snr{snr:+04d}_s{k:05d}.h5"
                jobs.append({
                    "index": len(jobs), "path": os.path.join(parts_dir, name), "cls": cls, "snr": snr, "shard": k,
                    "n": min(size, n - k * size), "frame_length": cfg["frame_length"],
                    "normalization": cfg["normalization"], "source": dict(cfg["source"]),
                    "channel": dict(cfg["channel"]), "classes": list(cfg["classes"]), "config": config_json,
                    "source_seed": src_seed, "channel_seed": ch_seed, "shard_seed": shard_seed,
                    "skip_frames": skip_frames,
                })
    return jobs


def dataset_config_json(cfg):
    """The config stored in the dataset (everything that defines its contents; no paths, no worker count)."""
    return json.dumps(cfg, sort_keys=True, separators=(",", ":"))


def _worker_init(parent_pid):
    """Worker processes: leave Ctrl-C to the parent, and exit if the parent dies (kill -9)."""
    import signal
    import threading
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch():
        while True:
            if os.getppid() != parent_pid:
                os._exit(3)
            time.sleep(0.5)
    threading.Thread(target=watch, daemon=True).start()


def run_shard(job):
    """Make one shard: one flowgraph streaming job['n'] frames into job['path'] (atomic)."""
    from gnuradio import gr, amc
    t0 = time.time()
    L = job["frame_length"]
    tb = gr.top_block("gr-amc generate shard")
    src = amc.modulation_source(job["cls"], seed=job["source_seed"], tag_interval=L, **job["source"])
    chan = amc.radioml_channel(snr_db=float(job["snr"]), seed=job["channel_seed"], tag_interval=L, **job["channel"])
    framer = amc.framer(L, L)
    norm = amc.normalizer(L, job["normalization"])
    sink = amc.dataset_sink(L, job["path"], "hdf5", classes=job["classes"], config=job["config"],
                            seed=job["shard_seed"], num_frames=job["n"], skip_frames=job["skip_frames"])
    tb.connect(src, chan, framer, norm, sink)
    tb.run()
    if not sink.committed():
        raise RuntimeError(f"shard {os.path.basename(job['path'])} failed: {sink.error()}")
    if sink.frames_unlabeled():
        raise RuntimeError(f"shard {os.path.basename(job['path'])}: {sink.frames_unlabeled()} unlabelled frames")
    return job["index"], job["n"], time.time() - t0


class Progress:
    """A progress line on stderr: frames done, frames/s, ETA."""

    def __init__(self, total, done=0, quiet=False, stream=None):
        self.total, self.done0, self.done = total, done, done
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.time()
        self.last = 0.0
        self.last_pct = -1

    def update(self, n, shards_done, shards_total):
        self.done += n
        if self.quiet:
            return
        now = time.time()
        final = self.done >= self.total
        pct = int(100 * self.done / max(1, self.total))
        if self.tty and not final and now - self.last < 0.25:
            return
        if not self.tty and not final and pct // 10 == self.last_pct // 10:
            return
        self.last, self.last_pct = now, pct
        el = max(1e-9, now - self.t0)
        rate = (self.done - self.done0) / el
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        width = 30
        fill = int(width * self.done / max(1, self.total))
        eta_s = "--:--" if not math.isfinite(eta) else time.strftime("%H:%M:%S", time.gmtime(eta))
        line = (f"[{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} frames {pct:3d}%  "
                f"{rate:,.0f} frames/s  ETA {eta_s}  shards {shards_done}/{shards_total}")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _run_pool(pending, workers, progress, shards_done, shards_total):
    import multiprocessing as mp
    import signal
    ctx = mp.get_context("spawn")
    pool = ctx.Pool(workers, initializer=_worker_init, initargs=(os.getpid(),))

    def on_term(signum, frame):
        raise KeyboardInterrupt
    old = signal.signal(signal.SIGTERM, on_term)
    try:
        for _, n, _ in pool.imap_unordered(run_shard, pending, chunksize=1):
            shards_done += 1
            progress.update(n, shards_done, shards_total)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
        signal.signal(signal.SIGTERM, old)


def merge_shards(jobs, cfg, out, quiet=False):
    """Concatenate the shard files, in job order, into ``out`` in cfg['format'] (atomically)."""
    import h5py
    import numpy as np
    from . import datasets
    classes = cfg["classes"]
    w = datasets.open_writer(out, cfg["format"], cfg["frame_length"], classes=classes,
                             config=dataset_config_json(cfg), seed=cfg["seed"])
    try:
        step = 4096
        for job in jobs:
            with h5py.File(job["path"], "r") as f:
                X, Y, Z = f["X"], f["Y"], f["Z"]
                if X.shape[0] != job["n"]:
                    raise CliError(f"shard file {job['path']} holds {X.shape[0]} frames, expected {job['n']}; "
                                   f"delete it and rerun")
                for s in range(0, X.shape[0], step):
                    x = np.ascontiguousarray(X[s:s + step], dtype=np.float32).view(np.complex64)[..., 0]
                    lab = [classes[i] for i in np.argmax(Y[s:s + step], axis=1)]
                    w.append(x, lab, Z[s:s + step, 0])
        return w.commit()
    except BaseException:
        w.abort()
        raise


def _clean_stale(parts_dir):
    for f in os.listdir(parts_dir):
        if f.endswith((".tmp", ".tmpdir")):
            p = os.path.join(parts_dir, f)
            if os.path.isdir(p):
                import shutil
                shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    os.remove(p)
                except FileNotFoundError:
                    pass


def run(args):
    from . import datasets
    cfg, where = build_config(args)
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise CliError(f"--workers must be >= 1, got {workers}")
    out = args.out or (cfg["name"] + datasets.default_extension(cfg["format"]))
    out_dir = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(out_dir):
        raise CliError(f"--out {out!r}: folder {out_dir} does not exist")
    finals = datasets.final_paths(out, cfg["format"])
    parts_dir = os.path.abspath(out) + ".parts"
    jobs = plan_shards(cfg, parts_dir)
    total = sum(j["n"] for j in jobs)
    if args.dry_run:
        print(json.dumps(cfg, indent=2))
        print(f"{len(cfg['classes'])} classes x {len(cfg['snrs'])} SNRs x {cfg['frames_per_class_snr']} frames "
              f"= {total} frames of {cfg['frame_length']} samples in {len(jobs)} shards -> {out} ({cfg['format']})")
        return 0
    check_blocks(cfg, where)
    existing = [f for f in finals if os.path.exists(f)]
    if existing and not args.overwrite:
        raise CliError(f"output {existing[0]!r} already exists; use --overwrite to replace it")

    cfg_json = dataset_config_json(cfg)
    cfg_file = os.path.join(parts_dir, "config.json")
    if os.path.isdir(parts_dir):
        try:
            with open(cfg_file) as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = None
        if old != json.loads(cfg_json):
            if not args.overwrite:
                diff = sorted(k for k in set(old or {}) | set(cfg) if (old or {}).get(k) != cfg.get(k))
                raise CliError(f"{parts_dir} holds shards of a run with another config (differs in: "
                               f"{', '.join(diff) or 'unreadable config.json'}); delete it or use --overwrite")
            import shutil
            shutil.rmtree(parts_dir)
    if not os.path.isdir(parts_dir):
        os.makedirs(parts_dir)
        tmp = cfg_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(cfg_json)
        os.replace(tmp, cfg_file)
    _clean_stale(parts_dir)

    pending = [j for j in jobs if not os.path.exists(j["path"])]
    done_frames = total - sum(j["n"] for j in pending)
    if not args.quiet:
        msg = (f"gr-amc generate: {len(cfg['classes'])} classes x {len(cfg['snrs'])} SNRs x "
               f"{cfg['frames_per_class_snr']} frames of {cfg['frame_length']} samples = {total} frames, "
               f"{len(jobs)} shards, {min(workers, max(1, len(pending)))} worker(s) -> {out}")
        if len(pending) < len(jobs):
            msg += f"\n  resuming: {len(jobs) - len(pending)} of {len(jobs)} shards already done in {parts_dir}"
        print(msg, file=sys.stderr)
    progress = Progress(total, done_frames, quiet=args.quiet)
    t0 = time.time()
    if pending:
        try:
            _run_pool(pending, min(workers, len(pending)), progress, len(jobs) - len(pending), len(jobs))
        except KeyboardInterrupt:
            done = sum(1 for j in jobs if os.path.exists(j["path"]))
            print(f"\ngr-amc generate: interrupted; {done} of {len(jobs)} shards are done and kept in "
                  f"{parts_dir}; rerun the same command to resume", file=sys.stderr)
            raise
        except RuntimeError as e:
            raise CliError(str(e)) from None
    gen_time = time.time() - t0
    if not args.quiet:
        print(f"gr-amc generate: merging {len(jobs)} shards into {out}", file=sys.stderr)
    files = merge_shards(jobs, cfg, out, quiet=args.quiet)
    if not args.keep_parts:
        import shutil
        shutil.rmtree(parts_dir, ignore_errors=True)
    if not args.quiet:
        made = total - done_frames
        rate = f", {made / gen_time:,.0f} frames/s" if gen_time > 0 and made else ""
        print(f"gr-amc generate: wrote {total} frames to {', '.join(files)} "
              f"({time.time() - t0:.1f} s{rate})", file=sys.stderr)
    return 0

