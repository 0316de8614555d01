import itertools

import pytest
import torch

from tcvae.data.ground_truth import DataError, FactorGrid, GroundTruthData


def small_grid() -> FactorGrid:
    return FactorGrid(
        names=("a", "b", "c"),
        values=(
            torch.tensor([0.0, 1.0]),
            torch.linspace(0, 1, 3, dtype=torch.float64),
            torch.arange(4, dtype=torch.float64),
        ),
    )


def test_index_classes_match_itertools_product_order():
    grid = small_grid()
    expected = torch.tensor(list(itertools.product(range(2), range(3), range(4))))
    assert torch.equal(grid.all_classes(), expected)
    assert torch.equal(grid.classes_to_index(expected), torch.arange(24))
    assert grid.strides.tolist() == [12, 4, 1]


def test_classes_to_values_and_errors():
    grid = small_grid()
    values = grid.classes_to_values(torch.tensor([[1, 2, 3]]))
    assert values.tolist() == [[1.0, 1.0, 3.0]]
    with pytest.raises(DataError, match="out of range"):
        grid.classes_to_index(torch.tensor([[2, 0, 0]]))
    with pytest.raises(DataError, match="3 columns"):
        grid.classes_to_index(torch.tensor([[0, 0]]))
    with pytest.raises(DataError, match="out of range"):
        grid.index_to_classes(torch.tensor([24]))
    with pytest.raises(DataError, match="unknown factor 'z'"):
        grid.factor_index("z")


def test_batch_subset_and_where():
    grid = small_grid()
    classes = grid.all_classes()
    images = (torch.arange(24, dtype=torch.uint8) * 10).view(24, 1, 1, 1).expand(24, 1, 2, 2)
    data = GroundTruthData("toy", grid, images.contiguous(), classes, max_value=255)
    assert len(data) == 24 and data.is_full_grid
    x = data.batch(torch.tensor([0, 23]))
    assert x.dtype == torch.float32 and x.shape == (2, 1, 2, 2)
    assert torch.allclose(x[1], torch.full((1, 2, 2), 230 / 255))
    sub = data.where(a=1, c=(1, 2))
    assert len(sub) == 6 and not sub.is_full_grid
    assert bool((sub.classes[:, 0] == 1).all()) and set(sub.classes[:, 2].tolist()) == {1, 2}
    with pytest.raises(DataError, match="no image matches"):
        data.where(b=(5, 6))


def test_rejects_wrong_image_layout():
    grid = small_grid()
    with pytest.raises(DataError, match="uint8"):
        GroundTruthData("bad", grid, torch.zeros(24, 2, 2), grid.all_classes())
    with pytest.raises(DataError, match=r"\(N, K\)"):
        GroundTruthData(
            "bad", grid, torch.zeros(24, 1, 2, 2, dtype=torch.uint8), torch.zeros(24, 2)
        )
