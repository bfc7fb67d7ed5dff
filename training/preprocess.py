"""The preprocessing cache: face-mesh tracking, face crops and depth labels of every frame, once per video.

``PreprocessCache(cache_dir, cfg).run(samples)`` decodes each video once, tracks the face with MediaPipe's
face mesh in video mode (one tracker per video, a pool of worker processes over the CPU cores), and writes
one ``.npz`` per video. Training and evaluation then read clips from the cache without decoding video.

What a cache file holds (``N`` = frames with a face; frames without a face are counted and skipped, never
given a label)::

    meta            0-d str: JSON (key, settings, video id, label, frame counts, fps, size, timings)
    frame_indices   int32   [N]              index of the frame in the video (0-based)
    landmarks       float32 [N, 468, 3]      face mesh in frame pixels (livenessapp.face convention)
    affines         float32 [N, 2, 3]        frame -> stored crop
    crops           uint8   [N, S, S, 3]     (crop_format="raw", RGB) or
    crops_encoded   uint8   [bytes] + crop_offsets int64 [N + 1]   (jpeg / png of the BGR crop)
    depth           float32 [N, d, d]        live-face depth label of the eval crop, zeros for spoof
    mask            uint8   [N, d, d]        face-mesh mask of the eval crop (kept for spoof: Eq. 18)

Crop storage. The stored crop is larger than the model input: the face box times ``crop_scale`` (1.3, the
test-time box) covers exactly ``input_size`` pixels in its centre, and a margin of ``m`` pixels around it
(``m`` = round(input_size * (store_scale / crop_scale - 1) / 2), so ``S = input_size + 2m`` covers a box
scale of about ``store_scale`` = 1.5). The eval crop is the central window, the same mapping as
``livenessapp.face.crop_face(frame, face, input_size, 1.3)`` (equal up to OpenCV's fixed-point rounding of
the sampling positions, a grey level on ~1 % of the pixels); training cuts a box of scale 1.1-1.4 out of
the stored crop (:mod:`livenessapp_training.clips`) and recomputes its depth label from the stored
landmarks, so scale jitter needs neither decoding nor an approximate resize of the label.
JPEG (quality 95) is the default crop format: about 10x smaller than raw pixels; ``png`` (lossless) and
``raw`` (uncompressed, fastest to read) keep every bit of the camera's texture when disk allows.

Versioned and content-addressed: a file's name holds a key hashed from :data:`CACHE_VERSION`, every setting
that changes the output, the video's resolved path, size and modification time (the sum/max over a frame
folder's images) and the label (depth labels are zeros for spoof). Changing a setting or the video makes a
new key, so stale files are never read; :meth:`PreprocessCache.prune` deletes them. Files are written
atomically (temporary name + ``os.replace``), so an interrupted run resumes where it stopped. Unreadable
videos are reported in the run summary (``preprocess-summary.json``) and skipped.

Every frame is processed by default (``frame_step=1``): clips sample frames at an interval of 3 in the
original frame numbering, so ``frame_step`` must divide the clip interval (1 or 3).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import multiprocessing as mp
import os
import re
import struct
import sys
import time
import zipfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from livenessapp.face import (
    CROP_BORDERS,
    DEPTH_FLOOR,
    LANDMARK_COUNT,
    FaceMeshTracker,
    crop_affine,
    depth_label,
    primary_face,
    square_crop_box,
    warp_image,
)
from livenessapp_training.datasets.base import VideoSample
from livenessapp_training.video_frames import VideoReadError, iter_frames, video_fingerprint, video_info

# 2: videos decoded upright (rotation metadata applied, livenessapp.sources.open_video_file)
CACHE_VERSION = 2
SUMMARY_NAME = "preprocess-summary.json"
__all__ = [
    "CACHE_VERSION",
    "CachedVideo",
    "PreprocessCache",
    "PreprocessConfig",
    "VideoReadError",
    "iter_frames",
    "preprocess",
    "process_video",
]


DEFAULT_CROP_SCALE = 1.3  # the face box scale the default store scale and training jitter were set for


@dataclass
class PreprocessConfig:
    """Settings of the preprocessing cache; every field except ``workers`` enters the cache key."""

    input_size: int = 256
    depth_size: int = 0  # 0 = input_size // 8 (the network's depth map size)
    crop_scale: float = 1.3  # test-time face box scale (the eval crop)
    store_scale: float = 1.5  # box scale the stored crop covers (>= the largest training jitter, 1.4)
    crop_format: str = "jpeg"  # jpeg | png | raw
    jpeg_quality: int = 95
    frame_step: int = 1  # process every k-th frame (k must divide the clip frame interval)
    max_frames: int = 0  # 0 = all frames; else stop after this many decoded frames
    max_faces: int = 1  # MediaPipe re-runs its detector each frame until it tracks max_faces faces
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    depth_floor: float = DEPTH_FLOOR
    crop_border: str = "black"  # what fills the crop outside the frame (livenessapp.face.CROP_BORDERS)

    def __post_init__(self):
        if self.depth_size <= 0:
            self.depth_size = self.input_size // 8
        if self.crop_format not in ("jpeg", "png", "raw"):
            raise ValueError(f"crop_format must be jpeg, png or raw, got {self.crop_format!r}")
        if self.store_scale < self.crop_scale:
            raise ValueError("store_scale must be >= crop_scale")
        if self.frame_step < 1:
            raise ValueError("frame_step must be >= 1")
        if self.crop_border not in CROP_BORDERS:
            raise ValueError(f"crop_border must be one of {CROP_BORDERS}, got {self.crop_border!r}")

    @classmethod
    def from_model(cls, model_cfg, **overrides) -> PreprocessConfig:
        """Settings matching a network config (``input_size``, ``depth_size``, ``crop_scale``)."""
        crop_scale = float(getattr(model_cfg, "crop_scale", DEFAULT_CROP_SCALE))
        kw = {
            "input_size": int(model_cfg.input_size),
            "depth_size": int(getattr(model_cfg, "depth_size", model_cfg.input_size // 8)),
            "crop_scale": crop_scale,
            "crop_border": str(getattr(model_cfg, "crop_border", "black")),
        }
        if crop_scale > DEFAULT_CROP_SCALE:  # keep the stored crop's room for the training jitter
            kw["store_scale"] = round(cls.store_scale * crop_scale / DEFAULT_CROP_SCALE, 4)
        kw.update(overrides)
        return cls(**kw)

    @classmethod
    def crop_codec(cls, model_cfg, train_config: dict | None) -> tuple[str, int]:
        """``(codec, margin)`` of the crops a model was trained on, as ``crop_face_like_training`` and the
        exported ``livenessapp.crop_codec`` / ``crop_margin`` take them: ``("jpeg:<quality>", stored-crop
        margin)`` for a JPEG cache, ``("", 0)`` otherwise. No train config (a bare checkpoint): no codec known."""
        if (train_config or {}).get("crop_format") != "jpeg":
            return "", 0
        cache = cls.from_model(model_cfg)
        return f"jpeg:{cache.jpeg_quality}", cache.margin

    @property
    def margin(self) -> int:
        return int(round(self.input_size * (self.store_scale / self.crop_scale - 1.0) / 2.0))

    @property
    def store_size(self) -> int:
        return self.input_size + 2 * self.margin

    def to_dict(self) -> dict:
        return asdict(self)

    def key_dict(self) -> dict:
        settings = self.to_dict()
        if settings["crop_border"] == "black":  # the fill before the option existed: those caches stay valid
            del settings["crop_border"]
        return {"cache_version": CACHE_VERSION, **settings}


# ----------------------------------------------------------------------------------------------------------
# One video
# ----------------------------------------------------------------------------------------------------------
def video_tracker(cfg: PreprocessConfig, stills: bool = False) -> FaceMeshTracker:
    """The face-mesh tracker of one video (video mode: landmarks carried from frame to frame), as the cache
    and the simulator's tracking-rate measurement use it; ``stills``: static image mode, for a capture of
    still images that are not consecutive frames."""
    return FaceMeshTracker(
        max_faces=cfg.max_faces,
        static_image_mode=stills,
        min_detection_confidence=cfg.min_detection_confidence,
        min_tracking_confidence=cfg.min_tracking_confidence,
    )


def process_video(sample: VideoSample, cfg: PreprocessConfig) -> tuple[dict[str, np.ndarray], dict]:
    """Track, crop and label every (``frame_step``-th) frame: ``(arrays for the npz, stats)``."""
    start = time.perf_counter()
    size, d, margin = cfg.store_size, cfg.depth_size, cfg.margin
    frame_indices, landmarks, affines, depths, masks = [], [], [], [], []
    crops, encoded = [], []
    decoded = no_face = 0
    height = width = 0
    live = sample.label == 1
    # a still capture keeps every image: its frames are already sparse
    step = 1 if sample.is_still else cfg.frame_step
    with video_tracker(cfg, stills=sample.is_still) as tracker:
        for index, frame in iter_frames(sample.path, step, cfg.max_frames, sample.frame_files):
            decoded += 1
            height, width = frame.shape[:2]
            face = primary_face(tracker.process(frame), frame.shape)
            if face is None:
                no_face += 1
                continue
            # The eval affine exactly as livenessapp.face.crop_face makes it; the stored crop is the same
            # mapping shifted by the margin, so its central window is the eval crop.
            eval_affine = crop_affine(*square_crop_box(face, cfg.crop_scale), cfg.input_size)
            affine = eval_affine.copy()
            affine[:, 2] += margin
            crop_bgr = warp_image(frame, affine, size, cfg.crop_border)
            depth, mask = depth_label(face, eval_affine, cfg.input_size, d, floor=cfg.depth_floor)
            if not live:
                depth = np.zeros_like(depth)
            frame_indices.append(index)
            landmarks.append(face.landmarks)
            affines.append(affine.astype(np.float32))
            depths.append(depth)
            masks.append(mask.astype(np.uint8))
            if cfg.crop_format == "raw":
                crops.append(cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2RGB))
            else:
                ext, params = (
                    (".jpg", [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])
                    if cfg.crop_format == "jpeg"
                    else (".png", [cv2.IMWRITE_PNG_COMPRESSION, 1])
                )
                ok, buf = cv2.imencode(ext, crop_bgr, params)
                if not ok:
                    raise RuntimeError("crop encoding failed")
                encoded.append(buf.reshape(-1))
    n = len(frame_indices)
    arrays: dict[str, np.ndarray] = {
        "frame_indices": np.asarray(frame_indices, dtype=np.int32),
        "landmarks": np.asarray(landmarks, dtype=np.float32).reshape(n, LANDMARK_COUNT, 3),
        "affines": np.asarray(affines, dtype=np.float32).reshape(n, 2, 3),
        "depth": np.asarray(depths, dtype=np.float32).reshape(n, d, d),
        "mask": np.asarray(masks, dtype=np.uint8).reshape(n, d, d),
    }
    if cfg.crop_format == "raw":
        arrays["crops"] = np.asarray(crops, dtype=np.uint8).reshape(n, size, size, 3)
    else:
        lengths = [len(b) for b in encoded]
        arrays["crop_offsets"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        arrays["crops_encoded"] = np.concatenate(encoded) if encoded else np.zeros(0, np.uint8)
    stats = {
        "video_id": sample.video_id,
        "path": os.fspath(sample.path),
        "label": sample.label,
        "frames_decoded": decoded,
        "frames_with_face": n,
        "frames_no_face": no_face,
        "width": width,
        "height": height,
        "fps": video_info(Path(sample.path))["fps"],
        "seconds": time.perf_counter() - start,
    }
    return arrays, stats


def _write_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)  # uncompressed (ZIP_STORED): members can be memory-mapped
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _process_task(task: tuple[VideoSample, PreprocessConfig, str, str]) -> dict:
    """Worker entry point: process one video and write its cache file; never raises."""
    sample, cfg, out_path, key = task
    try:
        arrays, stats = process_video(sample, cfg)
        meta = {"key": key, "settings": cfg.key_dict(), "sample": sample.to_dict(), **stats}
        arrays["meta"] = np.array(json.dumps(meta))
        _write_npz_atomic(Path(out_path), arrays)
        return {"status": "ok", **stats}
    except Exception as e:  # reported in the summary, never fatal for the run
        return {
            "status": "failed",
            "video_id": sample.video_id,
            "path": os.fspath(sample.path),
            "error": f"{type(e).__name__}: {e}",
            "frames_decoded": 0,
            "frames_with_face": 0,
            "frames_no_face": 0,
            "seconds": 0.0,
        }


def _worker_init() -> None:
    cv2.setNumThreads(1)
    os.environ.setdefault("GLOG_minloglevel", "2")


# ----------------------------------------------------------------------------------------------------------
# Reading the cache
# ----------------------------------------------------------------------------------------------------------
def _npz_layout(path: Path) -> dict[str, tuple[int, tuple[int, ...], np.dtype]]:
    """``name -> (byte offset, shape, dtype)`` of each array of an uncompressed npz (for memory mapping)."""
    layout = {}
    with zipfile.ZipFile(path) as zf, open(path, "rb") as raw:
        for info in zf.infolist():
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"{path}: {info.filename} is compressed; cannot memory-map")
            raw.seek(info.header_offset)
            header = raw.read(30)
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            raw.seek(info.header_offset + 30 + name_len + extra_len)
            version = np.lib.format.read_magic(raw)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(raw)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(raw)
            if fortran:
                raise ValueError(f"{path}: Fortran-ordered array {info.filename}")
            layout[info.filename.removesuffix(".npy")] = (raw.tell(), tuple(shape), dtype)
    return layout


class CachedVideo:
    """Read access to one cache file; arrays are memory-mapped, so reading a clip reads only its frames."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._layout = _npz_layout(self.path)
        self.meta: dict = json.loads(str(self._array("meta")[()]))
        self.frame_indices: np.ndarray = np.array(self._array("frame_indices"))
        settings = self.meta["settings"]
        self.input_size: int = settings["input_size"]
        self.depth_size: int = settings["depth_size"]
        self.crop_border: str = settings.get("crop_border", "black")
        self.margin: int = round((self.store_size - self.input_size) / 2)

    def _array(self, name: str) -> np.ndarray:
        offset, shape, dtype = self._layout[name]
        if int(np.prod(shape)) == 0 or dtype.hasobject:
            return np.zeros(shape, dtype)
        if shape == ():
            with open(self.path, "rb") as f:
                f.seek(offset)
                return np.frombuffer(f.read(dtype.itemsize), dtype=dtype).reshape(())
        return np.memmap(self.path, dtype=dtype, mode="r", offset=offset, shape=shape)

    def __len__(self) -> int:
        return len(self.frame_indices)

    @property
    def store_size(self) -> int:
        s = self.meta["settings"]
        return s["input_size"] + 2 * int(
            round(s["input_size"] * (s["store_scale"] / s["crop_scale"] - 1) / 2)
        )

    @property
    def label(self) -> int:
        return int(self.meta["label"])

    def rows(self, name: str, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Rows (cache positions, not frame indices) of ``landmarks``, ``affines``, ``depth``, ``mask``."""
        return np.array(self._array(name)[np.asarray(rows, dtype=np.int64)])

    def stored_crops(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """RGB uint8 [n, S, S, 3] stored (margin-included) crops of the given rows."""
        rows = np.asarray(rows, dtype=np.int64)
        if "crops" in self._layout:
            return np.array(self._array("crops")[rows])
        offsets = self._array("crop_offsets")
        data = self._array("crops_encoded")
        out = np.empty((len(rows), self.store_size, self.store_size, 3), np.uint8)
        for i, r in enumerate(rows):
            buf = np.asarray(data[offsets[r] : offsets[r + 1]])
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"{self.path}: corrupt crop {r}")
            out[i] = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        return out

    def eval_crops(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """RGB uint8 [n, input_size, input_size, 3]: the test-time (scale 1.3) crops."""
        m, s = self.margin, self.input_size
        return np.ascontiguousarray(self.stored_crops(rows)[:, m : m + s, m : m + s])

    def rows_of_frames(self, frames: Sequence[int]) -> np.ndarray:
        """Cache rows of the given frame indices (all must be present)."""
        pos = np.searchsorted(self.frame_indices, frames)
        if (pos >= len(self.frame_indices)).any() or (self.frame_indices[pos] != np.asarray(frames)).any():
            raise KeyError(f"frames {frames} not all in the cache of {self.path.name}")
        return pos


# ----------------------------------------------------------------------------------------------------------
# The cache
# ----------------------------------------------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "video"


class PreprocessCache:
    """A folder of per-video cache files for one :class:`PreprocessConfig`."""

    def __init__(self, cache_dir: str | Path, cfg: PreprocessConfig | None = None):
        self.cache_dir = Path(cache_dir)
        self.cfg = cfg or PreprocessConfig()
        self._keys: dict[tuple, str] = {}

    def key(self, sample: VideoSample) -> str:
        path = Path(sample.path).resolve()
        fp = video_fingerprint(path, sample.frame_files)
        memo = (os.fspath(path), sample.label, tuple(sorted(fp.items())))
        if memo not in self._keys:
            ident = {"settings": self.cfg.key_dict(), "path": os.fspath(path), "label": sample.label, **fp}
            blob = json.dumps(ident, sort_keys=True).encode()
            self._keys[memo] = hashlib.sha256(blob).hexdigest()[:24]
        return self._keys[memo]

    def path_for(self, sample: VideoSample) -> Path:
        return self.cache_dir / f"{_slug(sample.video_id)}-{self.key(sample)}.npz"

    def has(self, sample: VideoSample) -> bool:
        try:
            return zipfile.is_zipfile(self.path_for(sample))
        except OSError:
            return False

    def load(self, sample: VideoSample) -> CachedVideo:
        path = self.path_for(sample)
        if not path.is_file():
            raise FileNotFoundError(
                f"{sample.video_id} is not preprocessed with these settings ({path.name})"
            )
        return CachedVideo(path)

    def prune(self, samples: Sequence[VideoSample]) -> list[Path]:
        """Delete cache files that none of ``samples`` maps to under the current settings."""
        keep = {self.path_for(s).name for s in samples if Path(s.path).exists()}
        removed = [p for p in self.cache_dir.glob("*.npz") if p.name not in keep]
        for p in removed:
            p.unlink()
        return removed

    def run(
        self,
        samples: Sequence[VideoSample],
        workers: int | None = None,
        progress: bool = True,
        summary_path: str | Path | None = None,
    ) -> dict:
        """Preprocess every sample not yet cached; returns (and writes) the run summary.

        ``workers``: processes (default: all cores; 1 = in this process). Each worker owns its trackers.
        Summary keys: ``videos``, ``cached`` (reused, not decoded), ``processed``, ``decoded_videos`` (videos
        this run opened for decoding), ``failed`` [{video_id, path, error}], ``no_face_videos``,
        ``frames_decoded``, ``frames_with_face``, ``frames_no_face``, ``seconds``, ``frames_per_second``.
        """
        start = time.perf_counter()
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        unique: dict[Path, VideoSample] = {}
        missing: list[dict] = []
        tasks = []
        cached = 0
        for s in samples:
            try:
                out = self.path_for(s)
            except OSError as e:
                missing.append(
                    {"video_id": s.video_id, "path": os.fspath(s.path), "error": f"{type(e).__name__}: {e}"}
                )
                continue
            if out in unique:
                continue
            unique[out] = s
            if self.has(s):
                cached += 1
            else:
                tasks.append((s, self.cfg, os.fspath(out), self.key(s)))
        results: list[dict] = []
        workers = min(workers or os.cpu_count() or 1, max(len(tasks), 1))
        bar = _progress(len(tasks), progress)
        frames = 0
        pool = None
        try:
            if workers <= 1:
                iterator = map(_process_task, tasks)
            else:
                # spawn, not fork: MediaPipe/TFLite threads must not be forked. A worker that dies (e.g. the
                # main module cannot be re-imported) breaks the pool with an error instead of hanging.
                pool = ProcessPoolExecutor(
                    workers, mp_context=mp.get_context("spawn"), initializer=_worker_init
                )
                iterator = (f.result() for f in as_completed([pool.submit(_process_task, t) for t in tasks]))
            for r in iterator:
                results.append(r)
                frames += r["frames_decoded"]
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(
                        fps=f"{frames / max(time.perf_counter() - start, 1e-9):.0f}", refresh=False
                    )
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - start
        ok = [r for r in results if r["status"] == "ok"]
        failed = missing + [
            {k: r[k] for k in ("video_id", "path", "error")} for r in results if r["status"] == "failed"
        ]
        decoded = sum(r["frames_decoded"] for r in results)
        summary = {
            "cache_version": CACHE_VERSION,
            "settings": self.cfg.to_dict(),
            "cache_dir": os.fspath(self.cache_dir),
            "videos": len(unique) + len(missing),
            "cached": cached,
            "processed": len(ok),
            "decoded_videos": len(results),
            "failed": failed,
            "no_face_videos": [r["video_id"] for r in ok if r["frames_with_face"] == 0],
            "frames_decoded": decoded,
            "frames_with_face": sum(r["frames_with_face"] for r in results),
            "frames_no_face": sum(r["frames_no_face"] for r in results),
            "workers": workers,
            "seconds": seconds,
            "frames_per_second": decoded / seconds if decoded and seconds > 0 else 0.0,
        }
        target = Path(summary_path) if summary_path else self.cache_dir / SUMMARY_NAME
        tmp = target.with_name(f".tmp-{os.getpid()}-{target.name}")
        tmp.write_text(json.dumps(summary, indent=2))
        os.replace(tmp, target)
        return summary


def _progress(total: int, enabled: bool):
    if not enabled or total == 0:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is in the [train] extra
        return None
    return tqdm(total=total, desc="preprocess", unit="video", dynamic_ncols=True)


def preprocess(
    samples: Sequence[VideoSample],
    cache_dir: str | Path,
    cfg: PreprocessConfig | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> dict:
    """Shorthand for ``PreprocessCache(cache_dir, cfg).run(samples, workers, progress)``."""
    return PreprocessCache(cache_dir, cfg).run(samples, workers=workers, progress=progress)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m livenessapp_training.preprocess KIND ROOT CACHE [--protocol P] [--input-size 256] ...``"""
    from livenessapp_training.datasets import load_dataset

    p = argparse.ArgumentParser(
        prog="python -m livenessapp_training.preprocess", description=__doc__.split("\n")[0]
    )
    p.add_argument("kind", help="dataset kind (oulu, siw, casia, replay, folder, manifest, sim, recorded)")
    p.add_argument("root", help="dataset root folder")
    p.add_argument("cache", help="cache folder")
    p.add_argument("--protocol", default=None)
    p.add_argument("--input-size", type=int, default=256)
    p.add_argument("--crop-format", choices=["jpeg", "png", "raw"], default="jpeg")
    p.add_argument("--frame-step", type=int, default=1)
    p.add_argument(
        "--crop-border", choices=list(CROP_BORDERS), default="black", help="fill outside the frame"
    )
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    samples = load_dataset(a.kind, a.root, a.protocol)
    cfg = PreprocessConfig(
        input_size=a.input_size, crop_format=a.crop_format, frame_step=a.frame_step, crop_border=a.crop_border
    )
    summary = PreprocessCache(a.cache, cfg).run(samples, workers=a.workers, progress=not a.no_progress)
    brief = {k: v for k, v in summary.items() if k not in ("settings", "failed")}
    brief["failed"] = len(summary["failed"])
    print(json.dumps(brief, indent=2))
    for f in summary["failed"]:
        print(f"FAILED {f['path']}: {f['error']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
