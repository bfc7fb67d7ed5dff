"""The training loop: config files and overrides, the resumable sampler, EXACT resume, the stage-2 freeze and
DDP on CPU (gloo, two processes). Uses the tiny network preset and an in-memory clip dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from livenessapp_training import fit as F
from livenessapp_training.checkpoint import load_model
from livenessapp_training.data_setup import DataBundle, EpochSampler
from livenessapp_training.train_config import TrainConfig, config_from_args

HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny convolutions run 10x faster on one thread than on two busy cores (OpenMP spinning)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class FakeClips(Dataset):
    """Items like ClipDataset's (frames [Nf,3,H,W], depth, mask, label, video_id, pai), a pure function of
    (seed, epoch, index); live clips are brighter and carry a bump of depth."""

    def __init__(self, n: int, nf: int, size: int = 32, seed: int = 0, videos: int = 4):
        self.n, self.nf, self.size, self.seed, self.videos = n, nf, size, seed, videos
        self.d = size // 8
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        v = i % self.videos
        label = v % 2
        g = np.random.default_rng([self.seed, self.epoch, i])
        x = g.standard_normal((self.nf, 3, self.size, self.size)).astype(np.float32) * 0.5 + (
            0.4 if label else -0.4
        )
        depth = np.zeros((self.nf, 1, self.d, self.d), np.float32)
        if label:
            depth[..., 1:-1, 1:-1] = 0.8
        return {
            "frames": torch.from_numpy(x),
            "depth": torch.from_numpy(depth),
            "mask": torch.ones(self.nf, 1, self.d, self.d),
            "label": torch.tensor(label),
            "video_id": f"v{v}",
            "pai": "live" if label else ("print" if v % 4 == 0 else "replay"),
        }


def fake_data(nf: int = 4) -> DataBundle:
    return DataBundle(
        FakeClips(24, 1, seed=0), FakeClips(12, nf, seed=1), FakeClips(8, nf, seed=2), {"fake": True}
    )


BASE = dict(
    model="tiny",
    stage1_steps=4,
    stage2_steps=4,
    stage1_batch=4,
    stage2_batch=2,
    num_workers=0,
    checkpoint_every=3,
    dev_every=2,
    progress=False,
    log_every=1,
)


def _weights(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)["model"]


def _max_diff(a: dict, b: dict, prefix: str = "") -> float:
    keys = [k for k in a if k.startswith(prefix)]
    assert keys and set(a) == set(b)
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in keys)


def test_config_file_overrides_and_cli(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"model": "tiny", "stage1_steps": 7, "optimizer": "adamw"}))
    (tmp_path / "c.toml").write_text(
        '[train]\nmodel = "tiny"\nstage2_lr = 0.5\nmodel_overrides = { use_convgru = false }\n'
    )
    args = F.build_parser().parse_args(
        ["--config", str(tmp_path / "c.json"), "--stage1-steps", "9", "--augment", "false"]
    )
    cfg = config_from_args(args)
    assert (cfg.model, cfg.stage1_steps, cfg.optimizer, cfg.augment) == ("tiny", 9, "adamw", False)
    assert (
        cfg.stage1_lr == 3e-3 and cfg.stage2_lr == 1e-2 and cfg.rho == 0.95 and cfg.eps == 1e-8
    )  # the paper's
    args = F.build_parser().parse_args(["--config", str(tmp_path / "c.toml"), "--betas", "0.8,0.9"])
    cfg = config_from_args(args)
    assert cfg.stage2_lr == 0.5 and cfg.betas == (0.8, 0.9)
    mc = cfg.model_config()
    assert mc.use_convgru is False and mc.input_size == 32
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="unknown"):
        TrainConfig.from_dict({"stage_1_steps": 3})
    with pytest.raises(ValueError, match="override"):
        TrainConfig(model="tiny", model_overrides={"nope": 1}).model_config()


def test_epoch_sampler_is_deterministic_sharded_and_resumable():
    s = EpochSampler(10, seed=3, stage=1)
    s.set_epoch(0)
    a = list(s)
    assert sorted(a) == list(range(10)) and list(s) == a
    s.set_epoch(1)
    assert list(s) != a
    s.set_epoch(0, start=4)
    assert list(s) == a[4:] and len(s) == 6
    shards = [EpochSampler(10, 3, 1, rank=r, world=3) for r in range(3)]
    got = [list(x) for x in shards]
    assert all(len(g) == 4 for g in got) and set().union(*got) == set(range(10))


def test_resume_is_exact_and_stage2_freezes_the_single_frame_part(tmp_path):
    full = tmp_path / "full"
    summary = F.fit(TrainConfig(**BASE, out_dir=str(full)), data=fake_data())
    assert summary["steps"] == 8
    for name in (
        "config.json",
        "model_config.json",
        "final.pt",
        "best.pt",
        "checkpoints/last.pt",
        "checkpoints/stage1.pt",
        "train_summary.json",
        "log.jsonl",
    ):
        assert (full / name).is_file(), name
    assert list((full / "tb").iterdir())
    assert [e["step"] for e in summary["dev_history"]] == [6, 8]
    # interrupted mid stage 1 (step 2), at the stage boundary (4) and mid stage 2 (6, after a dev selection)
    for k in (2, 4, 6):
        run = tmp_path / f"stop{k}"
        cfg = TrainConfig(**BASE, out_dir=str(run))
        with pytest.raises(F.StopTraining):
            F.fit(cfg, data=fake_data(), stop_after=k)
        ck = torch.load(run / "checkpoints" / "last.pt", weights_only=False)
        assert ck["step"] == k
        F.fit(cfg, resume=run, data=fake_data())
        assert _max_diff(_weights(full / "final.pt"), _weights(run / "final.pt")) <= 1e-6, k
        assert _max_diff(_weights(full / "best.pt"), _weights(run / "best.pt")) <= 1e-6, k
    # stage 2 changed neither the backbone's weights nor its BN statistics, only the multi-frame part
    s1, final = _weights(full / "checkpoints" / "stage1.pt"), _weights(full / "final.pt")
    assert _max_diff(s1, final, "backbone.") == 0.0
    assert _max_diff(s1, final, "stpm.") > 0.0
    assert _max_diff(s1, final, "binary.") > 0.0
    model, meta = load_model(full)
    assert meta["path"].endswith("best.pt") and not model.training


def test_cli_resume_continues_the_run(tmp_path):
    """The command line: ``--stop-after-steps`` then ``--resume RUN`` (the data comes from a folder dataset
    in the e2e test; here fit's data builder is replaced)."""
    run = tmp_path / "run"
    args = [
        "--model",
        "tiny",
        "--stage1-steps",
        "2",
        "--stage2-steps",
        "2",
        "--stage1-batch",
        "4",
        "--stage2-batch",
        "2",
        "--num-workers",
        "0",
        "--progress",
        "false",
        "--out-dir",
        str(run),
    ]
    orig = F.build_data
    F.build_data = lambda *a, **k: fake_data()
    try:
        assert F.main([*args, "--stop-after-steps", "3"]) == 0
        assert torch.load(run / "checkpoints" / "last.pt", weights_only=False)["step"] == 3
        assert F.main(["--resume", str(run)]) == 0
    finally:
        F.build_data = orig
    assert json.loads((run / "train_summary.json").read_text())["steps"] == 4
    assert len((run / "commands.txt").read_text().splitlines()) == 2


DDP_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {here!r})
    import torch, torch.distributed as dist
    from test_fit import BASE, fake_data
    from livenessapp_training import fit as F
    from livenessapp_training.distributed import setup_distributed, teardown_distributed
    from livenessapp_training.train_config import TrainConfig
    info = setup_distributed("cpu")
    cfg = TrainConfig(**{{**BASE, "out_dir": sys.argv[1], "stage1_batch": 2, "stage2_batch": 1}})
    trainer = F.Trainer(cfg, fake_data(), info)
    trainer.fit()
    params = torch.cat([p.detach().flatten() for p in F._unwrap(trainer.model).parameters()])
    gathered = [torch.zeros_like(params) for _ in range(info.world)]
    dist.all_gather(gathered, params)
    if info.main:
        print("WORLD", info.world, "DIFF", float((gathered[0] - gathered[1]).abs().max()))
    del trainer  # the DDP wrapper holds the process group: see teardown_distributed
    teardown_distributed()
    """
)


@pytest.mark.slow
def test_ddp_two_processes_on_cpu(tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT.format(here=os.fspath(HERE)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        os.fspath(script),
        os.fspath(tmp_path / "run"),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    line = next(x for x in res.stdout.splitlines() if x.startswith("WORLD"))
    assert line.split()[1] == "2" and float(line.split()[3]) == 0.0  # identical weights on both ranks
    summary = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 8
    assert (tmp_path / "run" / "final.pt").is_file()
