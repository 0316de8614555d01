"""Sweep spec parsing: presets load, and bad specs fail with messages naming the key."""

import pytest

from tcvae.experiments.spec import SpecError, load_preset, parse_spec, preset_names, read_spec

GRID = {"methods": ["vae", "beta-tcvae-mss"], "betas": [1, 2], "seeds": [0]}


def test_minimal_spec_defaults():
    spec = parse_spec({"grid": GRID})
    assert spec.methods == ("vae", "beta-tcvae-mss") and spec.betas == (1.0, 2.0)
    assert spec.data.dataset == "dsprites" and not spec.data.is_biased


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
size = 1000
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
    assert spec.data.correlation.factors == ("posX", "posY") and spec.data.correlation.rho == 0.7
    assert spec.data.exclude == ({"shape": (2, 2), "posX": (0, 3)},)
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
        ({"grid": GRID, "data": {"size": 10}}, "only applies"),
        ({"grid": GRID, "train": {"objective": {"estimator": "mws"}}}, "set by the method"),
    ],
)
def test_bad_specs_name_the_problem(tree, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(tree)


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
