"""A short conv training run on a few built-in faces through the CLI, scored with the faces
protocol (MIG over azimuth, elevation and lighting; identity excluded)."""

import json

from tcvae.cli.main import main

TRAIN = ["train", "--preset", "faces", "--data-source", "builtin", "--subset", "96"]
TRAIN += ["--hidden", "4", "--latent-dim", "3", "--batch-size", "32"]
TRAIN += ["--epochs", "1", "--device", "cpu", "--no-tensorboard", "-q"]


def test_conv_training_on_faces_and_the_faces_protocol(tmp_path, cache_dir):
    run_dir = tmp_path / "run"
    assert main([*TRAIN, "--out", str(run_dir)]) == 0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data"]["name"] == "faces" and config["model"]["arch"] == "conv"
    assert config["model"]["image_shape"] == [1, 64, 64]
    assert config["objective"]["estimator"] == "mws"  # the faces preset's
    assert config["objective"]["beta_warmup_steps"] == 2500
    rows = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 3  # 96 images, batch 32, one epoch
    assert not cache_dir.exists()  # only the 96 chosen faces were rendered, nothing cached

    argv = ["evaluate", str(run_dir), "--metrics", "decomposition,mig", "--samples", "200"]
    assert main([*argv, "-q"]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["dataset"] == "faces" and metrics["points"] == 96
    assert metrics["mig"]["factor_names"] == ["azimuth", "elevation", "lighting"]
    assert len(metrics["mig"]["mutual_information"][0]) == 3
    assert metrics["decomposition"]["log_likelihood"] < 0
