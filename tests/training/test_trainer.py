import json
import os
import shutil
import signal

import pytest
import torch

import tcvae
from tcvae.objectives import compute_loss
from tcvae.training import trainer as T
from tcvae.training.checkpoint import list_checkpoints, load_checkpoint
from tcvae.training.config import ConfigError, to_dict
from tcvae.training.datasets import build_dataset
from tcvae.training.runs import RunDirError, load_run


def params(model):
    return [p.detach().clone() for p in model.state_dict().values()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_reference_run_layout_and_log(reference):
    run = reference
    assert run.status == "completed" and run.step == 12
    d = run.run_dir
    assert (d / "config.json").is_file() and (d / "model.pt").is_file()
    saved = json.loads((d / "config.json").read_text())
    assert saved["model"]["image_shape"] == [1, 64, 64] and saved["model"]["hidden"] == 16
    assert [load_checkpoint(p)["step"] for p in list_checkpoints(d)] == [5, 10, 12]
    rows = run.history
    assert [r["step"] for r in rows] == list(range(1, 13))
    assert rows[3]["epoch"] == 1.0
    for key in ("loss", "elbo", "log_px", "kl", "mi", "tc", "dwkl", "beta", "images_per_s"):
        assert all(key in r for r in rows)
    assert rows[-1]["loss"] < rows[0]["loss"]  # it learns
    assert run.final_terms["loss"] == rows[-1]["loss"]


def test_load_run_gives_the_trained_model_and_data(reference):
    loaded = load_run(reference.run_dir)
    assert not loaded.model.training
    assert same(params(loaded.model), params(reference.model))
    assert loaded.log() == reference.history
    data = loaded.dataset()
    expected = build_dataset(reference.config.data)
    assert torch.equal(data.images_uint8(), expected.images_uint8()) and len(data) == 256
    at5 = load_run(reference.run_dir, checkpoint=5)
    assert at5.step == 5 and not same(params(at5.model), params(reference.model))


def test_a_run_recorded_with_options_its_method_did_not_use_still_loads(reference, tmp_path):
    """config.json files written before unused options were refused hold every objective option
    (a VAE's beta too), and older runs record run.bool_batches (since removed): they do not
    describe the model, and load_run drops them."""
    d = tmp_path / "old"
    shutil.copytree(reference.run_dir, d)
    saved = json.loads((d / "config.json").read_text())
    saved["objective"] = {
        "method": "vae",
        "beta": 1.0,
        "alpha": None,
        "gamma": None,
        "estimator": "mss",
        "beta_warmup_steps": 0,
        "lambda_warmup_steps": 0,
        "lambda0": 0.95,
        "dip_lambda_d": None,
        "capacity_max": 25.0,
        "capacity_steps": 100_000,
    }
    saved["run"]["bool_batches"] = False
    (d / "config.json").write_text(json.dumps(saved))
    loaded = load_run(d)
    assert loaded.config.objective == type(reference.config.objective)("vae", estimator="mss")


@pytest.mark.parametrize("stop_at", [1, 6, 8])  # first step, mid-epoch, an epoch boundary
def test_resume_is_bitwise_equal_to_an_uninterrupted_run(reference, make_config, stop_at):
    first = T.train(make_config(max_steps=stop_at))
    assert first.status == "max_steps" and first.step == stop_at
    assert not same(params(first.model), params(reference.model))
    resumed = T.train(make_config(), resume=first.run_dir)
    assert resumed.status == "completed" and resumed.step == 12
    assert same(params(resumed.model), params(reference.model))
    assert [r["step"] for r in resumed.history] == list(range(1, 13))
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in reference.history]


def test_resume_from_an_older_checkpoint_after_a_crash(reference, make_config, tmp_path):
    """A crash loses the steps after the last checkpoint; resuming replays them identically."""
    d = tmp_path / "crashed"
    shutil.copytree(reference.run_dir, d)
    (d / "model.pt").unlink()
    for p in list_checkpoints(d)[1:]:
        p.unlink()  # only step 5 survives
    config = make_config()
    config.run.run_dir = str(d)
    resumed = T.train(config, resume=d)
    assert same(params(resumed.model), params(reference.model))
    assert [r["step"] for r in resumed.history] == list(range(1, 13))


def test_seed_changes_the_result(reference, make_config):
    config = make_config()
    config.run.seed = 1
    assert not same(params(T.train(config).model), params(reference.model))


def test_estimator_sees_the_training_set_size(make_config, monkeypatch):
    seen = []

    def spy(config, x, *tensors, dataset_size, step, **kwargs):
        seen.append((dataset_size, x.shape[0], step))
        return compute_loss(config, x, *tensors, dataset_size=dataset_size, step=step, **kwargs)

    monkeypatch.setattr(T, "compute_loss", spy)
    T.train(make_config(max_steps=3))
    assert seen == [(256, 64, 0), (256, 64, 1), (256, 64, 2)]


def test_nan_guard_names_step_and_term_and_keeps_the_last_good_checkpoint(make_config, monkeypatch):
    def poisoned(*args, step, **kwargs):
        result = compute_loss(*args, step=step, **kwargs)
        if step == 7:
            result.terms["tc"] = torch.tensor(float("nan"))
        return result

    monkeypatch.setattr(T, "compute_loss", poisoned)
    config = make_config()
    with pytest.raises(T.NonFiniteLossError, match=r"step 7: tc=nan.*step-00000005\.pt"):
        T.train(config)
    d = T.Path(config.run.run_dir)
    assert [p.name for p in list_checkpoints(d)] == ["step-00000005.pt"]
    assert load_checkpoint(list_checkpoints(d)[0])["step"] == 5
    assert not (d / "model.pt").exists()
    status = json.loads((d / "status.json").read_text())
    assert (status["status"], status["step"], status["model_step"]) == ("diverged", 7, None)


def test_bad_settings_fail_before_training(make_config):
    config = make_config(batch_size=512)
    with pytest.raises(ConfigError, match=r"--batch-size\) 512 is larger than the training set"):
        T.train(config)
    assert not T.Path(config.run.run_dir).exists()
    config = make_config()
    config.model.arch = "transformer"
    with pytest.raises(ConfigError, match=r"model\.arch \(--arch\) must be one of"):
        T.train(config)
    with pytest.raises(ConfigError, match="--precision"):
        config = make_config()
        config.run.precision = "fp16"
        T.train(config)


def test_a_run_stopped_before_its_first_checkpoint_resumes_from_step_0(reference, tmp_path):
    d = tmp_path / "killed"
    shutil.copytree(reference.run_dir, d)
    (d / "model.pt").unlink()
    shutil.rmtree(d / "checkpoints")  # as if killed before the first checkpoint was written
    resumed = T.train(resume=d)
    assert resumed.status == "completed" and resumed.step == 12
    assert same(params(resumed.model), params(reference.model))
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in reference.history]


def test_existing_run_dir_and_missing_config_are_refused(reference, make_config, tmp_path):
    config = make_config()
    config.run.run_dir = str(reference.run_dir)
    with pytest.raises(RunDirError, match="--resume"):
        T.train(config)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RunDirError, match="config.json is missing"):
        T.train(resume=empty)


def test_python_api_accepts_a_partial_dict(tmp_path):
    run = tcvae.train(
        {
            "data": {"source": "builtin", "subset": 64},
            "model": {"hidden": 8, "latent_dim": 2},
            "optim": {"batch_size": 32, "epochs": 1},
            "run": {"run_dir": str(tmp_path / "api"), "tensorboard": True, "device": "cpu"},
        }
    )
    assert isinstance(run, tcvae.Run) and run.step == 2
    assert any((run.run_dir / "tb").iterdir())


def test_ctrl_c_finishes_the_step_checkpoints_and_resumes_exactly(
    reference, make_config, monkeypatch
):
    def interrupting(*args, step, **kwargs):
        if step == 2:
            os.kill(os.getpid(), signal.SIGINT)  # as if Ctrl-C were pressed during step 3
        return compute_loss(*args, step=step, **kwargs)

    monkeypatch.setattr(T, "compute_loss", interrupting)
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN where the suite runs in the background
    run = T.train(make_config())
    assert (run.status, run.signal, run.step) == ("interrupted", signal.SIGINT, 3)
    assert load_checkpoint(run.checkpoint)["step"] == 3
    assert signal.getsignal(signal.SIGINT) is before  # handler restored
    monkeypatch.undo()
    moved = run.run_dir.with_name("moved")
    run.run_dir.rename(moved)
    resumed = T.train(resume=moved)
    assert resumed.run_dir == moved and resumed.step == 12
    assert same(params(resumed.model), params(reference.model))


def test_the_callers_config_is_left_untouched(make_config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default run directory is runs/<time>-... under the cwd
    config = make_config(max_steps=1)
    config.run.run_dir = None
    before = to_dict(config)
    first = T.train(config)
    assert to_dict(config) == before
    config.run.run_dir = str(first.run_dir) + "-second"
    assert T.train(config).step == 1
    assert first.run_dir.parent == T.Path("runs") and first.run_dir.name.endswith("seed0")


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_resolves_from_the_cpu_and_is_recorded(make_config, monkeypatch, native):
    from tcvae.training import hardware

    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: native)
    config = make_config(max_steps=2)
    config.run.precision = "auto"
    run = T.train(config)
    expected = "bf16" if native else "fp32"
    assert run.config.run.precision == expected
    saved = json.loads((run.run_dir / "config.json").read_text())
    assert saved["run"]["precision"] == expected
    # A resumed run keeps the precision it began with, whatever 'auto' would now pick.
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: not native)
    again = make_config(max_steps=3)
    again.run.precision = "auto"
    resumed = T.train(again, resume=run.run_dir)
    assert resumed.step == 3 and resumed.config.run.precision == expected


def test_bf16_training_on_cpu_resumes_bitwise(make_config):
    config = make_config(max_steps=6)
    config.run.precision = "bf16"
    whole = T.train(config)
    assert whole.status == "max_steps" and all(T.math.isfinite(r["loss"]) for r in whole.history)
    first = make_config("first", max_steps=3)
    first.run.precision = "bf16"
    part = T.train(first)
    again = make_config("first", max_steps=6)
    again.run.precision = "bf16"
    resumed = T.train(again, resume=part.run_dir)
    assert same(params(resumed.model), params(whole.model))


def test_time_budget_stops_with_a_checkpoint_and_max_steps_repeats_it(make_config):
    config = make_config(max_minutes=1e-9)  # up after the first step
    run = T.train(config)
    assert run.status == "max_minutes" and run.step == 1
    assert [load_checkpoint(p)["step"] for p in list_checkpoints(run.run_dir)] == [1]
    status = json.loads((run.run_dir / "status.json").read_text())
    assert status["status"] == "max_minutes" and status["step"] == 1
    assert status["images_seen"] == 64 and status["repeat_with"] == "--max-steps 1"
    assert (run.run_dir / "model.pt").is_file()
    repeat = T.train(make_config("repeat", max_steps=status["step"]))
    assert same(params(repeat.model), params(run.model))
    # A larger budget on resume goes on from there and finishes the run like the reference.
    more = make_config(max_minutes=60.0)
    done = T.train(more, resume=run.run_dir)
    assert done.status == "completed" and done.step == 12
    status = json.loads((run.run_dir / "status.json").read_text())
    assert status["status"] == "completed" and status["steps_this_invocation"] == 11


@pytest.fixture
def small_discriminator(monkeypatch):
    from tcvae.objectives import baselines

    monkeypatch.setattr(baselines, "DISCRIMINATOR_WIDTH", 16)


def test_factor_vae_trains_its_discriminator_and_resumes_bitwise(make_config, small_discriminator):
    def config(name, **optim):
        c = make_config(name, **optim)
        c.objective = type(c.objective)(method="factor-vae", beta=10.0)
        return c

    whole = T.train(config("whole", max_steps=7))
    ckpt = load_checkpoint(list_checkpoints(whole.run_dir)[-1])
    assert {"auxiliary", "auxiliary_optimizer"} <= set(ckpt)
    assert all(
        "tc_discriminator" in r and "auxiliary_loss" in r and "tc" in r for r in whole.history
    )
    first = T.train(config("part", max_steps=3))
    before = {
        k: v.clone()
        for k, v in load_checkpoint(list_checkpoints(first.run_dir)[-1])["auxiliary"].items()
    }
    resumed = T.train(config("part", max_steps=7), resume=first.run_dir)
    assert same(params(resumed.model), params(whole.model))
    final = load_checkpoint(list_checkpoints(whole.run_dir)[-1])["auxiliary"]
    again = load_checkpoint(list_checkpoints(resumed.run_dir)[-1])["auxiliary"]
    assert all(torch.equal(final[k], again[k]) for k in final)
    assert not all(torch.equal(before[k], final[k]) for k in final)  # the discriminator learned


def test_factor_vae_discriminator_learns_only_from_its_cross_entropy(
    make_config, small_discriminator, monkeypatch
):
    """After one training step the discriminator equals one Adam step (lr 1e-4, betas 0.5/0.9,
    FactorVAE's) on its cross-entropy alone, on the same z and the same permutation: the VAE's
    loss, which reads D(z), leaves no gradient in it."""
    from tcvae.objectives import baselines

    made, seen = [], []
    build, permute = baselines.discriminator, baselines.permute_dims

    def spy_build(latent_dim):
        net = build(latent_dim)
        made.append({k: v.clone() for k, v in net.state_dict().items()})
        return net

    def spy_permute(z, generator=None):
        seen.append((z.detach().clone(), generator.get_state()))
        return permute(z, generator)

    monkeypatch.setattr(baselines, "discriminator", spy_build)
    monkeypatch.setattr(baselines, "permute_dims", spy_permute)
    config = make_config(max_steps=1)
    config.objective = type(config.objective)(method="factor-vae", beta=10.0)
    run = T.train(config)
    trained = load_checkpoint(list_checkpoints(run.run_dir)[-1])["auxiliary"]
    assert len(made) == 1 and len(seen) == 1
    z, state = seen[0]

    reference = build(config.model.latent_dim)
    reference.load_state_dict(made[0])
    permuted = permute(z, torch.Generator().set_state(state))
    logits = reference(torch.cat([z, permuted]))
    labels = torch.cat([torch.zeros(len(z)), torch.ones(len(z))]).long()
    adam = torch.optim.Adam(reference.parameters(), lr=1e-4, betas=(0.5, 0.9))
    torch.nn.functional.cross_entropy(logits, labels).backward()
    adam.step()
    for k, v in reference.state_dict().items():
        assert not torch.equal(v, made[0][k])  # the step moved every tensor
        torch.testing.assert_close(trained[k], v, rtol=0, atol=1e-9, msg=k)


@pytest.mark.parametrize(("discriminator_lr", "warned"), [(1e-4, True), (2e-4, False)])
def test_lr_warning_compares_with_the_configured_discriminator_lr(
    make_config, small_discriminator, caplog, discriminator_lr, warned
):
    config = make_config(max_steps=1, lr=2e-3)
    config.objective = type(config.objective)("factor-vae", discriminator_lr=discriminator_lr)
    T.train(config)
    assert ("more than 10x its --discriminator-lr" in caplog.text) == warned


@pytest.mark.parametrize("method", ["dip-vae-i", "dip-vae-ii", "annealed-vae"])
def test_baselines_train_and_log_the_decomposition(make_config, method):
    config = make_config(max_steps=2)
    schedule = {"capacity_steps": 10} if method == "annealed-vae" else {}
    config.objective = type(config.objective)(method=method, beta=2.0, **schedule)
    run = T.train(config)
    for row in run.history:
        assert {"mi", "tc", "dwkl", "kl", "log_px"} <= set(row)
    extra = "capacity" if method == "annealed-vae" else "dip_penalty"
    assert [r[extra] > 0 for r in run.history] == [
        method != "annealed-vae" or r["step"] > 1 for r in run.history
    ]


def test_grad_clip_norm_rescales_the_gradient_adam_sees_and_logs_its_norm(make_config, monkeypatch):
    """optim.grad_clip_norm: Adam receives g * min(1, c / ||g||) where g is the gradient of the
    unclipped run at the same step, and train_log.jsonl holds ||g|| as grad_norm."""
    seen: list[list[torch.Tensor]] = []
    adam_step = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        seen.append([p.grad.detach().clone() for p in self.param_groups[0]["params"]])
        return adam_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    plain = make_config("plain", max_steps=1)
    plain.run.log_every = 1
    T.train(plain)
    (g,) = seen
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in g]))
    for c, name in ((float(norm) / 4, "clipped"), (float(norm) * 4, "unclipped")):
        seen.clear()
        config = make_config(name, max_steps=1)
        config.run.log_every = 1
        config.optim.grad_clip_norm = c
        run = T.train(config)
        scale = min(1.0, c / float(norm))
        for got, want in zip(seen[0], g, strict=True):
            torch.testing.assert_close(got, want * scale, rtol=1e-5, atol=1e-7)
        assert run.history[0]["grad_norm"] == pytest.approx(float(norm), rel=1e-5)
    bad = make_config("bad")
    bad.optim.grad_clip_norm = 0.0
    with pytest.raises(ConfigError, match=r"grad_clip_norm \(--grad-clip-norm\) must be"):
        T.train(bad)


def test_lr_warmup_schedule_reaches_adam_and_resumes_bitwise(make_config, monkeypatch):
    """optim.lr_warmup_steps: Adam steps with lr (t + 1) / W for steps t < W and lr after, and
    a run stopped inside the warm-up resumes to the uninterrupted result."""
    assert [T.warmup_lr(t, 0.01, 4) for t in range(6)] == [0.0025, 0.005, 0.0075, 0.01, 0.01, 0.01]
    assert T.warmup_lr(0, 0.01, 0) == 0.01
    seen = []
    adam_step = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return adam_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    config = make_config("warm")
    config.optim.lr_warmup_steps = 4
    whole = T.train(config)
    assert seen == [config.optim.lr * t / 4 for t in (1, 2, 3, 4)] + [config.optim.lr] * 8
    first = make_config("warm-resumed", max_steps=2)
    first.optim.lr_warmup_steps = 4
    T.train(first)
    second = make_config("warm-resumed")
    second.optim.lr_warmup_steps = 4
    resumed = T.train(second, resume=first.run.run_dir)
    assert same(params(resumed.model), params(whole.model))
    bad = make_config("bad")
    bad.optim.lr_warmup_steps = -1
    with pytest.raises(ConfigError, match=r"lr_warmup_steps \(--lr-warmup-steps\) must be"):
        T.train(bad)
