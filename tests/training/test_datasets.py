import numpy as np
import pytest
import torch

from tcvae.data import dsprites_grid, render_dsprites
from tcvae.training.config import ConfigError, DataConfig
from tcvae.training.datasets import build_dataset, evaluation_config, select
from tcvae.training.resolve import resolve_config

SIZES = (3, 4, 6)  # factors a, b, c of the small data set below


@pytest.fixture
def small_npz(tmp_path):
    """Every point of a 3 x 4 x 6 grid once, in a shuffled order; image i shows its classes as
    grey levels, so each image names its point."""
    classes = torch.cartesian_prod(*(torch.arange(n) for n in SIZES))
    classes = classes[torch.randperm(len(classes), generator=torch.Generator().manual_seed(0))]
    images = np.zeros((len(classes), 64, 64), dtype=np.uint8)
    images[:, 0, :3] = classes.numpy() * 20 + 10
    path = tmp_path / "small.npz"
    np.savez(
        path, images=images, factor_classes=classes.numpy(), factor_names=np.array(["a", "b", "c"])
    )
    return path, classes, images


def test_select_matches_a_brute_force_filter():
    grid = dsprites_grid()
    classes = grid.all_classes()
    config = DataConfig(filters={"shape": [1, 1], "posX": [3, 5], "orientation": [0, 0]})
    index = select(classes, grid, config)
    expected = [
        i for i, c in enumerate(classes.tolist()) if c[1] == 1 and 3 <= c[4] <= 5 and c[3] == 0
    ]
    assert index.tolist() == expected


def test_subset_is_seeded_sorted_and_of_the_asked_size():
    grid = dsprites_grid()
    classes = grid.all_classes()
    a = select(classes, grid, DataConfig(subset=500, subset_seed=4))
    b = select(classes, grid, DataConfig(subset=500, subset_seed=4))
    c = select(classes, grid, DataConfig(subset=500, subset_seed=5))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.numel() == 500 and a.unique().numel() == 500 and bool((a[1:] > a[:-1]).all())


def test_builtin_dataset_renders_exactly_the_selected_images():
    config = DataConfig(source="builtin", subset=40, filters={"shape": [2, 2]})
    data = build_dataset(config)
    assert len(data) == 40 and bool((data.classes[:, 1] == 2).all())
    assert torch.equal(data.images_uint8(), render_dsprites(data.classes))


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        (DataConfig(name="mnist"), "unknown data set"),
        (DataConfig(source="builtin", filters={"hue": [0, 1]}), "unknown factor"),
        (DataConfig(source="builtin", filters={"shape": [0, 3]}), "exceeds its 3 classes"),
        (DataConfig(source="builtin", filters={"shape": [0, 0]}, subset=10**6), "--subset"),
        (DataConfig(source="builtin", stride={"hue": 2}), r"data\.stride \(--stride\)"),
        (DataConfig(source="builtin", exclude=[{"posX": [0, 40]}]), "classes 0..31"),
        (DataConfig(source="builtin", exclude=[{"shape": [0, 2]}]), "removes every image"),
        (
            DataConfig(source="builtin", correlation={"factors": ["shape", "posX"], "rho": 0.99}),
            "out of reach",
        ),
    ],
)
def test_bad_data_settings_name_the_option(config, needle):
    with pytest.raises(ConfigError, match=needle):
        build_dataset(config)


def test_stride_filters_and_exclusions_keep_exactly_the_brute_force_rows(small_npz):
    path, classes, images = small_npz
    config = DataConfig(
        name=str(path),
        stride={"c": 2},
        filters={"a": [1, 2]},
        exclude=[{"b": [0, 1], "c": 2}, {"a": 2, "b": 3}],
    )
    data = build_dataset(config)
    rows = [
        i
        for i, (a, b, c) in enumerate(classes.tolist())
        if c % 2 == 0 and 1 <= a <= 2 and not (b <= 1 and c // 2 == 2) and not (a == 2 and b == 3)
    ]
    assert data.grid.sizes == (3, 4, 3) and data.grid.names == ("a", "b", "c")
    assert torch.equal(data.grid.values[2], torch.tensor([0.0, 2.0, 4.0], dtype=torch.float64))
    expected = classes[rows] // torch.tensor([1, 1, 2])
    assert len(data) == len(rows) and torch.equal(data.classes, expected)
    assert torch.equal(data.images_uint8()[:, 0, 0, :3], torch.from_numpy(images[rows, 0, :3]))
    # the evaluation grid keeps the stride and drops the selection: the whole coarse grid
    grid = build_dataset(evaluation_config(config))
    assert grid.is_full_grid and len(grid) == 3 * 4 * 3


def test_a_correlated_draw_is_seeded_and_keeps_out_what_is_excluded(small_npz):
    path, classes, _ = small_npz
    config = DataConfig(
        name=str(path),
        correlation={"factors": ["a", "c"], "rho": 0.8},
        exclude=[{"b": 0}],
        subset=5000,
        subset_seed=2,
    )
    data = build_dataset(config)
    again = build_dataset(config)
    other = build_dataset(DataConfig(**{**config.__dict__, "subset_seed": 3}))
    assert len(data) == 5000 and torch.equal(data.classes, again.classes)
    assert torch.equal(data.images_uint8(), again.images_uint8())
    assert not torch.equal(data.classes, other.classes)
    assert not bool((data.classes[:, 1] == 0).any())
    # each image still shows its own point, and the pair is correlated as asked
    assert torch.equal(data.images_uint8()[:, 0, 0, :3].long(), data.classes * 20 + 10)
    a, c = data.classes[:, 0].double(), data.classes[:, 2].double()
    assert float(torch.corrcoef(torch.stack([a, c]))[0, 1]) == pytest.approx(0.8, abs=0.03)
    # without a size, as many images are drawn as there are candidates
    config.subset = None
    assert len(build_dataset(config)) == len(classes)


def test_the_data_options_come_from_the_command_line():
    from tcvae.cli.main import build_parser
    from tcvae.cli.train import overrides_from_args

    argv = ["train", "--stride", "orientation=4", "--exclude", "posX=16:31,posY=16:31"]
    argv += ["--exclude", "shape=2", "--correlation", "posX,posY=0.75", "--subset", "100"]
    config = resolve_config(overrides=overrides_from_args(build_parser().parse_args(argv)))
    assert config.data == DataConfig(
        stride={"orientation": 4},
        exclude=[{"posX": [16, 31], "posY": [16, 31]}, {"shape": [2, 2]}],
        correlation={"factors": ["posX", "posY"], "rho": 0.75},
        subset=100,
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--correlation", "posX=0.5"])
