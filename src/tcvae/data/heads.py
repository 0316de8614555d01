"""The built-in 3D faces: a parametric head rendered by analytic ray casting (REFERENCE.md s8).

A stand-in for the paper's Basel Face Model renders with the same factor structure: 50 identities
x 21 azimuths x 11 elevations x 11 lighting directions = 127,050 greyscale 64 x 64 images, in that
C order. It is *not* the Basel data: the heads are unions of ellipsoids, so only the structure
(which factors exist, how many values each has, what each one does to the picture) carries over.

Scene (head frame: x to the head's left as seen by the camera, y up, z out of the face):

* The head is ten ellipsoids: cranium, jaw, nose, mouth, and a pair each of eyes, brows and ears,
  placed mirror-symmetrically about x = 0. Eyes, brows and mouth are darker than the skin.
* Identities scale the ellipsoids (head width and height, jaw, nose length, width and depth, ear
  size, eye spacing, brow height and thickness) and the skin's brightness, by factors drawn once
  from a generator seeded with ``IDENTITY_SEED``: the same identity always has the same head.
* Azimuth turns the head about the vertical axis (positive: the nose moves to the right of the
  picture), elevation tilts it about the horizontal axis (positive: the face looks up).
* Lighting moves one directional light along an arc in front of the head, from the left of the
  picture to its right, ``LIGHT_ELEVATION`` above the horizon, plus ambient light
  (Lambertian shading: albedo * (ambient + (1 - ambient) * max(0, n . l))); background black.
* Orthographic camera along -z; pixel (i, j) looks along the ray through
  x = w ((j + 0.5) / 32 - 1), y = w (1 - (i + 0.5) / 32), w = ``VIEW_HALF_WIDTH``. One ray per
  pixel, no anti-aliasing.

The ray casting is exact and vectorised: for an orthographic ray the ellipsoid's quadratic
A t^2 + 2 B t + C = 0 has A constant over the image and B, C polynomials of degree 1 and 2 in the
pixel's (x, y), so B and C for every pixel, ellipsoid and pose come from two matrix products.
Each geometry (identity, azimuth, elevation) is cast once and shaded for all its lights.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from tqdm import tqdm

from tcvae.data.ground_truth import FactorGrid

IMAGE_SIZE = 64
FACTOR_NAMES = ("identity", "azimuth", "elevation", "lighting")
FACTOR_SIZES = (50, 21, 11, 11)
MAX_AZIMUTH = math.radians(75.0)
MAX_ELEVATION = math.radians(30.0)
MAX_LIGHT_AZIMUTH = math.radians(70.0)
LIGHT_ELEVATION = math.radians(20.0)
AMBIENT = 0.12
IDENTITY_SEED = 20180312
VIEW_HALF_WIDTH = 0.9  # the picture spans [-0.9, 0.9] in x and y
GEOMETRY_CHUNK = 48  # poses cast at a time: about 25 MB per (pose, ellipsoid, pixel) tensor

# Ellipsoids of the average head: centre (x, y, z), semi-axes (x, y, z), albedo.
PARTS = {
    "cranium": ((0.0, 0.05, 0.0), (0.50, 0.66, 0.56), 1.0),
    "jaw": ((0.0, -0.42, 0.22), (0.30, 0.26, 0.30), 1.0),
    "nose": ((0.0, -0.08, 0.52), (0.085, 0.20, 0.14), 1.0),
    "mouth": ((0.0, -0.36, 0.49), (0.12, 0.03, 0.04), 0.5),
    "eye_r": ((-0.19, 0.08, 0.49), (0.085, 0.045, 0.05), 0.25),
    "eye_l": ((0.19, 0.08, 0.49), (0.085, 0.045, 0.05), 0.25),
    "brow_r": ((-0.19, 0.20, 0.47), (0.15, 0.045, 0.07), 0.45),
    "brow_l": ((0.19, 0.20, 0.47), (0.15, 0.045, 0.07), 0.45),
    "ear_r": ((-0.50, 0.02, -0.02), (0.06, 0.15, 0.10), 0.9),
    "ear_l": ((0.50, 0.02, -0.02), (0.06, 0.15, 0.10), 0.9),
}
# Identity variation: name -> (low, high) of a uniform factor, drawn per identity in this order.
VARIATION = {
    "head_width": (0.88, 1.12),
    "head_height": (0.90, 1.10),
    "jaw_width": (0.80, 1.20),
    "chin_drop": (-0.05, 0.05),
    "nose_length": (0.75, 1.30),
    "nose_width": (0.80, 1.30),
    "nose_depth": (0.70, 1.40),
    "eye_spacing": (-0.03, 0.03),
    "brow_height": (-0.04, 0.04),
    "brow_thickness": (0.70, 1.40),
    "ear_size": (0.80, 1.25),
    "skin": (0.75, 1.00),
}


def faces_grid() -> FactorGrid:
    """identity (50: 0..49), azimuth (21: -75..75 degrees), elevation (11: -30..30 degrees) and
    lighting (11: light azimuth -70..70 degrees), angles in radians."""
    f64 = torch.float64
    return FactorGrid(
        names=FACTOR_NAMES,
        values=(
            torch.arange(FACTOR_SIZES[0], dtype=f64),
            torch.linspace(-MAX_AZIMUTH, MAX_AZIMUTH, FACTOR_SIZES[1], dtype=f64),
            torch.linspace(-MAX_ELEVATION, MAX_ELEVATION, FACTOR_SIZES[2], dtype=f64),
            torch.linspace(-MAX_LIGHT_AZIMUTH, MAX_LIGHT_AZIMUTH, FACTOR_SIZES[3], dtype=f64),
        ),
    )


def identity_parts() -> tuple[Tensor, Tensor, Tensor]:
    """Every identity's ellipsoids: centres (50, E, 3), semi-axes (50, E, 3), albedo (50, E)."""
    gen = torch.Generator().manual_seed(IDENTITY_SEED)
    n = FACTOR_SIZES[0]
    draws = torch.rand(n, len(VARIATION), generator=gen, dtype=torch.float64)
    low, high = torch.tensor(list(VARIATION.values()), dtype=torch.float64).unbind(1)
    v = dict(zip(VARIATION, (low + (high - low) * draws).unbind(1)))
    centre = torch.tensor([c for c, _, _ in PARTS.values()], dtype=torch.float64).repeat(n, 1, 1)
    axes = torch.tensor([a for _, a, _ in PARTS.values()], dtype=torch.float64).repeat(n, 1, 1)
    albedo = torch.tensor([b for _, _, b in PARTS.values()], dtype=torch.float64).repeat(n, 1)
    k = {name: i for i, name in enumerate(PARTS)}
    for part in ("cranium", "jaw"):
        axes[:, k[part], 0] *= v["head_width"]
        axes[:, k[part], 1] *= v["head_height"]
    axes[:, k["jaw"], 0] *= v["jaw_width"]
    centre[:, k["jaw"], 1] -= v["chin_drop"]
    centre[:, k["mouth"], 1] -= v["chin_drop"] / 2
    axes[:, k["nose"], 0] *= v["nose_width"]
    axes[:, k["nose"], 1] *= v["nose_length"]
    axes[:, k["nose"], 2] *= v["nose_depth"]
    for side, sign in (("_r", -1.0), ("_l", 1.0)):
        centre[:, k["eye" + side], 0] += sign * v["eye_spacing"]
        centre[:, k["brow" + side], 0] += sign * v["eye_spacing"]
        centre[:, k["brow" + side], 1] += v["brow_height"]
        axes[:, k["brow" + side], 1] *= v["brow_thickness"]
        axes[:, k["ear" + side]] *= v["ear_size"].unsqueeze(1)
        centre[:, k["ear" + side], 0] = sign * axes[:, k["cranium"], 0]
    albedo *= v["skin"].unsqueeze(1)
    return centre, axes, albedo


def light_directions() -> Tensor:
    """Unit vectors towards the light, (11, 3), camera frame (x right, y up, z to the camera)."""
    phi = faces_grid().values[3]
    cos_up = math.cos(LIGHT_ELEVATION)
    return torch.stack(
        [
            torch.sin(phi) * cos_up,
            torch.full_like(phi, math.sin(LIGHT_ELEVATION)),
            torch.cos(phi) * cos_up,
        ],
        dim=1,
    )


def head_rotation(azimuth: Tensor, elevation: Tensor) -> Tensor:
    """Rotations (G, 3, 3) from head to camera frame: turn by ``azimuth`` about y (nose to +x),
    then tilt by ``elevation`` about x (nose to +y)."""
    ca, sa = torch.cos(azimuth), torch.sin(azimuth)
    ce, se = torch.cos(elevation), torch.sin(elevation)
    zero, one = torch.zeros_like(ca), torch.ones_like(ca)
    turn = torch.stack([ca, zero, sa, zero, one, zero, -sa, zero, ca], -1).view(-1, 3, 3)
    tilt = torch.stack([one, zero, zero, zero, ce, se, zero, -se, ce], -1).view(-1, 3, 3)
    return tilt @ turn


def _pixel_features() -> tuple[Tensor, Tensor]:
    """Per pixel: (x, y, 1) (P, 3) and (x^2, y^2, xy, x, y, 1) (P, 6), row-major pixels."""
    steps = (torch.arange(IMAGE_SIZE, dtype=torch.float64) + 0.5) / (IMAGE_SIZE / 2) - 1.0
    centres = VIEW_HALF_WIDTH * steps
    y, x = torch.meshgrid(-centres, centres, indexing="ij")
    x, y = x.reshape(-1), y.reshape(-1)
    one = torch.ones_like(x)
    return torch.stack([x, y, one], 1), torch.stack([x * x, y * y, x * y, x, y, one], 1)


def cast_heads(classes: Tensor) -> tuple[Tensor, Tensor]:
    """Ray-cast heads for geometry classes (G, 3) = (identity, azimuth, elevation).

    Returns unit normals in the camera frame (G, P, 3) and albedo (G, P), P = 64 * 64 pixels;
    both are 0 where the ray misses the head.
    """
    grid = faces_grid()
    centre, axes, albedo = (t[classes[:, 0]] for t in identity_parts())  # (G, E, 3), (G, E)
    rot = head_rotation(grid.values[1][classes[:, 1]], grid.values[2][classes[:, 2]])
    # Ray through pixel (x, y): origin x u + y v (z = 0), direction d, all in the head frame.
    u, v, d = rot[:, 0, :], rot[:, 1, :], -rot[:, 2, :]  # rows of R = columns of R^T, (G, 3)
    # Unit-sphere coordinates of ellipsoid e: q = x U + y V + K, direction D.
    su, sv = u.unsqueeze(1) / axes, v.unsqueeze(1) / axes  # (G, E, 3)
    k, sd = -centre / axes, d.unsqueeze(1) / axes
    a = (sd * sd).sum(-1)  # (G, E)
    half_b = torch.stack([(su * sd).sum(-1), (sv * sd).sum(-1), (k * sd).sum(-1)], -1)
    c = torch.stack(
        [
            (su * su).sum(-1),
            (sv * sv).sum(-1),
            2 * (su * sv).sum(-1),
            2 * (su * k).sum(-1),
            2 * (sv * k).sum(-1),
            (k * k).sum(-1) - 1.0,
        ],
        -1,
    )
    linear, quadratic = (t.float() for t in _pixel_features())
    a, half_b, c, su, sv, k, sd, axes, albedo, rot = (
        t.float() for t in (a, half_b, c, su, sv, k, sd, axes, albedo, rot)
    )
    b_pix = half_b @ linear.T  # (G, E, P)
    disc = b_pix.square() - a.unsqueeze(-1) * (c @ quadratic.T)
    hit = disc >= 0
    # Nearest hit: smallest t (the camera looks along -z from z = +infinity).
    t = (-b_pix - disc.clamp_(min=0).sqrt_()).div_(a.unsqueeze(-1))
    t = t.masked_fill_(~hit, math.inf)
    t_near, part = t.min(1)  # (G, P)
    inside = torch.isfinite(t_near)
    gather = part.unsqueeze(-1).expand(-1, -1, 3)
    su, sv, k, sd, axes = (torch.gather(t, 1, gather) for t in (su, sv, k, sd, axes))  # (G, P, 3)
    t_hit = t_near.masked_fill(~inside, 0).unsqueeze(-1)
    surface = linear[:, 0, None] * su + linear[:, 1, None] * sv + k + t_hit * sd  # q + t D
    normal = (surface / axes) @ rot.transpose(1, 2)  # ellipsoid gradient, to the camera frame
    normal = torch.nn.functional.normalize(normal, dim=-1) * inside.unsqueeze(-1)
    return normal, torch.gather(albedo, 1, part) * inside


def render_faces(classes: Tensor, progress: bool = False) -> Tensor:
    """Render faces for factor classes (M, 4) -> uint8 (M, 1, 64, 64), grey levels 0..255.

    Each distinct (identity, azimuth, elevation) is cast once and shaded for every lighting class
    asked for with it; the full grid takes about a minute on two cores (docs/reference/datasets.md).
    """
    grid = faces_grid()
    classes = grid.check_classes(classes, "face")
    m = classes.shape[0]
    out = torch.empty(m, IMAGE_SIZE * IMAGE_SIZE, dtype=torch.uint8)
    lighting = FACTOR_SIZES[3]  # the last factor: flat index // lighting is the geometry
    geometry = grid.classes_to_index(classes) // lighting
    unique, inverse = torch.unique(geometry, return_inverse=True)
    order = torch.argsort(inverse, stable=True)  # rows grouped by geometry
    ends = torch.bincount(inverse, minlength=unique.numel()).cumsum(0)
    lights = light_directions().float()
    starts = range(0, unique.numel(), GEOMETRY_CHUNK)
    for g0 in tqdm(starts, desc="rendering faces", unit="chunk", disable=not progress):
        g1 = min(g0 + GEOMETRY_CHUNK, unique.numel())
        normal, albedo = cast_heads(grid.index_to_classes(unique[g0:g1] * lighting)[:, :3])
        rows = order[(ends[g0 - 1] if g0 else 0) : ends[g1 - 1]]
        local = inverse[rows] - g0
        shade = torch.einsum("rpc,rc->rp", normal[local], lights[classes[rows, 3]]).clamp_(min=0)
        grey = albedo[local] * (AMBIENT + (1.0 - AMBIENT) * shade)
        out[rows] = grey.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8)
    return out.view(m, 1, IMAGE_SIZE, IMAGE_SIZE)
