"""The JSON form shared by the metric result dataclasses."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np


def result_dict(result: Any, *first: str) -> dict[str, Any]:
    """A dataclass result as a JSON-ready dict: ``protocol`` (where it has one) and the ``first``
    fields lead, then the rest in declaration order; arrays become nested lists, tuples lists,
    and NaN, in arrays or alone, becomes None (JSON's null)."""
    lead = ("protocol",) if hasattr(result, "protocol") else ()
    out: dict[str, Any] = {}
    for key in (*lead, *first, *(f.name for f in dataclasses.fields(result))):
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
        if isinstance(value, float) and math.isnan(value):
            value = None
        out[key] = value
    return out
