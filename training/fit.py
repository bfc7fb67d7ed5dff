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

Beside this loop: :mod:`.train_config` (TrainConfig), :mod:`.data_setup` (datasets, sampler, loaders),
:mod:`.optim`, :mod:`.checkpoint` (what a run saves, resume, ``load_model``), :mod:`.distributed` (DDP) and
:mod:`.devcheck` (model selection on dev).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from livenessapp_training import losses
from livenessapp_training.checkpoint import (
    TrainState,
    load_model,
    load_resume,
    resolve_checkpoint,
    save_atomic,
    set_rng_state,
    training_checkpoint,
    weights_checkpoint,
)
from livenessapp_training.data_setup import DataBundle, EpochSampler, build_data, build_loader, epoch_seed
from livenessapp_training.devcheck import dead_binary_head_warning, dev_check, improves
from livenessapp_training.distributed import DistInfo, all_mean, setup_distributed, teardown_distributed
from livenessapp_training.fas_sgtd import FASSGTD
from livenessapp_training.optim import make_optimizer, make_scheduler
from livenessapp_training.train_config import TrainConfig, add_config_arguments, config_from_args, load_config

# Also importable from here: the config, the data bundle and sampler, load_model (``livenessapp_training.fit.*``).
__all__ = [
    "DataBundle",
    "EpochSampler",
    "StopTraining",
    "TrainConfig",
    "Trainer",
    "build_model",
    "fit",
    "load_config",
    "load_model",
    "main",
]


# --------------------------------------------------------------------------------------------------------
# The network and its losses (thin adapters over fas_sgtd / losses)
# --------------------------------------------------------------------------------------------------------


def build_model(model_cfg) -> nn.Module:
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
    return losses.single_frame_loss(
        pred, depth, use_contrastive=bool(getattr(model_cfg, "use_contrastive", True))
    )


def _stage2_loss(model_cfg, out, depth: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Eq. 15: ``beta * CE + (1 - beta) * mean_t (MSE_t + CDL_t)`` on the fused depth maps."""
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


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------------------------------------
# The trainer
# --------------------------------------------------------------------------------------------------------


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
        info = self.info
        pin = info.device.type == "cuda"
        return build_loader(ds, batch, self.cfg.seed, stage, info.rank, info.world, self.cfg.num_workers, pin)

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
        ckpt = training_checkpoint(_unwrap(self.model), self.model_cfg, self.cfg, self.state, opt, sched)
        if path is not None and self.info.main:
            save_atomic(ckpt, path)
        return ckpt

    def save_weights(self, path: Path, **extra) -> None:
        """Weights only (``best.pt``, ``final.pt``; rank 0); ``extra`` keys are added to the file."""
        if self.info.main:
            model, summary = _unwrap(self.model), self.data.summary
            save_atomic(
                weights_checkpoint(model, self.model_cfg, self.cfg, self.state, summary, **extra), path
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
                lv = float(all_mean(loss.detach(), info))
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
        st, cfg = self.state, self.cfg
        if self.info.main:
            r = dev_check(
                _unwrap(self.model),
                self.data.dev,
                self.info.device,
                cfg.dev_max_videos,
                cfg.dev_clips_per_video,
                cfg.eval_batch,
            )
            entry = {"step": st.global_step, "acer": r["acer"], "eer": r["eer"], "threshold": r["threshold"]}
            st.dev_history.append(entry)
            spread = r["p_live_std"]
            self._log({"dev/acer": r["acer"], "dev/eer": r["eer"], "dev/p_live_std": spread}, st.global_step)
            warning = dead_binary_head_warning(self.model_cfg, spread)
            if warning and not self._dead_head_warned:
                self._dead_head_warned = True
                print(f"step {st.global_step}: {warning}", file=sys.stderr, flush=True)
            if improves(entry, st.best):
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
            ckpt = load_resume(resume)
            _unwrap(self.model).load_state_dict(ckpt["model"])
            self.state = TrainState.from_checkpoint(ckpt)
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
