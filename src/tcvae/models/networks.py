"""The paper's encoder/decoder pairs for 64x64 images (REFERENCE.md section 8).

* MLP (dSprites): encoder (C*64*64)-1200-1200-(2D) with ReLU; decoder D-1200-1200-1200-(C*64*64)
  with tanh.
* Conv (3D faces): encoder convolutions with 32, 32, 64, 64 channels (4x4, stride 2: 64 -> 4
  pixels), then 512 channels (4x4, no padding: 4 -> 1), then a 1x1 convolution to 2D; batch norm
  and ReLU after every hidden layer. The decoder mirrors it with transposed convolutions.

``hidden`` scales the widths: the MLP's hidden width (paper: 1200), or the conv nets' base channel
count ``b`` (paper: 32), giving channels b, b, 2b, 2b and 16b. Encoders return (B, 2D) and
decoders (B, C, 64, 64) likelihood parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IMAGE_SIZE = 64
MLP_HIDDEN = 1200
CONV_BASE = 32


def binary_linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x W^T + b for binary inputs x (B, P) of dtype bool and W (H, P): row i is b plus the sum
    of the columns of W at the pixels that are on in x_i (an embedding-bag sum over rows of W^T).

    No float copy of x and none of the B P H multiply-adds by its zeros (a dSprites image has
    about 185 of its 4096 pixels on). Encoding reads binary images this way on a CPU
    (``VAE.batch_dtype``); ``benchmarks/bench_binary_input.py`` measures the speed.
    """
    if x.dim() != 2 or x.dtype != torch.bool:
        raise ValueError(
            f"binary_linear needs a (B, P) bool tensor, got {x.dtype} {tuple(x.shape)}"
        )
    rows, cols = x.nonzero(as_tuple=True)  # row-major: each image's pixels together
    counts = torch.bincount(rows, minlength=x.shape[0])
    out = F.embedding_bag(cols, weight.t().contiguous(), counts.cumsum(0) - counts, mode="sum")
    return out if bias is None else out + bias


class BinaryInputLinear(nn.Linear):
    """``nn.Linear`` that also takes binary inputs as bool tensors, through
    :func:`binary_linear`; floating-point inputs go through ``nn.Linear`` as usual. Same
    parameters and state dict as ``nn.Linear``."""

    def forward(self, x: Tensor) -> Tensor:
        if x.dtype == torch.bool:
            return binary_linear(x, self.weight, self.bias)
        return super().forward(x)


def reads_binary(encoder: nn.Module) -> bool:
    """Whether ``encoder`` takes bool images as they are (its first layer after any flattening
    is a :class:`BinaryInputLinear`); other encoders need them as floats."""
    first = next((m for m in encoder.children() if not isinstance(m, nn.Flatten)), None)
    return isinstance(first, BinaryInputLinear)


def mlp_encoder(channels: int, latent_dim: int, hidden: int = MLP_HIDDEN) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(),
        BinaryInputLinear(channels * IMAGE_SIZE * IMAGE_SIZE, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 2 * latent_dim),
    )


def mlp_decoder(channels: int, latent_dim: int, hidden: int = MLP_HIDDEN) -> nn.Module:
    return nn.Sequential(
        nn.Linear(latent_dim, hidden),
        nn.Tanh(),
        nn.Linear(hidden, hidden),
        nn.Tanh(),
        nn.Linear(hidden, hidden),
        nn.Tanh(),
        nn.Linear(hidden, channels * IMAGE_SIZE * IMAGE_SIZE),
        nn.Unflatten(1, (channels, IMAGE_SIZE, IMAGE_SIZE)),
    )


def _block(conv: type[nn.Module], c_in: int, c_out: int, *shape: int) -> list[nn.Module]:
    """``conv`` (kernel, stride, padding = ``shape``) without bias, then batch norm and ReLU."""
    return [conv(c_in, c_out, *shape, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def conv_encoder(channels: int, latent_dim: int, base: int = CONV_BASE) -> nn.Module:
    widths = [channels, base, base, 2 * base, 2 * base]
    layers: list[nn.Module] = []
    for c_in, c_out in zip(widths[:-1], widths[1:]):
        layers += _block(nn.Conv2d, c_in, c_out, 4, 2, 1)  # halves the side: 64, 32, 16, 8 -> 4
    layers += _block(nn.Conv2d, 2 * base, 16 * base, 4, 1, 0)  # 4x4 -> 1x1
    layers += [nn.Conv2d(16 * base, 2 * latent_dim, 1), nn.Flatten()]
    return nn.Sequential(*layers)


def conv_decoder(channels: int, latent_dim: int, base: int = CONV_BASE) -> nn.Module:
    layers: list[nn.Module] = [nn.Unflatten(1, (latent_dim, 1, 1))]
    layers += _block(nn.ConvTranspose2d, latent_dim, 16 * base, 1, 1, 0)
    layers += _block(nn.ConvTranspose2d, 16 * base, 2 * base, 4, 1, 0)  # 1x1 -> 4x4
    widths = [2 * base, 2 * base, base, base]
    for c_in, c_out in zip(widths[:-1], widths[1:]):  # each doubles the side: 4 -> 8, 16, 32
        layers += _block(nn.ConvTranspose2d, c_in, c_out, 4, 2, 1)
    layers.append(nn.ConvTranspose2d(base, channels, 4, 2, 1))  # 32 -> 64
    return nn.Sequential(*layers)


ARCHITECTURES = {
    "mlp": (mlp_encoder, mlp_decoder, MLP_HIDDEN),
    "conv": (conv_encoder, conv_decoder, CONV_BASE),
}


def build_networks(
    arch: str, channels: int, latent_dim: int, hidden: int | None = None
) -> tuple[nn.Module, nn.Module]:
    """(encoder, decoder) of architecture ``arch``; ``hidden=None`` means the paper's width."""
    encoder, decoder, default = ARCHITECTURES[arch]
    width = default if hidden is None else hidden
    return encoder(channels, latent_dim, width), decoder(channels, latent_dim, width)
