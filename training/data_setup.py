"""The data of ``liveness-train fit``: the clip datasets of both stages and the dev split, and their loaders.

:func:`build_data` reads the dataset (plus the ``mix`` datasets of the config), preprocesses what is
missing from the cache (rank 0) and builds stage 1's single frames, stage 2's clips and the dev clips.
The data position is exact: :class:`EpochSampler`'s permutation is a pure function of ``(seed, stage,
epoch)`` and clip augmentation a pure function of ``(seed, epoch, index)`` (:mod:`livenessapp_training.clips`),
so ``(epoch, batch)`` is the whole data state of a resumable checkpoint.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, Sampler

from livenessapp_training.batching import collate
from livenessapp_training.train_config import TrainConfig

__all__ = ["DataBundle", "EpochSampler", "build_data", "build_loader", "epoch_seed", "mix_repeats"]


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


@dataclass
class DataBundle:
    """What training needs from the data pipeline (tests may build one directly)."""

    stage1: Dataset | None  # items with frames [1, 3, H, W]
    stage2: Dataset | None  # items with frames [Nf, 3, H, W]
    dev: Dataset | None = None  # evaluation clips of the dev split (train=False)
    summary: dict = field(default_factory=dict)


def mix_repeats(train: list, repeat: int, source_repeat: dict[str, int], where: str = "mix") -> list[int]:
    """How many times each training sample of a mix dataset is listed: its source's ``source_repeat``
    count (the sample's ``device``: a manifest's source), else ``repeat``. A source named there that no
    training sample has is an error, so a misspelt name cannot silently leave the weights as they were."""
    sources = {s.device for s in train}
    unknown = sorted(set(source_repeat) - sources)
    if unknown:
        raise ValueError(
            f"{where}: source_repeat names {unknown}, which no training sample has; its training sources "
            f"are {sorted(sources)}"
        )
    return [int(source_repeat.get(s.device, repeat)) for s in train]


def build_data(cfg: TrainConfig, model_cfg, rank: int = 0, world: int = 1) -> DataBundle:
    """Read the dataset, preprocess what is missing (rank 0), and build the clip datasets."""
    from livenessapp_training.clips import ClipDataset
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
        counts = mix_repeats(
            extra_train, int(part.get("repeat", 1)), part.get("source_repeat", {}), f"mix {part['data_root']}"
        )
        train += extra_train
        repeat += counts
        dev += select(extra, "dev")
        mixed.append(
            {
                **part,
                "videos": summarise(extra_train + select(extra, "dev")),
                "train_samples": len(extra_train),
                "listed_samples": sum(counts),
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
    aug = cfg.augment_config()
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


def build_loader(
    dataset: Dataset, batch: int, seed: int, stage: int, rank: int, world: int, num_workers: int, pin: bool
) -> DataLoader:
    """The loader of one stage: an :class:`EpochSampler` shard of ``dataset`` (batches of ``batch`` per
    process; the last, incomplete batch dropped unless the shard is smaller than one batch)."""
    sampler = EpochSampler(len(dataset), seed, stage, rank, world)
    drop_last = len(sampler) >= batch
    return DataLoader(
        dataset,
        batch_size=batch,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate,
        drop_last=drop_last,
        pin_memory=pin,
        persistent_workers=False,
        generator=torch.Generator(),
    )
