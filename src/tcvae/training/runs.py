"""Run directories: what a training run leaves behind, and how to load it back.

Layout of a run directory::

    config.json          the full resolved TrainConfig (model build arguments included)
    status.json          how the last invocation ended: status, step, images seen, seconds, and
                         model_step, the step of the weights in model.pt
    model.pt             model weights (state_dict), written when an invocation ends other than
                         by a signal or a divergence (then the newest checkpoint is newer)
    checkpoints/         step-XXXXXXXX.pt: model, optimiser, RNG states, step, config
    train_log.jsonl      one JSON row per logged step: step, epoch, loss terms, images_per_s
    tb/                  TensorBoard event files
    metrics.json         the run's scores (``tcvae evaluate``), one section per metric
    report.html          the run report (``tcvae report``), with its figures in report/*.png

A run is resumed with the settings in its ``config.json``; only :data:`RESUMABLE_KEYS` may change.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from tcvae.data.ground_truth import GroundTruthData
from tcvae.errors import CorruptFileError, TcvaeError
from tcvae.files import write_json_atomic
from tcvae.markup import esc, figure, key_value_table, paragraph, table
from tcvae.models import build_model
from tcvae.objectives.loss import unused_options
from tcvae.training import distributed as D
from tcvae.training.checkpoint import (
    CheckpointError,
    checkpoint_path,
    checkpoint_step,
    latest_checkpoint,
    load_checkpoint,
)
from tcvae.training.config import (
    ConfigError,
    ModelConfig,
    TrainConfig,
    flatten,
    from_dict,
    option_name,
    to_dict,
)
from tcvae.training.datasets import build_dataset
from tcvae.training.hardware import describe_hardware
from tcvae.training.metrics_log import read_log
from tcvae.training.resolve import merge

DEFAULT_RUNS_ROOT = "runs"
CONFIG_FILE = "config.json"
STATUS_FILE = "status.json"
MODEL_FILE = "model.pt"
SCREENING_FILE = "screening.json"  # restart screening's record (tcvae.experiments.screening)
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"
FIGURE_DIR = "report"
# The report's figures a run shows in a notebook, where the report has been written.
NOTEBOOK_FIGURES = ("traversals", "reconstructions", "decomposition", "mutual_information")
# The settings a run shows first in a notebook (the rest under "full configuration").
KEY_SETTINGS = (
    "data.name",
    "model.arch",
    "model.latent_dim",
    "objective.method",
    "objective.beta",
    "objective.estimator",
    "optim.batch_size",
    "optim.epochs",
    "run.seed",
)
# What may change when a run is resumed; anything else would make it a different run.
RESUMABLE_KEYS = frozenset(
    {
        "optim.epochs",
        "optim.max_steps",
        "optim.max_minutes",
        "run.device",
        "run.threads",
        "run.adaptive_threads",
        "run.checkpoint_every",
        "run.keep_checkpoints",
        "run.log_every",
        "run.tensorboard",
    }
)

log = logging.getLogger(__name__)


class RunDirError(TcvaeError):
    """A run directory is missing, incomplete or already in use."""


def write_config(run_dir: str | Path, config: TrainConfig) -> Path:
    path = Path(run_dir) / CONFIG_FILE
    return write_json_atomic(path, to_dict(config))


def write_status(
    run_dir: str | Path, status: str, step: int, model_step: int | None, **facts: Any
) -> Path:
    """Record how training ended. ``step`` is the total so far: ``--max-steps step`` repeats the
    run exactly (useful after a stop by ``--max-minutes``). ``model_step``: the step of the
    weights in ``model.pt`` (None while there is none), which :func:`load_run` compares with the
    newest checkpoint's. ``facts``: epoch, images_seen, steps_this_invocation,
    train_seconds_this_invocation and hardware (:func:`tcvae.training.hardware.run_hardware`)."""
    status_facts = {"status": status, "step": step, "model_step": model_step, **facts}
    status_facts["repeat_with"] = f"--max-steps {step}"
    return write_json_atomic(Path(run_dir) / STATUS_FILE, status_facts)


def read_run_json(path: Path) -> Any:
    """A JSON file the run wrote (config, status, metrics); :class:`CorruptFileError` when it
    cannot be read back."""
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorruptFileError(
            f"{path} is truncated or corrupt ({err}): restore it from a backup, or recreate it "
            "(train again for config.json, evaluate again for metrics.json)"
        ) from None


def read_status(run_dir: str | Path) -> dict[str, Any]:
    """The run's ``status.json`` ({} before an invocation has ended)."""
    path = Path(run_dir) / STATUS_FILE
    return read_run_json(path) if path.is_file() else {}


def read_config(run_dir: str | Path) -> TrainConfig:
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise RunDirError(
            f"{run_dir} is not a run directory: {CONFIG_FILE} is missing (give the directory "
            "that `tcvae train` created, e.g. runs/<name>)"
        )
    tree = read_run_json(path)
    # Runs written before a method's unused objective options were refused record them all (a
    # VAE's beta too); they had no effect on the run, so they are dropped.
    objective = tree.get("objective", {})
    for name in unused_options(objective):
        del objective[name]
    # Runs written while fp32 training could read bool batches record run.bool_batches (removed):
    # it chose the dtype of their batches, not their model.
    tree.get("run", {}).pop("bool_batches", None)
    return from_dict(tree)


def model_from_config(model: ModelConfig) -> torch.nn.Module:
    """Build the (untrained) network a run config describes."""
    if model.image_shape is None:
        raise RunDirError("model.image_shape is unset; it is filled in from the data at train time")
    return build_model(**{**dataclasses.asdict(model), "image_shape": tuple(model.image_shape)})


@dataclass
class LoadedRun:
    """A finished (or interrupted) run, read back from its directory.

    ``weights``: the file loaded; ``step``: the training step of those weights (None for a
    ``model.pt`` whose step was not recorded); ``reason``: why that file was chosen.
    """

    run_dir: Path
    config: TrainConfig
    model: torch.nn.Module
    weights: Path
    step: int | None
    reason: str = ""

    def dataset(self) -> GroundTruthData:
        """The data set the run trained on, rebuilt from its config (filters, subset included)."""
        return build_dataset(self.config.data)

    def log(self) -> list[dict[str, Any]]:
        """The rows of the run's ``train_log.jsonl``."""
        return read_log(self.run_dir)

    def status(self) -> dict[str, Any]:
        """The run's ``status.json``: how its last invocation ended and what it computed on."""
        return read_status(self.run_dir)

    def _repr_html_(self) -> str:
        """Jupyter shows the run: how it ended, what was loaded, its key settings (all of them
        folded away), the numbers of ``metrics.json`` and the report's key figures where
        ``tcvae report`` has written them."""
        status = self.status()
        settings = flatten(to_dict(self.config))
        facts: dict[str, Any] = {
            "status": status.get("status", "no invocation has ended yet"),
            "step": status.get("step", ""),
            "epoch": status.get("epoch", ""),
            "trained on": describe_hardware(status["hardware"]) if status.get("hardware") else "",
            "weights": f"{self.weights.name} (step {self.step}): {self.reason}",
        }
        facts.update({key: settings[key] for key in KEY_SETTINGS if settings.get(key) is not None})
        parts = [
            f"<p><strong>tcvae run {esc(self.run_dir.name)}</strong></p>",
            paragraph(str(self.run_dir.resolve()), "note"),
            key_value_table(facts),
            f"<details><summary>full configuration</summary>{key_value_table(settings)}</details>",
            _metrics_html(self.run_dir / METRICS_FILE),
        ]
        figures = [self.run_dir / FIGURE_DIR / f"{name}.png" for name in NOTEBOOK_FIGURES]
        if (self.run_dir / REPORT_FILE).is_file():
            parts += [figure(path.read_bytes(), path.stem) for path in figures if path.is_file()]
            parts.append(paragraph(f"The whole report: {self.run_dir / REPORT_FILE}", "note"))
        else:
            parts.append(paragraph(f"No report yet: tcvae report {self.run_dir}", "note"))
        return "\n".join(parts)


def _metrics_html(path: Path) -> str:
    """The numbers of ``metrics.json`` (one row per number of each section, with its standard
    error where it has one), or a note saying how to compute them."""
    if not path.is_file():
        return paragraph(f"Not evaluated yet: tcvae evaluate {path.parent}", "note")
    rows = []
    for name, section in read_run_json(path).items():
        if not isinstance(section, dict):
            continue
        for key, value in section.items():
            if isinstance(value, float) and not key.endswith("_stderr"):
                stderr = section.get(f"{key}_stderr")
                rows.append((f"{name}.{key}", value, "" if stderr is None else stderr))
    return table(rows, header=(METRICS_FILE, "value", "standard error"))


def load_run(
    run_dir: str | Path,
    device: str | torch.device = "cpu",
    checkpoint: str | Path | int | None = None,
) -> LoadedRun:
    """Rebuild a run's model in eval mode with its weights, loaded with ``weights_only=True``.

    ``checkpoint``: a step number or a checkpoint file path, or None for the run's newest
    weights: ``model.pt``, unless the newest checkpoint is of a later step than the one
    ``status.json`` records for it (a resumed invocation stopped by a signal, a crash or a
    divergence leaves the ``model.pt`` of an earlier one) or no step is recorded for it (a run
    directory written before steps were recorded); then that checkpoint. Which file was loaded
    and why is logged and kept in ``reason``; loading a run that stopped as diverged warns.
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    model = model_from_config(config.model)
    status = read_status(run_dir)
    if checkpoint is None:
        weights, reason = _newest_weights(run_dir, status)
    else:
        weights, reason = _resolve_checkpoint(run_dir, checkpoint), "the checkpoint asked for"
    if weights == run_dir / MODEL_FILE:
        state = load_checkpoint(weights)  # a CheckpointError for a corrupt file
        step = status.get("model_step")
    else:
        ckpt = load_checkpoint(weights)
        state, step = ckpt["model"], int(ckpt["step"])
    model.load_state_dict(state)
    model.to(device).eval()
    log.info("%s: loaded %s (step %s), %s", run_dir, weights.name, step, reason)
    if status.get("status") == "diverged":
        log.warning(
            "%s stopped as diverged at step %s (see %s): its weights (step %s) may score "
            "nothing meaningful",
            run_dir,
            status.get("step"),
            STATUS_FILE,
            step,
        )
    return LoadedRun(run_dir, config, model, weights, step, reason)


def _newest_weights(run_dir: Path, status: dict[str, Any]) -> tuple[Path, str]:
    """The file holding the run's newest weights, and why it was chosen."""
    model_file, newest = run_dir / MODEL_FILE, latest_checkpoint(run_dir)
    if newest is None:
        if not model_file.is_file():
            raise RunDirError(f"{run_dir} has neither {MODEL_FILE} nor any checkpoint yet")
        return model_file, "the final weights (there is no checkpoint)"
    if not model_file.is_file():
        return newest, f"the newest checkpoint (there is no {MODEL_FILE})"
    model_step, newest_step = status.get("model_step"), checkpoint_step(newest)
    if model_step is None:
        return newest, f"the newest checkpoint ({STATUS_FILE} records no step for {MODEL_FILE})"
    if newest_step > model_step:
        return newest, f"the newest checkpoint, newer than {MODEL_FILE} (step {model_step})"
    return model_file, f"the final weights (the newest checkpoint is of step {newest_step})"


def _resolve_checkpoint(run_dir: Path, checkpoint: str | Path | int) -> Path:
    if isinstance(checkpoint, int):
        path = checkpoint_path(run_dir, checkpoint)
        if not path.is_file():
            raise CheckpointError(f"{run_dir} has no checkpoint for step {checkpoint}")
        return path
    return Path(checkpoint)


def prepare_config(config: TrainConfig | dict | None, resume: str | Path | None) -> TrainConfig:
    """The validated config of a new run, or of the run in ``resume`` (its config.json, with the
    changes ``config`` may make on resume). ``config`` is copied: the run fills in its directory
    and image shape, and the caller's object stays as it was (so it can start another run)."""
    if config is not None:  # a dict's missing options take the declared defaults
        config = from_dict(merge({}, config) if isinstance(config, dict) else to_dict(config))
    if resume is None:
        return config or TrainConfig()
    saved = read_config(resume)
    saved.run.run_dir = str(resume)  # the directory may have moved since it was written
    return resumed_config(saved, config)


def resumed_config(saved: TrainConfig, requested: TrainConfig | None) -> TrainConfig:
    """The config to continue a run with: ``saved`` with the changes ``requested`` may make.

    Only :data:`RESUMABLE_KEYS` may differ (training length, device, checkpoint and log cadence);
    any other difference is an error naming the option. The run directory is ``saved``'s.
    """
    if requested is None:
        return saved
    old, new = flatten(to_dict(saved)), flatten(to_dict(requested))
    # image_shape is filled in from the data, and 'auto' precision was resolved when the run began.
    ignored = {"run.run_dir", "model.image_shape"} | (
        {"run.precision"} if new["run.precision"] == "auto" else set()
    )
    if new["run.threads"] is None:  # the count chosen when the run began stands
        ignored.add("run.threads")
    changed = sorted(k for k in old if old[k] != new[k] and k not in ignored)
    frozen = [k for k in changed if k not in RESUMABLE_KEYS]
    if frozen:
        raise ConfigError(
            "a resumed run keeps its settings; these differ from the run's config.json: "
            + ", ".join(f"{option_name(k)} {old[k]!r} -> {new[k]!r}" for k in frozen)
            + f". Only {sorted(RESUMABLE_KEYS)} may change on resume; start a new run otherwise."
        )
    return with_settings(saved, {key: new[key] for key in changed})


def with_settings(config: TrainConfig, settings: dict[str, Any]) -> TrainConfig:
    """A copy of ``config`` with the flattened ``settings`` (``{"optim.max_steps": 8}``) set."""
    tree = to_dict(config)
    for key, value in settings.items():
        section, name = key.split(".")
        tree[section][name] = value
    return from_dict(tree)


def _new_run_dir(config: TrainConfig) -> Path:
    if config.run.run_dir:
        run_dir = Path(config.run.run_dir)
    else:
        o = config.objective
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        beta = "" if o.beta is None else f"-beta{o.beta:g}"  # the VAE has no beta
        run_dir = Path(DEFAULT_RUNS_ROOT) / f"{stamp}-{o.method}{beta}-seed{config.run.seed}"
    if (run_dir / CONFIG_FILE).exists():
        raise RunDirError(
            f"{run_dir} already holds a run; continue it with --resume {run_dir} or choose another "
            "--out"
        )
    return run_dir


def agree_on_new_run_dir(config: TrainConfig, info: D.DistInfo) -> Path:
    """Rank 0 names the run directory (its clock sets the default name); every rank gets the name,
    or the same error, so no rank is left waiting."""
    choice: tuple[Path | None, str | None] = (None, None)
    if info.is_main:
        try:
            choice = (_new_run_dir(config), None)
        except RunDirError as err:
            choice = (None, str(err))
    run_dir, error = D.broadcast(choice, info)
    if error is not None:
        raise RunDirError(error)
    return run_dir
