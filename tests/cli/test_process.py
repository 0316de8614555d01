"""The `tcvae` command loads no plotting or statistics library until a sub-command needs one
(peak memory: matplotlib, PIL and SciPy together take about 80 MiB in a process)."""

import subprocess
import sys

# Libraries that cost resident memory in every process that imports them, which only some
# sub-commands use.
HEAVY = {"matplotlib", "PIL", "scipy", "sklearn", "ray", "h5py", "tensorboard"}

# `tcvae --version` imports every sub-command's module, and torch with them.
PROBE = f"""
import sys
from tcvae.cli.main import main
try:
    main(["--version"])
except SystemExit:
    pass
print(sorted({{m.split(".")[0] for m in sys.modules}} & {HEAVY!r}))
"""


def test_the_command_loads_heavy_libraries_only_in_the_sub_commands_that_use_them():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"
