"""The real cell: configs built from the spec, resume of an interrupted cell, clean restarts,
and errors raised before any training starts."""

import json
import sys

import pytest

from tcvae.experiments.backends import BackendError, import_ray
from tcvae.experiments.cell import cell_config, check_cells, train_and_evaluate
from tcvae.experiments.grid import expand_grid
from tcvae.experiments.spec import SpecError, parse_spec
from tcvae.experiments.sweep_data import prepare_sweep_data
from tcvae.training import train
from tcvae.training.config import ConfigError

TREE = {
    "grid": {"methods": ["vae", "beta-tcvae-mss"], "betas": [3], "seeds": [7]},
    "data": {"stride": {"scale": 3, "orientation": 20, "posX": 8, "posY": 8}},
    "train": {
        "model": {"hidden": 16, "latent_dim": 2},
        "optim": {"batch_size": 32, "epochs": 1, "max_steps": 4},
        "run": {"device": "cpu", "checkpoint_every": 2, "tensorboard": False},
    },
    "evaluation": {"samples": 100, "metrics": ["decomposition", "mig"]},
}


def test_cell_config_layers_spec_options_and_cell():
    spec = parse_spec({**TREE, "grid": {**TREE["grid"], "options": {"optim.lr": [0.01]}}})
    vae, tcvae = expand_grid(spec)
    config = cell_config(spec, tcvae, "somewhere")
    assert (config.objective.method, config.objective.beta) == ("beta-tcvae", 3.0)
    assert config.objective.estimator == "mss" and config.run.seed == 7
    assert config.optim.lr == 0.01 and config.model.hidden == 16
    assert config.run.run_dir == "somewhere" and config.data.source == "builtin"
    assert cell_config(spec, vae).objective.method == "vae"


def test_bad_training_or_evaluation_options_fail_before_training():
    bad = {**TREE, "train": {"optim": {"batch_sise": 3}}}
    with pytest.raises(SpecError, match="batch_sise is not an option"):  # refused as it is read
        parse_spec(bad)
    bad = {**TREE, "train": {"optim": {"batch_size": 0}}}
    with pytest.raises(ConfigError, match="batch_size"):  # a bad value, when the cells are made
        check_cells(parse_spec(bad))
    with pytest.raises(SpecError, match="allowed keys"):
        check_cells(parse_spec({**TREE, "evaluation": {"sample": 3}}))


def test_interrupted_cell_resumes_from_its_checkpoint(tmp_path):
    spec = parse_spec(TREE)
    prepare_sweep_data(spec.data, tmp_path / "data")
    context = {"spec": spec, "data_dir": str(tmp_path / "data")}
    cell = expand_grid(spec)[1]
    run_dir = tmp_path / "run"
    # an earlier attempt stopped after 2 of the 4 steps, leaving a checkpoint
    partial = cell_config(spec, cell, run_dir)
    partial.optim.max_steps = 2
    train(partial)
    metrics = train_and_evaluate(cell, run_dir, context)
    assert metrics["train"]["steps"] == 4
    steps = [json.loads(line)["step"] for line in (run_dir / "train_log.jsonl").open()]
    assert steps == sorted(set(steps)) and steps[-1] == 4 and 2 in steps
    assert json.loads((run_dir / "metrics.json").read_text())["mig"]["mig"] == metrics["mig"]
    assert "mig_discrete" not in metrics and metrics["mig_gaps"].keys() == {
        "scale",
        "orientation",
        "posX",
        "posY",
    }


def test_a_start_without_checkpoint_is_cleared(tmp_path):
    spec = parse_spec(TREE)
    prepare_sweep_data(spec.data, tmp_path / "data")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text("{}")  # died before the first checkpoint
    cell = expand_grid(spec)[0]
    metrics = train_and_evaluate(cell, run_dir, {"spec": spec, "data_dir": str(tmp_path / "data")})
    assert metrics["train"]["steps"] == 4 and metrics["eval_points"] == 3 * 2 * 2 * 4 * 4
    assert json.loads((run_dir / "config.json").read_text())["objective"]["method"] == "vae"


def test_ray_backend_without_ray_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(BackendError, match=r"pip install 'tcvae\[ray\]'"):
        import_ray()
