"""The `tcvae` command asks PyTorch for huge-page tensors before torch starts, and loads no
plotting or statistics library until a sub-command needs one (peak memory)."""

import os
import subprocess
import sys

import pytest

from tcvae.cli.main import HUGE_PAGES_ENV, huge_pages_supported, use_huge_pages

# After `tcvae --version` (which imports every sub-command, torch included), allocate tensors of
# over 2 MiB: PyTorch aligns those to the page size when huge pages are on (and advises the
# kernel to back them with huge pages), which it does not do otherwise.
PROBE = """
import os, sys
from tcvae.cli.main import main
assert "torch" not in sys.modules, "importing the command imported torch"
try:
    main(["--version"])
except SystemExit:
    pass
heavy = {m.split(".")[0] for m in sys.modules} & {HEAVY}
import torch
tensors = [torch.empty(600_000 + 1000 * i) for i in range(16)]
print(os.environ.get("{env}"), all(t.data_ptr() % 4096 == 0 for t in tensors), sorted(heavy))
"""
# Libraries that cost resident memory in every process that imports them (matplotlib, PIL and
# SciPy together about 80 MiB), which only some sub-commands use.
HEAVY = {"matplotlib", "PIL", "scipy", "sklearn", "ray", "h5py", "tensorboard"}


def probe(env: dict[str, str]) -> list[str]:
    code = PROBE.replace("{env}", HUGE_PAGES_ENV).replace("{HEAVY}", repr(HEAVY))
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()[-1].split(maxsplit=2)


@pytest.fixture
def base_env():
    return {k: v for k, v in os.environ.items() if k != HUGE_PAGES_ENV}


def test_the_command_turns_huge_pages_on_before_torch_allocates(base_env):
    variable, aligned, heavy = probe(base_env)
    assert heavy == "[]"
    if huge_pages_supported():
        assert (variable, aligned) == ("1", "True")
    else:  # not Linux, or a kernel without them: the command leaves the variable unset
        assert variable == "None"


def test_the_users_setting_stands(base_env):
    # (Whether tensors are then page-aligned is up to the C library's allocator.)
    variable, _, heavy = probe(base_env | {HUGE_PAGES_ENV: "0"})
    assert (variable, heavy) == ("0", "[]")


def test_huge_pages_are_supported_unless_the_kernel_says_never(tmp_path):
    setting = tmp_path / "enabled"
    for text, supported in [("always [madvise] never\n", True), ("[always] madvise never\n", True)]:
        setting.write_text(text)
        assert huge_pages_supported(setting) is supported
    setting.write_text("always madvise [never]\n")
    assert not huge_pages_supported(setting)
    assert not huge_pages_supported(tmp_path / "missing")  # not Linux, or no THP in the kernel


def test_nothing_changes_once_torch_is_imported():
    import torch  # noqa: F401

    env: dict[str, str] = {}  # torch is imported in this process: too late to take effect
    assert use_huge_pages(env) is False and env == {}
    assert use_huge_pages({HUGE_PAGES_ENV: "1"}) is True
    assert use_huge_pages({HUGE_PAGES_ENV: "0"}) is False
