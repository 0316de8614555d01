"""How many CPU threads the trainer gives torch, on a machine that others may share.

torch's intra-op threads meet at a barrier after every parallel operation. When other processes
keep some cores busy, one of our threads is often descheduled and the others wait for it, so a
step can become many times slower than on fewer threads. The trainer therefore uses as many
threads as there are cores left free:

    threads = clamp(round(cores - busy_elsewhere), 1, limit)

where ``busy_elsewhere`` is the number of cores that *other* processes kept busy over the last
``interval`` seconds (the machine's busy time from /proc/stat minus this process's own CPU time),
and ``limit`` is torch's thread count when training started (so OMP_NUM_THREADS and
torch.set_num_threads still cap it). The choice is revisited every ``interval`` seconds, and the
caller's thread count is restored when training ends. A fixed count (``--threads N``) turns the
policy off. Where /proc/stat is unavailable (not Linux), the auto policy keeps ``limit`` threads.

Changing the thread count between steps does not change results here: matrix products and the
reductions of a training step are computed identically on 1 or 2 threads (tested), so exact
resume holds under the auto policy.
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


class ThreadPolicy:
    """Sets torch's intra-op thread count for a training loop; a context manager.

    ``threads``: a fixed count, or None for the auto policy described in the module docstring.
    Call :meth:`update` once per step; it costs a clock read except every ``interval`` seconds.
    ``enabled=False`` (training off the CPU, where torch's threads only feed the device) leaves
    the thread count alone.
    """

    def __init__(
        self,
        threads: int | None,
        interval: float = 5.0,
        stat: Path = PROC_STAT,
        enabled: bool = True,
    ):
        self.enabled = enabled
        self.fixed = threads
        self.interval = interval
        self.stat = stat
        self.cores = available_cores()
        self.limit = torch.get_num_threads()
        self.threads = self.limit
        self._last: tuple[float, float, float] | None = None

    def __enter__(self) -> ThreadPolicy:
        if not self.enabled:
            return self
        if self.fixed is not None:
            self._set(self.fixed)
        elif self.limit > 1:  # with a limit of one thread there is nothing to choose
            self._sample()
            time.sleep(FIRST_SAMPLE_SECONDS)
            self.update(force=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            torch.set_num_threads(self.limit)  # the count it found

    def _sample(self) -> tuple[float, float, float] | None:
        busy = machine_busy_seconds(self.stat)
        if busy is None:
            return None
        previous = self._last
        self._last = (time.monotonic(), busy, time.process_time())
        return previous

    def update(self, force: bool = False) -> int:
        """Revisit the thread count if ``interval`` seconds have passed; return it."""
        if not self.enabled or self.fixed is not None or self._last is None:
            return self.threads
        if not force and time.monotonic() - self._last[0] < self.interval:
            return self.threads
        previous = self._sample()
        wall, busy, own = (now - then for now, then in zip(self._last, previous))
        if wall <= 0:
            return self.threads
        elsewhere = max(0.0, (busy - own) / wall)
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
