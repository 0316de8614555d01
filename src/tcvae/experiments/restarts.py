"""Best of K restarts: train K copies of a run for a short screening, keep the one whose logged
total correlation is lowest, and train it on.

Which solution a beta-TCVAE run settles in is decided early and depends on the seed: at the demo's
settings, runs that separate posX, posY and scale do so within their first million images, and
runs that mix two factors never unmix them (docs/demo.md). The screening score is the mean of
the minibatch TC the trainer logs over the last ``window`` steps of the screening,

    score_k = mean_{t in (T - window, T]} TC_hat_t    (the estimator of eq. 3 / section 3),

the term beta-TCVAE weights by beta. No ground-truth factor is used, so the choice is the
model's own: restart k is kept when it reached the lowest value of the quantity the objective
penalises. All restarts share the training set and every setting but the seed, and are scored at
the same step, so their minibatch estimates carry the same bias. The kept restart is continued
from its checkpoint, which on CPU ends bitwise equal to one uninterrupted run with its seed.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tcvae.errors import TcvaeError
from tcvae.files import write_json_atomic
from tcvae.training import TrainConfig, train
from tcvae.training.config import from_dict, to_dict
from tcvae.training.metrics_log import read_log
from tcvae.training.trainer import DivergedError, Run

RESTART_SEED_STRIDE = 1000  # restart k of a run with seed s trains with seed s + 1000 k
SCORE_KEY = "tc"
RESTARTS_FILE = "restarts.json"


class RestartError(TcvaeError):
    """No restart could be kept (all diverged), or the restarts were asked for wrongly."""


@dataclass(frozen=True)
class Restart:
    """One screened restart: its seed, where it trained, its score and whether it was kept."""

    index: int
    seed: int
    run_dir: str
    steps: int
    score: float  # mean logged TC over the screening window; inf for a run that diverged
    kept: bool = False
    error: str | None = None


def restart_seed(seed: int, index: int) -> int:
    """The training seed of restart ``index``: restart 0 is the run with ``seed`` itself."""
    return seed + RESTART_SEED_STRIDE * index


def screening_score(
    rows: Sequence[dict], last_step: int, window: int, key: str = SCORE_KEY
) -> float:
    """Mean of ``key`` over the log rows with last_step - window < step <= last_step; inf when
    there are none or any is not finite (a diverged run is never kept)."""
    values = [float(r[key]) for r in rows if last_step - window < r["step"] <= last_step]
    if not values or not all(math.isfinite(v) for v in values):
        return math.inf
    return sum(values) / len(values)


def select_restart(scores: Sequence[float]) -> int:
    """Index of the lowest finite score (the first of equals)."""
    finite = [(s, i) for i, s in enumerate(scores) if math.isfinite(s)]
    if not finite:
        raise RestartError(
            f"every one of the {len(scores)} restarts diverged during screening (no finite "
            "logged TC); lower the learning rate or add a warm-up (--lr-warmup-steps)"
        )
    return min(finite)[1]


def train_best_of(
    config: TrainConfig,
    restarts: int,
    screen_steps: int,
    *,
    window: int | None = None,
    progress: bool = False,
    screen_dir: str | Path | None = None,
) -> tuple[Run, list[Restart]]:
    """Screen ``restarts`` seeds of ``config`` for ``screen_steps`` steps, keep the lowest
    score (:func:`screening_score` over the last ``window`` steps, default half the screening),
    move it to ``config.run.run_dir`` and continue it as ``config`` says.

    ``config.optim.max_minutes``, when set, is the clock of the whole: the restarts share at most
    half of it (a restart stopped by its share sets the step every later one is screened at), and
    the kept run gets what is left. Screening runs go to ``screen_dir`` (default: a folder
    ``restarts`` beside the run directory); the others stay there, and ``restarts.json`` in it
    lists every restart with its score.
    """
    if restarts < 1 or screen_steps < 1:
        raise RestartError(
            f"restarts and screening steps must be positive, got {restarts} and {screen_steps}"
        )
    final_dir = Path(config.run.run_dir)
    screen_root = Path(screen_dir) if screen_dir else final_dir.parent / "restarts"
    if (final_dir / "config.json").exists():
        raise RestartError(f"{final_dir} already holds a run; choose another run directory")
    budget = None if config.optim.max_minutes is None else 60.0 * config.optim.max_minutes
    start = time.perf_counter()
    screened: list[Restart] = []
    steps = screen_steps
    for k in range(restarts):
        run_dir = screen_root / f"restart-{k}"
        trial = from_dict(to_dict(config))
        trial.run.seed = restart_seed(config.run.seed, k)
        trial.run.run_dir = str(run_dir)
        trial.optim.max_steps = steps
        trial.optim.max_minutes = None if budget is None else budget / 2 / restarts / 60.0
        try:
            run = train(trial, progress=progress)
        except DivergedError as err:
            screened.append(Restart(k, trial.run.seed, str(run_dir), 0, math.inf, error=str(err)))
            continue
        if run.status == "interrupted":
            raise RestartError(f"interrupted while screening restart {k} in {run_dir}")
        steps = min(steps, run.step)  # a restart stopped by the clock sets the step for the rest
        score = screening_score(run.history, run.step, window or max(1, steps // 2))
        screened.append(Restart(k, trial.run.seed, str(run_dir), run.step, score))
    # restarts stopped early by the clock are compared at the step the last of them reached
    screened = [r if r.steps <= steps or r.error else rescore(r, steps, window) for r in screened]
    best = select_restart([r.score for r in screened])
    screened[best] = replace(screened[best], kept=True)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(screened[best].run_dir, final_dir)
    screened[best] = replace(screened[best], run_dir=str(final_dir))
    screen_root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(screen_root / RESTARTS_FILE, [asdict(r) for r in screened])
    final = from_dict(to_dict(config))
    final.run.seed = screened[best].seed
    if budget is not None:
        final.optim.max_minutes = max(budget - (time.perf_counter() - start), 1.0) / 60.0
    run = train(final, resume=final_dir, progress=progress)
    return run, screened


def rescore(restart: Restart, steps: int, window: int | None) -> Restart:
    """``restart`` scored at step ``steps`` of its log instead of its last step."""
    rows = read_log(restart.run_dir)
    return replace(
        restart, score=screening_score(rows, steps, window or max(1, steps // 2)), steps=steps
    )
