import pytest
import torch

from tcvae.training.adam import FusedAdam


def make_params(seed: int = 0) -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(seed)
    shapes = [(7, 5), (5,), (3, 2, 4), (1,)]
    return [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in shapes]


def set_grads(params, step: int) -> None:
    gen = torch.Generator().manual_seed(100 + step)
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen) * (step + 1)


def run(optimizer, params, steps, lrs=None) -> None:
    for step in range(steps):
        if lrs is not None:
            optimizer.param_groups[0]["lr"] = lrs[step]
        set_grads(params, step)
        if step == 2:
            params[1].grad = None  # a parameter without a gradient is left alone
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


def test_fused_adam_is_torch_adam_bit_for_bit():
    """Against torch.optim.Adam(fused=True) on the same gradients, with the learning rate
    changed between steps and a parameter skipped at one step: identical parameters and state."""
    lrs = [1e-3, 3e-3, 2e-2, 5e-4, 1e-3, 7e-3]
    ours, theirs = make_params(), make_params()
    mine = FusedAdam(ours, lr=1.0, betas=(0.8, 0.95), eps=1e-6)
    reference = torch.optim.Adam(theirs, lr=1.0, betas=(0.8, 0.95), eps=1e-6, fused=True)
    run(mine, ours, 6, lrs)
    run(reference, theirs, 6, lrs)
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(mine.state[a][key], reference.state[b][key]), key
    assert mine.state[ours[1]]["step"].item() == 5 and mine.state[ours[0]]["step"].item() == 6


def test_fused_adam_matches_the_adam_update_written_out():
    """Kingma & Ba, Algorithm 1, in float64 by hand, for three steps."""
    p = torch.nn.Parameter(torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64))
    grads = [
        torch.tensor(g, dtype=torch.float64) for g in ([1.0, 2.0, -3.0], [0.5, 0, 1], [2, 2, 2])
    ]
    lr, b1, b2, eps = 0.1, 0.9, 0.99, 1e-8
    opt = FusedAdam([p], lr=lr, betas=(b1, b2), eps=eps)
    want = p.detach().clone()
    m, v = torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    for t, g in enumerate(grads, start=1):
        p.grad = g.clone()
        opt.step()
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        want = want - lr * m_hat / (v_hat.sqrt() + eps)
        torch.testing.assert_close(p.detach(), want, rtol=1e-12, atol=1e-12)


def test_state_dicts_move_between_fused_adam_and_torch_adam():
    """A checkpoint written by either optimizer resumes in the other, bit for bit."""
    for source, target in ((FusedAdam, torch.optim.Adam), (torch.optim.Adam, FusedAdam)):
        first, second, straight = make_params(), make_params(), make_params()

        def build(kind, params):
            if kind is FusedAdam:
                return FusedAdam(params, lr=2e-3, betas=(0.5, 0.9))
            return torch.optim.Adam(params, lr=2e-3, betas=(0.5, 0.9), fused=True)

        before = build(source, first)
        run(before, first, 3)
        saved = before.state_dict()
        assert set(saved) == {"state", "param_groups"} and len(saved["state"]) == 4
        with torch.no_grad():
            for a, b in zip(second, first):
                a.copy_(b)
        after = build(target, second)
        after.load_state_dict(saved)
        assert after.param_groups[0]["lr"] == 2e-3 and tuple(after.param_groups[0]["betas"]) == (
            0.5,
            0.9,
        )
        for step in range(3, 5):
            set_grads(second, step)
            after.step()
        whole = build(source, straight)
        run(whole, straight, 3)
        for step in range(3, 5):
            set_grads(straight, step)
            whole.step()
        assert all(torch.equal(a, b) for a, b in zip(second, straight))


def test_fused_adam_refuses_what_it_cannot_load_or_optimise():
    params = make_params()
    opt = FusedAdam(params)
    with pytest.raises(ValueError, match="no parameters"):
        FusedAdam([])
    other = torch.optim.Adam(make_params()[:2], fused=True)
    with pytest.raises(ValueError, match="for 2 parameters in 1 group"):
        opt.load_state_dict(other.state_dict())
    amsgrad = torch.optim.Adam(make_params(), amsgrad=True).state_dict()
    with pytest.raises(ValueError, match="amsgrad=True: not Adam"):
        opt.load_state_dict(amsgrad)


def test_zero_grad_sets_to_none_or_zero():
    params = make_params()
    opt = FusedAdam(params)
    set_grads(params, 0)
    opt.zero_grad(set_to_none=False)
    assert all(torch.equal(p.grad, torch.zeros_like(p)) for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_grad_scaler_unscales_for_fused_adam_and_skips_steps_with_infinite_gradients():
    """What fp16 training does: GradScaler divides the gradients by its scale (a power of two,
    so exactly) before FusedAdam steps, and skips the step when a gradient is not finite."""
    scaled, plain = make_params(), make_params()
    opt, reference = FusedAdam(scaled, lr=1e-2), FusedAdam(plain, lr=1e-2)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    scaler.scale(torch.ones(()))  # the scale is set up by the first scale() call
    set_grads(scaled, 0)
    set_grads(plain, 0)
    for p in scaled:
        p.grad.mul_(1024.0)
    scaler.step(opt)
    scaler.update()
    reference.step()
    assert all(torch.equal(a, b) for a, b in zip(scaled, plain))
    before = [p.detach().clone() for p in scaled]
    set_grads(scaled, 1)
    scaled[2].grad[0, 0, 0] = float("inf")
    scaler.step(opt)
    scaler.update()
    assert all(torch.equal(a, b) for a, b in zip(scaled, before))
    assert scaler.get_scale() == 512.0
