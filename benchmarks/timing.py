"""Timing shared by the benchmark scripts: variants run in alternation, so a busy CPU slows all
of them alike, and each figure is a median over rounds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping


def interleaved_medians(
    variants: Mapping[str, Callable[[int], object]], rounds: int, warmup: int = 1
) -> dict[str, float]:
    """Median seconds of each variant over ``rounds`` timed rounds after ``warmup`` untimed ones;
    within a round every variant runs once, in order, called with the round's index."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(warmup + rounds):
        for name, run in variants.items():
            start = time.perf_counter()
            run(i)
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}
