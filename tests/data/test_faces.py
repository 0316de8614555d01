"""The built-in 3D faces (a few rendered images each) and the loader of the Basel renders file."""

import math

import pytest
import torch

import tcvae.data.faces as faces_module
from tcvae.data import DataError, FactorGrid, load_dataset, load_faces
from tcvae.data.faces import FACES_FILENAME, load_faces_file
from tcvae.data.heads import faces_grid, render_faces

from .conftest import Tripwire

COLUMNS = torch.arange(64, dtype=torch.float64) - 31.5


def classes_of(identity=0, azimuth=10, elevation=5, lighting=5) -> torch.Tensor:
    """Classes (M, 4), one row per value of whichever argument is a list (frontal by default)."""
    columns = [identity, azimuth, elevation, lighting]
    m = max(len(c) if isinstance(c, list) else 1 for c in columns)
    return torch.stack([torch.tensor(c if isinstance(c, list) else [c] * m) for c in columns], 1)


def left_right_asymmetry(images: torch.Tensor) -> torch.Tensor:
    """Horizontal centroid of brightness, in pixels from the image centre (right positive)."""
    grey = images[:, 0].double()
    return (grey * COLUMNS).sum((1, 2)) / grey.sum((1, 2))


def test_factor_order_sizes_and_values():
    grid = faces_grid()
    assert grid.names == ("identity", "azimuth", "elevation", "lighting")
    assert grid.sizes == (50, 21, 11, 11) and grid.num_points == 127_050
    azimuth, elevation, lighting = grid.values[1:]
    middles = torch.stack([azimuth[10], elevation[5], lighting[5]])
    assert float(middles.abs().max()) < 1e-12  # the middle classes are frontal
    assert bool((azimuth.diff() > 0).all()) and float(azimuth[-1]) == pytest.approx(
        math.radians(75)
    )


def test_azimuth_turns_the_head_mirror_symmetrically():
    images = render_faces(classes_of(azimuth=list(range(21))))
    asym = left_right_asymmetry(images)
    assert asym[0] < -0.5 and asym[20] > 0.5 and abs(float(asym[10])) < 0.01
    # the head is mirror-symmetric and the frontal light too: turning left mirrors turning right
    assert torch.allclose(asym, -asym.flip(0), atol=1e-6)
    assert torch.equal(images[3], images[17].flip(-1))
    assert bool((asym[11:].diff() >= 0).all())


def test_elevation_moves_the_head_vertically():
    images = render_faces(classes_of(elevation=list(range(11))))
    head = (images[:, 0] > 0).double()
    rows = torch.arange(64, dtype=torch.float64).view(-1, 1)
    centre_row = (head * rows).sum((1, 2)) / head.sum((1, 2))
    assert bool((centre_row.diff() < 0).all())  # looking up lifts the face (rows count down)
    assert float(centre_row[0] - centre_row[-1]) > 1.5
    dark = (images[:, 0] > 0) & (images[:, 0] < 60)  # eyes, brows and mouth
    dark_row = (dark * rows).sum((1, 2)) / dark.sum((1, 2))
    assert float(dark_row[0] - dark_row[-1]) > 3


def test_light_direction_moves_the_bright_side():
    images = render_faces(classes_of(lighting=list(range(11))))
    asym = left_right_asymmetry(images)
    assert bool((asym.diff() > 0).all()) and asym[0] < -2 and asym[-1] > 2
    assert torch.equal(images[0], images[10].flip(-1))


def test_identities_differ_and_rendering_is_deterministic():
    classes = classes_of(identity=[0, 1, 2, 3], azimuth=[3, 9, 15, 20], lighting=[0, 4, 7, 10])
    images = render_faces(classes)
    pairs = [(a, b) for a in range(4) for b in range(a + 1, 4)]
    same_pose = render_faces(classes_of(identity=[0, 1, 2, 3]))
    for a, b in pairs:
        assert (same_pose[a].float() - same_pose[b].float()).abs().mean() > 3
    assert torch.equal(render_faces(classes), images)
    order = torch.tensor([2, 0, 3, 1])
    assert torch.equal(render_faces(classes[order]), images[order])  # rows render independently
    assert images.dtype == torch.uint8 and images.shape == (4, 1, 64, 64)
    assert int(images.max()) > 200 and int(images[:, :, 0, 0].max()) == 0  # black background


def test_render_rejects_bad_classes():
    with pytest.raises(DataError, match="integer tensor"):
        render_faces(torch.zeros(2, 4))
    with pytest.raises(DataError, match=r"shape \(M, 4\)"):
        render_faces(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(DataError, match="out of range"):
        render_faces(torch.tensor([[50, 0, 0, 0]]))


def tiny_faces_grid() -> FactorGrid:
    f64 = torch.float64
    return FactorGrid(
        ("identity", "azimuth", "elevation", "lighting"),
        (torch.arange(2, dtype=f64), torch.tensor([-1.0, 0.0, 1.0], dtype=f64))
        + (torch.zeros(1, dtype=f64), torch.tensor([-1.0, 1.0], dtype=f64)),
    )


@pytest.fixture
def tiny_file_grid(monkeypatch):
    """Make the faces loaders use a 2 x 3 x 1 x 2 = 12-point grid instead of 127,050."""
    monkeypatch.setattr(faces_module, "faces_grid", tiny_faces_grid)


def test_faces_file_loads_in_any_accepted_layout(tmp_path, tiny_file_grid, cache_dir):
    pixels = torch.randint(0, 256, (2, 3, 1, 2, 64, 64), dtype=torch.uint8)
    for layout in (pixels, pixels.reshape(12, 64, 64), pixels.reshape(12, 1, 64, 64)):
        path = tmp_path / "renders.pth"
        torch.save(layout, path)
        data = load_faces_file(path)
        assert data.name == "faces" and data.max_value == 255 and not data.is_packed
        assert torch.equal(data.images_uint8(), pixels.reshape(12, 1, 64, 64))
        # C order: identity 1, azimuth 2, lighting 1 is the last image
        assert data.classes[-1].tolist() == [1, 2, 0, 1]
    cache_dir.mkdir()
    torch.save(pixels, cache_dir / FACES_FILENAME)
    assert len(load_dataset("faces")) == 12  # auto prefers the file when it is there
    assert torch.equal(load_faces("file").images_uint8()[5, 0], pixels[0, 2, 0, 1])


def test_faces_file_errors(tmp_path, tiny_file_grid, unpickled):
    path = tmp_path / "renders.pth"
    torch.save(torch.zeros(2, 3, 1, 2, 64, 64), path)
    with pytest.raises(DataError, match=r"torch.float32 tensor .* expected uint8"):
        load_faces_file(path)
    torch.save(torch.zeros(2, 3, 1, 2, 32, 32, dtype=torch.uint8), path)
    with pytest.raises(DataError, match=r"shape \(2, 3, 1, 2, 32, 32\); expected uint8"):
        load_faces_file(path)
    torch.save({"images": torch.zeros(1)}, path)
    with pytest.raises(DataError, match="holds a dict"):
        load_faces_file(path)
    torch.save(Tripwire(), path)
    with pytest.raises(DataError, match="more than tensors"):
        load_faces_file(path)
    assert unpickled == []
    torch.save(torch.zeros(2, 3, 1, 2, 64, 64, dtype=torch.uint8), path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_faces_file(path)
    with pytest.raises(DataError, match="not publicly distributable"):
        load_faces_file(tmp_path / "absent.pth")


def test_builtin_faces_are_cached(cache_dir, monkeypatch, tiny_file_grid):
    calls = []

    def fake_render(classes, progress=False):
        calls.append(classes.shape[0])
        return (classes[:, :1] % 7).to(torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 64, 64)

    monkeypatch.setattr(faces_module, "render_faces", fake_render)
    first = load_dataset("faces", source="builtin")
    second = load_dataset("faces", source="builtin")
    assert calls == [12] and torch.equal(first.images_uint8(), second.images_uint8())
    assert first.grid.names == faces_grid().names and first.is_full_grid
    assert int(second.images_uint8()[-1, 0, 0, 0]) == 1 and len(list(cache_dir.iterdir())) == 1
