"""Checkpoints (training/checkpoint.py): the files a run writes read back as the same network, the resume
state and RNG round trip, and which file of a run folder is loaded."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from livenessapp_training.checkpoint import (
    CHECKPOINT_FORMAT,
    TrainState,
    load_model,
    load_resume,
    resolve_checkpoint,
    rng_state,
    save_atomic,
    set_rng_state,
    training_checkpoint,
    weights_checkpoint,
)
from livenessapp_training.fas_sgtd import FASSGTD, SGTDConfig
from livenessapp_training.train_config import TrainConfig


@pytest.fixture()
def net():
    torch.manual_seed(0)
    cfg = SGTDConfig.tiny()
    return cfg, FASSGTD(cfg).eval()


def test_weights_round_trip_through_load_model(tmp_path, net):
    cfg, model = net
    state = TrainState(stage=2, global_step=7)
    ckpt = weights_checkpoint(model, cfg, TrainConfig(model="tiny"), state, {"fake": True}, dev={"acer": 0.1})
    save_atomic(ckpt, tmp_path / "run" / "best.pt")
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["best.pt"]  # no temporary file left
    loaded, meta = load_model(tmp_path / "run")
    assert not loaded.training and meta["path"].endswith("best.pt")
    assert (meta["format"], meta["stage"], meta["step"], meta["dev"]) == (
        CHECKPOINT_FORMAT,
        2,
        7,
        {"acer": 0.1},
    )
    assert meta["model_config"] == cfg.to_dict() and meta["train_config"]["model"] == "tiny"
    frames, masks = torch.randn(2, cfg.num_frames, 3, 32, 32), torch.ones(2, cfg.num_frames, 1, 4, 4)
    with torch.no_grad():
        assert torch.equal(loaded(frames, masks).score, model(frames, masks).score)


def test_resume_state_round_trip(tmp_path, net):
    cfg, model = net
    opt = torch.optim.Adadelta(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    state = TrainState(
        stage=2, stage_step=3, global_step=9, epoch=1, batch=2, best={"acer": 0.2}, dev_history=[{}]
    )
    save_atomic(
        training_checkpoint(model, cfg, TrainConfig(), state, opt, sched),
        tmp_path / "checkpoints" / "last.pt",
    )
    ckpt = load_resume(tmp_path)  # a run folder: its checkpoints/last.pt
    assert TrainState.from_checkpoint(ckpt) == state
    assert ckpt["optimizer"]["param_groups"][0]["lr"] == 0.1 and ckpt["scheduler"]["last_epoch"] == 0
    assert set(ckpt["rng"]) >= {"torch", "numpy", "python"}
    torch.save({"model": model.state_dict()}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a training checkpoint"):
        load_resume(tmp_path / "other.pt")


def test_rng_state_restores_every_generator():
    saved = rng_state()
    first = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(saved)
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]


def test_resolve_checkpoint_prefers_best_then_final_then_last(tmp_path):
    with pytest.raises(FileNotFoundError):
        resolve_checkpoint(tmp_path)
    for name in ("checkpoints/last.pt", "final.pt", "best.pt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
        assert resolve_checkpoint(tmp_path) == tmp_path / name
    assert resolve_checkpoint(tmp_path, ("final.pt", "best.pt")) == tmp_path / "final.pt"
    assert resolve_checkpoint(tmp_path / "final.pt") == tmp_path / "final.pt"
