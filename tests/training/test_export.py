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
    "livenessapp.format", "livenessapp.graph", "livenessapp.config", "livenessapp.input_size",
    "livenessapp.num_frames", "livenessapp.frame_interval", "livenessapp.alpha", "livenessapp.beta",
    "livenessapp.normalization", "livenessapp.crop_scale", "livenessapp.depth_size", "livenessapp.threshold",
    "livenessapp.training_data", "livenessapp.version", "livenessapp.created",
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
    assert set(paths) == {"full", "encoder", "temporal"}
    assert paths["full"].endswith("sgtd.onnx") and paths["encoder"].endswith("sgtd.encoder.onnx")
    assert paths["temporal"].endswith("sgtd.temporal.onnx")
    full, enc, tem = (onnx.load(paths[g]) for g in ("full", "encoder", "temporal"))
    assert [i.name for i in full.graph.input] == ["frames", "masks"]
    assert [o.name for o in full.graph.output] == ["depth_single", "depth_fusion", "logits", "p_live", "score"]
    assert [i.name for i in enc.graph.input] == ["image"]
    assert [o.name for o in enc.graph.output] == ["feat1", "feat2", "feat3", "depth_single"]
    assert [i.name for i in tem.graph.input] == ["feat1", "feat2", "feat3", "depth_single", "masks"]
    assert [o.name for o in tem.graph.output] == ["depth_fusion", "logits", "p_live", "score"]
    assert _dims(full.graph.input[0]) == ["batch", nf, 3, s, s]
    assert _dims(full.graph.input[1]) == ["batch", nf, 1, d, d]
    assert _dims(enc.graph.input[0]) == ["batch", 3, s, s]
    assert _dims(tem.graph.input[0]) == ["batch", nf, cfg.widths[2], s, s]
    for m in (full, enc, tem):
        assert all(_dims(v)[0] == "batch" for v in [*m.graph.input, *m.graph.output])
        assert m.opset_import[0].version == 17


def test_metadata(exported):
    model, paths = exported
    for graph, path in paths.items():
        meta = {p.key: p.value for p in onnx.load(path).metadata_props}
        assert set(meta) >= META_KEYS
        assert meta["livenessapp.format"] == "1" and meta["livenessapp.graph"] == graph
        assert SGTDConfig.from_dict(json.loads(meta["livenessapp.config"])) == model.cfg
        assert int(meta["livenessapp.input_size"]) == model.cfg.input_size
        assert int(meta["livenessapp.depth_size"]) == model.cfg.depth_size
        assert int(meta["livenessapp.num_frames"]) == model.cfg.num_frames
        assert int(meta["livenessapp.frame_interval"]) == 3
        assert float(meta["livenessapp.alpha"]) == 0.8 and float(meta["livenessapp.beta"]) == 0.9
        assert float(meta["livenessapp.threshold"]) == 0.42 and float(meta["livenessapp.crop_scale"]) == 1.3
        assert json.loads(meta["livenessapp.normalization"]) == {
            "mean": 127.5, "std": 128.0, "color": "RGB", "layout": "NCHW"
        }
        assert json.loads(meta["livenessapp.training_data"]) == {"dataset": "unit-test"}
        # the same metadata (but the graph) in all three
        sess_meta = _sess(path).get_modelmeta().custom_metadata_map
        assert sess_meta["livenessapp.graph"] == graph


def test_onnxruntime_parity(exported):
    model, paths = exported
    raw = E.check_parity(model, paths, scaled=False)
    assert set(raw) == {"full", "encoder", "temporal"}
    assert max(raw.values()) <= 1e-4, raw
    scaled = E.check_parity(model, paths)
    assert max(scaled.values()) <= 1e-4, scaled


def test_streaming_in_onnx_equals_full_graph(exported):
    """The app's path: encoder per frame (batch 1), stack, temporal == the full graph."""
    model, paths = exported
    cfg = model.cfg
    g = torch.Generator().manual_seed(7)
    frames = torch.randn(1, cfg.num_frames, 3, cfg.input_size, cfg.input_size, generator=g).numpy()
    masks = np.ones((1, cfg.num_frames, 1, cfg.depth_size, cfg.depth_size), np.float32)
    full = _sess(paths["full"]).run(None, {"frames": frames, "masks": masks})
    enc = _sess(paths["encoder"])
    per = [enc.run(None, {"image": frames[:, t]}) for t in range(cfg.num_frames)]
    feed = {f"feat{i + 1}": np.stack([p[i] for p in per], 1) for i in range(3)}
    feed["depth_single"] = np.stack([p[3] for p in per], 1)
    feed["masks"] = masks
    tem = _sess(paths["temporal"]).run(None, feed)
    assert np.allclose(feed["depth_single"], full[0], atol=1e-5)
    for a, b in zip(full[1:], tem, strict=True):
        assert np.allclose(a, b, atol=1e-5)
    with torch.no_grad():
        ref = model(torch.from_numpy(frames), torch.from_numpy(masks))
    assert np.allclose(tem[3], ref.score.numpy(), atol=1e-5)


def test_single_frame_variant_keeps_the_interface(tmp_path):
    """A single-frame model's temporal graph ignores feat1..3 but still declares them."""
    model = _calibrated(SGTDConfig.tiny(multi_frame=False))
    paths = E.export_onnx(model, None, tmp_path, "m1", 0.5, "")
    tem = onnx.load(paths["temporal"])
    assert [i.name for i in tem.graph.input] == ["feat1", "feat2", "feat3", "depth_single", "masks"]
    assert max(E.check_parity(model, paths).values()) <= 1e-4


def test_cost_report():
    lite, paper = E.count_macs(SGTDConfig.lite()), E.count_macs(SGTDConfig.paper())
    assert lite["encoder"] <= 0.3e9 and lite["temporal"] <= 0.3e9  # CPU real-time budget
    assert paper["encoder"] > 40e9  # the published network is ~50 GMAC per 256 px frame
    assert lite["full"] == pytest.approx(5 * lite["encoder"] + lite["temporal"])
    params = E.count_params(FASSGTD(SGTDConfig.paper()))
    assert params["total"] == params["single_frame"] + params["multi_frame"]
    table = E.cost_report(("lite",))
    assert "| lite | 128 | 16 |" in table
