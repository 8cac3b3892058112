#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""One progress line for long jobs (dataset generation, training epochs), on stderr.

- On a terminal the line is redrawn in place (at most 4 times a second) and never wider than the terminal
  (``shutil.get_terminal_size``): the bar shrinks first, then the less important fields are dropped, so it
  does not wrap in an 80-column window.  Elsewhere (a log file, CI) a plain line is written at every 10 %.
- The ETA is honest: the rate is measured from the first completed unit onwards (a pool's start-up, workers
  importing GNU Radio, is not averaged into it), and no ETA is shown until two units have completed after
  that first one and at least one second has passed; until then it reads ``--:--``.
"""
import math
import shutil
import sys
import time


def _hms(seconds):
    if not math.isfinite(seconds):
        return "--:--"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """Progress of `total` units (frames, batches), `done` of them finished before this run started.

    update(n, extra="") adds n finished units; a transient line is erased when it completes; `extra` (e.g. "shards 3/40" or "loss 0.81") is shown after the
    rate when the width allows.  `unit` names the units; `width` overrides the terminal's width (tests)."""

    def __init__(self, total, done=0, quiet=False, stream=None, unit="frames", width=None, clock=time.monotonic,
                 transient=False):
        self.total, self.done0, self.done = int(total), int(done), int(done)
        self.quiet, self.unit, self.transient = quiet, unit, transient
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._width, self._clock = width, clock
        self._first = None        # (time, done) at the first completed update: the rate is measured from here
        self._updates = 0
        self._last_draw = -1e9
        self._last_decile = (100 * self.done // max(1, self.total)) // 10
        self.finished = False

    # -- numbers ---------------------------------------------------------------------------------------------
    def rate(self):
        """Units per second since the first completed update (nan before two)."""
        if self._first is None:
            return float("nan")
        dt = self._clock() - self._first[0]
        return (self.done - self._first[1]) / dt if dt > 0 else float("nan")

    def eta(self):
        """Seconds left, or inf while the rate is not yet known (see the module's docstring)."""
        if self._first is None or self._updates < 3 or self._clock() - self._first[0] < 1.0:
            return float("inf")
        r = self.rate()
        return (self.total - self.done) / r if r > 0 else float("inf")

    def line(self, extra=""):
        """The progress line, at most the terminal's width minus one."""
        width = self._width or shutil.get_terminal_size((80, 24)).columns
        width = max(20, width - 1)
        pct = int(100 * self.done / max(1, self.total))
        r = self.rate()
        rate = f"{r:,.0f} {self.unit}/s" if math.isfinite(r) else ""
        count = f"{self.done}/{self.total} {self.unit}"
        fields = [f"{pct:3d}%", count, rate, f"ETA {_hms(self.eta())}", extra]
        for drop in ((), (4,), (4, 2), (4, 2, 1)):          # extra, then the rate, then the count go first
            text = "  ".join(f for i, f in enumerate(fields) if f and i not in drop)
            bar_w = min(30, width - len(text) - 3)            # "[" bar "] " text
            if bar_w >= 10:
                fill = int(bar_w * self.done / max(1, self.total))
                return f"[{'#' * fill}{'.' * (bar_w - fill)}] {text}"
        return text[:width]

    # -- drawing ---------------------------------------------------------------------------------------------
    def update(self, n, extra=""):
        self.done += int(n)
        now = self._clock()
        if self._first is None:
            self._first = (now, self.done)
        self._updates += 1
        if self.quiet:
            return
        final = self.done >= self.total
        if self.tty:
            if not final and now - self._last_draw < 0.25:
                return
            if final and self.transient:     # erased: the caller prints its own summary line
                self.stream.write("\r\x1b[K")
            else:
                self.stream.write("\r\x1b[K" + self.line(extra) + ("\n" if final else ""))
        else:
            decile = (100 * self.done // max(1, self.total)) // 10
            if not final and decile == self._last_decile:
                return
            self._last_decile = decile
            self.stream.write(self.line(extra) + "\n")
        self._last_draw = now
        self.finished = final
        self.stream.flush()

    def close(self):
        """End an unfinished line on a terminal (an interrupted run), so that the next message starts clean."""
        if self.tty and not self.quiet and not self.finished and self._updates:
            self.stream.write("\r\x1b[K" if self.transient else "\n")
            self.stream.flush()
