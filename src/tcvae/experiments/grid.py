"""Grid expansion: a spec's method x beta x seed x option axes as a list of cells.

The VAE ignores beta (its objective is the ELBO, every weight 1), so it gets one cell per seed and
option combination, recorded with beta = 1, instead of one duplicate per beta.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from tcvae.experiments.spec import METHOD_LABELS, SpecError, SweepSpec

_UNSAFE = re.compile(r"[^A-Za-z0-9.=+-]+")


@dataclass(frozen=True)
class Cell:
    """One training run of a sweep; ``options`` maps ``section.option`` to the swept value."""

    cell_id: str
    method: str
    beta: float
    seed: int
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def series(self) -> str:
        """The method and any swept option values: the curves ``tcvae compare`` draws."""
        opts = [f"{key.rsplit('.', 1)[-1]}={_format(v)}" for key, v in self.options.items()]
        return " ".join([self.method, *opts])


def _format(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def cell_id(method: str, beta: float | None, seed: int, options: dict[str, Any]) -> str:
    """A readable, file-system safe name such as ``beta-tcvae-mss_beta4_seed0_lr0.0003``."""
    parts = [method] + ([] if beta is None else [f"beta{_format(beta)}"]) + [f"seed{seed}"]
    parts += [f"{key.rsplit('.', 1)[-1]}{_format(v)}" for key, v in options.items()]
    return "_".join(_UNSAFE.sub("-", p) for p in parts)


def expand_grid(spec: SweepSpec) -> list[Cell]:
    """Every cell of ``spec`` in a stable order (method, beta, options, seed)."""
    option_keys = list(spec.options)
    combos = [dict(zip(option_keys, vals)) for vals in itertools.product(*spec.options.values())]
    cells: list[Cell] = []
    for method in spec.methods:
        ignores_beta = METHOD_LABELS[method][0] == "vae"
        betas: tuple[float | None, ...] = (None,) if ignores_beta else spec.betas
        for beta, options, seed in itertools.product(betas, combos, spec.seeds):
            cells.append(
                Cell(cell_id(method, beta, seed, options), method, beta or 1.0, seed, options)
            )
    ids = [c.cell_id for c in cells]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise SpecError(
            f"sweep spec: grid values give clashing cell names {dupes[:3]}; "
            "make the swept values distinct when printed"
        )
    return cells
