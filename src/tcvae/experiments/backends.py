"""Where cells run: a local process pool (default) or a Ray cluster (optional extra).

Both take a list of :class:`~tcvae.experiments.runner.CellTask` and yield outcomes as cells
finish. Each worker uses ``task.threads`` torch threads; the local pool keeps
workers x threads <= CPU cores.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed

from tcvae.errors import TcvaeError
from tcvae.experiments.runner import CellOutcome, CellTask, execute_cell
from tcvae.training.threads import available_cores

BACKENDS = ("local", "ray")


class BackendError(TcvaeError):
    """A backend cannot be used as asked."""


def plan_workers(
    num_tasks: int, workers: int | None = None, threads: int | None = None, cores: int | None = None
) -> tuple[int, int]:
    """(workers, threads per worker) with workers x threads <= cores.

    Defaults: one single-threaded worker per core (capped by the number of tasks), then spare
    cores shared out as threads.
    """
    cores = cores or available_cores()
    for name, value in (("workers", workers), ("threads", threads)):
        if value is not None and value < 1:
            raise BackendError(f"--{name} must be at least 1, got {value}")
    if workers is None:
        workers = max(1, min(num_tasks, cores // (threads or 1)))
    if threads is None:
        threads = max(1, cores // workers)
    if workers * threads > cores:
        raise BackendError(
            f"{workers} workers x {threads} threads exceeds the {cores} CPU cores; "
            "lower --workers or --threads"
        )
    return workers, threads


def run_local(tasks: list[CellTask], workers: int) -> Iterator[CellOutcome]:
    """Run tasks on a pool of ``workers`` fresh processes ("spawn": no inherited thread pools).

    With one worker the tasks run in this process, one after the other.
    """
    if workers == 1:
        for task in tasks:
            yield execute_cell(task)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(execute_cell, task): task for task in tasks}
        try:
            for future in as_completed(futures):
                try:
                    yield future.result()
                except Exception as err:  # the worker process died (killed, out of memory)
                    yield crashed(futures[future], err)
        finally:
            for future in futures:
                future.cancel()


def crashed(task: CellTask, err: BaseException) -> CellOutcome:
    """The outcome of a cell whose worker died before it could report."""
    return CellOutcome(task.cell, "failed", error=f"worker died: {type(err).__name__}: {err}")


def import_ray():
    """The ``ray`` module, or an error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise BackendError(
            "the Ray backend needs Ray: pip install 'tcvae[ray]' (or use --backend local)"
        ) from None
    return ray


def run_ray(
    tasks: list[CellTask], address: str | None = None, gpus_per_cell: float = 0.0
) -> Iterator[CellOutcome]:
    """Run tasks as Ray tasks, each reserving ``threads`` CPUs (and ``gpus_per_cell`` GPUs).

    Connects to the cluster at ``address`` ("auto" for the local node's cluster), or starts a
    local instance when ``address`` is None and Ray is not initialised yet.
    """
    ray = import_ray()
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(execute_cell)
    pending = {
        remote.options(num_cpus=task.threads, num_gpus=gpus_per_cell, max_retries=0).remote(
            task
        ): task
        for task in tasks
    }
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        task = pending.pop(done[0])
        try:
            yield ray.get(done[0])
        except Exception as err:  # the worker process or its node died
            yield crashed(task, err)
