import itertools
import math

import pytest
import torch

from tcvae.models.distributions import Laplace, Normal
from tcvae.objectives import (
    dimwise_kl,
    elbo_terms,
    estimators,
    index_code_mi,
    total_correlation,
)
from tcvae.objectives.estimators import (
    EstimatorError,
    estimate_log_qz,
    log_mixture_density,
    log_weights,
    mss_log_weights,
    mws_log_weights,
    structured_log_weights,
)


def _posteriors(n, d, seed, spread=1.0, logvar_range=(-2.0, 1.0)):
    g = torch.Generator().manual_seed(seed)
    mean = spread * torch.randn(n, d, generator=g, dtype=torch.float64)
    lo, hi = logvar_range
    logvar = lo + (hi - lo) * torch.rand(n, d, generator=g, dtype=torch.float64)
    return mean, logvar, g


def _brute_mixture(z, mean, logvar, log_w, family):
    pairwise = family.pairwise_log_density(z, mean, logvar)  # (B, B, D)
    joint = torch.logsumexp(pairwise.sum(-1) + log_w, 1)
    marginal = torch.logsumexp(pairwise + log_w[:, :, None], 1)
    return joint, marginal


def _outputs_and_gradients(fn, z, mean, logvar, log_w, upstream):
    """joint, marginals and the gradients of <upstream, outputs> wrt (z, mean, logvar)."""
    inputs = [t.clone().requires_grad_() for t in (z, mean, logvar)]
    joint, marg = fn(*inputs, log_w, Normal)
    ((joint * upstream[0]).sum() + (marg * upstream[1]).sum()).backward()
    return [joint.detach(), marg.detach()] + [t.grad for t in inputs]


def _upstream(b, d, g):
    return (
        torch.randn(b, generator=g, dtype=torch.float64),
        torch.randn(b, d, generator=g, dtype=torch.float64),
    )


def test_mss_weights_match_the_definition_entry_by_entry():
    b, n = 6, 20
    m = b - 1
    expected = torch.empty(b, b, dtype=torch.float64)
    for i in range(b):
        for k in range(b):
            if k == i:
                expected[i, k] = 1 / n
            elif k == (i + 1) % b:
                expected[i, k] = (n - m) / (n * m)
            else:
                expected[i, k] = 1 / m
    got = mss_log_weights(b, n, torch.float64).exp()
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(got.sum(1), torch.ones(b, dtype=torch.float64))
    # The references' flat-stride fill puts 1/N in column 0; ours keeps it on the diagonal.
    assert torch.all(got[1:, 0] != 1 / n)


def test_mws_weights_are_one_over_n_b():
    got = mws_log_weights(4, 10, torch.float64)
    assert got.shape == (4, 4)
    torch.testing.assert_close(got, torch.full((4, 4), -math.log(40.0), dtype=torch.float64))


def _enumerate_minibatches(n, b, i):
    """Every minibatch holding i: each position of i, each ordered draw of the other B - 1."""
    others = [k for k in range(n) if k != i]
    for pos in range(b):
        for draw in itertools.permutations(others, b - 1):
            yield pos, list(draw[:pos]) + [i] + list(draw[pos:])


def _mean_weighted_sum(weights, n, b, z, mean, logvar, family):
    """Average over all minibatches of sum_m w[pos, m] q(z | x_batch[m]) (joint and per dim)."""
    rows_joint, rows_marg = [], []
    for i in range(n):
        for pos, batch in _enumerate_minibatches(n, b, i):
            per_dim = family.log_density(z[i], mean[batch], logvar[batch])  # (B, D)
            w = weights[pos][:, None]
            rows_marg.append((per_dim.exp() * w).sum(0))
            rows_joint.append((per_dim.sum(1).exp() * weights[pos]).sum())
    count = len(rows_joint) // n
    return (
        torch.stack(rows_joint).view(n, count).mean(1),
        torch.stack(rows_marg).view(n, count, -1).mean(1),
    )


@pytest.mark.parametrize("n,b", [(6, 3), (6, 4), (5, 2)])
def test_mss_is_exactly_unbiased_over_all_minibatches(n, b):
    mean, logvar, g = _posteriors(n, 2, seed=n + b)
    z = Normal.rsample(mean, logvar, g)  # z[i] ~ q(z | x_i)
    exact_marg = Normal.log_density(z[:, None, :], mean[None], logvar[None]).exp().mean(1)
    exact_joint = Normal.log_density(z[:, None, :], mean[None], logvar[None]).sum(-1).exp().mean(1)
    weights = mss_log_weights(b, n, torch.float64).exp()
    joint, marg = _mean_weighted_sum(weights, n, b, z, mean, logvar, Normal)
    torch.testing.assert_close(joint, exact_joint, rtol=0, atol=1e-6)
    torch.testing.assert_close(marg, exact_marg, rtol=0, atol=1e-6)
    assert torch.allclose(joint, exact_joint, rtol=1e-10, atol=1e-12)

    # The column-0 fill of the references is biased: the same check fails for it.
    buggy = torch.full((b, b), 1.0 / (b - 1), dtype=torch.float64)
    buggy.view(-1)[::b] = 1.0 / n
    buggy.view(-1)[1::b] = (n - b + 1) / (n * (b - 1))
    bad_joint, _ = _mean_weighted_sum(buggy, n, b, z, mean, logvar, Normal)
    assert (bad_joint - exact_joint).abs().max() > 1e-3


def test_mss_estimate_uses_these_weights_for_every_row():
    """log_mixture_density with MSS weights, row by row, is the log of the weighted sum."""
    n, b = 9, 5
    mean, logvar, g = _posteriors(b, 3, seed=3)
    z = Normal.rsample(mean, logvar, g)
    joint, marg = estimate_log_qz(z, mean, logvar, n, "mss", Normal)
    w = mss_log_weights(b, n, torch.float64).exp()
    dens = Normal.log_density(z[:, None, :], mean[None], logvar[None]).exp()  # (B, B, D)
    torch.testing.assert_close(marg, (dens * w[:, :, None]).sum(1).log())
    torch.testing.assert_close(joint, (dens.prod(-1) * w).sum(1).log())


def test_mws_on_the_whole_data_set_is_the_exact_mixture_minus_log_n():
    n = 12
    mean, logvar, g = _posteriors(n, 3, seed=5)
    z = Normal.rsample(mean, logvar, g)
    joint, marg = estimate_log_qz(z, mean, logvar, n, "mws", Normal)
    pair = Normal.log_density(z[:, None, :], mean[None], logvar[None])
    exact_joint = torch.logsumexp(pair.sum(-1), 1) - math.log(n)
    exact_marg = torch.logsumexp(pair, 1) - math.log(n)
    torch.testing.assert_close(joint, exact_joint - math.log(n))
    torch.testing.assert_close(marg, exact_marg - math.log(n))


def test_mws_error_shrinks_as_the_batch_grows():
    n, d = 256, 2
    mean, logvar, g = _posteriors(n, d, seed=7, spread=2.0, logvar_range=(-3.0, -1.0))
    z = Normal.rsample(mean, logvar, g)
    exact = torch.logsumexp(Normal.pairwise_log_density(z, mean, logvar).sum(-1), 1) - math.log(n)
    errors = []
    for b in (4, 32, 256):
        err = []
        for _ in range(8):
            idx = torch.randperm(n, generator=g)[:b]
            joint, _ = estimate_log_qz(z[idx], mean[idx], logvar[idx], n, "mws", Normal)
            err.append((joint + math.log(n) - exact[idx]).abs().mean())
        errors.append(float(torch.stack(err).mean()))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-10


@pytest.mark.parametrize("family", [Normal, Laplace])
@pytest.mark.parametrize("block", [10**9, 50, 3])
def test_blocked_mixture_matches_brute_force(family, block, monkeypatch):
    monkeypatch.setattr(estimators, "BLOCK_ELEMENTS", block)  # one block, ragged blocks, one row
    b, d = 7, 3
    mean, logvar, g = _posteriors(b, d, seed=11)
    z = family.rsample(mean, logvar, g)
    log_w = mss_log_weights(b, 30, torch.float64)
    joint, marg = log_mixture_density(z, mean, logvar, log_w, family)
    bj, bm = _brute_mixture(z, mean, logvar, log_w, family)
    torch.testing.assert_close(joint, bj, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(marg, bm, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("family", [Normal, Laplace])
@pytest.mark.parametrize("block", [10**9, 50])
def test_gradcheck_of_the_blocked_mixture(family, block, monkeypatch):
    monkeypatch.setattr(estimators, "BLOCK_ELEMENTS", block)
    b, d = 6, 3
    mean, logvar, g = _posteriors(b, d, seed=13)
    z = family.rsample(mean, logvar, g)
    weights = mws_log_weights if block == 50 else mss_log_weights
    log_w = weights(b, 40, torch.float64)
    inputs = tuple(t.clone().requires_grad_() for t in (z, mean, logvar))
    assert torch.autograd.gradcheck(
        lambda z_, m_, lv_: log_mixture_density(z_, m_, lv_, log_w, family), inputs
    )


@pytest.mark.parametrize("estimator", ["mss", "mws"])
def test_structured_weights_give_the_dense_rows_and_mixture(estimator, monkeypatch):
    """The weights held as a rule give the entries of the dense matrix in every row block and
    in a process's share of the rows, and the mixture (values and gradients) it gives."""
    monkeypatch.setattr(estimators, "BLOCK_ELEMENTS", 40)  # blocks of 2 rows (uneven)
    b, d, n = 7, 3, 30
    weights = structured_log_weights(estimator, b, n, torch.float64)
    dense = log_weights(estimator, b, n, torch.float64)
    for r0, r1 in [(0, 7), (0, 2), (3, 6), (6, 7)]:
        assert torch.equal(weights.rows(r0, r1), dense[r0:r1])
        assert torch.equal(weights.select_rows(r0, r1).dense(), dense[r0:r1])
        buffer = torch.full((49,), float("nan"), dtype=torch.float64)
        assert torch.equal(weights.rows(r0, r1, buffer), dense[r0:r1])
    mean, logvar, g = _posteriors(b, d, seed=5)
    z = Normal.rsample(mean, logvar, g)
    upstream = _upstream(b, d, g)
    ours = _outputs_and_gradients(log_mixture_density, z, mean, logvar, weights, upstream)
    ref = _outputs_and_gradients(log_mixture_density, z, mean, logvar, dense, upstream)
    for a, r in zip(ours, ref):
        torch.testing.assert_close(a, r, rtol=1e-12, atol=1e-12)
    share = weights.select_rows(2, 5)  # rows 2..4 of the minibatch, as on one of 3 processes
    part = log_mixture_density(z[2:5], mean, logvar, share, Normal)
    whole = log_mixture_density(z, mean, logvar, dense, Normal)
    torch.testing.assert_close(part[0], whole[0][2:5], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(part[1], whole[1][2:5], rtol=1e-12, atol=1e-12)


def test_gradients_match_autograd_of_the_broadcast_formula():
    b, d = 9, 4
    mean, logvar, g = _posteriors(b, d, seed=17)
    z = Normal.rsample(mean, logvar, g)
    log_w = mss_log_weights(b, 50, torch.float64)
    upstream = _upstream(b, d, g)

    def grads(fn):
        return _outputs_and_gradients(fn, z, mean, logvar, log_w, upstream)[2:]

    for ours, ref in zip(grads(log_mixture_density), grads(_brute_mixture)):
        torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("estimator", ["mss", "mws"])
def test_large_batch_extreme_log_variances_stay_finite(estimator):
    b, d = 2048, 10
    g = torch.Generator().manual_seed(0)
    mean = 3 * torch.randn(b, d, generator=g)
    logvar = -20 + 30 * torch.rand(b, d, generator=g)
    logvar[:64] = -20.0
    logvar[64:128] = 10.0
    z = Normal.rsample(mean, logvar, g)
    inputs = [t.clone().requires_grad_() for t in (mean, logvar, z)]
    terms = elbo_terms(inputs[2], inputs[0], inputs[1], 100_000, estimator)
    mi, tc, dwkl = (f(terms) for f in (index_code_mi, total_correlation, dimwise_kl))
    for t in (*terms, mi, tc, dwkl):
        assert torch.isfinite(t).all()
    (mi + 5 * tc + dwkl).mean().backward()
    for t in inputs:
        assert torch.isfinite(t.grad).all()


@pytest.mark.parametrize(
    "b,n,match",
    [(1, 10, "at least 2"), (8, 5, "smaller than the batch size")],
)
def test_bad_batch_or_data_set_size(b, n, match):
    with pytest.raises(EstimatorError, match=match):
        mss_log_weights(b, n)
    with pytest.raises(EstimatorError, match=match):
        estimate_log_qz(torch.zeros(b, 2), torch.zeros(b, 2), torch.zeros(b, 2), n, "mws")


def test_unknown_estimator_name():
    with pytest.raises(EstimatorError, match="unknown estimator 'iwae'.*mss"):
        log_weights("iwae", 4, 10)
    assert issubclass(EstimatorError, ValueError)


def test_blocks_leave_the_thread_count_alone_and_agree_across_thread_counts(monkeypatch):
    monkeypatch.setattr(estimators, "BLOCK_ELEMENTS", 4 * 3 * 40)  # 10 blocks of 4 rows
    b, d = 40, 3
    mean, logvar, g = _posteriors(b, d, seed=19)
    z = Normal.rsample(mean, logvar, g)
    log_w = mss_log_weights(b, 100, torch.float64)
    upstream = _upstream(b, d, g)

    def run(fn):
        return _outputs_and_gradients(fn, z, mean, logvar, log_w, upstream)

    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 3):
            torch.set_num_threads(threads)
            results.append(run(log_mixture_density))
            assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)
    for a, c, ref in zip(*results, run(_brute_mixture)):
        assert torch.equal(a, c)
        torch.testing.assert_close(a, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", [torch.inference_mode, torch.no_grad])
def test_estimator_runs_under_inference_mode_and_no_grad(mode, monkeypatch):
    monkeypatch.setattr(estimators, "BLOCK_ELEMENTS", 4 * 3 * 40)  # several blocks
    mean, logvar, g = _posteriors(40, 3, seed=23)
    z = Normal.rsample(mean, logvar, g)
    expected = estimate_log_qz(z, mean, logvar, 100, "mss")
    with mode():
        got = estimate_log_qz(z, mean, logvar, 100, "mss")
    for a, ref in zip(got, expected):
        assert torch.equal(a, ref.detach())


@pytest.mark.parametrize("family", [Normal, Laplace])
def test_double_backward_matches_gradgradcheck(family, monkeypatch):
    monkeypatch.setattr(estimators, "BLOCK_ELEMENTS", 50)  # ragged blocks in the first backward
    b, d = 5, 2
    mean, logvar, g = _posteriors(b, d, seed=29)
    z = family.rsample(mean, logvar, g)
    log_w = mss_log_weights(b, 20, torch.float64)
    inputs = tuple(t.clone().requires_grad_() for t in (z, mean, logvar))
    assert torch.autograd.gradgradcheck(
        lambda z_, m_, lv_: log_mixture_density(z_, m_, lv_, log_w, family), inputs
    )


@pytest.mark.parametrize("block", [10**9, 4 * 4 * 30])  # one block; blocks of 4 rows
def test_log_qz_is_exact_in_float32_when_z_is_far_from_its_own_posterior(block, monkeypatch):
    monkeypatch.setattr(estimators, "BLOCK_ELEMENTS", block)
    mean = torch.tensor([[0.0], [1.0]])
    logvar = torch.tensor([[-20.0], [0.0]])
    z = torch.tensor([[1.0], [1.0]])
    joint, marginal = estimate_log_qz(z, mean, logvar, dataset_size=2, estimator="mws")
    # Row 0: its own component has density ~exp(-2.4e8); the other gives N(1; 1, 1) / (N B).
    expected = -0.5 * math.log(2 * math.pi) - math.log(4)
    assert joint[0].item() == pytest.approx(expected, abs=1e-5)
    assert marginal[0, 0].item() == pytest.approx(expected, abs=1e-5)
    # Random far-off z in float32 agree with the float64 brute force.
    mean, logvar, g = _posteriors(30, 4, seed=31, logvar_range=(-20.0, 0.0))
    z = 5 * torch.randn(30, 4, generator=g, dtype=torch.float64)
    log_w = mws_log_weights(30, 100, torch.float64)
    ours = log_mixture_density(z.float(), mean.float(), logvar.float(), log_w.float())
    for a, ref in zip(ours, _brute_mixture(z, mean, logvar, log_w, Normal)):
        torch.testing.assert_close(a.double(), ref, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("estimator", ["mss", "mws"])
def test_rows_of_a_minibatch_split_over_processes_match_the_whole(estimator, monkeypatch):
    """Each process holds some rows z of the minibatch and all B posteriors: its log q(z) and
    gradients, summed over the processes, are those of one process holding everything."""
    monkeypatch.setattr(estimators, "BLOCK_ELEMENTS", 3 * 12 * 2)  # blocks of 2 rows
    b, d = 12, 3
    mean, logvar, g = _posteriors(b, d, seed=37)
    z = Normal.rsample(mean, logvar, g)
    upstream_joint, upstream_marg = _upstream(b, d, g)

    def objective(parts):
        leaves = [t.clone().requires_grad_() for t in (z, mean, logvar)]
        total, outputs = 0.0, []
        for start, stop in parts:
            joint, marg = estimate_log_qz(
                leaves[0][start:stop], leaves[1], leaves[2], 50, estimator, row_offset=start
            )
            outputs.append((joint, marg))
            total = total + (joint * upstream_joint[start:stop]).sum()
            total = total + (marg * upstream_marg[start:stop]).sum()
        total.backward()
        joint = torch.cat([o[0] for o in outputs]).detach()
        marg = torch.cat([o[1] for o in outputs]).detach()
        return joint, marg, *(t.grad for t in leaves)

    whole = objective([(0, b)])
    split = objective([(0, 5), (5, b)])
    for a, ref in zip(split, whole):
        torch.testing.assert_close(a, ref, rtol=1e-12, atol=1e-12)
    with pytest.raises(EstimatorError, match="row_offset"):
        estimate_log_qz(z[:5], mean, logvar, 50, estimator, row_offset=8)


@pytest.mark.parametrize("family", [Normal, Laplace])
@pytest.mark.parametrize("first,other", [("mws", "mss"), ("mss", "mws")])
def test_a_second_estimator_from_the_same_pass(family, first, other, monkeypatch):
    """``also``: the first estimator's values and gradients are bit for bit those of a call
    alone, and the second's values (without gradient) are those of its own call, in every
    block and on a process's share of the rows."""
    monkeypatch.setattr(estimators, "BLOCK_ELEMENTS", 3 * 12 * 2)  # blocks of 2 rows
    b, d, n = 12, 3, 50
    mean, logvar, g = _posteriors(b, d, seed=41, logvar_range=(-6.0, 1.0))
    z = family.rsample(mean, logvar, g)
    upstream = _upstream(b, d, g)

    def estimate(rows, *names):
        leaves = [t.clone().requires_grad_() for t in (z[rows], mean, logvar)]
        out = estimate_log_qz(*leaves, n, names[0], family, rows.start, *names[1:])
        ((out[0] * upstream[0][rows]).sum() + (out[1] * upstream[1][rows]).sum()).backward()
        return out, [t.grad for t in leaves]

    for rows in [slice(0, b), slice(5, b)]:
        (joint, marg, o_joint, o_marg), grads = estimate(rows, first, other)
        (ref_joint, ref_marg), ref_grads = estimate(rows, first)
        (alone_joint, alone_marg), _ = estimate(rows, other)
        for got, ref in zip([joint, marg, *grads], [ref_joint, ref_marg, *ref_grads]):
            assert torch.equal(got, ref)
        assert not o_joint.requires_grad and not o_marg.requires_grad
        torch.testing.assert_close(o_joint, alone_joint.detach(), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(o_marg, alone_marg.detach(), rtol=1e-12, atol=1e-12)
        assert not torch.allclose(o_marg, marg)  # the two estimators differ
