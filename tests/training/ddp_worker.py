"""One rank of the 2-process test in test_distributed.py; launched by torchrun.

Trains a full run, then the same run split in two (stopped after 3 steps, then resumed), and saves
this rank's final parameters and what the objective was given.
"""

import os
import sys

import torch
from conftest import tiny_config

from tcvae.objectives import compute_loss
from tcvae.training import trainer


def main(root: str) -> None:
    torch.set_num_threads(1)
    seen = []

    def spy(config, x, *tensors, dataset_size, components, **kwargs):
        seen.append((dataset_size, x.shape[0], components[0].shape[0]))  # mixture: global batch
        return compute_loss(
            config, x, *tensors, dataset_size=dataset_size, components=components, **kwargs
        )

    trainer.compute_loss = spy

    def run(name, resume=False, **optim):
        config = tiny_config(os.path.join(root, name), epochs=2, **optim)
        return trainer.train(config, resume=config.run.run_dir if resume else None)

    full = run("full")
    run("split", max_steps=3)
    resumed = run("split", resume=True)
    state = {"full": full.model.state_dict(), "resumed": resumed.model.state_dict(), "seen": seen}
    torch.save(state, os.path.join(root, f"rank{os.environ['RANK']}.pt"))


if __name__ == "__main__":
    main(sys.argv[1])
