"""`tcvae demo`: the pipeline through the CLI (tiny budget), its guards and its time budget."""

import json
import re

import pytest
import torch

from tcvae.cli.main import main
from tcvae.experiments import demo
from tcvae.training import build_dataset, train
from tcvae.training.hardware import resolve_precision
from tcvae.training.runs import STATUS_FILE, read_config


def read_status(run_dir):
    return json.loads((run_dir / STATUS_FILE).read_text())


def test_tiny_demo_runs_end_to_end_through_the_cli(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--tiny", "--out", str(out), "--device", "cpu", "-q"]) == 0
    printed = capsys.readouterr().out
    run_dir = out / "run"
    for name in ("config.json", "model.pt", "train_log.jsonl", "metrics.json", "report.html"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    trained = re.search(r"trained model:\s+(-?[0-9.]+)", printed)
    untrained = re.search(r"untrained model:\s+(-?[0-9.]+)", printed)
    assert trained and untrained, printed
    assert float(trained.group(1)) == pytest.approx(metrics["mig"]["mig"], abs=5e-4)
    assert str((run_dir / "report.html").resolve()) in printed
    config = read_config(run_dir)
    # the untrained baseline is the seeded initialisation's MIG, reproducible on its own
    names = metrics["mig"]["factor_names"]
    baseline = demo.untrained_mig(config, build_dataset(config.data), names, "cpu")
    assert float(untrained.group(1)) == pytest.approx(baseline, abs=5e-4)
    assert (config.objective.method, config.objective.beta, config.objective.estimator) == (
        "beta-tcvae",
        6.0,
        demo.DEFAULT_BUDGET.estimator,
    )
    assert config.data.source == "builtin" and config.data.subset == demo.TINY_BUDGET.subset
    # restart screening kept one of the candidates of seed 0, and the subset is seed 0's
    assert config.run.seed in (0, 1000, 2000) and config.data.subset_seed == 0
    assert f"restart screening: kept seed {config.run.seed} of 3 candidates" in printed

    # a second demo into the same folder refuses, naming the way out, before doing any work
    assert main(["demo", "--tiny", "--out", str(out), "-q"]) == 2
    assert "--force" in capsys.readouterr().err
    # --force replaces the run; --precision reaches the trainer (the first run resolved the
    # default, auto, to this CPU's)
    assert config.run.precision == resolve_precision("auto", torch.device("cpu"))
    other = "fp32" if config.run.precision == "bf16" else "bf16"
    args = ["demo", "--tiny", "--out", str(out), "--force", "-q"]
    assert main([*args, "--precision", other]) == 0
    assert read_config(run_dir).run.precision == other


def test_demo_refuses_to_delete_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(demo.DemoError, match="not made by the demo"):
        demo.run_demo(tmp_path, tiny=True, force=True, progress=False)
    with pytest.raises(demo.DemoError, match="positive"):
        demo.run_demo(tmp_path / "other", tiny=True, epochs=0, progress=False)


def test_demo_config_trains_within_the_budget_or_the_epochs(tmp_path):
    budget = demo.DemoBudget(
        subset=256,
        hidden=16,
        batch_size=32,
        epochs=2,
        train_minutes=1e-9,
        lr=1e-3,
        lr_warmup_steps=3,
        estimator="mss",
        screen=None,
        screen_images=None,
        screen_tc_max=None,
        eval_samples=2,
    )
    config = demo.demo_config(tmp_path / "a", budget, device="cpu")
    assert config.optim.max_minutes == 1e-9 and config.run.precision == "auto"
    assert config.optim.lr_warmup_steps == 3 and config.objective.estimator == "mss"
    run = train(config)
    assert run.status == "max_minutes" and run.step == 1
    assert read_status(run.run_dir)["repeat_with"] == "--max-steps 1"

    config = demo.demo_config(tmp_path / "b", budget, epochs=2, device="cpu")
    assert config.optim.max_minutes is None  # --epochs asks for whole epochs, not minutes
    run = train(config)
    assert run.step == 2 * (256 // 32) and run.status == "completed"

    # --minutes replaces the budget's clock, with or without --epochs
    assert demo.demo_config(tmp_path / "c", budget, minutes=20.0).optim.max_minutes == 20.0
    both = demo.demo_config(tmp_path / "d", budget, epochs=2, minutes=1e-9)
    assert both.optim.max_minutes == 1e-9 and both.optim.epochs == 2
    assert train(both).status == "max_minutes"


def test_demo_minutes_reach_the_screening_and_bad_values_are_refused(tmp_path, capsys):
    out = tmp_path / "demo"
    assert (
        main(["demo", "--tiny", "--minutes", "30", "--out", str(out), "--device", "cpu", "-q"]) == 0
    )
    requested = json.loads((out / "run" / "screening.json").read_text())["config"]
    assert requested["optim"]["max_minutes"] == 30.0  # the clock covers the screening too
    # what is left of it after screening is the kept run's
    assert 29.0 < read_config(out / "run").optim.max_minutes < 30.0
    for bad in ("0", "-1", "abc"):
        with pytest.raises(SystemExit):
            main(["demo", "--tiny", "--minutes", bad, "--out", str(tmp_path / "x")])
        assert "--minutes must be a positive number" in capsys.readouterr().err
    with pytest.raises(demo.DemoError, match="positive"):
        demo.run_demo(tmp_path / "y", tiny=True, minutes=0.0, progress=False)
