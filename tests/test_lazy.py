"""Names a package exports on first use (tcvae.lazy) behave as module attributes."""

import subprocess
import sys

import pytest

import tcvae
import tcvae.experiments


@pytest.mark.parametrize("package", [tcvae, tcvae.experiments])
def test_every_exported_name_resolves_to_its_modules_object(package):
    import importlib

    for name, module in package._EXPORTS.items():
        assert getattr(package, name) is getattr(importlib.import_module(module), name)
        assert name in vars(package)  # cached: the next look-up is a plain attribute
        assert name in dir(package)
    assert set(package._EXPORTS) <= set(package.__all__) <= {*package._EXPORTS, "__version__"}


def test_each_package_exports_only_from_its_own_modules():
    # The layer check (test_layers.py) reads imports, not these tables; the face may use any.
    for name, module in tcvae.experiments._EXPORTS.items():
        assert module.startswith("tcvae.experiments."), name


def test_sub_modules_are_attributes_after_a_plain_import():
    code = (
        "import tcvae, tcvae.experiments as e; "
        "print(tcvae.data.from_arrays.__name__, e.spec.__name__, hasattr(tcvae, 'nope'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["from_arrays", "tcvae.experiments.spec", "False"]


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'tcvae.experiments' has no attribute 'nope'"):
        tcvae.experiments.nope  # noqa: B018
    assert not hasattr(tcvae, "estimate_log_qz")


def test_importing_a_package_loads_only_what_its_own_modules_need():
    # `import tcvae` loads no torch; a sweep's spec loads torch, but no plotting or statistics.
    loaded = "sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'matplotlib', 'scipy'})"
    code = f"import sys, tcvae; print({loaded}); import tcvae.experiments.spec; print({loaded})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["[]", "['torch']"]
