"""The built-in dSprites generator: the official factor grid, rendered on the fly (REFERENCE.md s7).

Conventions (checked against the official release's README, example notebook and animation):

* Images are ``(row, column)`` arrays, 64 x 64, uint8 in {0, 1}: a white sprite on black, point
  sampled (a pixel is on when its centre lies inside the shape), no anti-aliasing.
* Continuous image coordinates: x grows to the right along columns, y grows *down* along rows, and
  pixel (i, j) covers [j, j + 1) x [i, i + 1). The sprite centre is
  ``(16 + 32 * posX, 16 + 32 * posY)``: posX moves the sprite left to right, posY top to bottom, as
  in the official file (posX = 0 is the left edge, as its notebook's "posX to left" example shows).
* ``orientation`` turns the sprite counter-clockwise as the image is displayed (row 0 at the top):
  an ellipse at 0.8 rad runs from lower left to upper right, as in the official file. Angles are
  reduced modulo 2 pi first, so orientation classes 0 and 39 (0 and 2 pi) render identically.
* Shapes at scale 1 (lengths scale linearly with ``scale``): a 20 x 20 px square; an ellipse with
  axes 26 x 14 px, long axis horizontal at orientation 0; a 20 x 17 px heart, two round lobes on
  top and a right-angled point at the bottom at orientation 0. No sprite reaches the image border.

Pixel-exact agreement with the official file is not a goal (its rasteriser is not public); the
factor values, ordering, sizes, positions and directions are the same, so code written for one runs
unchanged on the other.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from tqdm import tqdm

from tcvae.data.ground_truth import FactorGrid, PackedImages, pack_bits

IMAGE_SIZE = 64
FACTOR_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
SHAPE_NAMES = ("square", "ellipse", "heart")

# Sprite centre in image coordinates at position 0 and 1 (both axes).
POSITION_START, POSITION_SPAN = 16.0, 32.0
# Shape sizes at scale 1, in pixels, in sprite coordinates (u right, v down, centre at 0).
SQUARE_HALF_SIDE = 10.0
ELLIPSE_SEMI_AXES = (13.0, 7.0)
HEART_LOBE_CENTRE = (4.5, -3.5)  # right lobe; the left one is its mirror image
HEART_LOBE_RADIUS = 5.5
HEART_TIP = (0.0, 8.5)
# Every sprite fits in a disc of radius 14.2 px (the square's half diagonal at scale 1), so each is
# rendered in a PATCH x PATCH window around its centre, then placed in the image.
PATCH = 32
CHUNK = 4096


def dsprites_grid() -> FactorGrid:
    """The dSprites factor grid: 1 x 3 x 6 x 40 x 32 x 32 = 737,280 points, values as in the file.

    color [1.]; shape [1., 2., 3.] (square, ellipse, heart); scale linspace(0.5, 1, 6);
    orientation linspace(0, 2 pi, 40); posX and posY linspace(0, 1, 32).
    """
    f64 = torch.float64
    return FactorGrid(
        names=FACTOR_NAMES,
        values=(
            torch.tensor([1.0], dtype=f64),
            torch.tensor([1.0, 2.0, 3.0], dtype=f64),
            torch.linspace(0.5, 1.0, 6, dtype=f64),
            torch.linspace(0.0, 2 * math.pi, 40, dtype=f64),
            torch.linspace(0.0, 1.0, 32, dtype=f64),
            torch.linspace(0.0, 1.0, 32, dtype=f64),
        ),
    )


def render_dsprites(classes: Tensor, progress: bool = False) -> Tensor:
    """Render dSprites images for factor classes (M, 6) -> uint8 (M, 1, 64, 64) in {0, 1}.

    Holds all M images unpacked (4 KiB each); for large M use :func:`render_dsprites_packed`.
    """
    return render_dsprites_packed(classes, progress).unpack()


def render_dsprites_packed(classes: Tensor, progress: bool = False) -> PackedImages:
    """Render like :func:`render_dsprites`, packing each chunk of ``CHUNK`` images as it is drawn:
    the full grid needs its 360 MiB of packed bits plus about 100 MB, never the 2.8 GiB of
    unpacked images.

    Runs on one intra-op thread: each operation is small and memory-bound, and on a 2-core machine
    two threads were slower (1/3 of the grid: 0.7 s CPU on one thread, 4-11 s on two, whose
    synchronisation costs more than it saves, far more so when the CPU is shared).
    """
    grid = dsprites_grid()
    classes = grid.check_classes(classes, "dSprites")
    m = classes.shape[0]
    bits = torch.empty(m, IMAGE_SIZE * IMAGE_SIZE // 8, dtype=torch.uint8)
    buffer = torch.empty(CHUNK, IMAGE_SIZE * IMAGE_SIZE, dtype=torch.uint8)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        starts = range(0, m, CHUNK)
        for start in tqdm(starts, desc="rendering dSprites", unit="chunk", disable=not progress):
            chunk = classes[start : start + CHUNK]
            flat = buffer[: chunk.shape[0]].zero_()
            _render_chunk(grid.classes_to_values(chunk), chunk[:, 1], flat)
            bits[start : start + chunk.shape[0]] = pack_bits(flat)
    finally:
        torch.set_num_threads(threads)
    return PackedImages(bits, (m, 1, IMAGE_SIZE, IMAGE_SIZE))


def _render_chunk(values: Tensor, shape_class: Tensor, flat_out: Tensor) -> None:
    """Rasterise one chunk into ``flat_out`` (m, 4096): values (m, 6) float64, shape (m,) long."""
    m = values.shape[0]
    scale, theta = values[:, 2], torch.remainder(values[:, 3], 2 * math.pi)
    centre = POSITION_START + POSITION_SPAN * values[:, 4:6]  # (m, 2): x, y
    origin = torch.floor(centre) - PATCH // 2  # top-left pixel of the patch, (m, 2)
    # Pixel-centre offsets from the sprite centre along x (columns) and y (rows), in scale-1 units.
    steps = torch.arange(PATCH, dtype=torch.float64) + 0.5
    rel = (origin - centre).unsqueeze(-1) + steps  # (m, 2, PATCH)
    rel = rel / scale.view(m, 1, 1)
    cos, sin = torch.cos(theta).view(m, 1), torch.sin(theta).view(m, 1)
    dx, dy = rel[:, 0], rel[:, 1]
    # Sprite coordinates of each pixel: rotate by -theta (counter-clockwise on screen, y down).
    u_x, u_y = (cos * dx).float(), (sin * dy).float()  # u = cos dx - sin dy
    v_x, v_y = (sin * dx).float(), (cos * dy).float()  # v = sin dx + cos dy
    inside = torch.empty(m, PATCH, PATCH, dtype=torch.bool)
    for shape_index, test in enumerate((_in_square, _in_ellipse, _in_heart)):
        rows = (shape_class == shape_index).nonzero().squeeze(1)
        if rows.numel() == 0:
            continue
        u = u_x[rows].unsqueeze(1) - u_y[rows].unsqueeze(2)  # (r, PATCH rows, PATCH cols)
        v = v_x[rows].unsqueeze(1) + v_y[rows].unsqueeze(2)
        inside[rows] = test(u, v)
    origin = origin.long()
    corner = origin[:, 1] * IMAGE_SIZE + origin[:, 0]  # flat index of the patch's top-left pixel
    offsets = (torch.arange(PATCH) * IMAGE_SIZE).unsqueeze(1) + torch.arange(PATCH)
    index = corner.view(m, 1) + offsets.view(1, -1)
    flat_out.scatter_(1, index, inside.view(m, -1).to(torch.uint8))


def _in_square(u: Tensor, v: Tensor) -> Tensor:
    return torch.maximum(u.abs_(), v.abs_()) <= SQUARE_HALF_SIDE


def _in_ellipse(u: Tensor, v: Tensor) -> Tensor:
    a, b = ELLIPSE_SEMI_AXES
    return (u.div_(a).square_() + v.div_(b).square_()) <= 1.0


def _in_heart(u: Tensor, v: Tensor) -> Tensor:
    """Union of two lobes, each joined to the tip by its convex hull (a disc and a point).

    The hull of a disc (centre c, radius r) and a point t outside it is the disc plus the part of
    the cone from t tangent to the disc (half angle asin(r / |c - t|)) that lies no further along
    the axis than the tangent points (axial distance |c - t| cos^2). By symmetry it suffices to test
    (|u|, v) against the right lobe.
    """
    cu, cv = HEART_LOBE_CENTRE
    tu, tv = HEART_TIP
    r = HEART_LOBE_RADIUS
    length = math.hypot(cu - tu, cv - tv)
    au, av = (cu - tu) / length, (cv - tv) / length
    sin_half = r / length
    cos_half = math.sqrt(1.0 - sin_half**2)
    u = u.abs_()
    in_lobe = (u - cu).square() + (v - cv).square() <= r * r
    wu, wv = u.sub_(tu), v.sub_(tv)
    axial = wu * au + wv * av
    across = (wv * au - wu * av).abs_()
    in_cone = (across * cos_half <= axial * sin_half) & (axial <= length * cos_half**2)
    return in_lobe | in_cone
