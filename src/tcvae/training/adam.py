"""Adam with torch's fused kernel, without the machinery of ``torch.optim``.

The first use of any ``torch.optim`` optimizer imports the compiler stack (``torch._dynamo``,
SymPy): about 70 MiB of resident memory in a process that never compiles anything, a tenth of
what full-grid dSprites training needs (docs/datasets.md). :class:`FusedAdam` runs the very
update of ``torch.optim.Adam(fused=True)``, the kernel ``torch._fused_adam_`` (Kingma & Ba,
2015, Algorithm 1, one pass over all parameters), and keeps the state in the same layout:
its ``state_dict`` loads into ``torch.optim.Adam`` and back, bit for bit (tested), so
checkpoints written with either resume with either.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

# What torch.optim.Adam records for each parameter group besides lr, betas and eps.
FIXED_SETTINGS = {
    "weight_decay": 0,
    "amsgrad": False,
    "maximize": False,
    "foreach": None,
    "capturable": False,
    "differentiable": False,
    "fused": True,
    "decoupled_weight_decay": False,
}


class FusedAdam:
    """Adam over ``params`` (one group; no weight decay, no AMSGrad), updated in place by
    ``step()`` from their ``.grad``. ``param_groups[0]["lr"]`` may be changed between steps.

    The optimizer interface the trainer and ``torch.amp.GradScaler`` use: ``param_groups``,
    ``state`` (per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``), ``step``, ``zero_grad``,
    ``state_dict`` and ``load_state_dict``.
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        params = list(params)
        if not params:
            raise ValueError("FusedAdam got no parameters to optimise")
        if any(p.is_sparse or p.is_complex() for p in params):
            raise ValueError("FusedAdam optimises dense real parameters only")
        group = {"params": params, "lr": lr, "betas": tuple(betas), "eps": eps}
        self.param_groups: list[dict[str, Any]] = [group | FIXED_SETTINGS]
        self.state: dict[Tensor, dict[str, Tensor]] = {}

    def _state(self, p: Tensor) -> dict[str, Tensor]:
        if p not in self.state:
            self.state[p] = {
                "step": torch.zeros((), dtype=torch.float32, device=p.device),
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }
        return self.state[p]

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update of every parameter that has a gradient, grouped by device and dtype
        as the fused kernel needs."""
        group = self.param_groups[0]
        by_kind: dict[tuple[torch.device, torch.dtype], list[Tensor]] = {}
        for p in group["params"]:
            if p.grad is not None:
                by_kind.setdefault((p.device, p.dtype), []).append(p)
        beta1, beta2 = group["betas"]
        for params in by_kind.values():
            states = [self._state(p) for p in params]
            steps = [s["step"] for s in states]
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(
                params,
                [p.grad for p in params],
                [s["exp_avg"] for s in states],
                [s["exp_avg_sq"] for s in states],
                [],
                steps,
                amsgrad=False,
                lr=group["lr"],
                beta1=beta1,
                beta2=beta2,
                weight_decay=0.0,
                eps=group["eps"],
                maximize=False,
            )

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.param_groups[0]["params"]:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.zero_()

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim.Adam``'s layout: state by parameter position, the group's settings."""
        params = self.param_groups[0]["params"]
        state = {i: dict(self.state[p]) for i, p in enumerate(params) if p in self.state}
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        return {"state": state, "param_groups": [group | {"params": list(range(len(params)))}]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state saved by this class or by ``torch.optim.Adam`` over the same parameters."""
        groups = state_dict["param_groups"]
        params = self.param_groups[0]["params"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(params):
            raise ValueError(
                f"the saved optimizer state is for {sum(len(g['params']) for g in groups)} "
                f"parameters in {len(groups)} group(s), not these {len(params)} in one"
            )
        saved = groups[0]
        for key, value in FIXED_SETTINGS.items():
            if key not in ("foreach", "fused") and saved.get(key, value) != value:
                raise ValueError(f"the saved optimizer state has {key}={saved[key]!r}: not Adam")
        self.param_groups[0].update(lr=saved["lr"], betas=tuple(saved["betas"]), eps=saved["eps"])
        self.state = {}
        for position, p in zip(saved["params"], params):
            if position in state_dict["state"]:
                entry = state_dict["state"][position]
                self.state[p] = {
                    "step": entry["step"].to(torch.float32).to(p.device).reshape(()),
                    "exp_avg": entry["exp_avg"].to(p),
                    "exp_avg_sq": entry["exp_avg_sq"].to(p),
                }
