"""Sweep spec parsing: presets load, and bad specs fail with messages naming the key."""

import pytest

from tcvae.experiments.spec import SpecError, load_preset, parse_spec, preset_names, read_spec

GRID = {"methods": ["vae", "beta-tcvae-mss"], "betas": [1, 2], "seeds": [0]}


def test_minimal_spec_defaults():
    spec = parse_spec({"grid": GRID})
    assert spec.methods == ("vae", "beta-tcvae-mss") and spec.betas == (1.0, 2.0)
    assert (spec.data.name, spec.data.source) == ("dsprites", "builtin")
    assert not (spec.data.stride or spec.data.exclude or spec.data.correlation or spec.data.subset)


def test_full_spec_round_trip(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        """
name = "corr"
[grid]
methods = ["beta-vae", "beta-tcvae"]
betas = [4]
seeds = [0, 1]
[grid.options]
"optim.lr" = [1e-3, 3e-4]
[data]
stride = { posX = 2, posY = 2 }
subset = 1000
subset_seed = 5
[data.correlation]
factors = ["posX", "posY"]
rho = 0.7
[[data.exclude]]
shape = 2
posX = [0, 3]
[train.optim]
epochs = 2
"""
    )
    spec = read_spec(path)
    assert spec.name == "corr" and spec.options == {"optim.lr": (1e-3, 3e-4)}
    assert spec.data.correlation == {"factors": ["posX", "posY"], "rho": 0.7}
    assert spec.data.exclude == [{"shape": 2, "posX": [0, 3]}]
    assert (spec.data.stride, spec.data.subset, spec.data.subset_seed) == (
        {"posX": 2, "posY": 2},
        1000,
        5,
    )
    assert spec.train == {"optim": {"epochs": 2}}


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ({}, r"\[grid\] is required"),
        ({"grid": {**GRID, "methods": ["betavae"]}}, "unknown method 'betavae'"),
        ({"grid": {**GRID, "betas": [0]}}, "positive finite"),
        ({"grid": {**GRID, "seeds": [0, 0]}}, "duplicate"),
        ({"grid": GRID, "trian": {}}, "unknown key"),
        ({"grid": GRID, "train": {"objective": {"beta": 3}}}, "sets objective.beta"),
        ({"grid": GRID, "train": {"data": {}}}, r"describe the data in \[data\]"),
        ({"grid": {**GRID, "options": {"lr": [1]}}}, "'section.option'"),
        ({"grid": GRID, "data": {"correlation": {"factors": ["posX"], "rho": 0.5}}}, "two"),
        ({"grid": GRID, "data": {"correlation": {"factors": ["a", "b"], "rho": 1}}}, r"\(-1, 1\)"),
        ({"grid": GRID, "data": {"exclude": [{"shape": [3, 1]}]}}, "inclusive range"),
        ({"grid": GRID, "data": {"size": 10}}, "rename 'size' to 'subset'"),
        ({"grid": GRID, "data": {"filter": {}}}, "allowed keys"),
        ({"grid": GRID, "data": {"stride": {"posX": 0}}}, r"data\.stride \(--stride\)"),
        ({"grid": GRID, "train": {"objective": {"estimator": "mws"}}}, "set by the method"),
    ],
)
def test_bad_specs_name_the_problem(tree, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(tree)


def test_data_keys_are_the_training_configs():
    """A sweep's [data] is a training config's [data]: the same keys, the same validation."""
    import dataclasses

    from tcvae.training.config import DataConfig
    from tcvae.training.resolve import resolve_config

    tree = {"name": "dsprites", "stride": {"posX": 2}, "subset": 50, "subset_seed": 4}
    tree |= {"filters": {"shape": [0, 1]}, "exclude": [{"posX": [0, 3]}]}
    tree |= {"correlation": {"factors": ["posX", "posY"], "rho": 0.5}}
    spec = parse_spec({"grid": GRID, "data": tree})
    assert {f.name for f in dataclasses.fields(DataConfig)} == {
        *tree,
        "source",
        "cache_dir",
        "channels",
    }
    assert spec.data == DataConfig(source="builtin", **tree)
    assert spec.data == resolve_config(overrides={"data": {**tree, "source": "builtin"}}).data


def test_presets_are_bundled_and_valid():
    assert {"mini", "paper-dsprites"} <= set(preset_names())
    paper = load_preset("paper-dsprites")
    assert paper.betas[0] == 1 and 6 in paper.betas and len(paper.seeds) >= 3
    assert {"vae", "beta-vae", "beta-tcvae-mws"} <= set(paper.methods)
    with pytest.raises(SpecError, match="choose from"):
        load_preset("nope")


def test_baseline_methods_sweep_over_beta_as_their_main_weight():
    from tcvae.experiments.grid import expand_grid

    methods = ["factor-vae", "dip-vae-i", "dip-vae-ii", "annealed-vae", "beta-tcvae-mss"]
    spec = parse_spec({"grid": {"methods": methods, "betas": [2, 8], "seeds": [0]}})
    from tcvae.experiments.cell import cell_config

    cells = expand_grid(spec)
    assert len(cells) == 2 * len(methods)
    configs = [cell_config(spec, c) for c in cells]
    trained = {(c.objective.method, c.objective.beta) for c in configs}
    assert ("factor-vae", 8.0) in trained and ("annealed-vae", 2.0) in trained
    assert ("dip-vae-ii", 2.0) in trained and ("beta-tcvae", 8.0) in trained


def test_train_tables_of_one_method_set_its_cells_options_only():
    """[train.METHOD.SECTION] sets options of that method's cells, over [train.SECTION]; the VAE's
    cells get no beta (it has none), and an option some method of the grid does not use is
    refused when the cells are built."""
    from tcvae.experiments.cell import cell_config, check_cells
    from tcvae.experiments.grid import expand_grid
    from tcvae.training.config import ConfigError

    methods = ["vae", "beta-vae", "factor-vae"]
    train = {
        "optim": {"lr": 3e-3},
        "factor-vae": {
            "optim": {"lr": 1e-4},
            "objective": {"discriminator_lr": 2e-4, "discriminator_betas": [0.5, 0.99]},
        },
    }
    spec = parse_spec({"grid": {"methods": methods, "betas": [4], "seeds": [0]}, "train": train})
    assert spec.train == {"optim": {"lr": 3e-3}} and set(spec.by_method) == {"factor-vae"}
    check_cells(spec)
    configs = {c.method: cell_config(spec, c) for c in expand_grid(spec)}
    factor = configs["factor-vae"]
    assert (factor.optim.lr, factor.objective.beta) == (1e-4, 4.0)
    assert factor.objective.discriminator_lr == 2e-4
    assert factor.objective.discriminator_betas == (0.5, 0.99)
    assert configs["beta-vae"].optim.lr == 3e-3 and configs["beta-vae"].objective.beta == 4.0
    assert configs["beta-vae"].objective.discriminator_lr is None
    assert configs["vae"].objective.beta is None

    everyone = {"objective": {"discriminator_lr": 2e-4}}
    spec = parse_spec({"grid": {"methods": methods, "betas": [4], "seeds": [0]}, "train": everyone})
    with pytest.raises(ConfigError, match="vae does not use --discriminator-lr"):
        check_cells(spec)


@pytest.mark.parametrize(
    ("train", "options", "message"),
    [
        ({"dip-vae-i": {"optim": {"lr": 1}}}, {}, r"\[train.dip-vae-i\] sets options of a method"),
        ({"factor-vae": {"optim": 1}}, {}, r"\[train.factor-vae.optim\] must be a table"),
        ({"factor-vae": {"data": {}}}, {}, "unknown key"),
        ({"factor-vae": {"objective": {"beta": 2}}}, {}, "sets objective.beta"),
        ({"factor-vae": {"optim": {"lr": 1}}}, {"optim.lr": [1, 2]}, r"\[train.factor-vae.optim\]"),
        ({"beta-tcvae-mss": {"objective": {"estimator": "mws"}}}, {}, "set by the method name"),
    ],
)
def test_bad_method_tables_name_the_problem(train, options, message):
    grid = {"methods": ["factor-vae", "beta-tcvae-mss"], "betas": [1], "seeds": [0]}
    with pytest.raises(SpecError, match=message):
        parse_spec({"grid": {**grid, "options": options}, "train": train})


def test_the_module_docstrings_spec_example_loads():
    """The spec example users copy from the module's docs is a valid spec."""
    import textwrap

    import tomllib

    from tcvae.experiments import spec as S

    doc = S.__doc__
    block = doc.split("::\n", 1)[1].split("\n\n[data] takes", 1)[0]
    tree = tomllib.loads(textwrap.dedent(block))
    parsed = parse_spec(tree)
    assert parsed.name == "my-sweep" and parsed.data.stride == {"posX": 2}
