"""The sweep's data: biased training sets are drawn as asked while the evaluation grid stays
complete."""

import pytest
import torch

from tcvae.data import GroundTruthData, dsprites_grid, render_dsprites
from tcvae.data.factor_sampling import strided_grid
from tcvae.experiments.spec import parse_spec
from tcvae.experiments.sweep_data import load_evaluation_grid, prepare_sweep_data
from tcvae.training import build_dataset

GRID = {"methods": ["beta-vae"], "betas": [1], "seeds": [0]}
STRIDE = {"scale": 3, "orientation": 10, "posX": 2, "posY": 2}


def test_correlated_training_set_and_full_evaluation_grid(tmp_path):
    data = {"stride": STRIDE, "subset": 20_000, "subset_seed": 3}
    data["correlation"] = {"factors": ["posX", "posY"], "rho": 0.6}
    data["exclude"] = [{"shape": 2, "posX": [0, 7]}]
    spec = parse_spec({"grid": GRID, "data": data})
    info = prepare_sweep_data(spec.data, tmp_path)
    train, full = build_dataset(spec.data), load_evaluation_grid(tmp_path)
    # evaluation: every point of the coarse grid, images equal to freshly rendered ones
    assert full.is_full_grid and len(full) == full.grid.num_points == 3 * 2 * 4 * 16 * 16
    assert torch.equal(full.classes, full.grid.all_classes())
    pick = torch.tensor([0, 777, len(full) - 1])
    _, base_index = strided_grid(dsprites_grid(), STRIDE)
    expected = render_dsprites(dsprites_grid().index_to_classes(base_index[pick]))
    assert torch.equal(full.images_uint8(pick), expected)
    # training: the requested size, no excluded combination, the recorded correlation is real
    assert len(train) == info["train_images"] == 20_000
    k = {n: full.grid.factor_index(n) for n in ("shape", "posX", "posY")}
    excluded = (train.classes[:, k["shape"]] == 2) & (train.classes[:, k["posX"]] <= 7)
    assert not excluded.any()
    values = train.factor_values
    corr = float(torch.corrcoef(values[:, [k["posX"], k["posY"]]].T)[0, 1])
    assert corr == pytest.approx(info["empirical_correlation"], abs=1e-9)
    # the exclusion of one shape's left half lowers the pair's correlation a little, not much
    assert corr == pytest.approx(0.6, abs=0.04) and info["pmf_correlation"] == pytest.approx(0.6)
    assert torch.equal(
        train.images_uint8(), full.images_uint8(full.grid.classes_to_index(train.classes))
    )
    # prepared once: a second call reads the facts back without rebuilding
    assert prepare_sweep_data(spec.data, tmp_path) == info


def test_unbiased_training_set_is_the_grid_minus_exclusions(tmp_path):
    data = {"stride": STRIDE, "exclude": [{"shape": 0}]}
    spec = parse_spec({"grid": GRID, "data": data})
    prepare_sweep_data(spec.data, tmp_path)
    train, full = build_dataset(spec.data), load_evaluation_grid(tmp_path)
    assert len(train) == len(full) * 2 // 3 and not (train.classes[:, 1] == 0).any()


@pytest.mark.parametrize("name", ["dependent-correlated", "dependent-excluded"])
def test_dependent_factor_presets_train_on_dependent_positions(name):
    """The dependent-factors presets: the three methods at one beta, each trained on positions
    that depend on each other, and scored on the complete grid."""
    from tcvae.data.factor_sampling import grid_weights
    from tcvae.experiments.cell import check_cells
    from tcvae.experiments.spec import load_preset
    from tcvae.experiments.sweep_data import training_facts
    from tcvae.training.datasets import grid_selection

    spec = load_preset(name)
    check_cells(spec)
    assert set(spec.methods) == {"beta-vae", "beta-tcvae", "factor-vae"} and len(spec.betas) == 1
    grid, index, _ = grid_selection(spec.data)
    assert grid.sizes == strided_grid(dsprites_grid(), spec.data.stride)[0].sizes
    # the facts need only the grid's classes, not its images
    classes_only = GroundTruthData(
        "dsprites",
        grid,
        torch.zeros(grid.num_points, 1, 1, 1, dtype=torch.uint8),
        grid.all_classes(),
    )
    info = training_facts(spec.data, classes_only)
    classes = grid.index_to_classes(index)
    x, y = classes[:, grid.names.index("posX")], classes[:, grid.names.index("posY")]
    if name == "dependent-correlated":
        assert info["train_images"] == spec.data.subset == 60_000
        assert abs(info["empirical_correlation"] - 0.75) < 0.02
        # every (posX, posY) pair keeps some probability: biased, not excluded
        corr = spec.data.correlation
        weights, _ = grid_weights(grid, correlated=tuple(corr["factors"]), rho=corr["rho"])
        assert bool((weights > 0).all()) and torch.unique(x * 32 + y).numel() > 900
    else:
        assert not bool(((x >= 16) & (y >= 16)).any())
        assert info["train_images"] == grid.num_points * 3 // 4
        # without the corner, posX and posY are negatively correlated
        assert torch.corrcoef(torch.stack([x, y]).double())[0, 1] < -0.1
