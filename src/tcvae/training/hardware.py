"""Device and precision rules of a training run.

* Device ``auto``: CUDA when available, else CPU; under torchrun each rank takes its local GPU.
* Precision ``auto``: bf16 autocast where the hardware computes bf16 natively (a CUDA device that
  supports it, or a CPU with AVX512-BF16 or AMX-BF16), else fp32. ``fp16`` needs CUDA (gradient
  scaling); on CPU, bf16 is the fast reduced precision. Either way only the networks run in the
  reduced precision: :meth:`tcvae.models.VAE.forward` returns float32 posterior parameters,
  samples and likelihood parameters, so the estimators and the loss stay in float32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


CPUINFO = Path("/proc/cpuinfo")
# The CPU features that decide how fast (and with which kernels) a run computes, as
# /proc/cpuinfo names them: bf16 matrix units, bf16 dot products, 512- and 256-bit vectors.
REPORTED_FLAGS = ("amx_bf16", "avx512_bf16", "avx512f", "avx2")


def cpu_flags(path: Path = CPUINFO) -> frozenset[str]:
    """The feature flags of this machine's first CPU (empty where /proc/cpuinfo is absent)."""
    try:
        text = path.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def cpu_has_native_bf16(path: Path = CPUINFO) -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (AVX512-BF16 or AMX-BF16)."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags(path))


def cpu_description(path: Path = CPUINFO) -> str:
    """The CPU features a run's numbers depend on, e.g. 'avx512_bf16 avx512f avx2' ('' when
    unknown), for run summaries and reports."""
    flags = cpu_flags(path)
    return " ".join(f for f in REPORTED_FLAGS if f in flags)


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


def run_hardware(device: torch.device, precision: str, threads: int | None) -> dict[str, Any]:
    """What a run computed on: device, resolved precision, CPU threads and the CPU's features
    (its summary and report show it, since results at rounding level depend on all four)."""
    facts: dict[str, Any] = {"device": str(device), "precision": precision}
    if device.type == "cpu":
        facts["threads"] = threads
    facts["cpu_features"] = cpu_description() or "unknown"
    return facts


def describe_hardware(facts: dict[str, Any]) -> str:
    """One line for logs: 'cpu, fp32, 2 threads, CPU avx512_bf16 avx512f avx2'."""
    parts = [facts["device"], facts["precision"]]
    if facts.get("threads") is not None:
        parts.append(f"{facts['threads']} thread{'s' if facts['threads'] != 1 else ''}")
    parts.append(f"CPU {facts['cpu_features']}")
    return ", ".join(parts)
