"""Package attributes imported on first use (PEP 562), so that importing a package stays cheap.

``tcvae`` itself (no torch until a name of the tour is used: the ``tcvae`` command sets up the
process first) and ``tcvae.experiments`` (no matplotlib or SciPy for commands that only run
sweeps' cells) export their names this way. Their sub-modules are attributes as before:
``tcvae.data.from_arrays`` works after a plain ``import tcvae``.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose name N comes from the module
    ``exports[N]``, imported when N is first looked up (and then kept in the package); any other
    public name is the package's sub-module of that name, imported on first use."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
            setattr(importlib.import_module(package), name, value)  # later look-ups skip this
            return value
        if not name.startswith("_") and importlib.util.find_spec(f"{package}.{name}"):
            return importlib.import_module(f"{package}.{name}")  # binds itself in the package
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*vars(importlib.import_module(package)), *exports})

    return __getattr__, __dir__
