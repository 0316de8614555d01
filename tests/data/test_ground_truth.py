import itertools

import numpy as np
import pytest
import torch

from tcvae.data.ground_truth import (
    DataError,
    FactorGrid,
    GroundTruthData,
    PackedImages,
    _pack_on_device,
    _unpack_on_device,
    pack_bits,
    unpack_bits,
)


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
    with pytest.raises(DataError, match=r"range \[5, 6\] for 'b' exceeds its 3 classes"):
        data.where(b=(5, 6))
    with pytest.raises(DataError, match="no image matches"):
        sub.where(a=0)
    with pytest.raises(DataError, match="unknown factor 'hue'"):
        data.where(hue=0)


def test_rejects_wrong_image_layout():
    grid = small_grid()
    with pytest.raises(DataError, match="uint8"):
        GroundTruthData("bad", grid, torch.zeros(24, 2, 2), grid.all_classes())
    with pytest.raises(DataError, match=r"\(N, K\)"):
        GroundTruthData(
            "bad", grid, torch.zeros(24, 1, 2, 2, dtype=torch.uint8), torch.zeros(24, 2)
        )


@pytest.mark.parametrize("shape", [(7, 1, 64, 64), (5, 3, 4, 5), (3, 1, 1, 1)])
def test_packed_images_round_trip_exactly(shape):
    gen = torch.Generator().manual_seed(sum(shape))
    images = (torch.rand(shape, generator=gen) < 0.3).to(torch.uint8)
    packed = PackedImages.pack(images)
    pixels = shape[1] * shape[2] * shape[3]
    assert packed.bits.shape == (shape[0], -(-pixels // 8)) and packed.nbytes == shape[0] * -(
        -pixels // 8
    )
    assert torch.equal(packed.unpack(), images)
    assert torch.equal(packed[torch.tensor([2, 0])].unpack(), images[[2, 0]])
    flat = images.reshape(shape[0], -1).numpy()
    assert np.array_equal(packed.bits.numpy(), np.packbits(flat, axis=1))  # numpy's bit order
    assert torch.equal(unpack_bits(pack_bits(images), pixels).view(shape), images)
    # the torch code used for GPU tensors gives the same bytes and pixels
    assert torch.equal(_pack_on_device(images.reshape(shape[0], -1)), packed.bits)
    assert torch.equal(_unpack_on_device(packed.bits, pixels).view(shape), images)


def test_binary_data_is_held_packed_and_batches_match_the_pixels():
    grid = small_grid()
    images = (torch.rand(24, 1, 8, 3, generator=torch.Generator().manual_seed(1)) < 0.5).to(
        torch.uint8
    )
    data = GroundTruthData("toy", grid, images, grid.all_classes(), max_value=1)
    assert data.is_packed and data.nbytes == 24 * 3 and data.image_shape == (1, 8, 3)
    index = torch.tensor([5, 0, 23, 5])
    x = data.batch(index)
    assert x.dtype == torch.float32 and torch.equal(x, images[index].float())
    assert data.batch(index, dtype=torch.float64).dtype == torch.float64
    assert torch.equal(data.batch(index, dtype=torch.bool), images[index].bool())
    assert torch.equal(data.images_uint8(index), images[index])
    sub = data.subset(index)
    assert sub.is_packed and torch.equal(sub.images_uint8(), images[index])
    # what the trainer does on a GPU: move the storage, rebuild the data set around it
    moved = GroundTruthData(data.name, grid, data.images.to("cpu"), data.classes, data.max_value)
    assert torch.equal(moved.batch(index), x) and torch.equal(moved.images_uint8(), images)
    grey = GroundTruthData("toy", grid, images * 255, grid.all_classes(), max_value=255)
    with pytest.raises(DataError, match="not binary images: ask for a floating-point batch"):
        grey.batch(index, dtype=torch.bool)
    with pytest.raises(DataError, match="pass max_value=255"):
        GroundTruthData("toy", grid, images * 255, grid.all_classes(), max_value=1)
    with pytest.raises(DataError, match="max_value must be 1"):
        GroundTruthData("toy", grid, data.images, grid.all_classes(), max_value=255)


def test_full_grid_check_counts_distinct_points():
    grid = small_grid()
    images = torch.zeros(24, 1, 2, 2, dtype=torch.uint8)
    classes = grid.all_classes()
    assert GroundTruthData("toy", grid, images, classes.flip(0)).is_full_grid
    repeated = classes.clone()
    repeated[1] = repeated[0]  # 24 images, but only 23 distinct points
    data = GroundTruthData("toy", grid, images, repeated)
    assert not data.is_full_grid
    with pytest.raises(DataError, match="sweeps needs every point .* 24 images of 23 distinct"):
        data.require_full_grid("sweeps")
    shuffled = GroundTruthData(
        "toy",
        grid,
        torch.arange(24, dtype=torch.uint8).view(24, 1, 1, 1),
        classes[torch.tensor([3, 1, 2, 0, *range(4, 24)])],
    )
    assert shuffled.rows_of(classes[:4]).tolist() == [3, 1, 2, 0]
