"""Experiments: sweeps over method x beta x seed (locally or on Ray), biased training data, and
paper-style comparisons.

    spec = load_preset("mini")                 # or read_spec("my-sweep.toml")
    result = run_sweep(spec, "sweeps/mini")    # skips finished cells on re-runs
    compare_sweep("sweeps/mini")               # figures + compare.html

The names load on first use (``tcvae.lazy``): running a sweep's cells needs neither matplotlib nor
SciPy, which only the comparison imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tcvae.lazy import lazy_exports

_EXPORTS = {
    "compare_sweep": "tcvae.experiments.compare",
    "Cell": "tcvae.experiments.grid",
    "expand_grid": "tcvae.experiments.grid",
    "SpecError": "tcvae.experiments.spec",
    "SweepSpec": "tcvae.experiments.spec",
    "load_preset": "tcvae.experiments.spec",
    "parse_spec": "tcvae.experiments.spec",
    "read_spec": "tcvae.experiments.spec",
    "SweepResult": "tcvae.experiments.sweep",
    "run_sweep": "tcvae.experiments.sweep",
}

__all__ = [
    "Cell",
    "SpecError",
    "SweepResult",
    "SweepSpec",
    "compare_sweep",
    "expand_grid",
    "load_preset",
    "parse_spec",
    "read_spec",
    "run_sweep",
]

if not TYPE_CHECKING:  # type checkers see the imports below, and flag misspelt names
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from tcvae.experiments.compare import compare_sweep
    from tcvae.experiments.grid import Cell, expand_grid
    from tcvae.experiments.spec import SpecError, SweepSpec, load_preset, parse_spec, read_spec
    from tcvae.experiments.sweep import SweepResult, run_sweep
