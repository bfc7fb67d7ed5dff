from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest

from livenessapp.model import LivenessModel, ModelError, sibling_paths


def test_metadata_parsed(tiny_model):
    m = tiny_model.meta
    assert (m.input_size, m.num_frames, m.frame_interval, m.depth_size) == (32, 4, 3, 4)
    assert m.threshold == 0.5 and m.beta == pytest.approx(0.9) and m.crop_scale == pytest.approx(1.3)
    assert (m.mean, m.std) == (127.5, 128.0)
    assert len(tiny_model.sha256) == 64
    assert tiny_model.provider == "cpu"


def test_streaming_equals_full(tiny_model):
    rng = np.random.default_rng(1)
    frames = rng.standard_normal((2, 4, 3, 32, 32)).astype(np.float32)
    masks = (rng.random((2, 4, 1, 4, 4)) > 0.3).astype(np.float32)
    full = tiny_model.full(frames, masks)
    # streaming: each frame encoded once and each consecutive pair run once (batch 1, as the engine does
    # when a sample arrives), temporal on the stacked cached pairs
    for b in range(2):
        enc = [tiny_model.encode(frames[b, t][None]) for t in range(4)]
        pairs = [tiny_model.pair(enc[t - 1][0], enc[t][0]) for t in range(1, 4)]
        ds = np.stack([e[1][0] for e in enc])[None]
        out = tiny_model.temporal(np.stack(pairs, axis=1), ds, masks[b : b + 1])
        np.testing.assert_allclose(out.score, full.score[b : b + 1], atol=1e-4)
        np.testing.assert_allclose(out.p_live, full.p_live[b : b + 1], atol=1e-4)
        np.testing.assert_allclose(out.depth_fusion, full.depth_fusion[b : b + 1], atol=1e-4)
        np.testing.assert_allclose(ds, full.depth_single[b : b + 1], atol=1e-4)
    # the same without a cache: pair + temporal on the whole window of encoder outputs
    feats, ds = tiny_model.encode(frames.reshape(8, 3, 32, 32))
    window = tiny_model.window(
        [f.reshape(2, 4, *f.shape[1:]) for f in feats], ds.reshape(2, 4, 1, 4, 4), masks
    )
    np.testing.assert_allclose(window.score, full.score, atol=1e-4)
    np.testing.assert_allclose(window.depth_fusion, full.depth_fusion, atol=1e-4)


def test_cuda_request_falls_back_to_cpu_with_warning(tiny_model_path, no_working_cuda):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LivenessModel.load(tiny_model_path, provider="cuda")
    assert model.provider == "cpu"
    assert model.providers == ["CPUExecutionProvider"]
    assert any("cuda" in str(w.message) for w in caught)
    assert model.warnings


def test_auto_provider_no_warning(tiny_model_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LivenessModel.load(tiny_model_path, provider="auto")
    assert model.provider in ("cpu", "cuda")


def _copy_group(src, dst_dir, name="m"):
    out = {}
    for graph, p in sibling_paths(src).items():
        q = sibling_paths(dst_dir / f"{name}.onnx")[graph]
        shutil.copy(p, q)
        out[graph] = q
    return out


def test_truncated_and_non_onnx(tiny_model_path, tmp_path):
    paths = _copy_group(tiny_model_path, tmp_path)
    data = paths["full"].read_bytes()
    paths["full"].write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="truncated"):
        LivenessModel.load(paths["full"])
    paths["full"].write_text("this is not onnx")
    with pytest.raises(ModelError):
        LivenessModel.load(paths["full"])


def test_missing_file_and_sibling(tiny_model_path, tmp_path):
    with pytest.raises(ModelError, match="not found"):
        LivenessModel.load(tmp_path / "nothing.onnx")
    paths = _copy_group(tiny_model_path, tmp_path)
    paths["encoder"].unlink()
    with pytest.raises(ModelError, match="encoder"):
        LivenessModel.load(paths["full"])
    paths = _copy_group(tiny_model_path, tmp_path, name="p")
    paths["pair"].unlink()
    with pytest.raises(ModelError, match=r"pair graph not found: .*p\.pair\.onnx"):
        LivenessModel.load(paths["full"])


def test_old_format_says_re_export(tiny_model_path, tmp_path):
    """A format-1 model (no pair graph, the temporal graph on the frames' features) gets a message naming
    the format and the command that makes a new one, not a 'pair graph not found'."""
    onnx = pytest.importorskip("onnx")
    paths = _copy_group(tiny_model_path, tmp_path)
    paths["pair"].unlink()
    for graph in ("full", "encoder", "temporal"):
        m = onnx.load(str(paths[graph]))
        for p in m.metadata_props:
            if p.key == "livenessapp.format":
                p.value = "1"
        onnx.save(m, str(paths[graph]))
    with pytest.raises(ModelError, match=r"format '1'.*reads format '2'.*liveness-train export"):
        LivenessModel.load(paths["full"])


def test_missing_metadata(tiny_model_path, tmp_path):
    onnx = pytest.importorskip("onnx")
    paths = _copy_group(tiny_model_path, tmp_path)
    m = onnx.load(str(paths["full"]))
    keep = [p for p in m.metadata_props if p.key != "livenessapp.num_frames"]
    del m.metadata_props[:]
    m.metadata_props.extend(keep)
    onnx.save(m, str(paths["full"]))
    with pytest.raises(ModelError, match="num_frames"):
        LivenessModel.load(paths["full"])


def test_wrong_input_shape(tiny_model_path, tmp_path):
    onnx = pytest.importorskip("onnx")
    paths = _copy_group(tiny_model_path, tmp_path)
    m = onnx.load(str(paths["encoder"]))
    for p in m.metadata_props:
        if p.key == "livenessapp.input_size":
            p.value = "64"
    onnx.save(m, str(paths["encoder"]))
    with pytest.raises(ModelError):
        LivenessModel.load(paths["full"])


def _props(tiny_model_path) -> dict[str, str]:
    onnx = pytest.importorskip("onnx")
    m = onnx.load(str(tiny_model_path), load_external_data=False)
    return {p.key: p.value for p in m.metadata_props}


def test_crop_codec_follows_the_training_cache(tiny_model_path):
    """The app gives the network crops through the codec its training cache used (ModelMeta.crop_codec):
    the run's train config in the metadata names it; an explicit livenessapp.crop_codec wins."""
    import json

    from livenessapp.model import TRAINING_JPEG_QUALITY, ModelMeta

    # a model exported before the explicit keys: the codec comes from its train config
    props = {
        k: v
        for k, v in _props(tiny_model_path).items()
        if k not in ("livenessapp.crop_codec", "livenessapp.crop_margin")
    }
    for fmt, codec in (("jpeg", f"jpeg:{TRAINING_JPEG_QUALITY}"), ("png", ""), ("raw", "")):
        data = {"train_config": {"crop_format": fmt}}
        assert (
            ModelMeta.from_props({**props, "livenessapp.training_data": json.dumps(data)}).crop_codec == codec
        )
    assert ModelMeta.from_props({**props, "livenessapp.training_data": ""}).crop_codec == ""
    explicit = ModelMeta.from_props(
        {**props, "livenessapp.crop_codec": "jpeg:80", "livenessapp.crop_margin": "7"}
    )
    assert (explicit.crop_codec, explicit.crop_margin) == ("jpeg:80", 7)
    with pytest.raises(ModelError, match="crop codec 'webp'"):
        ModelMeta.from_props({**props, "livenessapp.crop_codec": "webp"})


def test_crop_border_is_read_from_the_metadata(tiny_model_path):
    """What filled the training crops outside the frame: black for a model exported before the key."""
    from livenessapp.model import ModelMeta

    props = _props(tiny_model_path)
    assert props["livenessapp.crop_border"] == "black"  # the export writes it
    older = {k: v for k, v in props.items() if k != "livenessapp.crop_border"}
    assert ModelMeta.from_props(older).crop_border == "black"
    assert ModelMeta.from_props({**props, "livenessapp.crop_border": "reflect"}).crop_border == "reflect"
    with pytest.raises(ModelError, match="crop border 'wrap'"):
        ModelMeta.from_props({**props, "livenessapp.crop_border": "wrap"})
