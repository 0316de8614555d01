"""The trainer: one loop for every objective, over in-memory ground-truth data.

Each epoch draws one seeded permutation of the training set (``torch.randperm`` with a dedicated
generator) and slices it into global batches of ``batch_size`` distinct indices (the last,
incomplete batch is dropped so the minibatch estimators always see B distinct points); under
``torchrun`` every rank takes its contiguous share of each global batch. Images come from one
gather per batch (``GroundTruthData.batch``), never from a per-item loader.

Every source of randomness is an explicit generator whose state goes into each checkpoint: the
data order, the reparameterisation noise (one stream for the global batch) and the global torch /
numpy / Python states. Resuming restores them all, so on CPU a run resumed from any checkpoint
ends bitwise equal to an uninterrupted run with the same seed.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from tcvae.data.ground_truth import GroundTruthData
from tcvae.errors import TcvaeError
from tcvae.objectives import FactorVAE, compute_loss
from tcvae.training import distributed as D
from tcvae.training.checkpoint import (
    atomic_save,
    latest_checkpoint,
    restore_training_state,
    save_training_state,
)
from tcvae.training.config import ConfigError, TrainConfig, option_name
from tcvae.training.datasets import build_dataset
from tcvae.training.hardware import (
    AMP_DTYPES,
    describe_hardware,
    resolve_device,
    resolve_precision,
    run_hardware,
)
from tcvae.training.metrics_log import MetricsLogger, read_log
from tcvae.training.runs import (
    MODEL_FILE,
    agree_on_new_run_dir,
    model_from_config,
    prepare_config,
    read_status,
    write_config,
    write_status,
)
from tcvae.training.seeding import DATA_STREAM, SAMPLE_STREAM, seed_everything, stream_seed
from tcvae.training.signals import StopSignals
from tcvae.training.threads import ThreadPolicy, threads_at_start

log = logging.getLogger(__name__)

PROGRESS_TERMS = ("loss", "log_px", "mi", "tc", "dwkl")
# The divergence bound, in units of P log 2 nats per image (see DivergedError), and the terms it
# applies to.
DIVERGENCE_FACTOR = 1e3
DIVERGENCE_TERMS = ("loss", "elbo")


class DivergedError(TcvaeError):
    """Training blew up: it stopped without writing a checkpoint or ``model.pt``, and
    ``status.json`` says 'diverged' (``tcvae train`` exits with status 1).

    The rule, checked at every step before its update: a term is NaN or infinite
    (:class:`NonFiniteLossError`), or the loss or the ELBO estimate (per image, nats) exceeds
    ``DIVERGENCE_FACTOR`` x P log 2 in magnitude, P the number of pixel values of an image.
    P log 2 is the negative ELBO of a model that has learnt nothing (each pixel a fair coin, each
    posterior the prior), while the KL terms that objectives reweight are tens of nats, so even
    beta in the hundreds stays far below the bound (2.8e6 nats for a 64x64 image). It depends on
    the image shape alone, so a resumed run applies exactly the same rule.
    """


class NonFiniteLossError(DivergedError):
    """A loss term became NaN or infinite; training stopped without writing a checkpoint."""


@dataclass
class Run:
    """What :func:`train` returns.

    ``status`` is 'completed' (all epochs), 'max_steps' (stopped at ``optim.max_steps``),
    'max_minutes' (stopped by the ``optim.max_minutes`` time budget, with a checkpoint) or
    'interrupted' (SIGINT/SIGTERM; ``signal`` holds its number). ``history`` holds the rows of
    ``train_log.jsonl`` and ``final_terms`` the last of them (rank 0 only under torchrun).
    ``hardware``: device, precision, CPU threads and CPU features it trained with.
    """

    run_dir: Path
    config: TrainConfig
    model: nn.Module
    step: int
    status: str
    checkpoint: Path | None
    history: list[dict[str, Any]] = field(default_factory=list)
    final_terms: dict[str, float] = field(default_factory=dict)
    signal: int | None = None
    hardware: dict[str, Any] = field(default_factory=dict)


def _check_sizes(config: TrainConfig, n: int, info: D.DistInfo) -> None:
    b, w = config.optim.batch_size, info.world_size
    for wrong, why in (
        (
            b > n,
            f"is larger than the training set ({n} images); lower the batch size or use more "
            "data (--subset, --filter)",
        ),
        (b % w, f"must be divisible by the number of processes ({w})"),
        (b // w < 2, "leaves fewer than 2 images per process; the minibatch estimators need 2"),
    ):
        if wrong:
            raise ConfigError(f"{option_name('optim.batch_size')} {b} {why}")


def warmup_lr(step: int, lr: float, warmup_steps: int) -> float:
    """The learning rate of step ``step`` (0-based): lr * (step + 1) / warmup_steps during the
    warm-up, lr after it. A function of the step alone, so a resumed run continues exactly."""
    if warmup_steps <= step:
        return lr
    return lr * (step + 1) / warmup_steps


def _on_device(data: GroundTruthData, device: torch.device) -> GroundTruthData:
    """On a GPU, hold the uint8 images there once so each batch is a device-side gather."""
    if device.type == "cpu":
        return data
    return GroundTruthData(
        data.name, data.grid, data.images.to(device), data.classes, data.max_value
    )


def train(
    config: TrainConfig | dict | None = None,
    *,
    resume: str | Path | None = None,
    progress: bool = False,
    data: GroundTruthData | None = None,
) -> Run:
    """Train a VAE as ``config`` says, in a new run directory, or continue the run in ``resume``.

    The training set is the one ``config.data`` describes (:func:`build_dataset`), so the run's
    ``config.json`` rebuilds it; ``data`` saves building it again where the caller has already
    built that set (it must be ``build_dataset(config.data)``). With ``resume``, the run's
    ``config.json`` is used; ``config`` may change only the settings in
    :data:`tcvae.training.runs.RESUMABLE_KEYS`. Under ``torchrun`` the same call trains with
    DistributedDataParallel. Raises :class:`ConfigError` (bad settings, before training starts)
    and :class:`DivergedError` (a loss that is not finite, :class:`NonFiniteLossError`, or past
    the divergence bound).
    """
    info = D.info_from_env()
    config = prepare_config(config, resume)
    if config.optim.screen is not None:
        raise ConfigError(
            f"{option_name('optim.screen')} is set: screening trains and scores "
            "candidate runs first, so call tcvae.train (or `tcvae train`); tcvae.training.train "
            "trains one run"
        )
    device = resolve_device(config.run.device, info)
    config.run.precision = resolve_precision(config.run.precision, device)
    D.init_process_group(info, device)
    if device.type == "cpu" and config.run.threads is None:  # chosen once, kept on resume
        config.run.threads = D.broadcast(threads_at_start(), info)

    data = build_dataset(config.data) if data is None else data
    n = len(data)
    _check_sizes(config, n, info)
    config.model.image_shape = list(data.image_shape)
    data = _on_device(data, device)

    seed = config.run.seed
    seed_everything(seed)
    model = model_from_config(config.model).to(device)
    # The fused kernel updates every parameter in one pass: several times faster than the
    # default on CPU, where Adam over the paper's 14 M parameters is a visible part of a step.
    adam = partial(torch.optim.Adam, fused=True)
    optimizer = adam(model.parameters(), lr=config.optim.lr)
    scaler = torch.amp.GradScaler("cuda", enabled=config.run.precision == "fp16")
    amp_dtype = AMP_DTYPES.get(config.run.precision)
    stateful: dict[str, Any] = {"model": model, "optimizer": optimizer, "scaler": scaler}
    # FactorVAE trains a discriminator of its own, with its own Adam, in the run's precision.
    objective, factor_vae = config.objective, None
    if objective.method == "factor-vae":
        factor_vae = FactorVAE(
            config.model.latent_dim,
            objective.discriminator_lr,
            objective.discriminator_betas,
            device=device,
            amp_dtype=amp_dtype,
            optimizer=adam,
        )
        stateful["auxiliary"] = factor_vae.discriminator
        stateful["auxiliary_optimizer"] = factor_vae.optimizer
    data_gen = torch.Generator().manual_seed(stream_seed(seed, DATA_STREAM))
    # One noise stream for the whole global batch, the same on every process (each takes its
    # rows), so a run on W processes draws the samples of the same run on one.
    sample_gen = torch.Generator(device=device).manual_seed(stream_seed(seed, SAMPLE_STREAM))

    if resume is not None:
        run_dir = Path(config.run.run_dir)
        step = restore_training_state(run_dir, stateful, data_gen, sample_gen, info)
    else:
        run_dir = agree_on_new_run_dir(config, info)
        config.run.run_dir = str(run_dir)
        step = 0
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_config(run_dir, config)
    D.barrier(info)

    # Only the VAE is wrapped: FactorVAE's discriminator averages its own gradient (see below).
    forward = model
    if info.enabled:
        device_ids = [device.index] if device.type == "cuda" else None
        forward = nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    b, spe = config.optim.batch_size, n // config.optim.batch_size
    total = min(spe * config.optim.epochs, config.optim.max_steps or math.inf)
    # Binary pixels are exact in bf16 and fp16, and the encoder would cast them to amp_dtype
    # anyway: a batch made in that dtype saves its float32 copy (32 MiB at batch 2048).
    binary_amp = amp_dtype is not None and data.max_value == 1
    batch_dtype = amp_dtype if binary_amp else torch.float32
    if factor_vae is not None and config.optim.lr > 10 * objective.discriminator_lr:
        log.warning(
            "factor-vae with --lr %g, more than 10x its --discriminator-lr %g: the discriminator "
            "may lag the encoder, and its TC estimate with it (tc_discriminator in the log); "
            "FactorVAE's authors train both at 1e-4",
            config.optim.lr,
            objective.discriminator_lr,
        )
    hardware = run_hardware(device, config.run.precision, config.run.threads)
    log.log(
        logging.INFO if info.is_main else logging.DEBUG,
        "training on %d images (%s), %d steps of %d per epoch, %d of %d steps done; run dir %s",
        n,
        describe_hardware(hardware),
        spe,
        b,
        step,
        total,
        run_dir,
    )

    logger = MetricsLogger(run_dir, config.run.tensorboard, step) if info.is_main else None
    bar = tqdm(
        total=total,
        initial=step,
        unit="step",
        disable=not (progress and info.is_main),
        dynamic_ncols=True,
    )
    names: list[str] = []
    interval_sum: torch.Tensor | None = None
    interval_steps, t0 = 0, time.perf_counter()
    last_row: dict[str, Any] = {}
    checkpoint = latest_checkpoint(run_dir) if resume is not None else None
    perm, epoch_start = None, data_gen.get_state()
    status, signum = ("max_steps" if total < spe * config.optim.epochs else "completed"), None
    budget = None if config.optim.max_minutes is None else 60.0 * config.optim.max_minutes
    threads = ThreadPolicy(
        config.run.threads, adaptive=config.run.adaptive_threads, enabled=device.type == "cpu"
    )
    start_step, loop_start = step, time.perf_counter()
    pixels = math.prod(data.image_shape)
    divergence_bound = DIVERGENCE_FACTOR * pixels * math.log(2.0)

    def save() -> Path:
        order = data_gen.get_state() if step % spe == 0 else epoch_start
        return save_training_state(run_dir, step, spe, config, stateful, order, sample_gen, info)

    def finish(status: str) -> None:
        """Record how this invocation ended in status.json, with model.pt unless it stopped by a
        signal or diverged (model.pt, if any, then keeps its earlier step)."""
        if not info.is_main:
            return
        model_step = read_status(run_dir).get("model_step")
        if status not in ("interrupted", "diverged"):
            atomic_save(model.state_dict(), run_dir / MODEL_FILE)
            model_step = step
        write_status(
            run_dir,
            status,
            step,
            model_step,
            epoch=step / spe,
            images_seen=step * b,
            steps_this_invocation=step - start_step,
            train_seconds_this_invocation=round(time.perf_counter() - loop_start, 3),
            hardware=hardware,
        )

    try:
        with StopSignals() as stop, threads:
            while step < total:
                threads.update()
                pos = step % spe
                if perm is None or pos == 0:
                    epoch_start = data_gen.get_state()
                    perm = torch.randperm(n, generator=data_gen)
                index = D.shard(perm[pos * b : (pos + 1) * b], info).to(device)
                x = data.batch(index, device, batch_dtype)
                rows = (info.rank * len(index), b) if info.enabled else None
                out = forward(x, generator=sample_gen, amp_dtype=amp_dtype, noise_rows=rows)
                # The estimators mix over the posteriors of the whole global batch.
                components = None
                if info.enabled:
                    components = (
                        D.gather_rows(out.mean, info),
                        D.gather_rows(out.logvar, info),
                        rows[0],
                    )
                result = compute_loss(
                    config.objective,
                    x,
                    out.x_params,
                    out.z,
                    out.mean,
                    out.logvar,
                    dataset_size=n,
                    step=step,
                    posterior=model.posterior,
                    likelihood=model.likelihood,
                    factor_vae=factor_vae,
                    components=components,
                )
                if factor_vae is not None:
                    # The discriminator's cross-entropy on the global batch and one permutation
                    # of it, drawn alike on every process; each process takes its rows' share.
                    z = D.gather_rows(out.z.detach(), info)
                    own = slice(rows[0], rows[0] + len(index)) if info.enabled else None
                    aux_loss = factor_vae.loss(z, sample_gen, own)
                    result.terms["auxiliary_loss"] = aux_loss.detach()
                    del z

                names = list(result.terms)
                terms = torch.stack([result.terms[k].detach().float().to(device) for k in names])
                time_up = budget is not None and time.perf_counter() - loop_start >= budget
                watched = [names.index(k) for k in DIVERGENCE_TERMS if k in names]
                flags = torch.stack(
                    [
                        (~torch.isfinite(terms).all()).float(),
                        (terms[watched].abs() > divergence_bound).any().float(),
                        terms.new_tensor(float(stop.signum is not None)),
                        terms.new_tensor(float(time_up)),
                    ]
                )
                flagged = D.any_rank(flags, info).tolist()
                bad, exploded, signalled, time_up = (bool(f) for f in flagged)
                stopping = signalled or time_up
                if bad or exploded:
                    finish("diverged")
                    raise _diverged(step, dict(zip(names, terms.tolist())), run_dir, pixels, bad)

                # From here only the graph holds the step's batch and outputs, so backward frees
                # each (the decoder's output: 32 MiB at batch 2048) once its last use is past,
                # and none of them is left for the next step to allocate beside (peak memory).
                loss = result.loss
                del x, out, result, components
                scaler.scale(loss).backward()
                if config.optim.grad_clip_norm is not None:
                    scaler.unscale_(optimizer)
                    norm = torch.nn.utils.clip_grad_norm_(
                        model.parameters(), config.optim.grad_clip_norm
                    )
                    names.append("grad_norm")
                    terms = torch.cat([terms, norm.detach().float().to(device).view(1)])
                for group in optimizer.param_groups:
                    group["lr"] = warmup_lr(step, config.optim.lr, config.optim.lr_warmup_steps)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                if factor_vae is not None:  # after the VAE's step, on the same minibatch
                    # Every process steps on the mean gradient, so the copies stay identical.
                    average = (lambda g: D.mean_over_ranks(g, info)) if info.enabled else None
                    factor_vae.step(aux_loss, average)
                    del aux_loss
                del loss
                step += 1
                bar.update(1)

                interval_sum = terms if interval_sum is None else interval_sum + terms
                interval_steps += 1
                logging_now = step % config.run.log_every == 0 or step == total or stopping
                if logging_now:
                    means = D.mean_over_ranks(interval_sum / interval_steps, info).tolist()
                    elapsed = time.perf_counter() - t0
                    rate = interval_steps * b / max(elapsed, 1e-9)
                    values = dict(zip(names, means))
                    if logger is not None:
                        last_row = logger.log(step, step / spe, values, rate)
                    bar.set_postfix(_postfix(step / spe, rate, values), refresh=False)
                    interval_sum, interval_steps = None, 0
                if step % config.run.checkpoint_every == 0 or step == total or stopping:
                    checkpoint = save()
                if logging_now:  # checkpoint writes do not count against images/s
                    t0 = time.perf_counter()
                if stopping and step < total:
                    if signalled:
                        status, signum = "interrupted", stop.signum or signal.SIGTERM
                    else:
                        status = "max_minutes"
                    break
    finally:
        bar.close()
        if logger is not None:
            logger.close()

    finish(status)
    if status == "max_minutes":
        log.info(
            "time budget of %g min reached at step %d; --max-steps %d repeats this run exactly",
            config.optim.max_minutes,
            step,
            step,
        )
    D.barrier(info)  # every rank returns once the run directory is complete
    if status == "interrupted":
        log.info(
            "stopped by signal %d at step %d; checkpoint %s; resume with: tcvae train --resume %s",
            signum,
            step,
            checkpoint,
            run_dir,
        )
    history = read_log(run_dir) if info.is_main else []
    final = {k: v for k, v in (history[-1] if history else last_row).items() if k != "step"}
    return Run(run_dir, config, model, step, status, checkpoint, history, final, signum, hardware)


def _postfix(epoch: float, rate: float, values: dict[str, float]) -> dict[str, str]:
    shown = {k: f"{values[k]:.4g}" for k in PROGRESS_TERMS if k in values}
    return {"epoch": f"{epoch:.2f}", "img/s": f"{rate:.0f}", **shown}


def _diverged(
    step: int, values: dict[str, float], run_dir: Path, pixels: int, non_finite: bool
) -> DivergedError:
    """The error of a step whose terms ``values`` are not all finite (``non_finite``) or exceed
    the divergence bound (see :class:`DivergedError`)."""
    bound = DIVERGENCE_FACTOR * pixels * math.log(2.0)
    if non_finite:
        over = [f"{k}={v}" for k, v in values.items() if not math.isfinite(v)]
    else:
        over = [f"{k}={values[k]:.4g}" for k in DIVERGENCE_TERMS if abs(values.get(k, 0)) > bound]
    where = ", ".join(over) if over else "a term on another process"
    last = latest_checkpoint(run_dir)
    kept = f"the newest checkpoint is {last}" if last else "no checkpoint had been written yet"
    if non_finite:
        return NonFiniteLossError(
            f"non-finite loss at step {step}: {where}. Training stopped; {kept}. Try a lower --lr, "
            "a beta warm-up (--beta-warmup-steps) or --precision fp32."
        )
    return DivergedError(
        f"training diverged at step {step}: {where}, beyond the bound {bound:.4g} "
        f"({DIVERGENCE_FACTOR:g} x {pixels} pixel values x log 2 nats per image). Training "
        f"stopped; {kept}. Try a lower --lr, a learning-rate warm-up (--lr-warmup-steps) or "
        "--grad-clip-norm."
    )
