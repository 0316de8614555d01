"""Training-step throughput of the beta-TCVAE objective against the plain VAE loss.

One step = forward, backward and an Adam update of the paper's dSprites MLP (REFERENCE.md
section 8) on a batch of binary 64x64 images. Three losses are timed, interleaved, after a
warm-up, and the median of the repetitions is reported:

* vae:            -log p(x|z) + analytic KL(q(z|x) || p(z)), no aggregate-posterior terms
* beta-tcvae:     tcvae.objectives.compute_loss with beta-TCVAE weights and the MSS estimator
* naive-tcvae:    the same objective with log q(z) and log q(z_j) from the direct (B, B, D)
                  broadcast of pairwise log densities, for contrast
* mws-logged-1:   beta-TCVAE trained by MWS (the paper's estimator) with MSS's terms for the
                  log from the same pass over the pairwise densities, as the trainer does
                  (``elbo_terms_pair``)
* mws-logged-2:   the same with MSS's terms from a second call (``elbo_terms`` twice)

``--hidden 256 --batch 512 --dataset-size 60000`` times the demo's network and batch.

Run:  python benchmarks/bench_objective.py [--batch 2048] [--reps 5] [--threads 2] [--hidden H]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from tcvae.models import build_model
from tcvae.objectives import (
    ObjectiveConfig,
    beta_tcvae_loss,
    compute_loss,
    elbo_terms,
    elbo_terms_pair,
    mss_log_weights,
)

DSPRITES_SIZE = 737_280


def vae_loss(model, x, out):
    log_px = model.likelihood.log_likelihood(x, out.x_params)
    kl = model.posterior.kl_to_prior(out.mean, out.logvar).sum(1)
    return -(log_px - kl).mean()


def naive_tcvae_loss(model, x, out, dataset_size: int, beta: float = 6.0):
    z, mean, logvar = out.z, out.mean, out.logvar
    log_w = mss_log_weights(z.shape[0], dataset_size, z.dtype)
    pairwise = model.posterior.pairwise_log_density(z, mean, logvar)  # (B, B, D)
    log_qz = torch.logsumexp(pairwise.sum(2) + log_w, 1)
    log_qz_product = torch.logsumexp(pairwise + log_w[:, :, None], 1).sum(1)
    log_px = model.likelihood.log_likelihood(x, out.x_params)
    log_qz_x = model.posterior.log_density(z, mean, logvar).sum(1)
    log_pz = model.posterior.log_density(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)
    mi, tc, dwkl = log_qz_x - log_qz, log_qz - log_qz_product, log_qz_product - log_pz
    return -(log_px - mi - beta * tc - dwkl).mean()


def mws_logged_loss(model, x, out, dataset_size: int, one_pass: bool, beta: float = 6.0):
    """beta-TCVAE by MWS, with MSS's terms (for the log) from the same pass or a second call."""
    args = (out.z, out.mean, out.logvar, dataset_size)
    if one_pass:
        terms, _ = elbo_terms_pair(*args, "mws", "mss")
    else:
        terms = elbo_terms(*args, "mws")
        with torch.no_grad():
            elbo_terms(*args, "mss")
    return beta_tcvae_loss(model.likelihood.log_likelihood(x, out.x_params), terms, beta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads to use")
    parser.add_argument("--no-naive", action="store_true", help="skip the broadcast variant")
    parser.add_argument("--hidden", type=int, default=None, help="MLP width (default: 1200)")
    parser.add_argument("--dataset-size", type=int, default=DSPRITES_SIZE, help="N")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    model = build_model("mlp", hidden=args.hidden)
    n = args.dataset_size
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = (torch.rand(args.batch, 1, 64, 64) > 0.8).float()
    config = ObjectiveConfig("beta-tcvae", beta=6.0, estimator="mss")
    losses = {
        "vae": lambda out: vae_loss(model, x, out),
        "beta-tcvae": lambda out: (
            compute_loss(config, x, out.x_params, out.z, out.mean, out.logvar, dataset_size=n).loss
        ),
        "mws-logged-1": lambda out: mws_logged_loss(model, x, out, n, one_pass=True),
        "mws-logged-2": lambda out: mws_logged_loss(model, x, out, n, one_pass=False),
    }
    if not args.no_naive:
        losses["naive-tcvae"] = lambda out: naive_tcvae_loss(model, x, out, n)

    def step(loss_fn) -> float:
        start = time.perf_counter()
        optimiser.zero_grad(set_to_none=True)
        loss = loss_fn(model(x))
        loss.backward()
        optimiser.step()
        return time.perf_counter() - start

    for _ in range(args.warmup):
        for fn in losses.values():
            step(fn)
    times: dict[str, list[float]] = {name: [] for name in losses}
    for _ in range(args.reps):
        for name, fn in losses.items():
            times[name].append(step(fn))

    load = os.getloadavg()[0]
    print(
        f"MLP {args.hidden or 1200}, batch {args.batch}, N = {n}, {torch.get_num_threads()} "
        f"threads, median of {args.reps} interleaved steps; 1-min load average {load:.1f} on "
        f"{os.cpu_count()} CPUs"
    )
    rate = {name: args.batch / statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        spread = ", ".join(f"{s:.2f}" for s in t)
        print(f"  {name:12s} {rate[name]:8.0f} images/s   step times [s]: {spread}")
    print(f"ratio beta-tcvae / vae:  {rate['beta-tcvae'] / rate['vae']:.3f}")
    print(f"ratio mws-logged-1 / mws-logged-2: {rate['mws-logged-1'] / rate['mws-logged-2']:.3f}")
    if "naive-tcvae" in rate:
        print(f"ratio naive-tcvae / vae: {rate['naive-tcvae'] / rate['vae']:.3f}")


if __name__ == "__main__":
    main()
