import pytest
import torch

from tcvae.data import dsprites_grid, render_dsprites
from tcvae.training.config import ConfigError, DataConfig
from tcvae.training.datasets import build_dataset, select


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
    ],
)
def test_bad_data_settings_name_the_option(config, needle):
    with pytest.raises(ConfigError, match=needle):
        build_dataset(config)
