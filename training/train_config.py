"""The training config: :class:`TrainConfig`, everything one ``liveness-train fit`` run depends on.

Loadable from a JSON or TOML file (:func:`load_config`; a TOML ``[train]`` table is used if present), with one
``--field-name`` command-line override per field (:func:`add_config_arguments`, :func:`config_from_args`),
and saved beside every run as ``RUN/config.json`` (resume reads it back).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["TrainConfig", "add_config_arguments", "config_from_args", "load_config"]


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
    # train stage 1 only. They share cache_dir. ``source_repeat = {"owner/repo" = 4}`` lists one source's
    # clips that many times instead (to keep a small source's weight when a bigger one joins).
    mix: list = field(default_factory=list)
    cache_dir: str = "cache"
    preprocess: bool = True  # preprocess train/dev videos missing from the cache before training
    preprocess_workers: int = 0  # 0 = all CPU cores
    crop_format: str = "jpeg"  # cache crop storage: jpeg | png | raw
    clip_stride: int = 10  # a clip starts every ~10 frames of a video (Sec. 4.2.1)
    frame_stride: int = 3  # stage 1: a single frame every 3 frames (+ random jitter)
    augment: bool = True
    photometric: bool = True  # the colour / light / blur / noise part of the augmentation (clips.py)
    # fields of clips.AugmentConfig to change, e.g. {gamma = 0.6, brightness = 0.25} (wider light / tone)
    augment_overrides: dict = field(default_factory=dict)
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
                    f"repeat, source_repeat), got {part!r}"
                )
            by_source = part.get("source_repeat", {})
            counts = [part.get("repeat", 1), *(by_source.values() if isinstance(by_source, dict) else [None])]
            if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in counts):
                raise ValueError(
                    f"mix[{i}]: repeat must be a whole number >= 1 and source_repeat a table of source = "
                    f'whole number >= 1, e.g. {{"owner/repo" = 4}}; got repeat = {part.get("repeat", 1)!r}, '
                    f"source_repeat = {part.get('source_repeat', {})!r}"
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
        cfg = cls(**d)
        if cfg.augment_overrides:
            cfg.augment_config()  # a misspelt key fails when the config is read, not after preprocessing
        return cfg

    def augment_config(self):
        """The training augmentation: None for the default (``clips.AugmentConfig.for_crop_scale``), ``none``
        with ``augment = false``, the overrides applied, and the photometric part off with ``photometric = false``."""
        from livenessapp_training.clips import AugmentConfig

        crop_scale = self.model_config().crop_scale
        if not self.augment:
            return AugmentConfig.none(crop_scale)
        known = {f.name for f in dataclasses.fields(AugmentConfig)}
        unknown = sorted(set(self.augment_overrides) - known)
        if unknown:
            raise ValueError(f"unknown augment_overrides keys: {unknown} (fields of clips.AugmentConfig)")
        overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in self.augment_overrides.items()}
        if not self.photometric:
            overrides.update(gamma=0.0, channel_gain=0.0, shading=0.0, blur_p=0.0, noise=0.0)
        return AugmentConfig.for_crop_scale(crop_scale, **overrides) if overrides else None

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


_MIX_KEYS = {"dataset", "data_root", "protocol", "repeat", "source_repeat"}


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
