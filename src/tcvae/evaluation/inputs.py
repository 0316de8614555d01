"""Validation of the arrays handed to the metrics: posterior parameters, codes, factor classes.

Every metric accepts numpy arrays or torch tensors and checks them once, here, at its public entry
point; the messages say what was expected, what was given and how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from tcvae.errors import TcvaeError

ArrayLike = Tensor | np.ndarray


class EvaluationError(TcvaeError):
    """The inputs of a metric are inconsistent or unusable."""


def as_float_matrix(x: ArrayLike, name: str) -> Tensor:
    """A finite (N, D) float64 CPU tensor from a numpy array or tensor."""
    if not isinstance(x, Tensor | np.ndarray):
        raise EvaluationError(
            f"{name} must be a numpy array or torch tensor, got {type(x).__name__}"
        )
    t = torch.as_tensor(x).detach().to("cpu", torch.float64)
    if t.ndim != 2 or t.shape[0] < 1 or t.shape[1] < 1:
        raise EvaluationError(
            f"{name} must have shape (N, D) with N, D >= 1, got {tuple(t.shape)}; "
            "pass one row per data point and one column per latent dimension"
        )
    if not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).any(1).sum())
        raise EvaluationError(
            f"{name} contains NaN or infinite values in {bad} of {t.shape[0]} rows; "
            "check the encoder output (a diverged model produces NaNs)"
        )
    return t


def as_posterior_params(mean: ArrayLike, logvar: ArrayLike) -> tuple[Tensor, Tensor]:
    """Posterior means and log-variances, both (N, D) float64, checked to match."""
    mean = as_float_matrix(mean, "mean")
    logvar = as_float_matrix(logvar, "logvar")
    if mean.shape != logvar.shape:
        raise EvaluationError(
            f"mean and logvar must have the same shape, got {tuple(mean.shape)} and "
            f"{tuple(logvar.shape)}"
        )
    return mean, logvar


def as_factor_classes(classes: ArrayLike, num_points: int) -> Tensor:
    """Factor classes (N, K) as a long tensor; any integer labels are accepted."""
    if not isinstance(classes, Tensor | np.ndarray):
        raise EvaluationError(
            f"factor_classes must be a numpy array or torch tensor, got {type(classes).__name__}"
        )
    t = torch.as_tensor(classes).detach().cpu()
    if t.ndim == 1:
        t = t.unsqueeze(1)
    if t.ndim != 2:
        raise EvaluationError(f"factor_classes must have shape (N, K), got {tuple(t.shape)}")
    if t.shape[0] != num_points:
        raise EvaluationError(
            f"factor_classes has {t.shape[0]} rows but the representation has {num_points}; "
            "pass the classes of exactly the encoded points, in the same order"
        )
    if t.dtype.is_floating_point:
        if not bool(torch.isfinite(t).all()) or not bool((t == t.round()).all()):
            raise EvaluationError(
                "factor_classes must hold integer class labels; got non-integer values "
                "(pass the classes, not the continuous factor values)"
            )
    elif t.dtype == torch.bool or t.dtype.is_complex:
        raise EvaluationError(f"factor_classes must be integers, got dtype {t.dtype}")
    return t.to(torch.long)


def resolve_factors(
    classes: Tensor,
    factor_names: Sequence[str] | None,
    factors: Sequence[str | int] | None,
) -> tuple[list[int], list[str]]:
    """Indices and names of the factors to score.

    ``factors`` picks factors by name or column index; by default every factor with more than
    one distinct value is scored. Each scored factor must take at least two values.
    """
    k_total = classes.shape[1]
    if factor_names is None:
        names = [f"factor_{k}" for k in range(k_total)]
    else:
        names = [str(n) for n in factor_names]
        if len(names) != k_total:
            raise EvaluationError(
                f"factor_names has {len(names)} entries but factor_classes has {k_total} columns"
            )
    num_values = [int(dense_labels(classes[:, k])[1].numel()) for k in range(k_total)]
    if factors is None:
        chosen = [k for k in range(k_total) if num_values[k] > 1]
        if not chosen:
            raise EvaluationError(
                "no factor takes more than one value in these points; a metric needs at least "
                "one varying factor"
            )
    else:
        if isinstance(factors, str | int):
            factors = [factors]
        chosen = []
        for f in factors:
            if isinstance(f, str):
                if f not in names:
                    raise EvaluationError(f"unknown factor {f!r}; known factors: {names}")
                k = names.index(f)
            elif isinstance(f, int | np.integer) and 0 <= int(f) < k_total:
                k = int(f)
            else:
                raise EvaluationError(
                    f"factor {f!r} is neither a factor name nor a column index in [0, {k_total})"
                )
            if k in chosen:
                raise EvaluationError(f"factor {names[k]!r} is listed twice")
            if num_values[k] < 2:
                raise EvaluationError(
                    f"factor {names[k]!r} takes a single value in these points, so its entropy "
                    "is 0 and the normalised gap is undefined; leave it out of `factors`"
                )
            chosen.append(k)
        if not chosen:
            raise EvaluationError("`factors` is empty; name at least one factor to score")
    return chosen, [names[k] for k in chosen]


def dense_labels(column: Tensor) -> tuple[Tensor, Tensor]:
    """Labels 0..V-1 for the distinct values of one factor column, and the count of each.

    Small non-negative classes (the usual case) take an O(N) bincount instead of a sort.
    """
    if column.numel() and int(column.min()) >= 0 and int(column.max()) < 4 * column.numel():
        counts = torch.bincount(column)
        present = counts > 0
        return (torch.cumsum(present, 0) - 1)[column], counts[present]
    _, labels, counts = torch.unique(column, return_inverse=True, return_counts=True)
    return labels, counts


def plugin_entropy(counts: Tensor) -> Tensor:
    """H(v) = -sum_v p_v log p_v in nats, p_v = counts / N (empty classes are left out)."""
    p = counts[counts > 0].to(torch.float64) / counts.sum()
    return -(p * p.log()).sum()


def check_counts(**settings: tuple[int, int]) -> list[int]:
    """Each setting, given as (value, minimum), as an int; one error names every one too small."""
    low = {name: value for name, (value, least) in settings.items() if int(value) < least}
    if low:
        raise EvaluationError(
            "needs "
            + " and ".join(f"{name} >= {settings[name][1]}" for name in low)
            + ", got "
            + ", ".join(f"{name}={value}" for name, value in low.items())
        )
    return [int(value) for value, _ in settings.values()]


def check_drawn(labels: np.ndarray, names: Sequence[str]) -> None:
    """Refuse drawn points whose labels (M, K) leave a factor with a single value."""
    flat = [name for name, column in zip(names, labels.T) if np.unique(column).size < 2]
    if flat:
        raise EvaluationError(
            f"factor(s) {flat} take one value in the {len(labels)} points drawn; raise the "
            "number of points drawn (num_points, num_train)"
        )


def codes_and_labels(
    codes: ArrayLike,
    factor_classes: ArrayLike,
    factor_names: Sequence[str] | None,
    factors: Sequence[str | int] | None,
    why: str = "",
    min_dims: int = 1,
    min_factors: int = 1,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Checked codes (N, D) float64, the scored factors' labels (N, K) in 0..V_k-1, their names.

    The shared entry of the metrics on codes (numpy, for scikit-learn). ``why`` says why the
    metric needs D >= ``min_dims`` code dimensions and K >= ``min_factors`` scored factors.
    """
    codes_t = as_float_matrix(codes, "codes")
    classes = as_factor_classes(factor_classes, codes_t.shape[0])
    columns, names = resolve_factors(classes, factor_names, factors)
    if codes_t.shape[1] < min_dims or len(names) < min_factors:
        raise EvaluationError(
            f"{why}, so it needs D >= {min_dims} code dimensions and K >= {min_factors} scored "
            f"factors, got D={codes_t.shape[1]} and factors {names}; score a representation "
            "with more dimensions, or more factors"
        )
    labels = torch.stack([dense_labels(classes[:, k])[0] for k in columns], 1)
    return codes_t.numpy(), labels.numpy(), names
