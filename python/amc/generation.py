#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Dataset generation, the library job behind ``gr-amc generate``: :func:`generate` (config, output) -> files.

The work is split into shards of at most ``shard_size`` frames of one (class, SNR). Each shard runs ONE
flowgraph  modulation_source -> radioml_channel -> framer -> normalizer -> dataset_sink  that writes
``<out>.parts/<shard>.h5`` atomically; its seeds derive from (seed, class, SNR, shard index) through
numpy's SeedSequence, so the dataset does not depend on the number of workers. Shards run on an executor
(:class:`LocalPool`, worker processes on this machine, unless the caller passes another
``concurrent.futures``-style executor); when all are done they are merged, in a fixed order (classes in config
order, SNRs in config order, shards in order), into the output file, also atomically. A shard file exists only
once its shard is complete, so an interrupted run resumes where it stopped when rerun with the same arguments.

What survives what:
- a worker process that dies (killed, out of memory, a crash in native code): its shard is run again on a fresh
  pool, up to ``retries`` times per shard, then the run stops with a message naming the shard; finished shards
  are kept and a rerun resumes;
- Ctrl-C / SIGTERM: the workers are stopped at once, finished shards are kept (KeyboardInterrupt reaches the
  caller);
- a shard that fails with an error of its own (a bad block argument): the run stops with that error.

Config keys are documented in docs/datasets.md and checked by ``dataset_config.check_config``; the file layouts
in docs/datasets.md too.
"""
import concurrent.futures as cf
import hashlib
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time

import numpy as np

from . import dataset_config, datasets, optional
from .dataset_config import dataset_config_json, plan_shards
from .dsp.channel import PRESETS
from .fileio import atomic_write_bytes
from .paths import __version__
from .progress import Progress


class GenerationError(RuntimeError):
    """A shard could not be made (its own error, or its worker died too often), or a shard file is damaged."""


def _worker_init(parent_pid):
    """Worker processes: leave Ctrl-C to the parent, and exit if the parent dies (kill -9)."""
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
        raise GenerationError(f"shard {os.path.basename(job['path'])} failed: {sink.error()}")
    if sink.frames_unlabeled():
        raise GenerationError(f"shard {os.path.basename(job['path'])}: {sink.frames_unlabeled()} unlabelled frames")
    return job["index"], job["n"], time.time() - t0


def run_shard_bytes(job):
    """run_shard on a worker that shares no folder with the client: the shard is written to a private temporary
    folder and returned as bytes -> (index, n, seconds, file bytes)."""
    with tempfile.TemporaryDirectory(prefix="gr-amc-shard-") as tmp:
        local = dict(job, path=os.path.join(tmp, os.path.basename(job["path"])))
        index, n, seconds = run_shard(local)
        with open(local["path"], "rb") as f:
            return index, n, seconds, f.read()


def fingerprint():
    """(gr-amc version, SHA-256 of the frames of a tiny reference shard made here): two machines whose
    fingerprints agree make the same frames from the same plan (numpy's SIMD paths, for one, can change samples
    in the last bits).  Runs on the client and on every Dask worker before a run is submitted."""
    cfg, _ = dataset_config.load_config("demo", classes=["QPSK"], snrs=[10], frames_per_class_snr=2,
                                        frame_length=64, shard_size=2, seed=1, skip_samples=64)
    with tempfile.TemporaryDirectory(prefix="gr-amc-fingerprint-") as tmp:
        (job,) = plan_shards(cfg, tmp)
        run_shard(job)
        ds = datasets.load_dataset(job["path"])
        digest = hashlib.sha256(np.ascontiguousarray(ds.x).tobytes() + np.asarray(ds.snrs).tobytes()).hexdigest()
    return __version__, digest


def sample_rate(cfg):
    """The generator's sample rate in Hz of a (check_config-ed) config: the channel's ``samp_rate`` (the channel
    preset's unless the config overrides it)."""
    channel = dataset_config.channel_entries(cfg)[0]    # a mixture's entries share one rate (check_blocks)
    rate = channel.get("samp_rate")
    if rate is None:
        rate = PRESETS[channel.get("preset", "rml2018")]["samp_rate"]
    return float(rate)


def merge_shards(jobs, cfg, out):
    """Concatenate the shard files, in job order, into ``out`` in cfg['format'] (atomically). Each shard's
    ``Y`` is decoded against that shard's own ``classes`` attribute (its columns)."""
    import h5py
    w = datasets.open_writer(out, cfg["format"], cfg["frame_length"], classes=cfg["classes"],
                             config=dataset_config_json(cfg), seed=cfg["seed"], sample_rate=sample_rate(cfg),
                             total_frames=sum(j["n"] for j in jobs))
    try:
        step = 4096
        for job in jobs:
            with h5py.File(job["path"], "r") as f:
                X, Y, Z = f["X"], f["Y"], f["Z"]
                if X.shape[0] != job["n"]:
                    raise GenerationError(f"shard file {job['path']} holds {X.shape[0]} frames, expected {job['n']}; "
                                   f"delete it and rerun")
                columns = json.loads(f.attrs["classes"])
                if Y.shape[1] != len(columns):
                    raise GenerationError(f"shard file {job['path']}: Y has {Y.shape[1]} columns but its 'classes' "
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
    for final in finals:
        folder, base = os.path.split(os.path.abspath(final))
        _remove_temporaries(folder, re.compile(re.escape(base) + r"\.[A-Za-z0-9_]{8}\.tmp(dir)?$").match)


def _clean_stale(parts_dir):
    _remove_temporaries(parts_dir, lambda name: name.endswith((".tmp", ".tmpdir")))



# ------------------------------------------------------------------------------------------------
# the local pool: worker processes that may die
# ------------------------------------------------------------------------------------------------
class LocalPool:
    """A ``concurrent.futures`` executor of `workers` spawned processes (a worker imports GNU Radio afresh: no
    fork of a process that holds flowgraph threads).  ``restart()`` replaces a pool broken by a dead worker;
    ``shutdown(now=True)`` stops the workers at once (Ctrl-C)."""

    def __init__(self, workers):
        self.workers = int(workers)
        self._pool = None
        self.restart()

    def restart(self):
        if self._pool is not None:
            self.shutdown(now=True)
        self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"),
                                            initializer=_worker_init, initargs=(os.getpid(),))

    def submit(self, fn, *args):
        return self._pool.submit(fn, *args)

    def shutdown(self, now=False):
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if now:
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                if p.is_alive():
                    p.terminate()
            for p in procs:
                p.join(5)
        else:
            pool.shutdown(wait=True)


class DaskExecutor:
    """Shards on a Dask cluster: scheduler "local" (a LocalCluster of `workers` processes, one thread each) or the
    address of a running scheduler (tcp://HOST:PORT).  Before anything is submitted, every worker's fingerprint()
    is compared with the client's; a worker that differs is named and the run refused.  transfer=True returns
    each shard to the client as bytes (workers without the client's folders); otherwise workers write the shard
    files themselves, so the parts folder must be shared.  Dask reruns a task whose worker died (up to its
    distributed.scheduler.allowed-failures); a context manager: the client (and a local cluster) close on exit."""

    def __init__(self, scheduler, workers=None, transfer=False, timeout=60):
        distributed = optional.require("distributed", "gr-amc generate --scheduler (Dask)")
        self.transfer = transfer
        self._cluster = None
        if scheduler == "local":
            self._cluster = distributed.LocalCluster(n_workers=workers or (os.cpu_count() or 1), threads_per_worker=1,
                                                     processes=True, dashboard_address=None)
            scheduler = self._cluster
        elif not str(scheduler).startswith(("tcp://", "tls://")):
            raise ValueError(f"--scheduler must be local or tcp://HOST:PORT, got {scheduler!r}")
        try:
            self.client = distributed.Client(scheduler, timeout=timeout)
        except OSError as e:
            self.close()
            raise OSError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({e})") from None
        try:
            self.check_workers()
        except BaseException:
            self.close()
            raise
        self._executor = self.client.get_executor(pure=False)

    def check_workers(self):
        """ValueError naming the first worker whose gr-amc version or numerical fingerprint differs."""
        mine = fingerprint()
        theirs = self.client.run(fingerprint)
        if not theirs:
            raise ValueError("the Dask cluster has no workers")
        for worker, fp in sorted(theirs.items()):
            if tuple(fp) != mine:
                what = (f"gr-amc {fp[0]}, this client {mine[0]}" if fp[0] != mine[0] else
                        "its frames of the reference shard differ from this client's (another numpy, SIMD "
                        "dispatch or CPU)")
                raise ValueError(f"Dask worker {worker} does not make the same frames: {what}; refused")
        self.workers = len(theirs)

    def submit(self, fn, job):
        return self._executor.submit(run_shard_bytes if self.transfer and fn is run_shard else fn, job)

    def close(self):
        client, cluster = getattr(self, "client", None), self._cluster
        self._cluster = None
        if client is not None:
            client.close()
            self.client = None
        if cluster is not None:
            cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def run_jobs(pending, executor, progress, shards_done, shards_total, retries=2):
    """Run the shard jobs on `executor` (LocalPool or any executor with submit() -> concurrent.futures.Future);
    progress.update per finished shard.  Shards whose worker died are submitted again (at most `retries` times
    each; a LocalPool is restarted first).  GenerationError when a shard fails on its own or too often."""
    tries = {j["index"]: 0 for j in pending}
    todo = list(pending)
    while todo:
        futures = {executor.submit(run_shard, job): job for job in todo}
        todo, lost = [], []
        for fut in cf.as_completed(futures):
            job = futures[fut]
            try:
                result = fut.result()
            except cf.process.BrokenProcessPool:
                lost.append(job)
                continue
            except GenerationError:
                raise
            except Exception as e:  # noqa: BLE001  (an error inside the shard's flowgraph: the message says it)
                if type(e).__name__ == "KilledWorker":     # Dask gave up after its own retries on other workers
                    raise GenerationError(f"shard {os.path.basename(job['path'])}: every worker that ran it died "
                                          f"({e}); the finished shards are kept, rerun to resume") from None
                raise GenerationError(f"shard {os.path.basename(job['path'])} failed: {e}") from None
            n = result[1]
            if len(result) == 4:                         # run_shard_bytes: the shard file comes back as bytes
                atomic_write_bytes(result[3], job["path"])
            shards_done += 1
            progress.update(n, f"shards {shards_done}/{shards_total}")
        for job in lost:
            if os.path.exists(job["path"]):         # finished just before the pool broke
                shards_done += 1
                progress.update(job["n"], f"shards {shards_done}/{shards_total}")
                continue
            tries[job["index"]] += 1
            if tries[job["index"]] > retries:
                raise GenerationError(
                    f"shard {os.path.basename(job['path'])}: its worker process died {tries[job['index']]} times "
                    f"(killed, out of memory or crashed); the {shards_done} finished shards are kept, rerun to "
                    f"resume")
            todo.append(job)
        if todo:
            print(f"gr-amc generate: a worker process died; running {len(todo)} unfinished shard(s) again",
                  file=sys.stderr)
            if hasattr(executor, "restart"):
                executor.restart()
    return shards_done


# ------------------------------------------------------------------------------------------------
# the job
# ------------------------------------------------------------------------------------------------
def output_format(out, fmt=None):
    """The format of the output `out`: `fmt` when given, else the one its extension names (None: neither, the
    config's format counts).  ValueError for an unknown format or one the extension contradicts."""
    ext_fmt = datasets.format_from_path(out) if out else None
    if fmt is None:
        return ext_fmt
    if fmt not in datasets.FORMATS:
        raise ValueError(f"--format: unknown format {fmt!r}; allowed: {', '.join(datasets.FORMATS)}")
    if ext_fmt and ext_fmt != fmt:
        raise ValueError(f"--output {out!r} has the extension of format {ext_fmt}, but --format is {fmt}; use an "
                         f"extension of {', '.join(datasets.EXTENSIONS[fmt])}")
    return fmt


def prepare_output(cfg, out, overwrite=False, keep_parts=False, parts_dir=None):
    """Check the output and its parts folder for a run of `cfg` -> (finals, parts_dir, complete).

    complete is True when an earlier run of the same config already wrote the output (its parts folder, if any,
    is then removed unless keep_parts).  FileExistsError when the output or the parts folder belong to something
    else and `overwrite` is not set; FileNotFoundError when the output's folder does not exist."""
    out_dir = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(out_dir):
        raise FileNotFoundError(f"output {out!r}: folder {out_dir} does not exist")
    finals = datasets.final_paths(out, cfg["format"])
    parts_dir = os.path.abspath(parts_dir or (os.path.abspath(out) + ".parts"))
    cfg_json = dataset_config_json(cfg)
    cfg_file = os.path.join(parts_dir, "config.json")
    old = _parts_config(cfg_file) if os.path.isdir(parts_dir) else None
    same = old == json.loads(cfg_json)            # the parts folder was made by a run of this config
    existing = [f for f in finals if os.path.exists(f)]
    if existing and not overwrite:
        if len(existing) == len(finals) and same:
            # a run of this config merged and renamed its output (the rename is the last, atomic step) and was
            # stopped before it removed its parts folder: the output is complete
            if not keep_parts:
                shutil.rmtree(parts_dir, ignore_errors=True)
            _clean_merge_temps(finals)
            return finals, parts_dir, True
        raise FileExistsError(f"output {existing[0]!r} already exists; use --overwrite to replace it")
    _clean_merge_temps(finals)
    if os.path.isdir(parts_dir) and not same:
        if not overwrite:
            diff = sorted(k for k in set(old or {}) | set(cfg) if (old or {}).get(k) != cfg.get(k))
            raise FileExistsError(f"{parts_dir} holds shards of a run with another config (differs in: "
                                  f"{', '.join(diff) or 'unreadable config.json'}); delete it or use --overwrite")
        shutil.rmtree(parts_dir)
    if not os.path.isdir(parts_dir):
        os.makedirs(parts_dir)
        tmp = cfg_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(cfg_json)
        os.replace(tmp, cfg_file)
    _clean_stale(parts_dir)
    return finals, parts_dir, False


def generate(config, out=None, workers=None, overwrite=False, keep_parts=False, quiet=False, executor=None,
             retries=2, parts_dir=None, **overrides):
    """Make the dataset of `config` (a dataset preset name, a YAML config path or a config dict; `overrides` replace
    its keys, e.g. frames_per_class_snr=4, seed=1) in `out` (default: <name>.<extension> in the current folder;
    its extension sets the format unless format= is given, see output_format).

    workers: processes of the local pool (default: the CPU count); executor: run the shards there instead (any
    executor whose submit() returns concurrent.futures.Future; the caller owns it).  The result does not depend on
    either; parts_dir: the shard folder (default <out>.parts; a folder the executor's workers share when they
    write the shards themselves).  Returns the list of files written.  Raises ValueError (config), OSError (output), GenerationError
    (a shard), KeyboardInterrupt (Ctrl-C; finished shards kept).  Progress and messages go to stderr unless quiet."""
    overrides["format"] = output_format(out, overrides.get("format"))
    cfg, _ = dataset_config.load_config(config, **overrides)
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = out or (cfg["name"] + datasets.default_extension(cfg["format"]))
    finals, parts_dir, complete = prepare_output(cfg, out, overwrite, keep_parts, parts_dir)
    if complete:     # said even with quiet: the run made nothing, and the user should know why
        print(f"gr-amc generate: {', '.join(finals)} is complete (an earlier run of this config was stopped "
              f"before it removed {parts_dir}" + ("" if keep_parts else "; removed it") + ")", file=sys.stderr)
        return finals
    jobs = plan_shards(cfg, parts_dir)
    total = sum(j["n"] for j in jobs)
    pending = [j for j in jobs if not os.path.exists(j["path"])]
    done_frames = total - sum(j["n"] for j in pending)
    if not quiet:
        msg = (f"gr-amc generate: {len(cfg['classes'])} classes x {len(cfg['snrs'])} SNRs x "
               f"{cfg['frames_per_class_snr']} frames of {cfg['frame_length']} samples = {total} frames, "
               f"{len(jobs)} shards, " + (f"{min(workers, max(1, len(pending)))} worker(s)" if executor is None
                                          else "on the given executor") + f" -> {out}")
        if len(pending) < len(jobs):
            msg += f"\n  resuming: {len(jobs) - len(pending)} of {len(jobs)} shards already done in {parts_dir}"
        print(msg, file=sys.stderr)
    progress = Progress(total, done_frames, quiet=quiet)
    t0 = time.time()
    if pending:
        own = executor is None
        pool = LocalPool(min(workers, len(pending))) if own else executor
        main = threading.current_thread() is threading.main_thread()    # signal handlers: main thread only
        old = signal.signal(signal.SIGTERM, _raise_interrupt) if main else None
        try:
            run_jobs(pending, pool, progress, len(jobs) - len(pending), len(jobs), retries)
        except BaseException as e:
            if own:
                pool.shutdown(now=True)
            progress.close()
            if isinstance(e, KeyboardInterrupt):
                done = sum(1 for j in jobs if os.path.exists(j["path"]))
                print(f"gr-amc generate: interrupted; {done} of {len(jobs)} shards are done and kept in "
                      f"{parts_dir}; rerun the same command to resume", file=sys.stderr)
            raise
        else:
            if own:
                pool.shutdown()
        finally:
            if old is not None:
                signal.signal(signal.SIGTERM, old)
    gen_time = time.time() - t0
    if not quiet:
        print(f"gr-amc generate: merging {len(jobs)} shards into {out}", file=sys.stderr)
    files = merge_shards(jobs, cfg, out)
    if not keep_parts:
        shutil.rmtree(parts_dir, ignore_errors=True)
    if not quiet:
        made = total - done_frames
        rate = f", {made / gen_time:,.0f} frames/s" if gen_time > 0 and made else ""
        print(f"gr-amc generate: wrote {total} frames to {', '.join(files)} "
              f"({time.time() - t0:.1f} s{rate})", file=sys.stderr)
    return files


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt
