"""Device and precision rules of a training run.

* Device ``auto``: CUDA when available, else CPU; under torchrun each rank takes its local GPU.
* Precision ``auto``: bf16 autocast where the hardware computes bf16 natively (a CUDA device that
  supports it, or a CPU with AVX512-BF16 or AMX-BF16), else fp32. ``fp16`` needs CUDA (gradient
  scaling); on CPU, bf16 is the fast reduced precision. Either way only the networks run in the
  reduced precision: :meth:`tcvae.models.VAE.forward` returns float32 posterior parameters,
  samples and likelihood parameters, so the estimators and the loss stay in float32.
"""

from __future__ import annotations

import torch

from tcvae.training import distributed as D
from tcvae.training.config import ConfigError, option_name

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str, info: D.DistInfo) -> torch.device:
    """'auto' -> CUDA if available else CPU; under torchrun each rank takes cuda:LOCAL_RANK."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"{option_name('run.device')} is {name!r} but no CUDA device is available; "
                "use --device cpu or auto"
            )
        if name == "cuda":
            return torch.device("cuda", info.local_rank if info.enabled else 0)
    return torch.device(name)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (AVX512-BF16 or AMX-BF16)."""
    try:
        capability = torch._C._cpu._get_cpu_capability()
    except (AttributeError, RuntimeError):  # an older torch: be conservative
        return False
    return bool(capability.get("avx512_bf16") or capability.get("amx_bf16"))


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 autocast natively (faster than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return cpu_has_native_bf16()
    return False


def resolve_precision(name: str, device: torch.device) -> str:
    """'auto' -> 'bf16' where ``device`` computes bf16 natively, else 'fp32'; checks that the
    requested precision can run on ``device``."""
    if name == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if name == "fp16" and device.type != "cuda":
        raise ConfigError(
            f"{option_name('run.precision')} fp16 needs a CUDA device; use --precision bf16 "
            "(or auto) on CPU"
        )
    return name
