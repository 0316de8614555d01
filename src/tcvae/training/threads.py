"""How many CPU threads the trainer gives torch, on a machine that others may share.

torch's intra-op threads meet at a barrier after every parallel operation, so when other
processes keep some cores busy a step can become many times slower than on fewer threads. A run
therefore uses as many threads as there are cores left free *when it starts*:

    threads = clamp(round(cores - busy_elsewhere), 1, limit)

where ``busy_elsewhere`` is the number of cores that *other* processes kept busy over a short
sample (the machine's busy time from /proc/stat minus this process's own CPU time), and ``limit``
is torch's thread count when training started (so OMP_NUM_THREADS and torch.set_num_threads still
cap it). Where /proc/stat is unavailable (not Linux), the policy keeps ``limit`` threads.

The count is chosen once and recorded in ``config.json`` (``run.threads``, as is a fixed
``--threads N``), and a resumed run keeps it: how a product or reduction is split over threads
can change its rounding (on CPUs with AMX, one and two threads give different weights after a
few steps). ``--adaptive-threads`` revisits the count every ``interval`` seconds instead: faster
under changing load, but the results may then depend on the load the run met.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import torch

log = logging.getLogger(__name__)

PROC_STAT = Path("/proc/stat")
# Fields of the aggregate "cpu" line of /proc/stat that count as busy: user, nice, system, irq,
# softirq, steal (idle and iowait are not; guest time is already inside user).
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)
# How long the first sample watches the machine before training starts.
FIRST_SAMPLE_SECONDS = 0.1


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def machine_busy_seconds(path: Path = PROC_STAT) -> float | None:
    """Busy CPU time of the whole machine since boot, summed over cores, in seconds."""
    try:
        fields = path.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = sum(int(fields[1 + i]) for i in BUSY_FIELDS if 1 + i < len(fields))
    return ticks / os.sysconf("SC_CLK_TCK")


def threads_for(cores: int, busy_elsewhere: float, limit: int) -> int:
    """The thread count for ``cores`` cores of which others keep ``busy_elsewhere`` busy."""
    return max(1, min(limit, round(cores - busy_elsewhere)))


Snapshot = tuple[float, float, float]  # (wall clock, machine busy seconds, own CPU seconds)


def snapshot(stat: Path = PROC_STAT) -> Snapshot | None:
    """The clock, the machine's busy CPU time and this process's CPU time, now."""
    busy = machine_busy_seconds(stat)
    if busy is None:
        return None
    return time.monotonic(), busy, time.process_time()


def cores_busy_elsewhere(before: Snapshot, after: Snapshot) -> float | None:
    """Cores that other processes kept busy between two snapshots (None if no time passed)."""
    wall, busy, own = (b - a for a, b in zip(before, after))
    if wall <= 0:
        return None
    return max(0.0, (busy - own) / wall)


def threads_at_start(stat: Path = PROC_STAT, seconds: float = FIRST_SAMPLE_SECONDS) -> int:
    """The thread count for a run starting now: the cores that other processes leave free over
    the next ``seconds``, at most torch's current count (see the module docstring)."""
    limit = torch.get_num_threads()
    before = snapshot(stat) if limit > 1 else None
    if before is None:  # one thread allowed, or no /proc/stat: nothing to choose
        return limit
    time.sleep(seconds)
    after = snapshot(stat)
    elsewhere = None if after is None else cores_busy_elsewhere(before, after)
    if elsewhere is None:
        return limit
    return threads_for(available_cores(), elsewhere, limit)


class ThreadPolicy:
    """A context manager holding torch's intra-op thread count at ``threads`` (None: torch's
    current count) for a training loop, restoring the caller's count on exit. ``adaptive``:
    :meth:`update` (once per step) revisits it every ``interval`` seconds. ``enabled=False``
    (training off the CPU) leaves the thread count alone."""

    def __init__(
        self,
        threads: int | None,
        adaptive: bool = False,
        interval: float = 5.0,
        stat: Path = PROC_STAT,
        enabled: bool = True,
    ):
        self.enabled = enabled
        self.adaptive = adaptive and enabled
        self.interval = interval
        self.stat = stat
        self.cores = available_cores()
        self.limit = torch.get_num_threads()
        self.threads = self.limit if threads is None else threads
        self._last: Snapshot | None = None

    def __enter__(self) -> ThreadPolicy:
        if self.enabled:
            self._set(self.threads)
            if self.adaptive:
                self._last = snapshot(self.stat)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            torch.set_num_threads(self.limit)  # the count it found

    def update(self, force: bool = False) -> int:
        """Under the adaptive policy, revisit the thread count once ``interval`` seconds have
        passed since the last look (or now, with ``force``); return the count in force."""
        if not self.adaptive or self._last is None:
            return self.threads
        if not force and time.monotonic() - self._last[0] < self.interval:
            return self.threads
        now = snapshot(self.stat)
        elsewhere = None if now is None else cores_busy_elsewhere(self._last, now)
        self._last = now
        if elsewhere is None:
            return self.threads
        chosen = threads_for(self.cores, elsewhere, self.limit)
        if chosen != self.threads:
            log.info(
                "other processes keep %.1f of %d cores busy: training on %d thread(s)",
                elsewhere,
                self.cores,
                chosen,
            )
            self._set(chosen)
        return chosen

    def _set(self, threads: int) -> None:
        self.threads = threads
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
