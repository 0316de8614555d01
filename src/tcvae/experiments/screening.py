"""Restart screening: train a few candidate runs briefly, keep the least total-correlated one.

Whether a run of beta-TCVAE separates the factors is decided early and depends on the seed; the
objective prefers the factorised code (lower total correlation, the paper's claim) but a run can
settle into a rotated or mixed one. With ``optim.screen = [K]`` (``--screen K``) :func:`train`

1. trains K candidates, ordinary runs with seeds ``seed + 1000 k`` (k = 0 .. K-1) on the same
   images, for ``optim.screen_images[0]`` images each, in ``RUN_DIR/candidates/seed-S``;
2. scores each with the label-free criterion, the total correlation KL(q(z) || prod_j q(z_j)) of
   its posteriors over the whole training set (the exact-aggregate decomposition,
   :func:`tcvae.evaluation.decompose_elbo`, 2,000 samples): no factor labels are read;
3. keeps the candidate with the lowest and trains it on in ``RUN_DIR`` from its last checkpoint.

With several rounds (``--screen 6,2 --screen-images 250000,1000000``: successive halving) the
K2 lowest of the first round train on to the second count and are scored again, and so on; the
lowest of the last round is kept. Candidates are ranked by TC, ties by index. With
``optim.screen_tc_max = T`` (``--screen-tc-max T``) a last round whose lowest TC is above T is
widened: the next-ranked candidates of the round before train to the last count too, as many at a
time as that round had, until one scores at or below T, none is left, or the clock does not leave
1.5 times as long as the round took (the widening, and half as long again for the kept run to
train on; :func:`widen`); the lowest of all is kept.

``RUN_DIR`` then holds an ordinary run of the kept seed (its ``config.json`` names that seed
without screening, and training that config from scratch gives the same weights, bit for bit on
CPU), and ``screening.json`` records the request, every candidate's scores and which was kept.
``optim.max_minutes`` counts the screening's time too: candidates train to their image counts
whatever the clock (so that a round compares like with like), but a round starts only while the
budget lasts, else the lowest of the last scored round is kept. An interrupted
screening resumes with ``tcvae train --resume RUN_DIR``: scored rounds are kept, an interrupted
candidate resumes from its checkpoint. docs/lab-notes/demo.md measures how well the criterion
ranks runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from tcvae.data.ground_truth import GroundTruthData
from tcvae.errors import TcvaeError
from tcvae.evaluation.decomposition import ElboDecomposition, decompose_elbo
from tcvae.evaluation.encode import encode_dataset
from tcvae.files import write_json_atomic
from tcvae.training import distributed as D
from tcvae.training import trainer
from tcvae.training.checkpoint import CHECKPOINT_DIR, latest_checkpoint
from tcvae.training.config import TrainConfig, flatten, from_dict, to_dict
from tcvae.training.datasets import build_dataset
from tcvae.training.hardware import resolve_device
from tcvae.training.metrics_log import LOG_FILE
from tcvae.training.runs import (
    CONFIG_FILE,
    SCREENING_FILE,
    RunDirError,
    agree_on_new_run_dir,
    prepare_config,
    read_config,
    read_run_json,
    resumed_config,
    with_settings,
    write_config,
)
from tcvae.training.signals import StopSignals
from tcvae.training.threads import threads_at_start

log = logging.getLogger(__name__)


class ScreeningError(TcvaeError):
    """A candidate trained side by side stopped with an error (its message says which)."""


CANDIDATES_DIR = "candidates"
SEED_STRIDE = 1000  # candidate k trains with seed + SEED_STRIDE * k
CRITERION_SAMPLES = 2_000
CRITERION = (
    f"total correlation over the training set (exact aggregate posterior, {CRITERION_SAMPLES:,} "
    "samples)"
)


def full_data_terms(
    model: nn.Module, data: GroundTruthData, posterior: str, device: torch.device | str = "cpu"
) -> ElboDecomposition:
    """The screening criterion's decomposition: every training image encoded, then MI, TC and
    dimension-wise KL under the exact aggregate posterior (:data:`CRITERION_SAMPLES` samples,
    seed 0). No labels."""
    was_training = model.training
    model.eval()
    mean, logvar = encode_dataset(model, data, device=device)
    model.train(was_training)
    return decompose_elbo(mean, logvar, posterior=posterior, samples=CRITERION_SAMPLES, seed=0)


def screening_started(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds a screening (finished or not) for ``train(resume=...)``."""
    return (Path(run_dir) / SCREENING_FILE).is_file()


def saved_config(run_dir: str | Path) -> TrainConfig:
    """The config a run in ``run_dir`` resumes with: its config.json, or the screening's request
    while no candidate has been kept."""
    run_dir = Path(run_dir)
    if screening_started(run_dir) and not (run_dir / CONFIG_FILE).is_file():
        return from_dict(read_run_json(run_dir / SCREENING_FILE)["config"])
    return read_config(run_dir)


def train(
    config: TrainConfig | dict | None = None,
    *,
    resume: str | Path | None = None,
    progress: bool = False,
    data: GroundTruthData | None = None,
) -> trainer.Run:
    """:func:`tcvae.training.train`, with restart screening when ``config.optim.screen`` is set.

    Without screening this is the trainer itself. With it, the candidates train and are scored
    first (see the module docstring), and the returned Run is the kept candidate's, trained on in
    the run directory. ``resume`` continues a run, screened or not, wherever it stopped.
    ``data``: the training set, where the caller has built it already (as the trainer's).
    """
    if resume is not None and screening_started(resume):
        record = read_run_json(Path(resume) / SCREENING_FILE)
        request = from_dict(record["config"])
        request.run.run_dir = str(resume)
        requested = None if config is None else prepare_config(config, None)
        # ``config`` is the screening's request, changed only where a resume may change it
        resumed = resumed_config(request, requested)
        if record.get("kept") is not None and (Path(resume) / CONFIG_FILE).is_file():
            old, new = flatten(to_dict(request)), flatten(to_dict(resumed))
            changes = {key: value for key, value in new.items() if value != old[key]}
            kept = with_settings(read_config(resume), changes)  # the same changes to the kept run
            return trainer.train(kept, resume=resume, progress=progress, data=data)
        return _screen(resumed, record, progress, data)
    if resume is not None:
        return trainer.train(config, resume=resume, progress=progress, data=data)
    config = prepare_config(config, None)
    if config.optim.screen is None:
        return trainer.train(config, progress=progress, data=data)
    info = D.info_from_env()
    D.init_process_group(info, resolve_device(config.run.device, info))
    run_dir = agree_on_new_run_dir(config, info)
    # Rank 0 looks (and then writes): every rank gets its answer, so none races its write.
    if D.broadcast(info.is_main and screening_started(run_dir), info):
        raise RunDirError(
            f"{run_dir} already holds a screening; continue it with --resume {run_dir} or "
            "choose another --out"
        )
    config.run.run_dir = str(run_dir)
    record = {"config": to_dict(config), "criterion": CRITERION, "candidates": [], "kept": None}
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(run_dir / SCREENING_FILE, record)
    return _screen(config, record, progress, data)


def candidate_config(config: TrainConfig, k: int, images: int) -> TrainConfig:
    """Candidate ``k``'s config: ``config`` with seed + 1000 k, no screening, no time budget, in
    RUN_DIR/candidates/seed-S, stopping after ``images`` images (or ``max_steps``)."""
    c = from_dict(to_dict(config))
    c.run.seed = config.run.seed + SEED_STRIDE * k
    c.run.run_dir = str(Path(config.run.run_dir) / CANDIDATES_DIR / f"seed-{c.run.seed}")
    steps = math.ceil(images / config.optim.batch_size)
    c.optim.max_steps = min(steps, config.optim.max_steps or steps)
    c.optim.max_minutes = None
    c.optim.screen = c.optim.screen_images = c.optim.screen_tc_max = None
    c.run.keep_checkpoints = 1
    return c


def ranked(candidates: list[dict[str, Any]], round_: int) -> list[int]:
    """Indices of the candidates scored in round ``round_``, lowest total correlation first."""
    scored = [
        (c["scores"][round_]["total_correlation"], c["index"])
        for c in candidates
        if len(c["scores"]) > round_
    ]
    return [index for _, index in sorted(scored)]


def _screen(
    config: TrainConfig, record: dict[str, Any], progress: bool, data: GroundTruthData | None
) -> trainer.Run:
    """Train and score what ``record`` does not hold yet, round by round; keep one, train it on."""
    # Every candidate trains on the request's data set: built once in this process.
    datasets = {} if data is None else {data_key(config): data}
    info = D.info_from_env()
    run_dir = Path(config.run.run_dir)
    device = resolve_device(config.run.device, info)
    start = time.perf_counter()
    spent = float(record.get("seconds", 0.0))
    counts, images = config.optim.screen, config.optim.screen_images
    by_index = {c["index"]: c for c in record["candidates"]}
    budget = config.optim.max_minutes
    last = len(images) - 1
    width, round_ = counts[0], 0
    while round_ < len(images):
        n_images = images[round_]
        if round_ == 0:
            entrants = list(range(width))
        else:
            entrants = ranked(list(by_index.values()), round_ - 1)[:width]
        todo = [k for k in entrants if len(by_index.get(k, {"scores": []})["scores"]) <= round_]
        out_of_time = budget is not None and spent + time.perf_counter() - start >= 60 * budget
        out_of_time = D.broadcast(out_of_time, info)  # every rank follows rank 0's clock
        if round_ > 0 and out_of_time and len(todo) == len(entrants):  # none of it scored yet
            last = round_ - 1
            record["rounds_scored"] = round_
            log.warning(
                "the %g-minute time budget ran out after screening round %d of %d: keeping the "
                "lowest of that round",
                budget,
                round_,
                len(images),
            )
            break
        processes, threads = side_by_side(config, device, info, len(todo))
        log.info(
            "screening round %d of %d: %d candidate(s) to %d images, %d at a time",
            round_ + 1,
            len(images),
            len(todo),
            n_images,
            processes,
        )
        jobs = {}
        for k in todo:
            cand = candidate_config(config, k, n_images)
            cand.run.threads = threads or cand.run.threads
            jobs[k] = to_dict(cand)
        stopped, began = None, time.perf_counter()
        for k, outcome in _train_candidates(jobs, processes, progress, datasets):
            if outcome["status"] == "interrupted":
                stopped = stopped or outcome
                continue
            entry = by_index.setdefault(k, {"index": k, "scores": []})
            cand_dir = Path(jobs[k]["run"]["run_dir"])
            entry.update(seed=jobs[k]["run"]["seed"], run_dir=str(cand_dir.relative_to(run_dir)))
            mi, tc, tc_se, dwkl = outcome["terms"]
            entry["scores"].append(
                {
                    "steps": outcome["step"],
                    "images_seen": outcome["step"] * config.optim.batch_size,
                    "side_by_side": processes,
                    "index_code_mi": mi,
                    "total_correlation": tc,
                    "total_correlation_stderr": tc_se,
                    "dimwise_kl": dwkl,
                }
            )
            log.info("candidate seed %d: total correlation %.4f nats", entry["seed"], tc)
            record["candidates"] = [by_index[i] for i in sorted(by_index)]
            record["seconds"] = round(spent + time.perf_counter() - start, 3)
            if info.is_main:
                write_json_atomic(run_dir / SCREENING_FILE, record)
        if stopped is not None:  # what was scored is recorded: --resume goes on from there
            record["seconds"] = round(spent + time.perf_counter() - start, 3)
            if info.is_main:
                write_json_atomic(run_dir / SCREENING_FILE, record)
            return trainer.Run(
                run_dir,
                config,
                None,
                stopped["step"],
                "interrupted",
                None,
                signal=stopped["signal"],
            )
        if todo:
            record["round_seconds"] = record.get("round_seconds", []) + [
                round(time.perf_counter() - began, 3)
            ]
        tc_max = config.optim.screen_tc_max
        if round_ == len(images) - 1 and tc_max is not None:
            lowest = by_index[ranked(list(by_index.values()), round_)[0]]
            tc = lowest["scores"][round_]["total_correlation"]
            left = None if budget is None else 60 * budget - spent - time.perf_counter() + start
            pool = len(ranked(list(by_index.values()), round_ - 1))
            took = (record.get("round_seconds") or [0.0])[-1]
            if D.broadcast(widen(tc, tc_max, width, pool, left, took), info):  # rank 0's clock
                log.info(
                    "the lowest total correlation of round %d, %.4f nats, is above "
                    "--screen-tc-max %g: %d more candidate(s) of round %d train on",
                    round_ + 1,
                    tc,
                    tc_max,
                    min(counts[round_], pool - width),
                    round_,
                )
                width += counts[round_]
                continue
        round_ += 1
        width = counts[round_] if round_ < len(images) else width
    candidates = [by_index[i] for i in sorted(by_index)]
    kept = by_index[ranked(candidates, last)[0]]
    record["kept"] = kept["index"]
    saved = read_config(run_dir / kept["run_dir"])
    alone = kept["scores"][-1].get("side_by_side", 1) == 1
    config = _kept_config(config, saved, time.perf_counter() - start, alone)
    if info.is_main:
        source = run_dir / kept["run_dir"]
        (run_dir / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        last = latest_checkpoint(source)
        shutil.copy2(last, run_dir / CHECKPOINT_DIR / last.name)
        if (source / LOG_FILE).is_file():
            shutil.copy2(source / LOG_FILE, run_dir / LOG_FILE)
        write_config(run_dir, config)
        write_json_atomic(run_dir / SCREENING_FILE, record)
    D.barrier(info)
    log.info(
        "kept candidate seed %d (total correlation %.4f nats, the lowest of its round); "
        "training it on",
        kept["seed"],
        kept["scores"][-1]["total_correlation"],
    )
    data = datasets.get(data_key(config))
    return trainer.train(config, resume=run_dir, progress=progress, data=data)


# A widening must leave the kept run time to train on after it: half as long again as the
# widening itself takes (about the last round's seconds). In the demo's timed runs on a 2-core
# AMD EPYC (docs/lab-notes/demo.md), bf16 widened once with 200-280 s left and round 2 taking
# 100-130 s; at 9 minutes fp32 had 115-140 s left after a round 2 of 150-175 s, where a widening
# would leave the kept run seconds.
WIDEN_CLOCK = 1.5


def widen(
    tc: float, tc_max: float, width: int, pool: int, seconds_left: float | None, seconds: float
) -> bool:
    """Whether a last round of ``width`` candidates, whose lowest total correlation is ``tc``,
    takes in more of the ``pool`` scored in the round before: ``tc`` is above ``tc_max``, some are
    left, and the clock (``seconds_left``, None without one) leaves ``WIDEN_CLOCK`` times the
    ``seconds`` the round took."""
    fits = seconds_left is None or seconds_left >= WIDEN_CLOCK * seconds
    return tc > tc_max and width < pool and fits


def side_by_side(
    config: TrainConfig, device: torch.device, info: D.DistInfo, n: int
) -> tuple[int, int | None]:
    """How to train ``n`` candidates: (processes at a time, CPU threads each; None: as the
    config says). On a CPU with several threads to spare and one process, candidates train side
    by side, one worker process per thread (or a share of them): each thread then works for
    itself, where one run on all of them waits at a barrier after every operation (on two idle
    cores of an AMD EPYC, four demo candidates of 0.2 M images each screen 1.23x as fast, worker
    start-up and scoring included: benchmarks/bench_screening.py). On a GPU or under torchrun
    they train one at a time."""
    if device.type != "cpu" or info.enabled or n < 2:
        return 1, None
    total = config.run.threads or threads_at_start()
    processes = min(n, total)
    return (1, None) if processes < 2 else (processes, total // processes)


def _train_candidates(
    jobs: dict[int, dict[str, Any]],
    processes: int,
    progress: bool,
    datasets: dict[str, GroundTruthData],
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Train and score each candidate of ``jobs`` (index -> config tree), ``processes`` at a
    time, and yield (index, :func:`train_candidate`'s outcome) as each finishes. After a stop
    signal no candidate starts, and those training checkpoint and report 'interrupted'.
    One after another they train in this process (building the data set once, in
    ``datasets``); side by side, each of ``processes`` workers trains one candidate after
    another, importing torch and building the data set once."""
    if processes == 1:
        for k, tree in jobs.items():
            outcome = train_candidate(tree, progress, datasets)
            yield k, outcome
            if outcome["status"] == "interrupted":
                return
        return
    queue, running, workers = list(jobs.items()), {}, []
    with (
        tempfile.TemporaryDirectory() as tmp,
        StopSignals() as stop,
        tqdm(total=len(jobs), desc="candidates", unit="run", disable=not progress) as bar,
    ):
        try:
            yield from _supervise(queue, running, workers, processes, Path(tmp), stop, bar)
        finally:  # done, an error, or the caller stopped listening: no worker outlives it
            busy = [worker for worker, _ in running.values()]
            for worker in workers:
                if worker in busy:
                    worker.terminate()
                else:  # an idle worker exits at the end of its input
                    with contextlib.suppress(BrokenPipeError):
                        worker.stdin.close()
            for worker in workers:
                worker.wait()


def _supervise(
    queue: list[tuple[int, dict[str, Any]]],
    running: dict[int, tuple[subprocess.Popen, Path]],
    workers: list[subprocess.Popen],
    processes: int,
    tmp: Path,
    stop: StopSignals,
    bar: tqdm,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """:func:`_train_candidates`' loop: hand candidates to workers (idle ones first, new ones
    while there are fewer than ``processes``; ``workers`` lists all started), pass a stop signal
    on to those training, and yield each outcome as its worker writes it."""
    signalled, idle = set(), []
    while queue or running:
        if stop.signum is not None:  # queued candidates never start; running ones stop
            for k, _ in queue:
                yield k, {"status": "interrupted", "step": 0, "signal": stop.signum}
            queue.clear()
            for k in running.keys() - signalled:
                signalled.add(k)
                running[k][0].send_signal(stop.signum)
        while queue and (idle or len(workers) < processes):
            k, tree = queue.pop(0)
            job = tmp / f"candidate-{k}.json"
            job.write_text(json.dumps(tree))
            if not idle:
                workers.append(_start_worker())
                idle.append(workers[-1])
            worker = idle.pop()
            try:
                worker.stdin.write(f"{job}\n")
                worker.stdin.flush()
            except BrokenPipeError:  # it died while idle
                raise ScreeningError(
                    f"candidate seed {tree['run']['seed']}: its worker process had exited "
                    f"(status {worker.wait()})"
                ) from None
            running[k] = worker, job
        for k, (worker, job) in list(running.items()):
            out = job.with_suffix(".out")
            if out.is_file():
                outcome = json.loads(out.read_text())
            elif worker.poll() is not None:  # it exited without an outcome
                outcome = None
            else:
                continue
            del running[k]
            bar.update()
            if outcome is None and k in signalled:  # stopped before it could say so
                outcome = {"status": "interrupted", "step": 0, "signal": stop.signum}
            if outcome is None or "error" in outcome:
                why = outcome["error"] if outcome else f"exit status {worker.returncode}"
                seed = json.loads(job.read_text())["run"]["seed"]
                raise ScreeningError(f"candidate seed {seed}: {why}")
            if outcome["status"] != "interrupted":
                idle.append(worker)
            yield k, outcome
        time.sleep(0.1)


WORKER = "from tcvae.experiments.screening import candidate_worker; candidate_worker()"


def _start_worker() -> subprocess.Popen:
    """A side-by-side worker process, reading candidates' job files from its input."""
    return subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, text=True)


def candidate_worker() -> None:
    """A side-by-side worker: for each line of its input, the path of a JSON file holding a
    candidate's config tree, train and score that candidate and write the outcome (or the error
    that stopped it) beside the file (.out). It stops at the end of its input, after an error,
    or once stopped by a signal."""
    # Until training takes over the stop signals (and after it), SIGTERM stops as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    datasets: dict[str, GroundTruthData] = {}
    try:
        for line in sys.stdin:
            job = Path(line.strip())
            try:
                outcome = train_candidate(json.loads(job.read_text()), False, datasets)
            except TcvaeError as err:
                outcome = {"error": str(err)}
            except KeyboardInterrupt:
                outcome = {"status": "interrupted", "step": 0, "signal": signal.SIGINT}
            write_json_atomic(job.with_suffix(".out"), outcome)
            if "error" in outcome or outcome["status"] == "interrupted":
                return
    except KeyboardInterrupt:  # stopped while waiting for a candidate
        return


def data_key(config: TrainConfig) -> str:
    """What identifies a config's training set: its data section."""
    return json.dumps(to_dict(config)["data"], sort_keys=True)


def train_candidate(
    tree: dict[str, Any], progress: bool, datasets: dict[str, GroundTruthData]
) -> dict[str, Any]:
    """Train the candidate whose config tree is ``tree`` (resuming it where it stopped) and score
    it: {'status', 'step', 'terms': (MI, TC, TC standard error, dimension-wise KL)}, or
    {'status': 'interrupted', 'step', 'signal'}. Runs in this process or a side-by-side worker;
    ``datasets`` holds the data sets built so far (by :func:`data_key`), and gains this one's."""
    cand = from_dict(tree)
    key = data_key(cand)
    if key not in datasets:
        datasets[key] = build_dataset(cand.data)
    data = datasets[key]
    cand_dir = Path(cand.run.run_dir)
    resume = cand_dir if (cand_dir / CONFIG_FILE).is_file() else None
    run = trainer.train(cand, resume=resume, progress=progress, data=data)
    if run.status == "interrupted":
        return {"status": run.status, "step": run.step, "signal": run.signal}
    info = D.info_from_env()
    terms = None
    if info.is_main:
        device = resolve_device(cand.run.device, info)
        t = full_data_terms(run.model, data, cand.model.posterior, device)
        terms = (t.index_code_mi, t.total_correlation, t.total_correlation_stderr, t.dimwise_kl)
    return {"status": run.status, "step": run.step, "terms": D.broadcast(terms, info)}


def _kept_config(
    config: TrainConfig, saved: TrainConfig, seconds: float, alone: bool
) -> TrainConfig:
    """The run directory's own config once the candidate whose config is ``saved`` is kept: its
    own (seed, resolved precision, and threads if it trained ``alone``), with the requested
    length, threads (if it trained side by side) and checkpointing, and what is left of
    ``max_minutes``."""
    kept = from_dict(to_dict(saved))
    if not alone:
        kept.run.threads = config.run.threads
    kept.run.run_dir = config.run.run_dir
    kept.optim.max_steps = config.optim.max_steps
    kept.run.keep_checkpoints = config.run.keep_checkpoints
    if config.optim.max_minutes is not None:
        kept.optim.max_minutes = max(config.optim.max_minutes - seconds / 60.0, 1e-3)
    return kept
