import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest

from tcvae.cli.main import build_parser, main
from tcvae.training.checkpoint import latest_checkpoint, load_checkpoint
from tcvae.training.config import OPTION_FLAGS
from tcvae.training.metrics_log import read_log

TINY = ["--data-source", "builtin", "--subset", "128", "--hidden", "16", "--latent-dim", "3"]
TINY += ["--batch-size", "32", "--device", "cpu", "--no-tensorboard", "-q"]


def train_parser():
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    return sub.choices["train"]


def test_every_train_option_has_help_and_every_setting_a_flag(capsys):
    parser = train_parser()
    flags = {s for a in parser._actions for s in a.option_strings}
    for action in parser._actions:
        assert action.help, f"{action.option_strings} has no help"
    for key, flag in OPTION_FLAGS.items():
        if key != "model.image_shape":
            assert flag.split(" ")[0] in flags, key
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "paper-dsprites" in out and "MWS" in out and "torchrun" in out


def test_tiny_end_to_end_run_through_the_cli(tmp_path, capsys):
    d = tmp_path / "run"
    toml = tmp_path / "c.toml"
    toml.write_text("[optim]\nepochs = 2\nlr = 0.01\n[objective]\nbeta = 3.0\n")
    argv = ["train", *TINY, "--config", str(toml), "--lr", "0.002", "--out", str(d)]
    assert main([*argv, "--filter", "shape=1", "--filter", "posX=0:15"]) == 0
    out = capsys.readouterr().out
    assert f"completed: step 8, run dir {d}" in out
    # what it computed on is said and recorded (precision, threads, CPU features)
    hardware = json.loads((d / "status.json").read_text())["hardware"]
    assert hardware["device"] == "cpu" and hardware["precision"] == "fp32"
    assert hardware["threads"] == json.loads((d / "config.json").read_text())["run"]["threads"]
    assert f"trained on: cpu, fp32, {hardware['threads']} thread" in out
    assert f"next: tcvae evaluate {d}, then tcvae report {d}" in out
    saved = json.loads((d / "config.json").read_text())
    assert saved["optim"] == {
        "lr": 0.002,
        "lr_warmup_steps": 0,
        "grad_clip_norm": None,
        "batch_size": 32,
        "epochs": 2,
        "max_steps": None,
        "max_minutes": None,
        "screen": None,
        "screen_images": None,
        "screen_tc_max": None,
    }
    assert saved["objective"]["beta"] == 3.0
    assert saved["data"]["filters"] == {"shape": [1, 1], "posX": [0, 15]}
    assert [r["step"] for r in read_log(d)] == [8]  # log_every 10: the last step is logged
    assert main(["train", "--resume", str(d), "--epochs", "3", "-q"]) == 0
    assert "step 12" in capsys.readouterr().out
    assert main(["train", "--resume", str(d), "--beta", "1"]) == 2
    assert "objective.beta (--beta) 3.0 -> 1.0" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--beta", "-1"], "--beta"),
        (["--batch-size", "256"], "--batch-size) 256 is larger than the training set (128"),
        (["--data", "mnist"], "--data) unknown data set 'mnist'"),
        (["--filter", "hue=0"], "unknown factor 'hue'"),
        (["--precision", "fp16"], "--precision) fp16 needs a CUDA device"),
        (["--preset", "cpu-small", "--resume", "somewhere"], "drop --preset"),
        # Options the method does not use are refused, naming the option that does what was meant.
        (["--method", "vae", "--beta", "4"], "(--beta): vae does not use --beta: its objective"),
        (["--method", "factor-vae", "--gamma", "20"], "TC weight (its paper's gamma) is --beta"),
        (["--method", "factor-vae", "--alpha", "2"], "factor-vae does not use --alpha"),
        (["--method", "dip-vae-i", "--gamma", "2"], "and --dip-lambda-d (lambda_d, on it)"),
        (["--method", "annealed-vae", "--alpha", "2"], "annealed-vae does not use --alpha"),
        (["--method", "annealed-vae", "--gamma", "2"], "|KL - C| (its paper's gamma) is --beta"),
        (["--discriminator-lr", "1e-3"], "beta-tcvae does not use --discriminator-lr"),
    ],
)
def test_invalid_options_fail_before_training_with_one_line(tmp_path, capsys, args, needle):
    d = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(d), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not (d / "config.json").exists()


def test_discriminator_options_reach_factor_vaes_adam(tmp_path, capsys, monkeypatch):
    from tcvae.objectives import baselines

    monkeypatch.setattr(baselines, "DISCRIMINATOR_WIDTH", 16)
    d = tmp_path / "run"
    args = ["--method", "factor-vae", "--discriminator-lr", "3e-4"]
    args += ["--discriminator-betas", "0.9,0.99", "--max-steps", "1"]
    assert main(["train", *TINY, "--out", str(d), *args]) == 0
    saved = json.loads((d / "config.json").read_text())["objective"]
    assert (saved["discriminator_lr"], saved["discriminator_betas"]) == (3e-4, [0.9, 0.99])
    assert saved["beta"] == 6.0 and saved["gamma"] is None
    group = load_checkpoint(latest_checkpoint(d))["auxiliary_optimizer"]["param_groups"][0]
    assert (group["lr"], tuple(group["betas"])) == (3e-4, (0.9, 0.99))
    with pytest.raises(SystemExit) as stop:
        main(["train", *TINY, "--method", "factor-vae", "--discriminator-betas", "0.9"])
    assert stop.value.code == 2 and "B1,B2" in capsys.readouterr().err


def test_sigterm_checkpoints_and_exits_with_resume_hint(tmp_path):
    d = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    command = [sys.executable, "-m", "tcvae", "train", *TINY, "--epochs", "1000"]
    command += ["--log-every", "1", "--checkpoint-every", "100000", "--out", str(d)]
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(read_log(d)) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "training did not start"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    assert f"Resume with: tcvae train --resume {d}" in err and "Traceback" not in err
    ckpt = load_checkpoint(latest_checkpoint(d))
    step = ckpt["step"]
    assert step == read_log(d)[-1]["step"] and not (d / "model.pt").exists()
    assert main(["train", "--resume", str(d), "--max-steps", str(step + 2), "-q"]) == 0
    assert load_checkpoint(latest_checkpoint(d))["step"] == step + 2 and (d / "model.pt").exists()


def test_a_run_that_blows_up_stops_as_diverged_and_a_sane_one_does_not(tmp_path, capsys):
    """At --lr 1e4 cpu-small's loss leaps to ~1e36 at its second step: finite, so no NaN guard
    fires, but a thousand times the loss of a model that knows nothing (4096 pixels x log 2)."""
    from tcvae.training.trainer import DIVERGENCE_FACTOR

    bound = DIVERGENCE_FACTOR * 64 * 64 * math.log(2.0)
    argv = ["train", "--preset", "cpu-small", "--subset", "512", "--batch-size", "64", "-q"]
    argv += ["--max-steps", "6", "--log-every", "1", "--no-tensorboard"]
    blown = tmp_path / "blown"
    assert main([*argv, "--lr", "1e4", "--out", str(blown)]) == 1
    err = capsys.readouterr().err
    assert "diverged at step" in err and f"beyond the bound {bound:.4g}" in err
    status = json.loads((blown / "status.json").read_text())
    assert status["status"] == "diverged" and 1 <= status["step"] < 6
    assert not (blown / "model.pt").exists()

    sane = tmp_path / "sane"
    assert main([*argv, "--out", str(sane)]) == 0  # the preset's lr, 1e-3
    assert json.loads((sane / "status.json").read_text())["status"] == "max_steps"
    losses = [r["loss"] for r in read_log(sane)]
    assert len(losses) == 6 and max(abs(v) for v in losses) < bound / 100
