"""The JSON form shared by the metric result dataclasses."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


def result_dict(result: Any, *first: str) -> dict[str, Any]:
    """A dataclass result as a JSON-ready dict: ``protocol`` and the ``first`` fields lead, then
    the rest in declaration order; arrays become nested lists (NaN as None), tuples lists."""
    out: dict[str, Any] = {}
    for key in ("protocol", *first, *(f.name for f in dataclasses.fields(result))):
        if key in out:
            continue
        value = getattr(result, key)
        if isinstance(value, np.ndarray):
            if value.dtype.kind == "f" and np.isnan(value).any():
                value = np.where(np.isnan(value), None, value)
            value = value.tolist()
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out
