import dataclasses

import pytest

from tcvae.objectives import ObjectiveConfig
from tcvae.training.config import (
    OPTION_FLAGS,
    ConfigError,
    TrainConfig,
    flatten,
    from_dict,
    to_dict,
)
from tcvae.training.resolve import PRESETS, resolve_config
from tcvae.training.runs import resumed_config


def test_every_option_has_a_flag_and_round_trips():
    config = TrainConfig()
    assert set(flatten(to_dict(config))) - {"model.image_shape"} == set(OPTION_FLAGS)
    assert from_dict(to_dict(config)) == config


def test_paper_preset_matches_the_paper_setup():
    c = resolve_config("paper-dsprites")
    assert (c.model.arch, c.model.latent_dim, c.model.likelihood) == ("mlp", 10, "bernoulli")
    assert c.model.hidden is None  # the networks' default width, 1200
    assert (c.optim.lr, c.optim.batch_size, c.optim.epochs) == (1e-3, 2048, 50)
    assert (c.objective.method, c.objective.beta, c.objective.estimator) == (
        "beta-tcvae",
        6.0,
        "mws",
    )
    small = resolve_config("cpu-small")
    assert small.data.subset and small.optim.batch_size < 2048 and small.model.hidden < 1200


def test_a_preset_serves_every_method_and_a_vae_records_no_beta():
    """Presets leave beta to the method: with --method vae the preset is accepted and the VAE,
    which has no beta, records none; the other methods get their default of 6."""
    vae = resolve_config("cpu-small", None, {"objective": {"method": "vae"}})
    assert vae.objective.beta is None and from_dict(to_dict(vae)) == vae
    for method in ("beta-vae", "factor-vae", "annealed-vae"):
        config = resolve_config("paper-dsprites", None, {"objective": {"method": method}})
        assert config.objective.beta == 6.0
    with pytest.raises(ConfigError, match=r"objective\.beta \(--beta\): vae does not use --beta"):
        resolve_config("cpu-small", None, {"objective": {"method": "vae", "beta": 4.0}})


def test_precedence_preset_then_file_then_flags(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text(
        'preset = "paper-dsprites"\n[optim]\nbatch_size = 512\nlr = 0.01\n[run]\nseed = 3\n'
    )
    c = resolve_config(None, f, {"optim": {"lr": 0.5}})
    assert c.objective.estimator == "mws"  # from the file's preset
    assert c.optim.batch_size == 512  # file over preset
    assert c.optim.lr == 0.5  # flag over file
    assert c.run.seed == 3
    # An explicit preset argument wins over the file's.
    c2 = resolve_config("cpu-small", f)
    assert c2.data.subset == PRESETS["cpu-small"]["data"]["subset"] and c2.optim.batch_size == 512


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"optim": {"batch_size": 0}}, "--batch-size"),
        ({"optim": {"lr": -1.0}}, "--lr"),
        ({"optim": {"epochs": 1.5}}, "--epochs"),
        ({"data": {"subset": -3}}, "--subset"),
        ({"data": {"source": "web"}}, "--data-source"),
        ({"data": {"filters": {"posX": [5, 2]}}}, "--filter"),
        ({"run": {"precision": "fp8"}}, "--precision"),
        ({"run": {"device": "tpu"}}, "--device"),
        ({"run": {"keep_checkpoints": 0}}, "--keep-checkpoints"),
        ({"model": {"latent_dim": 0}}, "--latent-dim"),
        ({"model": {"arch": "transformer"}}, "--arch"),
        ({"model": {"likelihood": "poisson"}}, "--likelihood"),
        ({"objective": {"beta": -1.0}}, "beta"),
        ({"objective": {"estimator": "nope"}}, "estimator"),
        ({"optim": {"momentum": 0.9}}, "optim.momentum"),
        ({"training": {}}, "training"),
    ],
)
def test_invalid_values_name_the_option(overrides, needle):
    with pytest.raises(ConfigError, match=needle.replace("-", r"\-")):
        resolve_config(None, None, overrides)


def test_unknown_preset_and_missing_or_bad_file(tmp_path):
    with pytest.raises(ConfigError, match="--preset"):
        resolve_config("huge")
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_config(None, tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[optim\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        resolve_config(None, bad)


def test_resume_may_change_only_length_device_and_cadence():
    saved = TrainConfig()
    longer = dataclasses.replace(saved, optim=dataclasses.replace(saved.optim, epochs=80))
    assert resumed_config(saved, longer).optim.epochs == 80
    other = dataclasses.replace(saved, objective=ObjectiveConfig(beta=2.0))
    with pytest.raises(ConfigError, match=r"objective\.beta \(--beta\) 6\.0 -> 2\.0"):
        resumed_config(saved, other)
