"""What the metric result dataclasses share: their JSON form, and their tables in a notebook."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from tcvae.markup import esc, paragraph, table


def result_dict(result: Any) -> dict[str, Any]:
    """A dataclass result as a JSON-ready dict: ``protocol`` (where it has one) leads, then the
    fields in declaration order (a metric's scores first); arrays become nested lists, tuples
    lists, and NaN, in arrays or alone, becomes None (JSON's null)."""
    lead = ("protocol",) if hasattr(result, "protocol") else ()
    out: dict[str, Any] = {}
    for key in dict.fromkeys((*lead, *(f.name for f in dataclasses.fields(result)))):
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


class ShownAsTables:
    """A metric result (a dataclass) with its JSON form, which Jupyter shows as tables; the
    single numbers are named by ``labels`` where it has them, else by their keys."""

    labels: ClassVar[Mapping[str, str]] = {}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (arrays as nested lists; see :func:`result_dict`)."""
        return result_dict(self)

    def _repr_html_(self) -> str:
        return result_html(type(self).__name__, self.to_dict(), self.labels)


def result_html(title: str, values: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """A result's JSON form as HTML tables: its protocol, its single numbers (each beside its
    ``key_stderr``, where there is one), then its arrays of one number per factor or per latent
    dimension, then each matrix (rows and columns named by factor, or ``z_j`` for latent
    dimension j, where a length matches the factor count K)."""
    names = [str(n) for n in values.get("factor_names") or ()]
    scalars: dict[str, Any] = {}
    per_factor: dict[str, list] = {}
    per_index: dict[int, dict[str, list]] = {}
    matrices: dict[str, list[list]] = {}
    for key, value in values.items():
        if key in ("protocol", "factor_names") or value is None or value == []:
            continue
        if not isinstance(value, list):
            scalars[key] = value
        elif isinstance(value[0], list):
            matrices[key] = value
        elif names and len(value) == len(names):
            per_factor[key] = value
        else:
            per_index.setdefault(len(value), {})[key] = value
    parts = [f"<p><strong>{esc(title)}</strong></p>"]
    if values.get("protocol"):
        parts.append(paragraph(values["protocol"], "note"))
    stderr = {
        key: scalars.pop(f"{key}_stderr") for key in list(scalars) if f"{key}_stderr" in scalars
    }
    rows = [(labels.get(key, key), value, stderr.get(key, "")) for key, value in scalars.items()]
    header = ("quantity", "value", "standard error")
    parts.append(table(rows, header) if stderr else table([r[:2] for r in rows], header[:2]))
    if per_factor:
        parts.append(_columns(names, per_factor, "factor"))
    for length, columns in per_index.items():
        parts.append(_columns([f"z{j}" for j in range(length)], columns, "latent"))
    for key, rows in matrices.items():
        row_names = names if len(rows) == len(names) else [f"z{i}" for i in range(len(rows))]
        width = len(rows[0])
        factor_columns = row_names is not names and width == len(names)
        col_names = names if factor_columns else [f"z{j}" for j in range(width)]
        parts.append(paragraph(key))
        parts.append(
            table(([r, *map(_cell, row)] for r, row in zip(row_names, rows)), ["", *col_names])
        )
    return "\n".join(parts)


def _columns(row_names: list[str], columns: Mapping[str, list], what: str) -> str:
    """One row per name, one column per array."""
    rows = ([name, *(_cell(c[i]) for c in columns.values())] for i, name in enumerate(row_names))
    return table(rows, header=(what, *columns))


def _cell(value: Any) -> Any:
    """A table cell: NaN (None in the JSON form) as an empty cell."""
    return "" if value is None else value
