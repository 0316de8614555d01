"""Experiments: sweeps over method x beta x seed (locally or on Ray), biased training data, and
paper-style comparisons.

    spec = load_preset("mini")                 # or read_spec("my-sweep.toml")
    result = run_sweep(spec, "sweeps/mini")    # skips finished cells on re-runs
    compare_sweep("sweeps/mini")               # figures + compare.html
"""

from tcvae.experiments.compare import compare_sweep
from tcvae.experiments.grid import Cell, expand_grid
from tcvae.experiments.spec import SpecError, SweepSpec, load_preset, parse_spec, read_spec
from tcvae.experiments.sweep import SweepResult, run_sweep

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
