# SPDX-License-Identifier: GPL-3.0-or-later
"""The progress line of generate and train (progress.Progress): never wider than the terminal, an ETA measured
after start-up, one line per 10 % in a log."""
import io

from gnuradio.amc.progress import Progress


class Tty(io.StringIO):
    def isatty(self):
        return True


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _drawn(stream):
    return [s for s in stream.getvalue().replace("\x1b[K", "").replace("\n", "\r").split("\r") if s]


def test_the_line_fits_the_terminal():
    for width in (80, 60, 40, 24):
        s, clock = Tty(), Clock()
        p = Progress(2_560_000, stream=s, width=width, clock=clock)
        for k in range(1, 41):
            clock.t = 60.0 + k          # one draw per call (4 per second at most)
            p.update(64_000, f"shards {k}/40")
        lines = _drawn(s)
        assert lines and all(len(line) <= width - 1 for line in lines), (width, max(map(len, lines)))
        assert lines[-1].startswith("[") or width < 40
        assert "100%" in lines[-1]
        assert s.getvalue().endswith("\n")
    # at 80 columns everything is shown
    assert "shards 40/40" in Progress(10, stream=Tty(), width=80).line("shards 40/40")


def test_eta_is_measured_after_start_up():
    """Workers take 60 s to start (importing GNU Radio), then a shard of 100 frames finishes every 2 s: the ETA
    is the remaining time at that rate, not one that averages the start-up in."""
    clock = Clock()
    p = Progress(10_000, stream=io.StringIO(), clock=clock)
    assert p.eta() == float("inf")
    clock.t = 60.0
    p.update(100)                      # the first shard: the rate is measured from here
    assert p.eta() == float("inf") and "ETA --:--" in p.line()
    clock.t = 62.0
    p.update(100)
    assert p.eta() == float("inf")     # one interval is not a rate yet
    clock.t = 64.0
    p.update(100)
    assert p.rate() == 50.0
    assert p.eta() == (10_000 - 300) / 50.0           # 194 s, not (10_000 - 300) / (300 / 64) = 2069 s
    assert "ETA 03:14" in p.line()


def test_a_log_gets_one_line_per_decile():
    s, clock = io.StringIO(), Clock()
    p = Progress(1000, stream=s, clock=clock)
    for k in range(100):
        clock.t = k
        p.update(10)
    lines = s.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("[") and "100%" in lines[-1]
    assert all("\r" not in line for line in lines)


def test_transient_line_is_erased_and_quiet_writes_nothing():
    s, clock = Tty(), Clock()
    p = Progress(3, stream=s, unit="batches", transient=True, clock=clock)
    for k in range(3):
        clock.t = k
        p.update(1, "epoch 1/2 loss 0.5")
    assert s.getvalue().endswith("\r\x1b[K") and "\n" not in s.getvalue()
    q = io.StringIO()
    Progress(3, stream=q, quiet=True).update(3)
    assert q.getvalue() == ""
