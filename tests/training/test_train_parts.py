"""The small parts beside the training loop: batching (collate), the optimiser and LR schedule (optim.py),
the dev check's selection rule (devcheck.py) and the single-process path of distributed.py."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from livenessapp_training.batching import collate
from livenessapp_training.devcheck import dev_check, improves
from livenessapp_training.distributed import all_mean, setup_distributed, teardown_distributed
from livenessapp_training.optim import make_optimizer, make_scheduler
from livenessapp_training.train_config import TrainConfig


def test_collate_stacks_tensors_and_lists_the_rest():
    items = [
        {"frames": torch.full((2, 3), float(i)), "video_id": f"v{i}", "label": torch.tensor(i)}
        for i in range(3)
    ]
    batch = collate(items)
    assert batch["frames"].shape == (3, 2, 3) and batch["frames"][2, 0, 0] == 2.0
    assert batch["video_id"] == ["v0", "v1", "v2"] and batch["label"].tolist() == [0, 1, 2]


def test_optimizers_and_warmup_cosine_schedule():
    params = [nn.Parameter(torch.zeros(2))]
    assert isinstance(make_optimizer(TrainConfig(), params, 0.01), torch.optim.Adadelta)  # the paper's
    opt = make_optimizer(TrainConfig(optimizer="adamw", weight_decay=0.1), params, 1.0)
    assert isinstance(opt, torch.optim.AdamW) and opt.param_groups[0]["weight_decay"] == 0.1
    sched = make_scheduler(TrainConfig(scheduler="cosine", warmup_steps=2), opt, total=6)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:3] == pytest.approx([0.5, 1.0, 1.0])  # linear warmup, then the cosine from its top
    assert lrs[3] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.25))) and lrs[-1] < lrs[3]
    constant = make_scheduler(TrainConfig(), make_optimizer(TrainConfig(), params, 0.3), total=4)
    assert constant.get_last_lr() == [0.3]


def test_dev_selection_keeps_the_lowest_acer_then_eer():
    best = {"acer": 0.2, "eer": 0.1, "step": 4}
    assert improves({"acer": 0.2, "eer": 0.1}, {}) and improves({"acer": 0.1, "eer": 0.5}, best)
    assert improves({"acer": 0.2, "eer": 0.1}, best)  # a tie goes to the later step
    assert not improves({"acer": 0.2, "eer": 0.2}, best) and not improves({"acer": 0.3, "eer": 0.0}, best)


def test_dev_check_scores_a_subset():
    from test_fit import FakeClips

    from livenessapp_training.fas_sgtd import FASSGTD, SGTDConfig

    torch.manual_seed(0)
    model = FASSGTD(SGTDConfig.tiny())
    r = dev_check(model, FakeClips(8, 4, seed=2), torch.device("cpu"), 0, 0, 4)
    assert set(r) == {"acer", "eer", "threshold", "p_live_std"} and 0.0 <= r["acer"] <= 1.0
    assert r["p_live_std"] >= 0.0


def test_single_process_needs_no_process_group():
    info = setup_distributed("cpu")
    assert (info.rank, info.world, info.main, info.distributed) == (0, 1, True, False)
    x = torch.tensor([1.0, 3.0])
    assert all_mean(x, info) is x
    teardown_distributed()  # a no-op without a process group


def test_augment_overrides_widen_the_training_augmentation_and_unknown_keys_are_refused():
    from livenessapp_training.clips import AugmentConfig

    assert TrainConfig().augment_config() is None  # the dataset's default
    wide = TrainConfig(augment_overrides={"gamma": 0.6, "brightness": 0.25, "blur_sigma": [0.5, 1.0]})
    aug = wide.augment_config()
    assert (aug.gamma, aug.brightness, aug.blur_sigma) == (0.6, 0.25, (0.5, 1.0))
    assert aug.scale_range == AugmentConfig.scale_range and aug.contrast == AugmentConfig.contrast
    no_light = TrainConfig(photometric=False, augment_overrides={"brightness": 0.25}).augment_config()
    assert no_light.gamma == 0.0 and no_light.noise == 0.0 and no_light.brightness == 0.25
    assert TrainConfig(augment=False).augment_config().flip_p == 0.0
    with pytest.raises(ValueError, match="augment_overrides.*gama"):
        TrainConfig.from_dict({"augment_overrides": {"gama": 0.6}})


def test_source_repeat_weighs_one_source_of_a_mix_and_misspelt_or_bad_counts_are_refused():
    from types import SimpleNamespace

    from livenessapp_training.data_setup import mix_repeats

    train = [SimpleNamespace(device=d) for d in ("nuaa", "webcam-a", "nuaa", "webcam-b")]
    assert mix_repeats(train, 1, {}) == [1, 1, 1, 1]
    assert mix_repeats(train, 1, {"nuaa": 4}) == [4, 1, 4, 1]
    assert mix_repeats(train, 2, {"webcam-b": 3}) == [2, 2, 2, 3]
    with pytest.raises(ValueError, match=r"\['nua'\].*'webcam-a'"):
        mix_repeats(train, 1, {"nua": 4})

    mix = {"dataset": "manifest", "data_root": "real", "source_repeat": {"nuaa": 4}}
    assert TrainConfig(mix=[mix]).mix[0]["source_repeat"] == {"nuaa": 4}
    for bad in ({"source_repeat": {"nuaa": 0}}, {"source_repeat": {"nuaa": 1.5}}, {"source_repeat": 4}):
        with pytest.raises(ValueError, match="mix\\[0\\]: repeat must be a whole number"):
            TrainConfig(mix=[{**mix, **bad}])
