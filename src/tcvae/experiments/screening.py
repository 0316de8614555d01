"""Restart screening: train a few candidate runs briefly, keep the least total-correlated one.

Whether a run of beta-TCVAE separates the factors is decided early and depends on the seed; the
objective prefers the factorised code (lower total correlation, the paper's claim) but a run can
settle into a rotated or mixed one. With ``optim.screen = [K]`` (``--screen K``) :func:`train`

1. trains K candidates, ordinary runs with seeds ``seed + 1000 k`` (k = 0 .. K-1) on the same
   images, for ``optim.screen_images[0]`` images each, in ``RUN_DIR/candidates/seed-S``;
2. scores each with the label-free criterion, the total correlation KL(q(z) || prod_j q(z_j)) of
   its posteriors over the whole training set (the exact-aggregate decomposition,
   :func:`tcvae.evaluation.decompose_elbo`, 10,000 samples): no factor labels are read;
3. keeps the candidate with the lowest and trains it on in ``RUN_DIR`` from its last checkpoint.

With several rounds (``--screen 6,2 --screen-images 250000,1000000``: successive halving) the
K2 lowest of the first round train on to the second count and are scored again, and so on; the
lowest of the last round is kept. Candidates are ranked by TC, ties by index.

``RUN_DIR`` then holds an ordinary run of the kept seed (its ``config.json`` names that seed
without screening, and training that config from scratch gives the same weights, bit for bit on
CPU), and ``screening.json`` records the request, every candidate's scores and which was kept.
``optim.max_minutes`` counts the screening's time in the same invocation too. An interrupted
screening resumes with ``tcvae train --resume RUN_DIR``: scored rounds are kept, an interrupted
candidate resumes from its checkpoint. docs/lab-notes/demo.md measures how well the criterion
ranks runs.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tcvae.data.ground_truth import GroundTruthData
from tcvae.evaluation.decomposition import ElboDecomposition, decompose_elbo
from tcvae.evaluation.encode import encode_dataset
from tcvae.files import write_json_atomic
from tcvae.training import distributed as D
from tcvae.training import trainer
from tcvae.training.checkpoint import CHECKPOINT_DIR, latest_checkpoint
from tcvae.training.config import TrainConfig, from_dict, to_dict
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
    write_config,
)

log = logging.getLogger(__name__)

CANDIDATES_DIR = "candidates"
SEED_STRIDE = 1000  # candidate k trains with seed + SEED_STRIDE * k
CRITERION_SAMPLES = 10_000
CRITERION = (
    f"total correlation over the training set (exact aggregate posterior, {CRITERION_SAMPLES:,} "
    "samples)"
)


def full_data_terms(
    model: nn.Module, data: GroundTruthData, posterior: str, device: torch.device | str = "cpu"
) -> ElboDecomposition:
    """The screening criterion's decomposition: every training image encoded, then MI, TC and
    dimension-wise KL under the exact aggregate posterior (10,000 samples, seed 0). No labels."""
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
) -> trainer.Run:
    """:func:`tcvae.training.train`, with restart screening when ``config.optim.screen`` is set.

    Without screening this is the trainer itself. With it, the candidates train and are scored
    first (see the module docstring), and the returned Run is the kept candidate's, trained on in
    the run directory. ``resume`` continues a run, screened or not, wherever it stopped.
    """
    if resume is not None and screening_started(resume):
        record = read_run_json(Path(resume) / SCREENING_FILE)
        if record.get("kept") is not None and (Path(resume) / CONFIG_FILE).is_file():
            return trainer.train(config, resume=resume, progress=progress)
        saved = from_dict(record["config"])
        saved.run.run_dir = str(resume)
        requested = None if config is None else prepare_config(config, None)
        if requested is not None:
            requested.run.run_dir = saved.run.run_dir
        return _screen(resumed_config(saved, requested), record, progress)
    if resume is not None:
        return trainer.train(config, resume=resume, progress=progress)
    config = prepare_config(config, None)
    if config.optim.screen is None:
        return trainer.train(config, progress=progress)
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
    return _screen(config, record, progress)


def candidate_config(config: TrainConfig, k: int, images: int) -> TrainConfig:
    """Candidate ``k``'s config: ``config`` with seed + 1000 k, no screening, no time budget, in
    RUN_DIR/candidates/seed-S, stopping after ``images`` images (or ``max_steps``)."""
    c = from_dict(to_dict(config))
    c.run.seed = config.run.seed + SEED_STRIDE * k
    c.run.run_dir = str(Path(config.run.run_dir) / CANDIDATES_DIR / f"seed-{c.run.seed}")
    steps = math.ceil(images / config.optim.batch_size)
    c.optim.max_steps = min(steps, config.optim.max_steps or steps)
    c.optim.max_minutes = None
    c.optim.screen = c.optim.screen_images = None
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


def _screen(config: TrainConfig, record: dict[str, Any], progress: bool) -> trainer.Run:
    """Train and score what ``record`` does not hold yet, round by round; keep one, train it on."""
    info = D.info_from_env()
    run_dir = Path(config.run.run_dir)
    device = resolve_device(config.run.device, info)
    start = time.perf_counter()
    spent = float(record.get("seconds", 0.0))
    counts, images = config.optim.screen, config.optim.screen_images
    by_index = {c["index"]: c for c in record["candidates"]}
    data = None
    for round_, n_images in enumerate(images):
        if round_ == 0:
            entrants = list(range(counts[0]))
        else:
            entrants = ranked(list(by_index.values()), round_ - 1)[: counts[round_]]
        for k in entrants:
            entry = by_index.setdefault(k, {"index": k, "scores": []})
            if len(entry["scores"]) > round_:
                continue
            cand = candidate_config(config, k, n_images)
            log.info(
                "screening round %d of %d: candidate seed %d to %d images",
                round_ + 1,
                len(images),
                cand.run.seed,
                n_images,
            )
            cand_dir = Path(cand.run.run_dir)
            resume = cand_dir if (cand_dir / CONFIG_FILE).is_file() else None
            run = trainer.train(cand, resume=resume, progress=progress)
            if run.status == "interrupted":
                record["seconds"] = round(spent + time.perf_counter() - start, 3)
                if info.is_main:
                    write_json_atomic(run_dir / SCREENING_FILE, record)
                return dataclasses.replace(run, run_dir=run_dir)  # resume the screening
            terms = None
            if info.is_main:
                data = data or build_dataset(config.data)
                t = full_data_terms(run.model, data, config.model.posterior, device)
                terms = (
                    t.index_code_mi,
                    t.total_correlation,
                    t.total_correlation_stderr,
                    t.dimwise_kl,
                )
            mi, tc, tc_se, dwkl = D.broadcast(terms, info)
            entry.update(seed=cand.run.seed, run_dir=str(cand_dir.relative_to(run_dir)))
            entry["scores"].append(
                {
                    "steps": run.step,
                    "images_seen": run.step * config.optim.batch_size,
                    "index_code_mi": mi,
                    "total_correlation": tc,
                    "total_correlation_stderr": tc_se,
                    "dimwise_kl": dwkl,
                }
            )
            log.info("candidate seed %d: total correlation %.4f nats", cand.run.seed, tc)
            record["candidates"] = [by_index[i] for i in sorted(by_index)]
            record["seconds"] = round(spent + time.perf_counter() - start, 3)
            if info.is_main:
                write_json_atomic(run_dir / SCREENING_FILE, record)
    candidates = [by_index[i] for i in sorted(by_index)]
    kept = by_index[ranked(candidates, len(images) - 1)[0]]
    record["kept"] = kept["index"]
    saved = read_config(run_dir / kept["run_dir"])
    config = _kept_config(config, saved, time.perf_counter() - start)
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
    return trainer.train(config, resume=run_dir, progress=progress)


def _kept_config(config: TrainConfig, saved: TrainConfig, seconds: float) -> TrainConfig:
    """The run directory's own config once the candidate whose config is ``saved`` is kept: its
    own (seed, resolved precision and threads), with the requested length and checkpointing, and
    what is left of ``max_minutes``."""
    kept = from_dict(to_dict(saved))
    kept.run.run_dir = config.run.run_dir
    kept.optim.max_steps = config.optim.max_steps
    kept.run.keep_checkpoints = config.run.keep_checkpoints
    if config.optim.max_minutes is not None:
        kept.optim.max_minutes = max(config.optim.max_minutes - seconds / 60.0, 1e-3)
    return kept
