"""The built-in dSprites generator against REFERENCE.md s7 and a brute-force renderer."""

import math

import numpy as np
import pytest
import torch

from tcvae.data import DataError, builtin_dsprites_subset, dsprites_grid, render_dsprites

SQUARE, ELLIPSE, HEART = 0, 1, 2


def classes_of(shape=0, scale=5, orientation=0, pos_x=15, pos_y=15):
    """Broadcast factor classes into an (M, 6) long tensor."""
    cols = [torch.as_tensor(c).reshape(-1) for c in (0, shape, scale, orientation, pos_x, pos_y)]
    m = max(c.numel() for c in cols)
    return torch.stack([c.expand(m) if c.numel() == 1 else c for c in cols], 1).long()


def centroid(images):
    """(row, column) centre of mass of each image, (M, 2) float64."""
    w = images[:, 0].double()
    r = torch.arange(64, dtype=torch.float64)
    mass = w.sum((1, 2))
    return torch.stack([(w.sum(2) * r).sum(1) / mass, (w.sum(1) * r).sum(1) / mass], 1)


def reference_render(values):
    """Straightforward per-image float64 renderer over the whole 64 x 64 image (slow, clear)."""
    out = np.zeros((len(values), 64, 64), dtype=np.uint8)
    ys, xs = np.mgrid[0:64, 0:64] + 0.5
    for n, (_, shape, scale, theta, px, py) in enumerate(values.tolist()):
        dx, dy = (xs - (16 + 32 * px)) / scale, (ys - (16 + 32 * py)) / scale
        c, s = math.cos(theta), math.sin(theta)
        u, v = c * dx - s * dy, s * dx + c * dy
        if shape == 1.0:
            inside = np.maximum(abs(u), abs(v)) <= 10
        elif shape == 2.0:
            inside = (u / 13) ** 2 + (v / 7) ** 2 <= 1
        else:
            inside = heart_reference(abs(u), v)
        out[n] = inside
    return out


def heart_reference(u, v):
    """Heart as lobe disc, or inside the triangle tip-tangent-tangent (explicit tangent points)."""
    c, t, r = np.array([4.5, -3.5]), np.array([0.0, 8.5]), 5.5
    d = np.linalg.norm(c - t)
    half = math.asin(r / d)
    axis = (c - t) / d
    corners = []
    for sign in (1, -1):  # tangent points: at distance d cos(half) from t, axis turned by +-half
        rot = np.array([[math.cos(sign * half), -math.sin(sign * half)],
                        [math.sin(sign * half), math.cos(sign * half)]])  # fmt: skip
        corners.append(t + d * math.cos(half) * rot @ axis)
    in_lobe = (u - c[0]) ** 2 + (v - c[1]) ** 2 <= r * r

    def side(a, b):
        return (b[0] - a[0]) * (v - a[1]) - (b[1] - a[1]) * (u - a[0])

    s1, s2, s3 = side(t, corners[0]), side(corners[0], corners[1]), side(corners[1], t)
    in_tri = ((s1 >= 0) & (s2 >= 0) & (s3 >= 0)) | ((s1 <= 0) & (s2 <= 0) & (s3 <= 0))
    return in_lobe | in_tri


def test_grid_matches_reference_sizes_values_and_strides():
    grid = dsprites_grid()
    assert grid.names == ("color", "shape", "scale", "orientation", "posX", "posY")
    assert grid.sizes == (1, 3, 6, 40, 32, 32) and grid.num_points == 737280
    assert grid.strides.tolist() == [737280, 245760, 40960, 1024, 32, 1]
    assert grid.values[0].tolist() == [1.0] and grid.values[1].tolist() == [1.0, 2.0, 3.0]
    assert np.allclose(grid.values[2], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert grid.values[3][0] == 0 and grid.values[3][-1] == 2 * math.pi
    assert math.isclose(grid.values[3][5].item(), 0.80553658, abs_tol=1e-8)  # file's value
    assert math.isclose(grid.values[4][1].item(), 1 / 31) and grid.values[5][-1] == 1.0


def test_index_classes_round_trip_for_every_grid_point():
    grid = dsprites_grid()
    ranges = [torch.arange(s) for s in grid.sizes]
    expected = torch.stack([g.reshape(-1) for g in torch.meshgrid(*ranges, indexing="ij")], 1)
    n = torch.arange(grid.num_points)
    assert torch.equal(grid.index_to_classes(n), expected)
    assert torch.equal(grid.classes_to_index(expected), n)


def test_images_binary_shaped_and_equal_to_brute_force_renderer():
    grid = dsprites_grid()
    gen = torch.Generator().manual_seed(0)
    index = torch.randint(grid.num_points, (300,), generator=gen)
    classes = grid.index_to_classes(index)
    images = render_dsprites(classes)
    assert images.shape == (300, 1, 64, 64) and images.dtype == torch.uint8
    assert set(images.unique().tolist()) <= {0, 1}
    values = grid.classes_to_values(classes)
    values[:, 3] = torch.remainder(values[:, 3], 2 * math.pi)
    reference = reference_render(values.numpy())
    # float32 vs float64 may flip a pixel lying within ~1e-6 px of an edge; nothing more.
    assert (images[:, 0].numpy() != reference).sum() <= 3


def test_sizes_at_scale_one_and_heart_points_down():
    images = render_dsprites(classes_of(shape=[SQUARE, ELLIPSE, HEART], pos_x=0, pos_y=0))
    boxes = []
    for img in images[:, 0]:
        rows, cols = img.nonzero(as_tuple=True)
        boxes.append((int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)))
    assert boxes[0] == (20, 20) and int(images[0].sum()) == 400
    assert boxes[1] == (14, 26)  # ellipse 26 x 14, long axis horizontal
    assert abs(boxes[2][0] - 17) <= 1 and abs(boxes[2][1] - 20) <= 1
    centre_row = centroid(images)[:, 0]
    assert centre_row[0] == 15.5  # sprite centre 16 (continuous) = pixel 15.5 at position 0
    assert centre_row[2] < 15.0  # heart: lobes on top, point down
    upside_down = render_dsprites(classes_of(shape=HEART, orientation=20, pos_x=0, pos_y=0))
    assert centroid(upside_down)[0, 0] > 16.0


def test_area_grows_with_scale():
    for shape in (SQUARE, ELLIPSE, HEART):
        for orientation in (0, 7, 23):
            images = render_dsprites(classes_of(shape, torch.arange(6), orientation))
            area = images.sum((1, 2, 3))
            assert bool((area[1:] > area[:-1]).all()), (shape, orientation, area)


def test_centroid_moves_monotonically_with_position():
    steps = torch.arange(32)
    for shape in (SQUARE, ELLIPSE, HEART):
        along_x = centroid(render_dsprites(classes_of(shape, 3, 9, pos_x=steps, pos_y=4)))
        along_y = centroid(render_dsprites(classes_of(shape, 3, 9, pos_x=4, pos_y=steps)))
        assert bool((along_x[1:, 1] > along_x[:-1, 1]).all())  # posX moves along columns
        assert bool((along_y[1:, 0] > along_y[:-1, 0]).all())  # posY moves down the rows
        assert float(along_x[:, 0].std()) < 0.2 and float(along_y[:, 1].std()) < 0.2
        # centre travels from about pixel 16 to about pixel 48
        assert 30 < float(along_x[-1, 1] - along_x[0, 1]) < 34


def test_rotation_changes_square_and_heart_and_turns_counter_clockwise():
    for shape in (SQUARE, HEART):
        images = render_dsprites(classes_of(shape, orientation=torch.tensor([0, 3, 5])))
        assert not torch.equal(images[0], images[1]) and not torch.equal(images[0], images[2])
    # orientation 0.8 rad: ellipse runs from lower left to upper right as displayed
    ellipse = render_dsprites(classes_of(ELLIPSE, orientation=5))[0, 0].double()
    rows, cols = ellipse.nonzero(as_tuple=True)
    assert float(((rows - rows.double().mean()) * (cols - cols.double().mean())).mean()) < -5


def test_full_turn_renders_identically_and_shapes_differ():
    classes = classes_of(
        shape=torch.arange(3).repeat_interleave(4),
        scale=torch.tensor([0, 5]).repeat(6),
        pos_x=torch.tensor([0, 0, 31, 31]).repeat(3),
        pos_y=torch.tensor([0, 31, 0, 31]).repeat(3),
    )
    turned = classes.clone()
    turned[:, 3] = 39
    assert torch.equal(render_dsprites(classes), render_dsprites(turned))
    shapes = render_dsprites(classes_of(shape=torch.arange(3), scale=4, orientation=11))
    assert not torch.equal(shapes[0], shapes[1]) and not torch.equal(shapes[1], shapes[2])
    assert not torch.equal(shapes[0], shapes[2])


def test_no_sprite_touches_the_border():
    # largest sprites at the four extreme positions, every orientation
    o = torch.arange(40).repeat_interleave(4).repeat(3)
    corners = torch.tensor([[0, 0], [0, 31], [31, 0], [31, 31]]).repeat(120, 1)
    shape = torch.arange(3).repeat_interleave(160)
    images = render_dsprites(classes_of(shape, 5, o, corners[:, 0], corners[:, 1]))[:, 0]
    border = images[:, [0, -1], :].sum() + images[:, :, [0, -1]].sum()
    assert int(border) == 0
    assert bool((images.sum((1, 2)) > 100).all())


def test_rendering_is_deterministic_and_independent_of_batching():
    grid = dsprites_grid()
    index = torch.randint(grid.num_points, (5000,), generator=torch.Generator().manual_seed(1))
    classes = grid.index_to_classes(index)
    first = render_dsprites(classes)
    assert torch.equal(first, render_dsprites(classes))
    perm = torch.randperm(5000, generator=torch.Generator().manual_seed(2))
    assert torch.equal(render_dsprites(classes[perm]), first[perm])
    assert torch.equal(render_dsprites(classes[7:8]), first[7:8])


def test_subset_is_a_ground_truth_data_set():
    classes = classes_of(shape=torch.arange(3), scale=torch.tensor([0, 2, 5]))
    data = builtin_dsprites_subset(classes.int())
    assert data.name == "dsprites" and data.max_value == 1 and len(data) == 3
    assert data.classes.dtype == torch.long and torch.equal(data.classes, classes)
    assert torch.equal(data.images_uint8(), render_dsprites(classes))
    assert float(data.batch(torch.tensor([2])).max()) == 1.0
    assert data.factor_values[2].tolist() == [1.0, 3.0, 1.0, 0.0, 15 / 31, 15 / 31]


def test_bad_classes_are_refused_clearly():
    with pytest.raises(DataError, match="integer tensor"):
        render_dsprites(torch.zeros(2, 6))
    with pytest.raises(DataError, match=r"shape \(M, 6\)"):
        render_dsprites(torch.zeros(2, 5, dtype=torch.long))
    with pytest.raises(DataError, match="out of range"):
        render_dsprites(torch.tensor([[0, 3, 0, 0, 0, 0]]))
