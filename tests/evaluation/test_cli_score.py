import json

import numpy as np
import pytest

from tcvae.cli.main import main

TINY = ["--data-source", "builtin", "--subset", "128", "--hidden", "16", "--latent-dim", "3"]
TINY += ["--batch-size", "32", "--device", "cpu", "--no-tensorboard", "-q", "--epochs", "1"]
SETTINGS = ["--samples", "200", "--num-train", "100", "--num-test", "60", "-q"]
METRICS = ["--metrics", "decomposition,mig,mig-discrete,beta-vae,sap,mig-sup"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("score") / "run"
    assert main(["train", *TINY, "--out", str(d)]) == 0
    return d


@pytest.fixture(scope="module")
def codes(run_dir):
    path = run_dir.parent / "codes.npz"
    assert main(["encode", str(run_dir), "-o", str(path), "-q"]) == 0
    return path


def test_encode_writes_codes_with_factors_and_provenance(run_dir, codes):
    with np.load(codes, allow_pickle=False) as npz:
        assert npz["mean"].shape == npz["logvar"].shape == (128, 3)
        assert npz["factor_classes"].shape == (128, 6)
        assert "posX" in npz["factor_names"].tolist()
        provenance = json.loads(str(npz["provenance"]))
    assert provenance["run_dir"] == str(run_dir) and provenance["weights"].endswith(".pt")
    assert provenance["config"]["model"]["latent_dim"] == 3 and provenance["tcvae_version"]


def test_score_of_encoded_codes_equals_evaluate(run_dir, codes, tmp_path, capsys):
    assert main(["evaluate", str(run_dir), *METRICS, *SETTINGS]) == 0
    evaluated = json.loads((run_dir / "metrics.json").read_text())
    evaluate_table = capsys.readouterr().out
    assert main(["score", str(codes), *METRICS, *SETTINGS, "-o", str(tmp_path)]) == 0
    scored = json.loads((tmp_path / "metrics.json").read_text())
    score_table = capsys.readouterr().out
    assert scored["points"] == 128 and scored["dataset"] == evaluated["dataset"]
    for section in ("mig", "mig_discrete", "beta_vae", "sap", "mig_sup"):
        assert scored[section] == evaluated[section], section
    # the decomposition's KL terms are the same; E[log p(x|z)] and the ELBO need the model
    dec = dict(evaluated["decomposition"])
    for key in ("log_likelihood", "log_likelihood_stderr", "elbo"):
        assert dec.pop(key) is not None and scored["decomposition"][key] is None
        del scored["decomposition"][key]
    assert scored["decomposition"] == dec
    assert [line for line in score_table.splitlines() if "ELBO" not in line][:-1] == [
        line for line in evaluate_table.splitlines() if "ELBO" not in line and "E[log" not in line
    ][:-1]


def test_means_alone_and_factors_from_a_data_file(codes, tmp_path, capsys):
    with np.load(codes, allow_pickle=False) as npz:
        mean, classes, names = npz["mean"], npz["factor_classes"], npz["factor_names"]
    means_only = tmp_path / "means.npz"
    np.savez(means_only, mean=mean)
    factors = tmp_path / "factors.npz"
    np.savez(factors, factor_classes=classes, factor_names=names)
    out = tmp_path / "m.json"
    argv = ["score", str(means_only), "--data", str(factors), "-o", str(out), *SETTINGS]
    assert main(argv) == 0
    scored = json.loads(out.read_text())
    assert set(scored) == {"codes", "dataset", "points", "mig_discrete"}
    assert "MIG (discretised" in capsys.readouterr().out


def test_errors_are_one_line(codes, tmp_path, capsys):
    with np.load(codes, allow_pickle=False) as npz:
        mean = npz["mean"]
    np.savez(tmp_path / "bare.npz", mean=mean)
    nan = mean.copy()
    nan[5, 1] = np.nan
    np.savez(tmp_path / "nan.npz", mean=nan)
    np.savez(tmp_path / "flat.npz", mean=mean[:, 0])
    cases = {
        "bare.npz": (["--metrics", "mig-discrete"], "give --data"),
        "nan.npz": (["--data", "dsprites"], "NaN or infinite values in 1 of 128 rows"),
        "flat.npz": ([], "must have shape (N, D)"),
    }
    for name, (extra, message) in cases.items():
        argv = ["score", str(tmp_path / name), *extra, "-o", str(tmp_path)]
        assert main(argv) == 2, name
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.splitlines()) == 1, err
    # wrong row count: 128 codes against the full dSprites grid
    assert main(["score", str(tmp_path / "bare.npz"), "--data", "dsprites"]) == 2
    assert "the codes have 128 rows but --data dsprites has 737280" in capsys.readouterr().err
    # means alone and only metrics that need log-variances
    assert main(["score", str(codes.parent / "nope.npz")]) == 2
    np.savez(tmp_path / "labelled.npz", mean=mean, factor_classes=np.zeros((128, 2), int) + 1)
    argv = ["score", str(tmp_path / "labelled.npz"), "--metrics", "mig", "-o", str(tmp_path)]
    assert main(argv) == 2
    assert "none of the metrics asked for can be scored" in capsys.readouterr().err


def test_every_option_has_help(capsys):
    for command in ("encode", "score"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert "-o" in out and "--data" in out
