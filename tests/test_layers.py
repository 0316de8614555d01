"""The package's layers: a module imports only from its own layer or earlier ones.

data -> models -> objectives -> training -> evaluation -> reports -> experiments -> cli, with the
root utilities (``tcvae.files``, ``tcvae.errors``, ``tcvae.options``, ``tcvae.markup``) before
them all. Every ``import tcvae...`` and ``from tcvae... import`` counts, at module level or inside
a function: an import inside a function still ties the layers together. ``tcvae/__init__.py`` and
``tcvae/__main__.py`` are the package's face and may import anything; a module importing the face
itself (``from tcvae import train``) depends on everything the face imports.
"""

import ast
from pathlib import Path

import pytest

import tcvae

SRC = Path(tcvae.__file__).parent
LAYERS = [
    ("files", "errors", "options", "markup"),
    ("data",),
    ("models",),
    ("objectives",),
    ("training",),
    ("evaluation",),
    ("reports",),
    ("experiments",),
    ("cli",),
]
FACE = ("__init__", "__main__")
# (importing module, imported module) pairs allowed against the order, each with its reason.
ALLOWED: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(("tcvae", *(p for p in parts if p != "__init__")))


def layer(module: str) -> int | None:
    """The layer index of a tcvae module; None for the package face."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in FACE:
        return None
    for index, names in enumerate(LAYERS):
        if parts[1] in names:
            return index
    raise AssertionError(f"{module} is in no layer: add tcvae.{parts[1]} to LAYERS in {__file__}")


def imported_modules(module: str, source: str) -> list[tuple[str, int]]:
    """(tcvae module imported, line) for every import of ``source``, nested ones included."""
    package = module if module == "tcvae" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            # `from tcvae.x import y` may name a submodule y; the submodule is what is imported
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.append((candidate if is_module(candidate) else target, node.lineno))
    return [(name, line) for name, line in found if name == "tcvae" or name.startswith("tcvae.")]


def is_module(name: str) -> bool:
    path = SRC.joinpath(*name.split(".")[1:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def face_layer() -> int:
    """The highest layer the package face imports: what `from tcvae import ...` depends on."""
    source = (SRC / "__init__.py").read_text()
    layers = [layer(name) for name, _ in imported_modules("tcvae", source)]
    return max((x for x in layers if x is not None), default=0)


def violations(module: str, source: str) -> list[str]:
    """Imports of ``module`` (with ``source``) that reach a later layer, not allowed above."""
    own = layer(module)
    if own is None:
        return []
    bad = []
    for name, line in imported_modules(module, source):
        target = layer(name)
        target = face_layer() if target is None else target
        if target > own and (module, name) not in ALLOWED:
            bad.append(
                f"{module} (line {line}) imports {name}: {LAYERS[target]} comes after {LAYERS[own]}"
            )
    return bad


def source_files() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_every_module_imports_only_earlier_layers():
    bad = [v for path in source_files() for v in violations(module_name(path), path.read_text())]
    assert not bad, "\n".join(bad)


def test_every_module_belongs_to_a_layer():
    assert len(source_files()) > 50
    for path in source_files():
        layer(module_name(path))


@pytest.mark.parametrize(
    "module, source",
    [
        ("tcvae.data.example", "from tcvae.training import train\n"),
        ("tcvae.data.example", "def f():\n    import tcvae.models.vae\n"),
        ("tcvae.models.example", "from tcvae.objectives.loss import compute_loss\n"),
        ("tcvae.models.example", "from . import x\nfrom ..objectives import loss\n"),
        ("tcvae.evaluation.example", "def f():\n    from tcvae.reports import plots\n"),
        ("tcvae.files", "from tcvae import train\n"),
        ("tcvae.training.example", "from tcvae.cli.main import main\n"),
    ],
)
def test_an_import_of_a_later_layer_is_caught(module, source):
    assert violations(module, source)


@pytest.mark.parametrize(
    "module, source",
    [
        ("tcvae.evaluation.example", "def f():\n    from tcvae.training.runs import load_run\n"),
        ("tcvae.models.example", "from tcvae.models import networks\nfrom tcvae.errors import X\n"),
        ("tcvae.cli.example", "from tcvae import __version__\nimport tcvae.experiments\n"),
    ],
)
def test_an_import_of_an_earlier_layer_is_fine(module, source):
    assert not violations(module, source)
