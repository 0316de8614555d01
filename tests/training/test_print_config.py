"""`tcvae train --print-config`: the resolved settings as a TOML file that --config reads back."""

import math

import pytest

from tcvae.cli.main import main
from tcvae.experiments import screening
from tcvae.objectives.loss import METHODS
from tcvae.training.config import to_dict
from tcvae.training.resolve import PRESETS, config_toml, resolve_config

# Every section set, with the values TOML handles specially: tables, arrays of tables, a float
# that is infinite, a string that needs escapes.
EVERY_SECTION = [
    "--data-source", "builtin", "--cache-dir", 'data "cache"\\ dir\tä', "--subset", "512",
    "--subset-seed", "3", "--stride", "orientation=4", "--stride", "scale=2",
    "--filter", "shape=0", "--filter", "posX=0:15",
    "--exclude", "posX=0:3,posY=0:3", "--exclude", "scale=1",
    "--correlation", "posX,posY=0.5",
    "--arch", "conv", "--latent-dim", "6", "--posterior", "laplace", "--likelihood", "gaussian",
    "--hidden", "24",
    "--method", "factor-vae", "--beta", "4.5", "--beta-warmup-steps", "100",
    "--discriminator-lr", "2e-05", "--discriminator-betas", "0.4,0.8",
    "--lr", "3e-4", "--lr-warmup-steps", "10", "--grad-clip-norm", "1e30", "--batch-size", "64",
    "--epochs", "2", "--max-steps", "7", "--max-minutes", "inf",
    "--seed", "5", "--device", "cpu", "--precision", "bf16", "--threads", "2",
    "--adaptive-threads", "--checkpoint-every", "3", "--keep-checkpoints", "1", "--log-every", "2",
    "--no-tensorboard",
]  # fmt: skip


class Trained(Exception):
    """Raised by the stand-in for training, with the config it was given."""


@pytest.fixture
def config_of(monkeypatch, tmp_path):
    """argv -> the config `tcvae train argv` would train (training itself stands in)."""
    monkeypatch.chdir(tmp_path)

    def refuse(config, **kwargs):
        raise Trained(config)

    monkeypatch.setattr(screening, "train", refuse)

    def run(argv):
        with pytest.raises(Trained) as caught:
            main(["train", *argv])
        return to_dict(caught.value.args[0])

    return run


def print_config(argv, capsys, path):
    """Run `tcvae train argv --print-config`, save what it prints to ``path``."""
    assert main(["train", *argv, "--print-config"]) == 0
    out, err = capsys.readouterr()
    path.write_text(out)
    return out


CASES = {f"preset {name}": ["--preset", name] for name in PRESETS}
CASES["every section"] = EVERY_SECTION
CASES["run dir and flags over a preset"] = ["--preset", "cpu-small", "--out", "runs/x"]


@pytest.mark.parametrize("argv", CASES.values(), ids=CASES.keys())
def test_printed_config_trains_the_same_run_and_trains_nothing(argv, config_of, capsys, tmp_path):
    file = tmp_path / "printed.toml"
    print_config(argv, capsys, file)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["printed.toml"]  # no run directory
    assert config_of(["--config", str(file)]) == config_of(argv)


def test_every_section_is_written_with_its_values(config_of, capsys, tmp_path):
    out = print_config(EVERY_SECTION, capsys, tmp_path / "c.toml")
    for section in ("data", "model", "objective", "optim", "run"):
        assert f"\n[{section}]\n" in out
    assert "max_minutes = inf\n" in out
    assert "exclude = [{posX = [0, 3], posY = [0, 3]}, {scale = [1, 1]}]" in out
    config = resolve_config(file=tmp_path / "c.toml")
    assert config.data.cache_dir == 'data "cache"\\ dir\tä'
    assert config.data.correlation == {"factors": ["posX", "posY"], "rho": 0.5}
    assert config.objective.discriminator_betas == (0.4, 0.8)
    assert math.isinf(config.optim.max_minutes)


@pytest.mark.parametrize("method", METHODS)
def test_each_methods_resolved_defaults_load_back(method, tmp_path):
    """A method's filled-in defaults (beta, discriminator settings, capacity) are written, and
    the options it does not read are left out, so the file is accepted for that method."""
    config = resolve_config("cpu-small", overrides={"objective": {"method": method}})
    file = tmp_path / "c.toml"
    file.write_text(config_toml(config))
    assert to_dict(resolve_config(file=file)) == to_dict(config)


def test_unset_options_are_omitted_and_named(capsys, tmp_path):
    out = print_config(["--preset", "paper-dsprites"], capsys, tmp_path / "c.toml")
    assert "run_dir" not in out.replace("# left unset (the default applies): run_dir", "")
    assert "\n[run]\n# left unset (the default applies): run_dir, threads\n" in out
    assert resolve_config(file=tmp_path / "c.toml").run.run_dir is None
