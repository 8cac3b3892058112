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

from . import dataset_config
from .dataset_config import CONFIG_KEYS, dataset_config_json, plan_shards, preset_names  # noqa: F401


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
                     help=f"a shipped dataset preset: {', '.join(preset_names())} (default: demo when no --config)")
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


def _lib(func, *args):
    """Call a dataset_config function, its ValueError/OSError turned into the command line's CliError."""
    try:
        return func(*args)
    except (ValueError, OSError) as e:
        raise CliError(str(e)) from None


def check_config(cfg, where="config"):
    """dataset_config.check_config for the command line (CliError)."""
    return _lib(dataset_config.check_config, cfg, where)


def check_blocks(cfg, where="config"):
    """dataset_config.check_blocks for the command line (CliError)."""
    return _lib(dataset_config.check_blocks, cfg, where)


def build_config(args):
    """Config from --config/--preset plus command-line overrides -> (resolved config, where)."""
    if args.config:
        where = args.config
        cfg = _lib(dataset_config.read_yaml, args.config)
    else:
        name = args.preset or "demo"
        where = f"preset {name}"
        cfg = _lib(dataset_config.read_yaml, _lib(dataset_config.preset_path, name))
    overrides = {"frames_per_class_snr": args.frames_per_class_snr, "frame_length": args.frame_length,
                 "normalization": args.normalization, "seed": args.seed, "shard_size": args.shard_size}
    for k, v in overrides.items():
        if v is not None:
            cfg[k] = v
    if args.snrs is not None:
        cfg["snrs"] = _lib(dataset_config.parse_snrs, args.snrs, "--snrs")
    if args.classes is not None:
        cfg["classes"] = _lib(dataset_config.parse_classes, args.classes, "--classes")
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
    src = amc.modulation_source(job["cls"], seed=job["source_seed"], tag_interval=L, **job["source"])   # drawn
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


def sample_rate(cfg):
    """The generator's sample rate in Hz: the channel's ``samp_rate`` (the channel preset's unless the config
    overrides it)."""
    from .dsp_channel import PRESETS
    channel = cfg.get("channel") or {}
    rate = channel.get("samp_rate")
    if rate is None:
        rate = PRESETS[channel.get("preset", "rml2018")]["samp_rate"]
    return float(rate)


def merge_shards(jobs, cfg, out, quiet=False):
    """Concatenate the shard files, in job order, into ``out`` in cfg['format'] (atomically). Each shard's
    ``Y`` is decoded against that shard's own ``classes`` attribute (its columns)."""
    import h5py
    import numpy as np
    from . import datasets
    w = datasets.open_writer(out, cfg["format"], cfg["frame_length"], classes=cfg["classes"],
                             config=dataset_config_json(cfg), seed=cfg["seed"], sample_rate=sample_rate(cfg),
                             total_frames=sum(j["n"] for j in jobs))
    try:
        step = 4096
        for job in jobs:
            with h5py.File(job["path"], "r") as f:
                X, Y, Z = f["X"], f["Y"], f["Z"]
                if X.shape[0] != job["n"]:
                    raise CliError(f"shard file {job['path']} holds {X.shape[0]} frames, expected {job['n']}; "
                                   f"delete it and rerun")
                columns = json.loads(f.attrs["classes"])
                if Y.shape[1] != len(columns):
                    raise CliError(f"shard file {job['path']}: Y has {Y.shape[1]} columns but its 'classes' "
                                   f"attribute lists {len(columns)}; delete it and rerun")
                for s in range(0, X.shape[0], step):
                    x = np.ascontiguousarray(X[s:s + step], dtype=np.float32).view(np.complex64)[..., 0]
                    lab = [columns[i] for i in np.argmax(Y[s:s + step], axis=1)]
                    w.append(x, lab, Z[s:s + step, 0])
        return w.commit()
    except BaseException:
        w.abort()
        raise


def _parts_config(cfg_file):
    """The config a parts folder was made for, or None when its config.json is missing or unreadable."""
    try:
        with open(cfg_file) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _remove_temporaries(folder, match):
    """Remove the files and folders in `folder` whose names `match` accepts (leftovers of a killed run)."""
    import shutil
    for name in os.listdir(folder):
        if match(name):
            p = os.path.join(folder, name)
            if os.path.isdir(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    os.remove(p)
                except FileNotFoundError:
                    pass


def _clean_merge_temps(finals):
    """Remove what a merge killed before its final rename left beside the output: the dataset writers' temporary
    files and folders, named <output name>.<8 random characters>.tmp / .tmpdir (datasets.py)."""
    import re
    for final in finals:
        folder, base = os.path.split(os.path.abspath(final))
        _remove_temporaries(folder, re.compile(re.escape(base) + r"\.[A-Za-z0-9_]{8}\.tmp(dir)?$").match)


def _clean_stale(parts_dir):
    _remove_temporaries(parts_dir, lambda name: name.endswith((".tmp", ".tmpdir")))


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
    cfg_json = dataset_config_json(cfg)
    cfg_file = os.path.join(parts_dir, "config.json")
    old = _parts_config(cfg_file) if os.path.isdir(parts_dir) else None
    existing = [f for f in finals if os.path.exists(f)]
    if existing and not args.overwrite:
        if len(existing) == len(finals) and old == json.loads(cfg_json):
            # a run of this config merged and renamed its output (the rename is the last, atomic step) and was
            # stopped before it removed its parts folder: the output is complete
            if not args.keep_parts:
                import shutil
                shutil.rmtree(parts_dir, ignore_errors=True)
            _clean_merge_temps(finals)
            print(f"gr-amc generate: {', '.join(finals)} is complete (an earlier run of this config was stopped "
                  f"before it removed {parts_dir}" + ("" if args.keep_parts else "; removed it") + ")",
                  file=sys.stderr)
            return 0
        raise CliError(f"output {existing[0]!r} already exists; use --overwrite to replace it")
    _clean_merge_temps(finals)

    if os.path.isdir(parts_dir):
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

