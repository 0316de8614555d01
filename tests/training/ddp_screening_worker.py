"""One rank of the 2-process screening test in test_distributed.py; launched by torchrun.

Screens 3 candidates (the best 2 again), trains the kept one on, and saves this rank's final
parameters and what it was told about the screening.
"""

import os
import sys

import torch
from conftest import tiny_config

from tcvae.experiments import screening


def main(root: str) -> None:
    torch.set_num_threads(1)
    config = tiny_config(
        os.path.join(root, "run"), screen=[3, 2], screen_images=[100, 200], max_steps=6
    )
    run = screening.train(config)
    state = {"model": run.model.state_dict(), "seed": run.config.run.seed, "step": run.step}
    torch.save(state, os.path.join(root, f"rank{os.environ['RANK']}.pt"))


if __name__ == "__main__":
    main(sys.argv[1])
