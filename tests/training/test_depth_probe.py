"""The depth probe: its picture changes do what their names say, and the command scores a manifest's dev
pictures of each source with a saved run, the "as recorded" column being the plain face depth of the picture."""

import json

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from livenessapp_training.datasets import load_dataset
from livenessapp_training.depth_probe import (
    TRANSFORMS,
    FaceDepth,
    contrast,
    gamma,
    grey_world,
    main,
    pick,
    reflect_pad,
)
from livenessapp_training.fas_sgtd import FASSGTD, SGTDConfig


def _picture() -> np.ndarray:
    """A tight capture, the face filling the picture as in most public liveness sets (the astronaut's face,
    cut at its landmark box and enlarged twice)."""
    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[62:175, 173:277]
    return cv2.resize(face, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)


def test_picture_changes_do_what_their_names_say():
    image = _picture()
    balanced = grey_world(image).reshape(-1, 3).astype(float).mean(0)
    assert np.ptp(balanced) < 2.0 < np.ptp(image.reshape(-1, 3).mean(0))
    assert gamma(image, 0.6).mean() > image.mean() > gamma(image, 1.6).mean()
    assert contrast(image, 0.6).std() < image.std() < contrast(image, 1.4).std()
    h, w = image.shape[:2]
    assert reflect_pad(image, 0.25).shape == (h + 2 * (h // 4), w + 2 * (w // 4), 3)
    for name, fn in TRANSFORMS.items():
        out = fn(image)
        assert out.dtype == np.uint8 and out.ndim == 3, name


def _corpus(root):
    rows = ["file\tlabel\tattack\tmedia\tsource_repo\tsplit"]
    image = _picture()
    for source, split in (("alpha", "dev"), ("gamma", "test")):
        (root / source).mkdir(parents=True)
        for i in range(2):
            path = f"{source}/shot{'ab'[i]}.png"  # two captures (no trailing _<n>)
            cv2.imwrite(str(root / path), np.roll(image, 3 * i, axis=1))
            rows.append(f"{path}\tlive\tnone\timage\t{source}/repo\t{split}")
    (root / "MANIFEST.tsv").write_text("\n".join(rows) + "\n")
    return root


def _run(tmp_path):
    torch.manual_seed(0)
    cfg = SGTDConfig.tiny()
    model = FASSGTD(cfg)
    path = tmp_path / "tiny.pt"
    train_config = {"crop_format": "jpeg"}  # as fit records it: the cache's crops were JPEG-coded
    torch.save(
        {"model": model.state_dict(), "model_config": cfg.to_dict(), "train_config": train_config}, path
    )
    return path, model.eval()


def test_probe_command_scores_dev_pictures_per_source(tmp_path, capsys):
    root = _corpus(tmp_path / "corpus")
    ckpt, model = _run(tmp_path)
    out_json = tmp_path / "probe.json"
    assert main([str(ckpt), "--data-root", str(root), "--split", "dev", "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    assert "alpha/repo" in text and "gamma/repo" not in text  # test split left alone

    rows = json.loads(out_json.read_text())
    assert {r["source"] for r in rows} == {"alpha/repo"}
    for r in rows:
        assert set(r["values"]) == set(TRANSFORMS)
        for name, values in r["values"].items():
            assert len(values) == 2, name  # the face is found in every changed picture
            assert all(0.0 < v < 1.0 for v in values)

    # "as recorded" is the face depth of the unchanged picture, its crop JPEG-coded as the cache stores it
    from livenessapp_training.preprocess import PreprocessConfig

    cache = PreprocessConfig.from_model(model.cfg)
    measure = FaceDepth(model, f"jpeg:{cache.jpeg_quality}", cache.margin)
    try:
        first = rows[0]["values"]["as recorded"]
        samples = pick(load_dataset("manifest", str(root)), "dev", 0)
        direct = sorted(measure(cv2.imread(str(s.frame_files[0]))) for s in samples)
    finally:
        measure.close()
    assert sorted(first) == pytest.approx(direct, abs=1e-6)


def test_a_split_with_no_samples_is_a_clear_error(tmp_path, capsys):
    root = _corpus(tmp_path / "corpus")
    ckpt, _ = _run(tmp_path)
    assert main([str(ckpt), "--data-root", str(root), "--split", "train"]) == 2
    assert "no train samples" in capsys.readouterr().err
