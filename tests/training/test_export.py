"""ONNX export (training/export.py): names, dynamic batch, metadata, onnxruntime parity, streaming in ONNX,
and the cost report."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from livenessapp_training import export as E
from livenessapp_training.fas_sgtd import FASSGTD, SGTDConfig

META_KEYS = {
    "livenessapp.format",
    "livenessapp.graph",
    "livenessapp.config",
    "livenessapp.input_size",
    "livenessapp.num_frames",
    "livenessapp.frame_interval",
    "livenessapp.alpha",
    "livenessapp.beta",
    "livenessapp.normalization",
    "livenessapp.crop_scale",
    "livenessapp.depth_size",
    "livenessapp.threshold",
    "livenessapp.training_data",
    "livenessapp.version",
    "livenessapp.created",
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _calibrated(cfg: SGTDConfig, seed: int = 0) -> FASSGTD:
    """A tiny model whose BN layers have seen data (as a trained one has), in eval mode."""
    torch.manual_seed(seed)
    model = FASSGTD(cfg).train()
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, cfg.num_frames, 3, cfg.input_size, cfg.input_size, generator=g))
    return model.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory, _one_thread):
    model = _calibrated(SGTDConfig.tiny())
    out = tmp_path_factory.mktemp("onnx")
    paths = E.export_onnx(model, model.cfg, out, "sgtd", 0.42, {"dataset": "unit-test"}, opset=17)
    return model, paths


def _sess(path) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_files_names_and_dynamic_batch(exported):
    model, paths = exported
    cfg = model.cfg
    nf, s, d = cfg.num_frames, cfg.input_size, cfg.depth_size
    assert set(paths) == {"full", "encoder", "pair", "temporal"}
    assert paths["full"].endswith("sgtd.onnx") and paths["encoder"].endswith("sgtd.encoder.onnx")
    assert paths["pair"].endswith("sgtd.pair.onnx") and paths["temporal"].endswith("sgtd.temporal.onnx")
    full, enc, pair, tem = (onnx.load(paths[g]) for g in ("full", "encoder", "pair", "temporal"))
    assert [i.name for i in full.graph.input] == ["frames", "masks"]
    assert [o.name for o in full.graph.output] == [
        "depth_single",
        "depth_fusion",
        "logits",
        "p_live",
        "score",
    ]
    assert [i.name for i in enc.graph.input] == ["image"]
    assert [o.name for o in enc.graph.output] == ["feat1", "feat2", "feat3", "depth_single"]
    assert [i.name for i in pair.graph.input] == [
        "prev_feat1",
        "prev_feat2",
        "prev_feat3",
        "feat1",
        "feat2",
        "feat3",
    ]
    assert [o.name for o in pair.graph.output] == ["pair"]
    assert [i.name for i in tem.graph.input] == ["pairs", "depth_single", "masks"]
    assert [o.name for o in tem.graph.output] == ["depth_fusion", "logits", "p_live", "score"]
    assert _dims(full.graph.input[0]) == ["batch", nf, 3, s, s]
    assert _dims(full.graph.input[1]) == ["batch", nf, 1, d, d]
    assert _dims(enc.graph.input[0]) == ["batch", 3, s, s]
    assert _dims(pair.graph.input[0]) == ["batch", cfg.widths[2], s, s]
    assert _dims(pair.graph.output[0]) == ["batch", cfg.ststb_out, d, d]
    assert _dims(tem.graph.input[0]) == ["batch", nf - 1, cfg.ststb_out, d, d]
    for m in (full, enc, pair, tem):
        assert all(_dims(v)[0] == "batch" for v in [*m.graph.input, *m.graph.output])
        assert m.opset_import[0].version == 17


def test_metadata(exported):
    model, paths = exported
    for graph, path in paths.items():
        meta = {p.key: p.value for p in onnx.load(path).metadata_props}
        assert set(meta) >= META_KEYS
        assert meta["livenessapp.format"] == "2" and meta["livenessapp.graph"] == graph
        assert SGTDConfig.from_dict(json.loads(meta["livenessapp.config"])) == model.cfg
        assert int(meta["livenessapp.input_size"]) == model.cfg.input_size
        assert int(meta["livenessapp.depth_size"]) == model.cfg.depth_size
        assert int(meta["livenessapp.num_frames"]) == model.cfg.num_frames
        assert int(meta["livenessapp.frame_interval"]) == 3
        assert float(meta["livenessapp.alpha"]) == 0.8 and float(meta["livenessapp.beta"]) == 0.9
        assert float(meta["livenessapp.threshold"]) == 0.42 and float(meta["livenessapp.crop_scale"]) == 1.3
        assert json.loads(meta["livenessapp.normalization"]) == {
            "mean": 127.5,
            "std": 128.0,
            "color": "RGB",
            "layout": "NCHW",
        }
        assert json.loads(meta["livenessapp.training_data"]) == {"dataset": "unit-test"}
        # the same metadata (but the graph) in all four
        sess_meta = _sess(path).get_modelmeta().custom_metadata_map
        assert sess_meta["livenessapp.graph"] == graph


def test_onnxruntime_parity(exported):
    model, paths = exported
    raw = E.check_parity(model, paths, scaled=False)
    assert set(raw) == {"full", "encoder", "pair", "temporal", "streaming"}
    assert max(raw.values()) <= 1e-4, raw
    scaled = E.check_parity(model, paths)
    assert max(scaled.values()) <= 1e-4, scaled


def test_streaming_in_onnx_equals_full_graph(exported):
    """The app's path on a sliding stream: encoder once per frame (batch 1), pair graph once per new
    consecutive pair (cached), temporal graph on the window's cached pairs == the full graph on each window."""
    model, paths = exported
    cfg = model.cfg
    nf = cfg.num_frames
    g = torch.Generator().manual_seed(7)
    stream = torch.randn(1, nf + 2, 3, cfg.input_size, cfg.input_size, generator=g).numpy()
    masks = np.ones((1, nf, 1, cfg.depth_size, cfg.depth_size), np.float32)
    enc, pair, tem, full = (_sess(paths[k]) for k in ("encoder", "pair", "temporal", "full"))
    per = [enc.run(None, {"image": stream[:, t]}) for t in range(nf + 2)]
    pairs = [None] + [
        pair.run(
            None,
            {**{f"prev_feat{i + 1}": a[i] for i in range(3)}, **{f"feat{i + 1}": b[i] for i in range(3)}},
        )[0]
        for a, b in zip(per[:-1], per[1:], strict=False)
    ]
    for start in range(3):  # the window slides; the cached pairs are reused
        window = range(start, start + nf)
        feed = {
            "pairs": np.stack([pairs[t] for t in window][1:], 1),
            "depth_single": np.stack([per[t][3] for t in window], 1),
            "masks": masks,
        }
        out = tem.run(None, feed)
        ref = full.run(None, {"frames": stream[:, start : start + nf], "masks": masks})
        assert np.allclose(feed["depth_single"], ref[0], atol=1e-5)
        for a, b in zip(ref[1:], out, strict=True):
            assert np.allclose(a, b, atol=1e-5)
        with torch.no_grad():
            net = model(torch.from_numpy(stream[:, start : start + nf]), torch.from_numpy(masks))
        assert np.allclose(out[3], net.score.numpy(), atol=1e-5)


def test_single_frame_variant_keeps_the_interface(tmp_path):
    """A single-frame model's pair graph outputs a placeholder that its temporal graph ignores, but both keep
    the interface of the format (the app runs every model the same way)."""
    model = _calibrated(SGTDConfig.tiny(multi_frame=False))
    paths = E.export_onnx(model, None, tmp_path, "m1", 0.5, "")
    tem = onnx.load(paths["temporal"])
    assert [i.name for i in tem.graph.input] == ["pairs", "depth_single", "masks"]
    pair = onnx.load(paths["pair"])
    assert [i.name for i in pair.graph.input] == [
        "prev_feat1",
        "prev_feat2",
        "prev_feat3",
        "feat1",
        "feat2",
        "feat3",
    ]
    assert max(E.check_parity(model, paths).values()) <= 1e-4


@pytest.mark.parametrize(
    "variant",
    [{"use_ststb": False}, {"use_convgru": False}, {"input_norm": "instance"}, {"input_norm": "grey_world"}],
)
def test_ablation_variants_stream(tmp_path, variant):
    """Without an STSTB (pair features), without the ConvGRU (per-pair regression) or with the per-crop input
    standardisation the ONNX graphs and the cached-pair path still equal the network."""
    model = _calibrated(SGTDConfig.tiny(**variant))
    paths = E.export_onnx(model, None, tmp_path, "v", 0.5, "")
    parity = E.check_parity(model, paths)
    assert "streaming" in parity and max(parity.values()) <= 1e-4, parity


def test_cost_report():
    lite, paper = E.count_macs(SGTDConfig.lite()), E.count_macs(SGTDConfig.paper())
    assert lite["encoder"] <= 0.3e9 and lite["temporal"] <= 0.3e9  # CPU real-time budget
    assert paper["encoder"] > 40e9  # the published network is ~50 GMAC per 256 px frame
    assert lite["full"] == pytest.approx(5 * lite["encoder"] + lite["temporal"])
    # caching the pairs: per sampled frame the app runs encoder + ONE pair + the small window graph
    assert lite["streaming"] == pytest.approx(lite["encoder"] + lite["pair"] + lite["window"])
    assert lite["pair"] < lite["temporal"] / 3 and lite["window"] < lite["temporal"] / 10
    assert lite["full"] > 3 * lite["streaming"]
    params = E.count_params(FASSGTD(SGTDConfig.paper()))
    assert params["total"] == params["single_frame"] + params["multi_frame"]
    table = E.cost_report(("lite",))
    assert "| lite | 128 | 16 |" in table and "streaming GMAC/sampled frame" in table


def test_metadata_names_the_training_crops_codec():
    """The app reproduces the training cache's crops from these keys (ModelMeta.crop_codec / crop_margin):
    a JPEG cache is named with its quality and the margin of its wider stored crop; a lossless cache or no
    train config at all means no codec."""
    from livenessapp.model import ModelMeta
    from livenessapp_training.export import metadata
    from livenessapp_training.preprocess import PreprocessConfig

    cfg = SGTDConfig.lite()
    jpeg = metadata(cfg, "full", 0.5, {"train_config": {"crop_format": "jpeg"}})
    want = PreprocessConfig.from_model(cfg)
    assert jpeg["livenessapp.crop_codec"] == f"jpeg:{want.jpeg_quality}"
    assert int(jpeg["livenessapp.crop_margin"]) == want.margin > 0
    meta = ModelMeta.from_props(jpeg)
    assert (meta.crop_codec, meta.crop_margin) == (f"jpeg:{want.jpeg_quality}", want.margin)
    for data in ({"train_config": {"crop_format": "png"}}, ""):
        props = metadata(cfg, "full", 0.5, data)
        assert props["livenessapp.crop_codec"] == "" and ModelMeta.from_props(props).crop_codec == ""
