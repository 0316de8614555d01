"""One rank of the baselines' 2-process test in test_distributed.py; launched by torchrun.

Trains each baseline method for a few steps (annealed-vae at the capacity given on the command
line) and saves this rank's final VAE weights and FactorVAE's discriminator weights.
"""

import os
import sys

import torch
from conftest import tiny_baseline_config

from tcvae.objectives import baselines
from tcvae.objectives.loss import BASELINES
from tcvae.training import trainer


def main(root: str, capacity: float) -> None:
    torch.set_num_threads(1)
    baselines.DISCRIMINATOR_WIDTH = 16
    made = []

    class Recorded(trainer.FactorVAE):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    trainer.FactorVAE = Recorded
    state = {}
    for method in BASELINES:
        run = trainer.train(tiny_baseline_config(os.path.join(root, method), method, capacity))
        state[method] = run.model.state_dict()
    state["discriminator"] = made[-1].discriminator.state_dict()
    torch.save(state, os.path.join(root, f"rank{os.environ['RANK']}.pt"))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
