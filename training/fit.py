"""``liveness-train fit``: the two-stage training of FAS-SGTD (Sec. 4.2.1 and 4.2.3 of arXiv 1811.05118).

Stage 1 trains the single-frame part (backbone) on single frames sampled from the training clips with the
single-frame depth loss (Eq. 3 MSE + Eq. 4 contrastive depth loss). Stage 2 freezes the single-frame part
(its BatchNorm layers too: they stay in eval mode) and trains the multi-frame part (STPM + binary head) on
clips of ``Nf`` frames with Eq. 15, ``beta * CE + (1 - beta) * mean_t (MSE_t + CDL_t)``. Paper defaults:
Adadelta (rho 0.95, eps 1e-8), lr 3e-3 / batch 10 in stage 1, lr 1e-2 / batch 2 in stage 2.

Everything is one readable loop (torchvision references / nanoGPT style) driven by ONE config dataclass,
:class:`TrainConfig`, loadable from a JSON or TOML file with command-line overrides, and saved beside every
run (``RUN/config.json``). A run folder holds::

    config.json           the TrainConfig of the run (resume reads it back)
    model_config.json     the network config (SGTDConfig.to_dict())
    data_summary.json     sample counts per split and PAI species, dataset, protocol
    checkpoints/last.pt   the newest resumable checkpoint (also stage1.pt at the end of stage 1)
    best.pt / final.pt    weights only: best on dev by ACER (stage 2) and the last step
    train_summary.json    steps, times, dev metrics history, which checkpoint was selected
    log.jsonl, tb/        scalars (JSON lines and TensorBoard)

Exact resume. A checkpoint holds the model, optimiser, scheduler, stage, step, the RNG states of torch,
numpy and python, and the data position: the sampler's permutation is a pure function of
``(seed, stage, epoch)`` and clip augmentation a pure function of ``(seed, epoch, index)``
(:mod:`livenessapp_training.clips`), so ``(epoch, batch)`` is the whole data state. ``--resume``
continues bit-for-bit (CPU) the run that an uninterrupted run would have made.

Multi-GPU / multi-node: launched by ``torchrun`` (env ``RANK``/``WORLD_SIZE``), the same command trains with
DistributedDataParallel (nccl on CUDA, gloo on CPU); each process loads its shard of every epoch's
permutation (batch sizes are per process) and only rank 0 logs and saves.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import math
import os
import random
import shlex
import shutil
import sys
import time
import types
import typing
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

__all__ = [
    "EpochSampler",
    "TrainConfig",
    "Trainer",
    "build_model",
    "fit",
    "load_config",
    "load_model",
    "main",
]

CHECKPOINT_FORMAT = "livenessapp-train/1"


# --------------------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------------------


@dataclass
class TrainConfig:
    """Everything one training run depends on (saved as ``RUN/config.json``)."""

    # model: a preset of SGTDConfig (paper | lite | tiny) plus field overrides, e.g. {"use_convgru": false}
    model: str = "lite"
    model_overrides: dict = field(default_factory=dict)
    # data: a dataset reader kind (sim, oulu, siw, casia, replay, folder, recorded) at data_root
    dataset: str = "sim"
    data_root: str = "data/sim-normal"
    protocol: str | None = None
    # more datasets mixed into training and the dev check, each a table like {dataset = "manifest",
    # data_root = "...", protocol = "groups", repeat = 4}: its training clips listed `repeat` times (to weigh
    # a small real dataset up against the simulator's), its dev split added to the dev check. Image captures
    # train stage 1 only. They share cache_dir.
    mix: list = field(default_factory=list)
    cache_dir: str = "cache"
    preprocess: bool = True  # preprocess train/dev videos missing from the cache before training
    preprocess_workers: int = 0  # 0 = all CPU cores
    crop_format: str = "jpeg"  # cache crop storage: jpeg | png | raw
    clip_stride: int = 10  # a clip starts every ~10 frames of a video (Sec. 4.2.1)
    frame_stride: int = 3  # stage 1: a single frame every 3 frames (+ random jitter)
    augment: bool = True
    photometric: bool = True  # the colour / light / blur / noise part of the augmentation (clips.py)
    # stage 1: the single-frame part. steps > 0 wins over epochs; both 0 skips the stage.
    stage1_steps: int = 0
    stage1_epochs: float = 10.0
    stage1_batch: int = 10
    stage1_lr: float = 3e-3
    # stage 2: the multi-frame part (skipped for a single-frame model)
    stage2_steps: int = 0
    stage2_epochs: float = 10.0
    stage2_batch: int = 2
    stage2_lr: float = 1e-2
    # optimiser: adadelta (the paper's) | adam | adamw; scheduler: constant | cosine (+ linear warmup)
    optimizer: str = "adadelta"
    rho: float = 0.95
    eps: float = 1e-8
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    scheduler: str = "constant"
    warmup_steps: int = 0
    grad_clip: float = 0.0  # max grad norm, 0 = off
    # run
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    num_workers: int = 2
    out_dir: str = "runs/sgtd"  # the run folder
    checkpoint_every: int = 500
    log_every: int = 10
    progress: bool = True
    deterministic: bool = False  # torch.use_deterministic_algorithms (slower on CUDA)
    init_from: str = ""  # start from these weights (a checkpoint / run folder), e.g. a shared stage 1
    # model selection on the dev split during stage 2 (cheap: a subset of videos and clips)
    dev_every: int = 0  # 0 = at every checkpoint
    dev_max_videos: int = 64
    dev_clips_per_video: int = 4
    eval_batch: int = 8

    def __post_init__(self):
        self.betas = tuple(float(b) for b in self.betas)
        if self.optimizer not in ("adadelta", "adam", "adamw"):
            raise ValueError(f"optimizer must be adadelta, adam or adamw, got {self.optimizer!r}")
        if self.scheduler not in ("constant", "cosine"):
            raise ValueError(f"scheduler must be constant or cosine, got {self.scheduler!r}")
        for i, part in enumerate(self.mix):
            unknown = sorted(set(part) - _MIX_KEYS) if isinstance(part, dict) else None
            if unknown is None or unknown or not part.get("dataset") or not part.get("data_root"):
                raise ValueError(
                    f"mix[{i}] must be a table with dataset and data_root (and optionally protocol, "
                    f"repeat), got {part!r}"
                )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig keys: {unknown}")
        return cls(**d)

    def model_config(self):
        """The network config: the preset with the overrides applied."""
        from livenessapp_training.fas_sgtd import SGTDConfig

        preset = getattr(SGTDConfig, self.model, None)
        if preset is None or not callable(preset):
            raise ValueError(f"unknown model preset {self.model!r} (paper, lite, tiny)")
        base = preset().to_dict()
        unknown = sorted(set(self.model_overrides) - set(base))
        if unknown:
            raise ValueError(f"unknown model override keys: {unknown}")
        base.update(self.model_overrides)
        return SGTDConfig.from_dict(base)


_MIX_KEYS = {"dataset", "data_root", "protocol", "repeat"}


def load_config(path: str | Path) -> dict:
    """A config file (``.json`` or ``.toml``) as a dict; a TOML ``[train]`` table is used if present."""
    path = Path(path)
    text = path.read_text()
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        d = tomllib.loads(text)
        d = d.get("train", d)
    else:
        d = json.loads(text)
    return dict(d)


def _parse_bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


def _field_parser(f: dataclasses.Field):
    hint = typing.get_type_hints(TrainConfig)[f.name]
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if hint is bool:
        return _parse_bool, "BOOL"
    if hint is int:
        return int, "N"
    if hint is float:
        return float, "X"
    if hint is dict or origin is dict or hint is list or origin is list:
        return json.loads, "JSON"
    if origin is tuple:
        return (lambda s: tuple(float(x) for x in s.split(","))), "A,B"
    if origin in (typing.Union, types.UnionType) and args == [str]:
        return (lambda s: None if s.lower() in ("", "none", "null") else s), "STR"
    return str, "STR"


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--field-name`` option per TrainConfig field (default None = not given)."""
    group = parser.add_argument_group("config overrides (defaults: the config file, else TrainConfig)")
    for f in dataclasses.fields(TrainConfig):
        conv, metavar = _field_parser(f)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        group.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=conv,
            default=None,
            metavar=metavar,
            help=f"config default {default!r}",
        )


def config_from_args(args: argparse.Namespace, base: dict | None = None) -> TrainConfig:
    d = dict(base or {})
    if getattr(args, "config", None):
        d.update(load_config(args.config))
    for f in dataclasses.fields(TrainConfig):
        v = getattr(args, f.name, None)
        if v is not None:
            d[f.name] = v
    return TrainConfig.from_dict(d)


# --------------------------------------------------------------------------------------------------------
# The network and its losses (thin adapters over fas_sgtd / losses)
# --------------------------------------------------------------------------------------------------------


def build_model(model_cfg) -> nn.Module:
    from livenessapp_training.fas_sgtd import FASSGTD

    return FASSGTD(model_cfg)


def _freeze_single_frame(model: nn.Module) -> None:
    """Stage 2: the model's own freeze method (parameters and BN statistics of the single-frame part)."""
    for name in ("freeze_backbone", "freeze_single_frame"):
        fn = getattr(model, name, None)
        if callable(fn):
            fn()
            return
    raise AttributeError("FASSGTD has no freeze method (freeze_single_frame / freeze_backbone)")


def _stage1_loss(model_cfg, pred: torch.Tensor, depth: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Eq. 5: MSE (Eq. 3) + contrastive depth loss (Eq. 4); the CDL off for Table 5's Model 1*."""
    from livenessapp_training import losses

    return losses.single_frame_loss(
        pred, depth, use_contrastive=bool(getattr(model_cfg, "use_contrastive", True))
    )


def _stage2_loss(model_cfg, out, depth: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Eq. 15: ``beta * CE + (1 - beta) * mean_t (MSE_t + CDL_t)`` on the fused depth maps."""
    from livenessapp_training import losses

    result = losses.multi_frame_loss(out, depth, label, model_cfg)
    if isinstance(result, tuple):
        loss, parts = result
        return loss, {k: v.detach() if torch.is_tensor(v) else v for k, v in parts.items()}
    return result, {}


class _SingleFrame(nn.Module):
    """Stage 1's forward for DDP: images [B, 3, H, W] -> the single-frame depth map [B, 1, d, d]."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.encode(images)[1]


def _unwrap(model: nn.Module) -> nn.Module:
    while isinstance(model, nn.parallel.DistributedDataParallel | _SingleFrame):
        model = model.module if hasattr(model, "module") else model.model
    return model


# --------------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------------


@dataclass
class _FrameView:
    """The clip fields of the network config with ``num_frames = 1``: stage 1's single frames."""

    input_size: int
    num_frames: int
    frame_interval: int
    mean: float
    std: float
    crop_scale: float

    @property
    def depth_size(self) -> int:
        return self.input_size // 8

    @classmethod
    def single(cls, cfg) -> _FrameView:
        return cls(cfg.input_size, 1, cfg.frame_interval, cfg.mean, cfg.std, cfg.crop_scale)


def epoch_seed(seed: int, stage: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, stage, epoch]).generate_state(1)[0])


class EpochSampler(Sampler[int]):
    """A shuffled permutation per epoch that is a pure function of ``(seed, stage, epoch)``, sharded like
    :class:`~torch.utils.data.DistributedSampler` (padded to a multiple of the world size, rank r takes
    every world-th index) and resumable: ``start`` skips the first indices of this rank's shard."""

    def __init__(self, size: int, seed: int, stage: int, rank: int = 0, world: int = 1, shuffle: bool = True):
        self.size, self.seed, self.stage = int(size), int(seed), int(stage)
        self.rank, self.world, self.shuffle = int(rank), int(world), shuffle
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = int(epoch), int(start)

    def shard(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(epoch_seed(self.seed, self.stage, self.epoch))
            order = torch.randperm(self.size, generator=g).tolist()
        else:
            order = list(range(self.size))
        per_rank = math.ceil(self.size / self.world) if self.size else 0
        order += order[: per_rank * self.world - self.size]
        return order[self.rank :: self.world]

    def __iter__(self) -> Iterator[int]:
        return iter(self.shard()[self.start :])

    def __len__(self) -> int:
        return max((math.ceil(self.size / self.world) if self.size else 0) - self.start, 0)


def _collate(items: list[dict]) -> dict:
    out: dict = {}
    for k in items[0]:
        vals = [it[k] for it in items]
        out[k] = torch.stack(vals) if torch.is_tensor(vals[0]) else vals
    return out


@dataclass
class DataBundle:
    """What training needs from the data pipeline (tests may build one directly)."""

    stage1: Dataset | None  # items with frames [1, 3, H, W]
    stage2: Dataset | None  # items with frames [Nf, 3, H, W]
    dev: Dataset | None = None  # evaluation clips of the dev split (train=False)
    summary: dict = field(default_factory=dict)


def build_data(cfg: TrainConfig, model_cfg, rank: int = 0, world: int = 1) -> DataBundle:
    """Read the dataset, preprocess what is missing (rank 0), and build the clip datasets."""
    from livenessapp_training.clips import AugmentConfig, ClipDataset
    from livenessapp_training.datasets import load_dataset, select, summarise
    from livenessapp_training.preprocess import PreprocessCache, PreprocessConfig

    samples = load_dataset(cfg.dataset, cfg.data_root, cfg.protocol)
    train, dev = select(samples, "train"), select(samples, "dev")
    if not train:
        raise ValueError(f"no train split in {cfg.dataset} at {cfg.data_root} (protocol {cfg.protocol})")
    repeat = [1] * len(train)
    mixed = []
    for part in cfg.mix:
        extra = load_dataset(part["dataset"], part["data_root"], part.get("protocol"))
        extra_train = select(extra, "train")
        if not extra_train:
            raise ValueError(f"mix: no train split in {part['dataset']} at {part['data_root']}")
        train += extra_train
        repeat += [int(part.get("repeat", 1))] * len(extra_train)
        dev += select(extra, "dev")
        mixed.append(
            {
                **part,
                "videos": summarise(extra_train + select(extra, "dev")),
                "train_samples": len(extra_train),
                "stage2_samples": sum(1 for s in extra_train if not s.is_still),  # stills: stage 1 only
            }
        )
    cache = PreprocessCache(
        cfg.cache_dir, PreprocessConfig.from_model(model_cfg, crop_format=cfg.crop_format)
    )
    if cfg.preprocess and rank == 0:
        todo = [s for s in train + dev if not cache.has(s)]
        if todo:
            print(f"preprocessing {len(todo)} videos into {cfg.cache_dir}", file=sys.stderr)
            cache.run(todo, workers=cfg.preprocess_workers or None, progress=cfg.progress)
    if world > 1:
        dist.barrier()
    aug = None if cfg.augment else AugmentConfig.none(model_cfg.crop_scale)
    if cfg.augment and not cfg.photometric:
        aug = AugmentConfig(gamma=0.0, channel_gain=0.0, shading=0.0, blur_p=0.0, noise=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if rank else "default")
        stage1 = ClipDataset(
            cache, train, _FrameView.single(model_cfg), True, cfg.seed, aug, cfg.frame_stride, repeat=repeat
        )
        videos = [k for k, s in enumerate(train) if not s.is_still]
        stage2 = ClipDataset(
            cache,
            [train[k] for k in videos],
            model_cfg,
            True,
            cfg.seed + 1,
            aug,
            cfg.clip_stride,
            repeat=[repeat[k] for k in videos],
        )
        dev_ds = ClipDataset(cache, dev, model_cfg, False, cfg.seed, None, cfg.clip_stride) if dev else None
    summary = {
        "dataset": cfg.dataset,
        "data_root": os.fspath(cfg.data_root),
        "protocol": cfg.protocol,
        "videos": summarise(train + dev),
        "mix": mixed,
        "train_frames": len(stage1),
        "train_clips": len(stage2),
        "dev_clips": len(dev_ds) if dev_ds is not None else 0,
        "missing": sorted(set(stage2.missing) | set(dev_ds.missing if dev_ds is not None else [])),
    }
    return DataBundle(stage1, stage2, dev_ds if dev_ds is not None and len(dev_ds) else None, summary)


# --------------------------------------------------------------------------------------------------------
# Distributed helpers
# --------------------------------------------------------------------------------------------------------


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def setup_distributed(device: str) -> DistInfo:
    """Pick the device; join the process group when launched by torchrun (env RANK / WORLD_SIZE)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", local if world > 1 else torch.cuda.current_device())
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(rank, world, local, dev)


def dead_binary_head_warning(model_cfg, p_live_std: float, where: str = "dev video") -> str | None:
    """A warning when a binary-supervised model's ``p_live`` does not vary (``p_live_std`` over the ``where``
    items, e.g. dev videos): its head outputs its bias alone (every hidden unit below zero for every input,
    the failure of the paper's ReLU head) and the cross-entropy no longer trains the STPM. None otherwise."""
    if not getattr(model_cfg, "has_binary", False) or not math.isfinite(p_live_std) or p_live_std > 1e-7:
        return None
    return (
        f"the binary head's p_live is the same for every {where}: the head is dead (every unit below zero) "
        "and no cross-entropy reaches the STPM. Train with binary_activation = 'leaky_relu' (the default) "
        f"instead of {getattr(model_cfg, 'binary_activation', 'relu')!r}, or lower stage2_lr."
    )


def teardown_distributed(synchronise: bool = True) -> None:
    """Leave the process group cleanly (a no-op when none is initialised).

    The DDP wrapper's reducer holds the process group and Gloo work objects; if the last reference to them
    goes only at interpreter shutdown, Gloo's threads release tensors when Python can no longer take the GIL
    and the process aborts ("terminate called without an active exception", exit -6) although training
    finished. So: collect them now, wait for every rank (``synchronise``; skip it after an error, when the
    other ranks may never arrive), then destroy the group while the interpreter is fully alive. Drop your
    own references to the wrapped model first."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    gc.collect()
    try:
        if synchronise:
            dist.barrier()
    finally:
        dist.destroy_process_group()


def _all_mean(x: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.distributed:
        x = x.detach().clone()
        dist.all_reduce(x)
        x /= info.world
    return x


# --------------------------------------------------------------------------------------------------------
# Optimiser, scheduler, checkpoints
# --------------------------------------------------------------------------------------------------------


def make_optimizer(cfg: TrainConfig, params: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    if cfg.optimizer == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, rho=cfg.rho, eps=cfg.eps, weight_decay=cfg.weight_decay)
    cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)


def make_scheduler(cfg: TrainConfig, opt: torch.optim.Optimizer, total: int):
    warm = max(int(cfg.warmup_steps), 0)

    def factor(step: int) -> float:
        if warm and step < warm:
            return (step + 1) / warm
        if cfg.scheduler == "cosine":
            t = (step - warm) / max(total - warm, 1)
            return 0.5 * (1.0 + math.cos(math.pi * min(max(t, 0.0), 1.0)))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def rng_state() -> dict:
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        with contextlib.suppress(Exception):
            torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _save_atomic(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def resolve_checkpoint(path: str | Path, prefer: Sequence[str] = ("best.pt", "final.pt")) -> Path:
    """A checkpoint file, or the preferred weights in a run folder (then ``checkpoints/last.pt``)."""
    path = Path(path)
    if path.is_file():
        return path
    for name in (*prefer, "checkpoints/last.pt"):
        if (path / name).is_file():
            return path / name
    raise FileNotFoundError(f"no checkpoint at {path} (looked for {', '.join(prefer)}, checkpoints/last.pt)")


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """``(model in eval mode, checkpoint dict without the tensors)`` from a checkpoint or run folder."""
    from livenessapp_training.fas_sgtd import SGTDConfig

    ckpt_path = resolve_checkpoint(path)
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    model = build_model(SGTDConfig.from_dict(ckpt["model_config"]))
    model.load_state_dict(ckpt["model"])
    model.to(device).eval()
    meta = {k: v for k, v in ckpt.items() if k not in ("model", "optimizer", "scheduler", "rng")}
    meta["path"] = os.fspath(ckpt_path)
    return model, meta


# --------------------------------------------------------------------------------------------------------
# The trainer
# --------------------------------------------------------------------------------------------------------


@dataclass
class TrainState:
    """Where the run is: ``stage`` 1|2, steps done in the stage and overall, and the data position."""

    stage: int = 1
    stage_step: int = 0
    global_step: int = 0
    epoch: int = 0
    batch: int = 0  # batches of ``epoch`` already consumed
    best: dict = field(default_factory=dict)  # best dev result of stage 2: {"acer", "eer", "step", ...}
    dev_history: list = field(default_factory=list)


class StopTraining(Exception):
    """Raised after the checkpoint of step ``stop_after`` (simulates an interrupted run)."""


class Trainer:
    """Two-stage FAS-SGTD training (see the module docstring). ``data`` may be given (tests)."""

    def __init__(self, cfg: TrainConfig, data: DataBundle | None = None, info: DistInfo | None = None):
        self.cfg = cfg
        self.info = info or setup_distributed(cfg.device)
        self.run_dir = Path(cfg.out_dir)
        self.model_cfg = cfg.model_config()
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        seed_everything(cfg.seed)
        self.data = data or build_data(cfg, self.model_cfg, self.info.rank, self.info.world)
        self.model = build_model(self.model_cfg).to(self.info.device)
        if cfg.init_from:
            self.init_from(cfg.init_from)
        self.state = TrainState()
        self.writer = None
        self.t0 = time.perf_counter()
        self.step_seconds: dict[int, float] = {1: 0.0, 2: 0.0}
        self.stop_after: int | None = None
        self._dead_head_warned = False

    def init_from(self, path: str | Path) -> None:
        """Start from the weights at ``path`` (e.g. a shared stage-1 run): every tensor whose name and shape
        match is loaded, so a variant without some module (Table 4) still takes the single-frame part."""
        init = torch.load(
            resolve_checkpoint(path, ("final.pt", "best.pt")), map_location="cpu", weights_only=False
        )
        own = self.model.state_dict()
        match = {k: v for k, v in init["model"].items() if k in own and own[k].shape == v.shape}
        self.model.load_state_dict(match, strict=False)
        skipped = len(own) - len(match)
        if skipped and self.info.main:
            print(f"init_from {path}: {len(match)} tensors loaded, {skipped} left at init", file=sys.stderr)

    # -- bookkeeping -------------------------------------------------------------------------------------

    @property
    def multi_frame(self) -> bool:
        return bool(getattr(self.model_cfg, "multi_frame", True))

    def loader(self, stage: int) -> DataLoader | None:
        ds = self.data.stage1 if stage == 1 else self.data.stage2
        if ds is None or len(ds) == 0:
            return None
        batch = self.cfg.stage1_batch if stage == 1 else self.cfg.stage2_batch
        sampler = EpochSampler(len(ds), self.cfg.seed, stage, self.info.rank, self.info.world)
        drop_last = len(sampler) >= batch
        return DataLoader(
            ds,
            batch_size=batch,
            sampler=sampler,
            num_workers=self.cfg.num_workers,
            collate_fn=_collate,
            drop_last=drop_last,
            pin_memory=self.info.device.type == "cuda",
            persistent_workers=False,
            generator=torch.Generator(),
        )

    def stage_steps(self, stage: int, loader: DataLoader | None) -> int:
        if stage == 2 and not self.multi_frame:
            return 0
        if loader is None:
            return 0
        steps = self.cfg.stage1_steps if stage == 1 else self.cfg.stage2_steps
        epochs = self.cfg.stage1_epochs if stage == 1 else self.cfg.stage2_epochs
        if steps > 0:
            return int(steps)
        return int(math.ceil(max(epochs, 0.0) * len(loader)))

    def _write_run_files(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "config.json").write_text(json.dumps(self.cfg.to_dict(), indent=2))
        (self.run_dir / "model_config.json").write_text(json.dumps(self.model_cfg.to_dict(), indent=2))
        (self.run_dir / "data_summary.json").write_text(json.dumps(self.data.summary, indent=2, default=str))

    def _log(self, scalars: dict, step: int) -> None:
        if not self.info.main:
            return
        if self.writer is not None:
            for k, v in scalars.items():
                self.writer.add_scalar(k, v, step)
        with open(self.run_dir / "log.jsonl", "a") as f:
            f.write(json.dumps({"step": step, **scalars}) + "\n")

    def checkpoint(self, opt, sched, path: Path | None = None) -> dict:
        """The resumable state (also written to ``path`` by rank 0)."""
        ckpt = {
            "format": CHECKPOINT_FORMAT,
            "model": _unwrap(self.model).state_dict(),
            "model_config": self.model_cfg.to_dict(),
            "train_config": self.cfg.to_dict(),
            "stage": self.state.stage,
            "stage_step": self.state.stage_step,
            "step": self.state.global_step,
            "epoch": self.state.epoch,
            "batch": self.state.batch,
            "best": self.state.best,
            "dev_history": self.state.dev_history,
            "optimizer": opt.state_dict() if opt is not None else None,
            "scheduler": sched.state_dict() if sched is not None else None,
            "rng": rng_state(),
        }
        if path is not None and self.info.main:
            _save_atomic(ckpt, path)
        return ckpt

    def save_weights(self, path: Path, **extra) -> None:
        if not self.info.main:
            return
        _save_atomic(
            {
                "format": CHECKPOINT_FORMAT,
                "model": _unwrap(self.model).state_dict(),
                "model_config": self.model_cfg.to_dict(),
                "train_config": self.cfg.to_dict(),
                "stage": self.state.stage,
                "step": self.state.global_step,
                "data_summary": self.data.summary,
                **extra,
            },
            path,
        )

    # -- the stages ----------------------------------------------------------------------------------------

    def _trainable(self, stage: int) -> list[nn.Parameter]:
        """The parameters the stage trains: stage 2 starts from what the model's freeze method leaves
        trainable; then a probe (one zero batch, eval mode, forked RNG: BN statistics and RNG untouched)
        keeps only those the stage's loss reaches (stage 1: the single-frame part; stage 2 without binary
        supervision: not the binary head). The rest gets ``requires_grad=False`` so DDP sees no unused ones."""
        model, mc, dev = self.model, self.model_cfg, self.info.device
        for p in model.parameters():
            p.requires_grad_(True)
        if stage == 2:
            _freeze_single_frame(model)
        was_training = model.training
        model.eval()
        size, d, nf = mc.input_size, mc.depth_size, mc.num_frames
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            model.zero_grad(set_to_none=True)
            if stage == 1:
                loss, _ = _stage1_loss(
                    mc,
                    model.encode(torch.zeros(2, 3, size, size, device=dev))[1],
                    torch.zeros(2, 1, d, d, device=dev),
                )
            else:
                batch = {
                    "frames": torch.zeros(2, nf, 3, size, size),
                    "depth": torch.zeros(2, nf, 1, d, d),
                    "mask": torch.ones(2, nf, 1, d, d),
                    "label": torch.tensor([0, 1]),
                }
                loss = self._step_loss(2, model, batch)[0]
            loss.backward()
        used = [p for p in model.parameters() if p.requires_grad and p.grad is not None]
        ids = {id(p) for p in used}
        for p in model.parameters():
            p.grad = None
            if id(p) not in ids:
                p.requires_grad_(False)
        model.train(was_training)
        if not used:
            raise RuntimeError(f"stage {stage} has no trainable parameters")
        return used

    def _set_train_mode(self, stage: int) -> None:
        """``train()``, except that in stage 2 the frozen part's BatchNorm layers stay in eval mode."""
        self.model.train()
        if stage == 2:
            for m in self.model.modules():
                params = list(m.parameters(recurse=False))
                if (
                    isinstance(m, nn.modules.batchnorm._BatchNorm)
                    and params
                    and not any(p.requires_grad for p in params)
                ):
                    m.eval()

    def _wrap(self, stage: int) -> nn.Module:
        net = _SingleFrame(self.model) if stage == 1 else self.model
        if self.info.distributed:
            ids = [self.info.device.index] if self.info.device.type == "cuda" else None
            net = nn.parallel.DistributedDataParallel(net, device_ids=ids)
        return net

    def _step_loss(self, stage: int, net: nn.Module, batch: dict) -> tuple[torch.Tensor, dict, int]:
        dev = self.info.device
        frames = batch["frames"].to(dev, non_blocking=True)
        depth = batch["depth"].to(dev, non_blocking=True)
        if stage == 1:
            images, labels = frames.flatten(0, 1), depth.flatten(0, 1)  # [B*1, 3, H, W], [B*1, 1, d, d]
            pred = net(images)
            loss, parts = _stage1_loss(self.model_cfg, pred, labels)
            return loss, parts, images.shape[0]
        mask = batch["mask"].to(dev, non_blocking=True)
        label = batch["label"].to(dev, non_blocking=True)
        out = net(frames, mask)
        loss, parts = _stage2_loss(self.model_cfg, out, depth, label)
        return loss, parts, frames.shape[0]

    def run_stage(self, stage: int, resume: dict | None) -> None:
        cfg, info, st = self.cfg, self.info, self.state
        loader = self.loader(stage)
        total = self.stage_steps(stage, loader)
        if total == 0:
            return
        params = self._trainable(stage)
        lr = cfg.stage1_lr if stage == 1 else cfg.stage2_lr
        opt = make_optimizer(cfg, params, lr)
        sched = make_scheduler(cfg, opt, total)
        if resume is not None:
            opt.load_state_dict(resume["optimizer"])
            sched.load_state_dict(resume["scheduler"])
            set_rng_state(resume["rng"])
        else:
            st.stage, st.stage_step, st.epoch, st.batch = stage, 0, 0, 0
        net = self._wrap(stage)
        steps_per_epoch = len(loader)
        bar = None
        if info.main and cfg.progress:
            from tqdm import tqdm

            bar = tqdm(
                total=total, initial=st.stage_step, desc=f"stage {stage}", unit="step", dynamic_ncols=True
            )
        ema = None
        every = cfg.checkpoint_every if cfg.checkpoint_every > 0 else 0
        dev_every = cfg.dev_every or every
        while st.stage_step < total:
            sampler: EpochSampler = loader.sampler
            sampler.set_epoch(st.epoch, st.batch * loader.batch_size)
            if hasattr(loader.dataset, "set_epoch"):
                loader.dataset.set_epoch(st.epoch)
            loader.generator.manual_seed(epoch_seed(cfg.seed + 7, stage, st.epoch))
            tick = time.perf_counter()
            for batch in loader:
                self._set_train_mode(stage)
                loss, parts, n = self._step_loss(stage, net, batch)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                opt.step()
                sched.step()
                st.stage_step += 1
                st.global_step += 1
                st.batch += 1
                if st.batch >= steps_per_epoch:
                    st.epoch, st.batch = st.epoch + 1, 0
                now = time.perf_counter()
                dt, tick = now - tick, now
                self.step_seconds[stage] += dt
                rate = n * info.world / max(dt, 1e-9)
                lv = float(_all_mean(loss.detach(), info))
                ema = lv if ema is None else 0.9 * ema + 0.1 * lv
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{ema:.4f}", samples_s=f"{rate:.1f}", epoch=st.epoch, refresh=False)
                if cfg.log_every and st.stage_step % cfg.log_every == 0:
                    scalars = {
                        f"stage{stage}/loss": lv,
                        f"stage{stage}/lr": opt.param_groups[0]["lr"],
                        f"stage{stage}/samples_per_s": rate,
                    }
                    scalars.update({f"stage{stage}/{k}": float(v) for k, v in parts.items()})
                    self._log(scalars, st.global_step)
                done = st.stage_step >= total
                if (
                    stage == 2
                    and self.data.dev is not None
                    and (done or (dev_every and st.stage_step % dev_every == 0))
                ):
                    self.dev_select()
                stopping = self.stop_after is not None and st.global_step >= self.stop_after
                if done or stopping or (every and st.stage_step % every == 0):
                    self.checkpoint(opt, sched, self.run_dir / "checkpoints" / "last.pt")
                    if info.distributed:
                        dist.barrier()
                if stopping:
                    if bar is not None:
                        bar.close()
                    raise StopTraining(f"stopped after step {st.global_step}")
                if done:
                    break
        if bar is not None:
            bar.close()
        if stage == 1 and info.main:
            shutil.copyfile(
                self.run_dir / "checkpoints" / "last.pt", self.run_dir / "checkpoints" / "stage1.pt"
            )

    def dev_select(self) -> None:
        """Video-level dev ACER (threshold at the dev EER) on a subset; keeps ``best.pt`` (rank 0)."""
        from livenessapp_training.evaluate import evaluate_dataset, subset_indices

        st = self.state
        if self.info.main:
            ds = self.data.dev
            idx = subset_indices(ds, self.cfg.dev_max_videos, self.cfg.dev_clips_per_video)
            res = evaluate_dataset(
                _unwrap(self.model),
                torch.utils.data.Subset(ds, idx),
                self.info.device,
                self.cfg.eval_batch,
                num_workers=0,
                progress=False,
            )
            v = res["variants"]["score"]
            entry = {"step": st.global_step, "acer": v["acer"], "eer": v["eer"], "threshold": v["threshold"]}
            st.dev_history.append(entry)
            spread = res.get("p_live_std", math.nan)
            self._log({"dev/acer": v["acer"], "dev/eer": v["eer"], "dev/p_live_std": spread}, st.global_step)
            warning = dead_binary_head_warning(self.model_cfg, spread)
            if warning and not self._dead_head_warned:
                self._dead_head_warned = True
                print(f"step {st.global_step}: {warning}", file=sys.stderr, flush=True)
            key = (entry["acer"], entry["eer"])
            if not st.best or key <= (st.best["acer"], st.best["eer"]):
                st.best = entry
                self.save_weights(self.run_dir / "best.pt", dev=entry)
        if self.info.distributed:
            dist.barrier()

    def fit(self, resume: str | Path | None = None, stop_after: int | None = None) -> dict:
        """Train (continuing the checkpoint ``resume`` exactly); ``stop_after``: raise :class:`StopTraining`
        after that global step's checkpoint is written (only for testing interruption)."""
        info = self.info
        self.stop_after = stop_after
        ckpt = None
        if resume:
            path = Path(resume)
            path = path / "checkpoints" / "last.pt" if path.is_dir() else path
            ckpt = torch.load(path, map_location="cpu", weights_only=False)
            if ckpt.get("format") != CHECKPOINT_FORMAT:
                raise ValueError(f"{path} is not a training checkpoint ({CHECKPOINT_FORMAT})")
            _unwrap(self.model).load_state_dict(ckpt["model"])
            self.state = TrainState(
                stage=ckpt["stage"],
                stage_step=ckpt["stage_step"],
                global_step=ckpt["step"],
                epoch=ckpt["epoch"],
                batch=ckpt["batch"],
                best=ckpt.get("best") or {},
                dev_history=list(ckpt.get("dev_history") or []),
            )
        if info.main:
            self._write_run_files()
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(
                os.fspath(self.run_dir / "tb"), purge_step=self.state.global_step if ckpt else None
            )
        try:
            for stage in (1, 2):
                if ckpt is not None and stage < self.state.stage:
                    continue
                same = ckpt is not None and stage == self.state.stage
                if same and stage == 2 and ckpt["optimizer"] is None:
                    same = False
                self.run_stage(stage, ckpt if same else None)
                if same:
                    ckpt = None  # later stages start fresh
            return self.finish()
        finally:
            if self.writer is not None:
                self.writer.close()

    def finish(self) -> dict:
        st = self.state
        self.save_weights(self.run_dir / "final.pt")
        selected = "final.pt"
        if st.best and (self.run_dir / "best.pt").is_file():
            selected = "best.pt"
        elif self.info.main:
            shutil.copyfile(self.run_dir / "final.pt", self.run_dir / "best.pt")
        summary = {
            "steps": st.global_step,
            "stage1_seconds": self.step_seconds[1],
            "stage2_seconds": self.step_seconds[2],
            "wall_seconds": time.perf_counter() - self.t0,
            "selected": selected,
            "best_dev": st.best,
            "dev_history": st.dev_history,
            "world_size": self.info.world,
            "device": str(self.info.device),
        }
        if self.info.main:
            (self.run_dir / "train_summary.json").write_text(json.dumps(summary, indent=2))
        if self.info.distributed:
            dist.barrier()
        return summary


def fit(
    cfg: TrainConfig,
    resume: str | Path | None = None,
    data: DataBundle | None = None,
    stop_after: int | None = None,
) -> dict:
    """Train one run (see :class:`Trainer`); returns the training summary."""
    return Trainer(cfg, data).fit(resume, stop_after)


# --------------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="liveness-train fit",
        description="Two-stage FAS-SGTD training. Options override the config file, which overrides defaults.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--config", help="a JSON or TOML file of TrainConfig fields (TOML: top level or [train])")
    p.add_argument(
        "--resume",
        nargs="?",
        const="",
        default=None,
        metavar="RUN_OR_CKPT",
        help="continue a run exactly (default: the --out-dir run's checkpoints/last.pt)",
    )
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument(
        "--stop-after-steps",
        type=int,
        default=None,
        metavar="N",
        help="stop after global step N's checkpoint, as if interrupted (testing --resume)",
    )
    add_config_arguments(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    base = None
    resume = None
    if args.resume is not None:
        target = args.resume or args.out_dir
        if not target:
            target = (load_config(args.config) if args.config else {}).get("out_dir", TrainConfig.out_dir)
        target = Path(target)
        resume = target if target.is_file() else target / "checkpoints" / "last.pt"
        if not resume.is_file():
            print(f"fit: nothing to resume at {resume}", file=sys.stderr)
            return 2
        run_dir = resume.parent.parent
        base = json.loads((run_dir / "config.json").read_text())
        base["out_dir"] = os.fspath(run_dir)
        if args.config:
            print("fit: --resume uses the run's config.json; --config is ignored", file=sys.stderr)
            args.config = None
    cfg = config_from_args(args, base)
    if args.print_config:
        print(json.dumps(cfg.to_dict(), indent=2))
        return 0
    info = setup_distributed(cfg.device)
    if info.main:
        Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
        with open(Path(cfg.out_dir) / "commands.txt", "a") as f:
            launcher = (
                "torchrun --nproc_per_node N -m livenessapp_training fit"
                if info.distributed
                else "liveness-train fit"
            )
            f.write(f"{launcher} {shlex.join(list(sys.argv[1:] if argv is None else argv))}\n")
    clean = False
    try:
        try:
            summary = Trainer(cfg, info=info).fit(resume, args.stop_after_steps)
        except StopTraining as e:
            clean = True
            if info.main:
                print(f"fit: {e}; continue with --resume {cfg.out_dir}", file=sys.stderr)
            return 0
        clean = True
        if info.main:
            print(json.dumps({k: v for k, v in summary.items() if k != "dev_history"}, indent=2))
    finally:
        if info.distributed:
            teardown_distributed(synchronise=clean)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
