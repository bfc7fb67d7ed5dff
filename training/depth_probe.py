"""``liveness-train depth-probe``: which image properties move a network's face depth, source by source?

For still images (and first frames of videos) of a dataset, the mean single-frame depth ``D_single`` that a
run predicts inside the face mask (the mask of Eq. 18), as recorded and under each of :data:`TRANSFORMS`,
applied to the whole picture before face tracking and cropping -- so the crop is cut and encoded exactly as
training cut it. The table has one row per (source, PAI species): the median over its pictures.

Why it exists: a trained model that rejects every live face of one source while ranking that source's live
faces above its attacks has a *level* shift, a property shared by all of that source's pictures. Measuring
which change of the picture moves the depth on sources the model gets right (dev) says which property the
network reads, without tuning anything on the test split. No learning, no thresholds; it scores pictures.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

Transform = Callable[[np.ndarray], np.ndarray]


def grey_world(image: np.ndarray) -> np.ndarray:
    """Each colour channel scaled to the picture's mean grey (von Kries white balance)."""
    means = image.reshape(-1, 3).mean(0)
    gains = means.mean() / np.maximum(means, 1e-6)
    return np.clip(image * gains, 0, 255).astype(np.uint8)


def gamma(image: np.ndarray, exponent: float) -> np.ndarray:
    """``255 * (x / 255) ** exponent``: below 1 brightens the mid-tones, above 1 darkens them."""
    return np.clip(255.0 * (image / 255.0) ** exponent, 0, 255).astype(np.uint8)


def contrast(image: np.ndarray, factor: float) -> np.ndarray:
    """Contrast about mid-grey: below 1 washes the picture out."""
    return np.clip((image.astype(np.float32) - 128.0) * factor + 128.0, 0, 255).astype(np.uint8)


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """The picture turned about its centre (borders reflected, so no black corners appear)."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degrees, 1.0)
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def reflect_pad(image: np.ndarray, fraction: float = 0.35) -> np.ndarray:
    """The picture extended by reflecting ``fraction`` of its size on every side: a tight capture's crop
    then holds mirrored face and hair where it would otherwise hold black (see ``livenessapp.face``)."""
    h, w = image.shape[:2]
    dy, dx = int(fraction * h), int(fraction * w)
    return cv2.copyMakeBorder(image, dy, dy, dx, dx, cv2.BORDER_REFLECT)


def greyscale(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


TRANSFORMS: dict[str, Transform] = {
    "as recorded": lambda im: im,
    "grey-world white balance": grey_world,
    "greyscale": greyscale,
    "brighter (gamma 0.6)": lambda im: gamma(im, 0.6),
    "darker (gamma 1.6)": lambda im: gamma(im, 1.6),
    "contrast x0.6": lambda im: contrast(im, 0.6),
    "contrast x1.4": lambda im: contrast(im, 1.4),
    "blur (sigma 2 px)": lambda im: cv2.GaussianBlur(im, (0, 0), 2.0),
    "rotated 8 deg": lambda im: rotate(im, 8.0),
    "mirrored": lambda im: np.ascontiguousarray(im[:, ::-1]),
    "reflect-padded": reflect_pad,
}


class FaceDepth:
    """Mean ``D_single`` inside the face mask of a picture, with the crop cut as the model's training cache
    cut it (:func:`livenessapp.face.crop_face_like_training`)."""

    def __init__(self, model, codec: str = "", margin: int = 0):
        from livenessapp.face import FaceMeshTracker

        self.model, self.cfg = model, model.cfg
        self.codec, self.margin = codec, margin
        self.tracker = FaceMeshTracker(static_image_mode=True)

    def __call__(self, image_bgr: np.ndarray) -> float | None:
        """None when no face is found (or its mask is empty)."""
        import torch

        from livenessapp.face import crop_face_like_training, depth_label, normalise, primary_face

        face = primary_face(self.tracker.process(image_bgr), image_bgr.shape)
        if face is None:
            return None
        size = self.cfg.input_size
        crop, affine = crop_face_like_training(
            image_bgr, face, size, self.cfg.crop_scale, self.codec, self.margin, self.cfg.crop_border
        )
        _, mask = depth_label(face, affine, size, self.cfg.depth_size)
        if not (mask > 0).any():
            return None
        with torch.no_grad():
            _, depth = self.model.encode(torch.from_numpy(normalise(crop, self.cfg.mean, self.cfg.std))[None])
        return float(depth[0, 0].numpy()[mask > 0].mean())

    def close(self) -> None:
        self.tracker.close()


def first_picture(sample) -> np.ndarray | None:
    """BGR uint8 first image of a capture, or first frame of a video; None if it cannot be read."""
    from livenessapp_training.video_frames import VideoReadError, iter_frames

    try:
        return next(iter_frames(sample.path, max_frames=1, files=sample.frame_files), (0, None))[1]
    except VideoReadError:
        return None


def pick(samples: Sequence, split: str, per_group: int, seed: int = 0) -> list:
    """Up to ``per_group`` samples of ``split`` per (source, PAI species), drawn by a seeded shuffle."""
    chosen = [s for s in samples if s.split == split]
    random.Random(seed).shuffle(chosen)
    count: dict[tuple[str, str], int] = defaultdict(int)
    keep = []
    for s in chosen:
        key = (s.device, s.pai)
        if per_group <= 0 or count[key] < per_group:
            count[key] += 1
            keep.append(s)
    return keep


def probe(
    measure: Callable[[np.ndarray], float | None],
    samples: Sequence,
    transforms: dict[str, Transform] = TRANSFORMS,
) -> dict[tuple[str, str], dict[str, list[float]]]:
    """``{(source, pai): {transform: [mean face depth per picture where a face was found]}}``."""
    out: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: {t: [] for t in transforms})
    for s in samples:
        image = first_picture(s)
        if image is None:
            print(f"depth-probe: cannot read {s.path}; skipped", file=sys.stderr)
            continue
        for name, fn in transforms.items():
            value = measure(np.ascontiguousarray(fn(image)))
            if value is not None:
                out[(s.device, s.pai)][name].append(value)
    return dict(out)


def medians(
    results: dict[tuple[str, str], dict[str, list[float]]],
) -> dict[tuple[str, str], dict[str, float]]:
    return {
        key: {t: (statistics.median(v) if v else float("nan")) for t, v in per.items()}
        for key, per in results.items()
    }


def table(results: dict[tuple[str, str], dict[str, list[float]]]) -> str:
    """One row per (source, species): pictures probed, then the median depth under each transform."""
    if not results:
        return "(no pictures with a face)"
    names = list(next(iter(results.values())))
    med = medians(results)
    head = ["source", "PAI", "n", *names]
    rows = [
        [src, pai, str(len(per[names[0]])), *(f"{med[(src, pai)][t]:.3f}" for t in names)]
        for (src, pai), per in sorted(results.items(), key=lambda kv: (kv[0][1] != "live", kv[0]))
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="liveness-train depth-probe", description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="run folder or checkpoint whose single-frame depth is probed")
    p.add_argument("--dataset", default="manifest")
    p.add_argument("--data-root", required=True)
    p.add_argument("--protocol", default=None)
    p.add_argument("--split", default="dev", help="the split whose pictures are probed (never tune on test)")
    p.add_argument("--per-source", type=int, default=12, help="pictures per (source, species); 0 = all")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the per-picture values here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    from livenessapp_training.checkpoint import load_model
    from livenessapp_training.datasets import load_dataset
    from livenessapp_training.preprocess import PreprocessConfig

    model, meta = load_model(args.run)
    samples = pick(
        load_dataset(args.dataset, args.data_root, args.protocol), args.split, args.per_source, args.seed
    )
    if not samples:
        print(
            f"depth-probe: {args.data_root} has no {args.split} samples under this protocol", file=sys.stderr
        )
        return 2
    measure = FaceDepth(model, *PreprocessConfig.crop_codec(model.cfg, meta.get("train_config")))
    try:
        results = probe(measure, samples)
    finally:
        measure.close()
    print(f"mean single-frame depth inside the face, median per source ({args.split}, {meta['path']})")
    print(table(results))
    if args.json:
        rows = [{"source": s, "pai": p, "values": per} for (s, p), per in results.items()]
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
