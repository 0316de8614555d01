"""Data sets by name: ``load_dataset("dsprites")``. Add a data set by adding its loader here."""

from __future__ import annotations

import os
from collections.abc import Callable

from tcvae.data.dsprites import load_dsprites
from tcvae.data.ground_truth import DataError, GroundTruthData

# name -> loader(source, cache_dir, progress) returning the whole data set.
DATASETS: dict[str, Callable[[str, str | os.PathLike | None, bool], GroundTruthData]] = {
    "dsprites": load_dsprites,
}


def load_dataset(
    name: str = "dsprites",
    source: str = "auto",
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> GroundTruthData:
    """Load data set ``name`` from ``source`` ("auto", "builtin" or "file"; see its loader)."""
    try:
        loader = DATASETS[name]
    except KeyError:
        raise DataError(
            f"unknown data set {name!r}; known data sets: {', '.join(sorted(DATASETS))}"
        ) from None
    return loader(source, cache_dir, progress)
