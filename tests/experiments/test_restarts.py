"""Best of K restarts: the screening score, the choice, and the kept run's exact continuation."""

import json
import math

import numpy as np
import pytest
import torch

from tcvae.experiments import restarts as R
from tcvae.objectives import ObjectiveConfig
from tcvae.training import (
    DataConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    TrainConfig,
    load_run,
    train,
)
from tcvae.training.metrics_log import read_log
from tcvae.training.trainer import NonFiniteLossError


def tiny_config(run_dir, seed=3, epochs=3, max_minutes=None):
    return TrainConfig(
        data=DataConfig(name="dsprites", source="builtin", subset=256, subset_seed=0),
        model=ModelConfig(arch="mlp", latent_dim=4, hidden=16),
        objective=ObjectiveConfig(method="beta-tcvae", beta=6.0, estimator="mss"),
        optim=OptimConfig(lr=3e-3, batch_size=32, epochs=epochs, max_minutes=max_minutes),
        run=RunConfig(run_dir=str(run_dir), seed=seed, device="cpu", log_every=2),
    )


def test_screening_score_is_the_window_mean_and_refuses_non_finite_values():
    rng = np.random.default_rng(0)
    rows = [{"step": s, "tc": float(v)} for s, v in zip(range(5, 105, 5), rng.normal(size=20))]
    for last, window in [(100, 50), (60, 20), (100, 5), (100, 1000)]:
        want = np.mean([r["tc"] for r in rows if last - window < r["step"] <= last])
        assert R.screening_score(rows, last, window) == pytest.approx(want, rel=1e-12)
    assert R.screening_score(rows, 102, 1) == math.inf  # no row in (101, 102]
    rows[-1]["tc"] = float("nan")
    assert R.screening_score(rows, 100, 50) == math.inf
    assert R.screening_score(rows, 95, 50) < math.inf  # the bad row is outside the window


def test_select_restart_takes_the_lowest_finite_score_and_the_first_of_equals():
    assert R.select_restart([0.3, -1.2, 0.1]) == 1
    assert R.select_restart([math.inf, 2.0, 2.0]) == 1
    assert R.select_restart([-1.0, math.inf, -1.0]) == 0
    with pytest.raises(R.RestartError, match="every one of the 2 restarts diverged"):
        R.select_restart([math.inf, math.inf])
    assert [R.restart_seed(7, k) for k in range(3)] == [7, 1007, 2007]


def test_best_of_keeps_the_lowest_logged_tc_and_continues_it_exactly(tmp_path):
    config = tiny_config(tmp_path / "run")
    run, screened = R.train_best_of(config, 3, 10, window=6)

    assert [r.seed for r in screened] == [3, 1003, 2003]
    kept = [r for r in screened if r.kept]
    assert len(kept) == 1 and kept[0].run_dir == str(tmp_path / "run")
    # each score is the mean logged TC over steps 5-10 of that seed's own log
    for r in screened:
        rows = [row for row in read_log(r.run_dir) if 4 < row["step"] <= 10]
        assert len(rows) == 3 and r.steps == 10
        assert r.score == pytest.approx(np.mean([row["tc"] for row in rows]), rel=1e-12)
    assert kept[0].score == min(r.score for r in screened)
    assert len({r.score for r in screened}) == 3  # the seeds really differ
    listed = json.loads((tmp_path / "restarts" / R.RESTARTS_FILE).read_text())
    assert [(r["seed"], r["kept"]) for r in listed] == [(r.seed, r.kept) for r in screened]
    others = sorted(p.name for p in (tmp_path / "restarts").iterdir() if p.is_dir())
    assert len(others) == 2

    # the kept run went on to all 3 epochs, and ends where one uninterrupted run of its seed does
    assert run.status == "completed" and run.step == 3 * (256 // 32)
    alone = train(tiny_config(tmp_path / "alone", seed=kept[0].seed))
    a, b = load_run(run.run_dir).model.state_dict(), load_run(alone.run_dir).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_diverged_restart_is_skipped_and_all_diverging_is_a_clear_error(tmp_path, monkeypatch):
    real_train = R.train

    def train_failing(config, **kwargs):
        if config.run.seed in failing:
            raise NonFiniteLossError("loss is nan at step 3")
        return real_train(config, **kwargs)

    monkeypatch.setattr(R, "train", train_failing)
    failing = {R.restart_seed(0, 0)}
    config = tiny_config(tmp_path / "a" / "run", seed=0, epochs=1)
    run, screened = R.train_best_of(config, 2, 4)
    assert screened[0].error and screened[0].score == math.inf and not screened[0].kept
    assert screened[1].kept and run.config.run.seed == R.restart_seed(0, 1)

    failing = {R.restart_seed(0, 0), R.restart_seed(0, 1)}
    with pytest.raises(R.RestartError, match="diverged"):
        R.train_best_of(tiny_config(tmp_path / "b" / "run", seed=0), 2, 4)
    with pytest.raises(R.RestartError, match="positive"):
        R.train_best_of(tiny_config(tmp_path / "c" / "run"), 0, 4)


def test_the_clock_is_shared_and_every_restart_is_scored_at_the_same_step(tmp_path):
    # a clock too short for a single step: each restart stops after its first step, and the
    # kept run gets the rest of the budget (at least a second), so it ends stopped by the clock
    config = tiny_config(tmp_path / "run", epochs=1000, max_minutes=1e-9)
    run, screened = R.train_best_of(config, 2, 50)
    assert [r.steps for r in screened] == [1, 1]
    assert run.status == "max_minutes" and run.step >= 1
