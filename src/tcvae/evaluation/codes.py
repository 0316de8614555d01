"""A representation in a file: posterior means (and log-variances) with the factor classes of the
points they encode. ``tcvae encode`` writes one from a run; ``tcvae score`` scores one from any
framework with :func:`tcvae.evaluation.run.compute_metrics`.

The ``.npz`` layout (written with ``np.savez``, read with ``np.load(allow_pickle=False)``):

* ``mean``: float (N, D), the posterior means (a deterministic encoder's codes);
* ``logvar`` (optional): float (N, D), the posterior log-variances; the paper's MIG and the ELBO
  decomposition need them, every other metric reads the means alone;
* ``factor_classes`` (optional): integer (N, K), the factor classes of the same points, in the
  same order; without them give the data set whose order the codes follow (``--data``);
* ``factor_names`` (optional): K strings;
* ``dataset`` (optional): the data set's name (recorded in ``metrics.json``);
* ``posterior`` (optional): the posterior family, ``normal`` (the default) or ``laplace``;
* ``provenance`` (optional): a JSON string; ``tcvae encode`` records the run directory, its
  config, the weights file and its training step, the data encoded and the tcvae version.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from tcvae.data.ground_truth import GroundTruthData
from tcvae.data.registry import DATASETS, is_npz_path
from tcvae.evaluation.encode import encode_dataset
from tcvae.evaluation.inputs import EvaluationError, as_float_matrix
from tcvae.files import atomic_write

LAYOUT_HINT = (
    "save codes with np.savez(path, mean=means (N, D), logvar=log-variances (N, D), optional, "
    "factor_classes=classes (N, K), optional, factor_names=names (K,), optional)"
)


@dataclass(frozen=True)
class Codes:
    """Posterior parameters of N points and what is known about them (the module's layout).

    mean, logvar: float (N, D) (logvar None for means alone); factor_classes: int64 (N, K) or
    None; factor_names: K names, () without classes; provenance: where the codes came from.
    """

    mean: np.ndarray
    logvar: np.ndarray | None = None
    factor_classes: np.ndarray | None = None
    factor_names: tuple[str, ...] = ()
    dataset: str | None = None
    posterior: str = "normal"
    provenance: dict[str, Any] = field(default_factory=dict)

    def with_factors(
        self, classes: np.ndarray, names: tuple[str, ...], dataset: str, source: str
    ) -> Codes:
        """These codes with the factor classes and names of ``source``, checked to match."""
        if classes.shape[0] != self.mean.shape[0]:
            raise EvaluationError(
                f"the codes have {self.mean.shape[0]} rows but {source} has {classes.shape[0]} "
                "points; encode every point of the data set, in its order, or give the codes' "
                "own factor_classes"
            )
        return replace(self, factor_classes=classes, factor_names=names, dataset=dataset)


def save_codes(path: str | Path, codes: Codes) -> Path:
    """Write ``codes`` to ``path`` (an ``.npz``, written whole or not at all)."""
    arrays: dict[str, np.ndarray] = {"mean": codes.mean}
    if codes.logvar is not None:
        arrays["logvar"] = codes.logvar
    if codes.factor_classes is not None:
        arrays["factor_classes"] = codes.factor_classes
        arrays["factor_names"] = np.array(codes.factor_names, dtype=str)
    if codes.dataset is not None:
        arrays["dataset"] = np.array(codes.dataset)
    arrays["posterior"] = np.array(codes.posterior)
    arrays["provenance"] = np.array(json.dumps(codes.provenance))
    path = Path(path)
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def load_codes(path: str | Path) -> Codes:
    """Read and check codes in the module's layout (never unpickles)."""
    path = Path(path).expanduser()
    arrays = _read(path)
    if "mean" not in arrays:
        raise EvaluationError(
            f"{path} has no 'mean' array (it holds {sorted(arrays)}); {LAYOUT_HINT}"
        )
    mean = _float_matrix(arrays["mean"], "mean", path)
    logvar = arrays.get("logvar")
    if logvar is not None:
        logvar = _float_matrix(logvar, "logvar", path)
        if logvar.shape != mean.shape:
            raise EvaluationError(
                f"{path}: logvar has shape {logvar.shape} but mean has {mean.shape}; give one "
                "log-variance per mean"
            )
    classes, names = arrays.get("factor_classes"), arrays.get("factor_names")
    if classes is not None:
        classes, names = _factors(classes, names, path)
        if classes.shape[0] != mean.shape[0]:
            raise EvaluationError(
                f"{path}: factor_classes has {classes.shape[0]} rows but mean has "
                f"{mean.shape[0]}; give the classes of exactly the encoded points, in order"
            )
    elif names is not None:
        raise EvaluationError(f"{path}: factor_names without factor_classes; give both")
    return Codes(
        mean,
        logvar,
        classes,
        names or (),
        _string(arrays, "dataset", path),
        _string(arrays, "posterior", path) or "normal",
        json.loads(_string(arrays, "provenance", path) or "{}"),
    )


def data_factors(data: str) -> tuple[np.ndarray, tuple[str, ...], str]:
    """The factor classes (N, K), names and name of ``data``: a registered data set (its whole
    factor grid, in the order its images are loaded) or an ``.npz`` holding ``factor_classes``
    (a data set or a codes file; only those arrays are read)."""
    if is_npz_path(data):
        path = Path(data).expanduser()
        arrays = _read(path, ("factor_classes", "factor_names"))
        if "factor_classes" not in arrays:
            raise EvaluationError(
                f"{path} has no factor_classes; the metrics need the factor classes of the "
                "encoded points"
            )
        classes, names = _factors(arrays["factor_classes"], arrays.get("factor_names"), path)
        return classes, names, path.stem
    if data not in DATASETS:
        raise EvaluationError(
            f"--data: unknown data set {data!r}; known data sets: {sorted(DATASETS)}, or an .npz "
            "with factor_classes"
        )
    grid = DATASETS[data].grid()
    return grid.all_classes().numpy(), tuple(grid.names), data


def encode_run(
    run_dir: str | Path,
    data: GroundTruthData | None = None,
    batch_size: int = 2048,
    device: str = "cpu",
    progress: bool = False,
) -> Codes:
    """Posterior means and log-variances of every image of the run's data set (or of ``data``),
    with its factor classes and names when it has them, and the run's provenance."""
    from importlib.metadata import version

    from tcvae.training.config import to_dict
    from tcvae.training.runs import load_run

    run = load_run(run_dir, device=device)
    if data is None:
        data = run.dataset()
    mean, logvar = encode_dataset(run.model, data, batch_size, device, progress)
    provenance = {
        "run_dir": str(run.run_dir),
        "config": to_dict(run.config),
        "weights": str(run.weights),
        "step": run.step,
        "data": data.name,
        "points": len(data),
        "tcvae_version": version("tcvae"),
    }
    return Codes(
        mean.numpy(),
        logvar.numpy(),
        None if data.classes is None else data.classes.numpy(),
        tuple(data.factor_names),
        data.name,
        run.model.posterior.name,
        provenance,
    )


def _read(path: Path, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` at ``path`` (only ``keys``, where given), never unpickled."""
    if not path.is_file():
        raise EvaluationError(f"no file at {path}; {LAYOUT_HINT}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files if keys is None or key in keys}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise EvaluationError(
            f"{path} is not a readable .npz of plain arrays ({type(err).__name__}: {err}); "
            f"{LAYOUT_HINT}"
        ) from err


def _float_matrix(x: np.ndarray, name: str, path: Path) -> np.ndarray:
    if x.dtype.kind not in "iuf":
        raise EvaluationError(f"{path}: {name} must be numbers, got dtype {x.dtype}")
    return as_float_matrix(x, f"{path}: {name}").numpy()


def _factors(
    classes: np.ndarray, names: np.ndarray | None, path: Path
) -> tuple[np.ndarray, tuple[str, ...]]:
    if classes.ndim != 2 or not np.issubdtype(classes.dtype, np.integer):
        raise EvaluationError(
            f"{path}: factor_classes must be integers (N, K), one column per factor; got "
            f"{classes.dtype} {classes.shape}"
        )
    k = classes.shape[1]
    if names is None:
        return classes.astype(np.int64), tuple(f"factor{j}" for j in range(k))
    if names.shape != (k,) or names.dtype.kind != "U":
        raise EvaluationError(
            f"{path}: factor_names must be {k} strings (a numpy str array), got {names.dtype} "
            f"{names.shape}"
        )
    return classes.astype(np.int64), tuple(str(s) for s in names.tolist())


def _string(arrays: dict[str, np.ndarray], key: str, path: Path) -> str | None:
    value = arrays.get(key)
    if value is None:
        return None
    if value.shape != () or value.dtype.kind != "U":
        raise EvaluationError(f"{path}: {key} must be one string, got {value.dtype} {value.shape}")
    return str(value)
