"""load_run gives a run's newest weights, whichever file holds them."""

import json
import logging
import os
import signal

import torch

from tcvae.objectives import compute_loss
from tcvae.training import trainer as T
from tcvae.training.checkpoint import checkpoint_path
from tcvae.training.runs import MODEL_FILE, STATUS_FILE, load_run


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.values(), b.values(), strict=True))


def interrupt_at(monkeypatch, at_step):
    def interrupting(*args, step, **kwargs):
        if step == at_step:
            os.kill(os.getpid(), signal.SIGINT)  # as if Ctrl-C were pressed during this step
        return compute_loss(*args, step=step, **kwargs)

    monkeypatch.setattr(T, "compute_loss", interrupting)


def test_an_interrupted_resume_is_loaded_from_its_newest_checkpoint(
    make_config, monkeypatch, caplog
):
    first = T.train(make_config(max_steps=2))
    d = first.run_dir
    at_2 = {k: v.clone() for k, v in first.model.state_dict().items()}
    assert first.status == "max_steps" and (d / MODEL_FILE).is_file()
    assert json.loads((d / STATUS_FILE).read_text())["model_step"] == 2

    interrupt_at(monkeypatch, 7)  # Ctrl-C during step 8 of the resumed invocation
    stopped = T.train(make_config(), resume=d)
    monkeypatch.undo()
    assert (stopped.status, stopped.step) == ("interrupted", 8)
    # model.pt still holds step 2; status.json says so, and the newest checkpoint is step 8.
    assert same(torch.load(d / MODEL_FILE, weights_only=True), at_2)
    status = json.loads((d / STATUS_FILE).read_text())
    assert (status["status"], status["step"], status["model_step"]) == ("interrupted", 8, 2)

    with caplog.at_level(logging.INFO, logger="tcvae.training.runs"):
        loaded = load_run(d)
    assert loaded.weights == checkpoint_path(d, 8) and loaded.step == 8
    assert same(loaded.model.state_dict(), stopped.model.state_dict())  # the weights at the stop
    assert not same(loaded.model.state_dict(), at_2)
    assert "newer than model.pt (step 2)" in loaded.reason and loaded.reason in caplog.text

    # A run directory whose status.json records no step for model.pt (written before steps were
    # recorded) is loaded from its newest checkpoint too.
    del status["model_step"]
    (d / STATUS_FILE).write_text(json.dumps(status))
    assert load_run(d).step == 8

    done = T.train(make_config(), resume=d)
    assert done.status == "completed" and done.step == 12
    final = load_run(d)
    assert final.weights == d / MODEL_FILE and final.step == 12
    assert same(final.model.state_dict(), done.model.state_dict())
    assert load_run(d, checkpoint=8).step == 8  # an older checkpoint, when asked for
