"""Every error class of the library derives from the one base, TcvaeError (a ValueError)."""

import ast
import importlib
from pathlib import Path

import tcvae
from tcvae.errors import TcvaeError

SRC = Path(tcvae.__file__).parent
# Still derived from ValueError directly; the CLI lists them beside TcvaeError until they move.


def error_classes():
    """(module name, class name) of every class named ...Error defined under src/tcvae."""
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        module = ".".join(("tcvae", *(p for p in parts if p != "__init__")))
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                yield module, node.name


def test_every_library_error_derives_from_tcvae_error():
    found = list(error_classes())
    assert len(found) >= 15, found
    wrong = []
    for module, name in found:
        cls = getattr(importlib.import_module(module), name)
        assert issubclass(cls, ValueError), name
        if not issubclass(cls, TcvaeError):
            wrong.append(f"{module}.{name}")
    assert not wrong, f"derive these from tcvae.errors.TcvaeError: {wrong}"
