"""ONNX export of FAS-SGTD for the app (``livenessapp/model.py``), parity check, and cost report.

A model named NAME is written as three graphs in one folder (see ``contracts.md``):

- ``NAME.onnx``          full graph: ``frames [B,Nf,3,H,W]``, ``masks [B,Nf,1,d,d]`` ->
  ``depth_single``, ``depth_fusion``, ``logits``, ``p_live``, ``score``;
- ``NAME.encoder.onnx``  per-frame graph: ``image [B,3,H,W]`` -> ``feat1``, ``feat2``, ``feat3`` (the
  pre-pool block outputs F_1..F_3 the STSTB needs), ``depth_single [B,1,d,d]``;
- ``NAME.temporal.onnx`` per-window graph: ``feat1..3 [B,Nf,C,h,w]``, ``depth_single [B,Nf,1,d,d]``,
  ``masks`` -> ``depth_fusion``, ``logits``, ``p_live``, ``score``.

The batch axis is dynamic (``batch``); Nf and the image size are fixed (the ConvGRU loop is unrolled over
the Nf-1 pairs). All three carry the same ``livenessapp.*`` metadata_props.

Exporter: torch 2.13's legacy TorchScript exporter (``torch.onnx.export(..., dynamo=False)``) — it still
exists (with a DeprecationWarning, silenced here), exports the three graphs of the lite model in a few
seconds at opset 17 with ``dynamic_axes``, and matches PyTorch to float32 precision. The torch.export-based
exporter (``dynamo=True``, onnxscript 0.7) also works and gives fewer nodes, but took ~20x longer, cannot
down-convert its Resize nodes to opset 17 (the file stays at opset 18) and matched PyTorch less closely in
our check; it is the fallback when the legacy one is gone (``exporter="auto"``) or on request
(``exporter="dynamo"``, opset >= 18).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .fas_sgtd import FASSGTD, SGTDConfig

__all__ = [
    "FORMAT_VERSION",
    "FullGraph",
    "EncoderGraph",
    "TemporalGraph",
    "export_onnx",
    "metadata",
    "check_parity",
    "count_macs",
    "count_params",
    "cost_report",
]

FORMAT_VERSION = "1"
FULL_INPUTS, FULL_OUTPUTS = ("frames", "masks"), ("depth_single", "depth_fusion", "logits", "p_live", "score")
ENCODER_INPUTS, ENCODER_OUTPUTS = ("image",), ("feat1", "feat2", "feat3", "depth_single")
TEMPORAL_INPUTS = ("feat1", "feat2", "feat3", "depth_single", "masks")
TEMPORAL_OUTPUTS = ("depth_fusion", "logits", "p_live", "score")


class FullGraph(nn.Module):
    def __init__(self, model: FASSGTD):
        super().__init__()
        self.model = model

    def forward(self, frames: torch.Tensor, masks: torch.Tensor):
        o = self.model(frames, masks)
        return o.depth_single, o.depth_fusion, o.logits, o.p_live, o.score


class EncoderGraph(nn.Module):
    def __init__(self, model: FASSGTD):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor):
        (f1, f2, f3), depth_single = self.model.encode(image)
        return f1, f2, f3, depth_single


class TemporalGraph(nn.Module):
    def __init__(self, model: FASSGTD):
        super().__init__()
        self.model = model

    def forward(self, feat1, feat2, feat3, depth_single, masks):
        o = self.model.temporal((feat1, feat2, feat3), depth_single, masks)
        return o.depth_fusion, o.logits, o.p_live, o.score


def _example_inputs(model: FASSGTD, batch: int = 2, seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    """Random inputs of every graph (normal frames, binary masks), the temporal ones made by the encoder."""
    cfg = model.cfg
    g = torch.Generator().manual_seed(seed)
    nf, s, d = cfg.num_frames, cfg.input_size, cfg.depth_size
    frames = torch.randn(batch, nf, 3, s, s, generator=g)
    masks = (torch.rand(batch, nf, 1, d, d, generator=g) > 0.3).float()
    with torch.no_grad():
        feats, ds = model.encode(frames.flatten(0, 1))
    feats = [f.unflatten(0, (batch, nf)) for f in feats]
    return {
        "full": {"frames": frames, "masks": masks},
        "encoder": {"image": frames[:, 0].contiguous()},
        "temporal": {
            "feat1": feats[0], "feat2": feats[1], "feat3": feats[2],
            "depth_single": ds.unflatten(0, (batch, nf)), "masks": masks,
        },
    }


def metadata(cfg: SGTDConfig, graph: str, threshold: float, training_data: str | dict = "") -> dict[str, str]:
    """The ``livenessapp.*`` metadata_props of the contract (all values strings)."""
    from livenessapp import __version__ as version

    if not isinstance(training_data, str):
        training_data = json.dumps(training_data, default=str)
    return {
        "livenessapp.format": FORMAT_VERSION,
        "livenessapp.graph": graph,
        "livenessapp.config": json.dumps(cfg.to_dict()),
        "livenessapp.input_size": str(cfg.input_size),
        "livenessapp.num_frames": str(cfg.num_frames),
        "livenessapp.frame_interval": str(cfg.frame_interval),
        "livenessapp.alpha": repr(float(cfg.alpha)),
        "livenessapp.beta": repr(float(cfg.beta)),
        "livenessapp.normalization": json.dumps(
            {"mean": float(cfg.mean), "std": float(cfg.std), "color": "RGB", "layout": "NCHW"}
        ),
        "livenessapp.crop_scale": repr(float(cfg.crop_scale)),
        "livenessapp.depth_size": str(cfg.depth_size),
        "livenessapp.threshold": repr(float(threshold)),
        "livenessapp.training_data": training_data,
        "livenessapp.version": str(version),
        "livenessapp.created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _has_legacy_exporter() -> bool:
    try:
        import torch.onnx.utils as u

        return hasattr(u, "export")
    except Exception:  # pragma: no cover - depends on the torch version
        return False


def _export_one(module, inputs, path, input_names, output_names, opset, exporter) -> str:
    args = tuple(inputs[n] for n in input_names)
    if exporter == "auto":
        exporter = "legacy" if _has_legacy_exporter() else "dynamo"
    if exporter == "legacy":
        dyn = {n: {0: "batch"} for n in (*input_names, *output_names)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                module, args, os.fspath(path), dynamo=False, input_names=list(input_names),
                output_names=list(output_names), dynamic_axes=dyn, opset_version=opset, do_constant_folding=True,
            )
    elif exporter == "dynamo":
        batch = torch.export.Dim("batch", min=1, max=4096)
        shapes = {n: {0: batch} for n in input_names}
        torch.onnx.export(
            module, args, os.fspath(path), dynamo=True, input_names=list(input_names),
            output_names=list(output_names), dynamic_shapes=shapes, opset_version=max(opset, 18),
            external_data=False,
        )
    else:
        raise ValueError(f"unknown exporter {exporter!r} (auto, legacy, dynamo)")
    return exporter


def _finish(path: Path, props: dict[str, str], inputs: dict[str, torch.Tensor], input_names) -> None:
    """Write the metadata; put back declared inputs the exporter dropped because the graph does not use
    them (the temporal graph of a single-frame model ignores ``feat1..3``), in the declared order, so that
    every model of the format has the same interface."""
    import onnx
    from onnx import TensorProto, helper

    m = onnx.load(os.fspath(path))
    present = {i.name: i for i in m.graph.input}
    if set(input_names) - set(present):
        new = []
        for n in input_names:
            if n in present:
                new.append(present[n])
            else:
                shape = ["batch", *inputs[n].shape[1:]]
                new.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, shape))
        del m.graph.input[:]
        m.graph.input.extend(new)
    keep = [p for p in m.metadata_props if p.key not in props]
    del m.metadata_props[:]
    m.metadata_props.extend(keep)
    for k, v in props.items():
        m.metadata_props.add(key=k, value=v)
    m.producer_name = "livenessapp"
    onnx.checker.check_model(m)
    onnx.save(m, os.fspath(path))


@contextlib.contextmanager
def _eval_copy(model: FASSGTD):
    """An eval-mode, CPU, float32, grad-free copy (the caller's model is left untouched)."""
    m = copy.deepcopy(model).cpu().float().eval()
    for p in m.parameters():
        p.requires_grad_(False)
    yield m


def export_onnx(
    model: FASSGTD,
    cfg: SGTDConfig | None = None,
    out_dir: str | os.PathLike | None = None,
    name: str = "sgtd",
    threshold: float = 0.5,
    training_data: str | dict = "",
    opset: int = 17,
    exporter: str = "auto",
) -> dict[str, str]:
    """Write ``NAME.onnx``, ``NAME.encoder.onnx`` and ``NAME.temporal.onnx`` into ``out_dir`` with the
    contract's input/output names, a dynamic batch axis and the ``livenessapp.*`` metadata.
    Returns ``{"full": path, "encoder": path, "temporal": path}``."""
    if out_dir is None:
        raise ValueError("export_onnx needs out_dir")
    cfg = cfg or model.cfg
    if cfg.to_dict() != model.cfg.to_dict():
        raise ValueError("cfg differs from the model's own config")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {g: out / f"{name}{'' if g == 'full' else '.' + g}.onnx" for g in ("full", "encoder", "temporal")}
    with _eval_copy(model) as m:
        inputs = _example_inputs(m, batch=2)
        specs = {
            "full": (FullGraph(m), FULL_INPUTS, FULL_OUTPUTS),
            "encoder": (EncoderGraph(m), ENCODER_INPUTS, ENCODER_OUTPUTS),
            "temporal": (TemporalGraph(m), TEMPORAL_INPUTS, TEMPORAL_OUTPUTS),
        }
        for graph, (module, ins, outs) in specs.items():
            _export_one(module, inputs[graph], paths[graph], ins, outs, opset, exporter)
            _finish(paths[graph], metadata(cfg, graph, threshold, training_data), inputs[graph], ins)
    return {g: os.fspath(p) for g, p in paths.items()}


def check_parity(
    model: FASSGTD,
    paths: dict[str, str],
    atol: float = 1e-4,
    batch: int = 3,
    seed: int = 1,
    scaled: bool = True,
    threads: int = 1,
) -> dict[str, float]:
    """Run every exported graph with onnxruntime (CPUExecutionProvider) on random input (a batch size other
    than the export's, to exercise the dynamic axis) and compare with PyTorch (eval mode).

    Returns per graph (``{"full": .., "encoder": .., "temporal": ..}``) the max over its outputs of
    ``|onnx - torch|``, divided by ``max(1, max|torch|)`` of that output when ``scaled`` (default): an
    absolute difference for the outputs in ``[0, 1]``-ish ranges (depth maps, logits, p_live, score) and a
    relative one for the unbounded encoder features (``feat1..3`` reach tens in a trained lite model, where
    float32 itself is only good to ~1e-4 absolute: torch float32 differs from float64 by as much).
    ``scaled=False`` gives the plain max abs differences. ``atol`` is not applied here (the caller compares)."""
    import onnxruntime as ort

    del atol
    names = {"full": FULL_OUTPUTS, "encoder": ENCODER_OUTPUTS, "temporal": TEMPORAL_OUTPUTS}
    order = {"full": FULL_INPUTS, "encoder": ENCODER_INPUTS, "temporal": TEMPORAL_INPUTS}
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    result: dict[str, float] = {}
    with _eval_copy(model) as m, torch.no_grad():
        inputs = _example_inputs(m, batch=batch, seed=seed)
        modules = {"full": FullGraph(m), "encoder": EncoderGraph(m), "temporal": TemporalGraph(m)}
        for graph, path in paths.items():
            if graph not in modules:
                continue
            sess = ort.InferenceSession(os.fspath(path), so, providers=["CPUExecutionProvider"])
            got = sess.run(list(names[graph]), {n: inputs[graph][n].numpy() for n in order[graph]})
            want = modules[graph](*(inputs[graph][n] for n in order[graph]))
            diff = 0.0
            for out_name, g, w in zip(names[graph], got, want, strict=True):
                w = w.numpy().astype(np.float64)
                if g.shape != w.shape:
                    raise AssertionError(f"{graph}.{out_name}: ONNX shape {g.shape} != torch {w.shape}")
                d = float(np.max(np.abs(g.astype(np.float64) - w)))
                if scaled:
                    d /= max(1.0, float(np.max(np.abs(w))))
                diff = max(diff, d)
            result[graph] = diff
    return result


# --------------------------------------------------------------------------------------------------------
# Cost report
# --------------------------------------------------------------------------------------------------------


def count_params(model: FASSGTD) -> dict[str, int]:
    single = sum(p.numel() for p in model.backbone.parameters())
    multi = sum(p.numel() for p in model.multi_frame_parameters())
    return {"single_frame": single, "multi_frame": multi, "total": single + multi}


def count_macs(cfg: SGTDConfig) -> dict[str, float]:
    """Multiply-accumulates of the convolutions and matmuls (like fvcore: no element-wise ops / BN), counted
    with ``torch.utils.flop_counter.FlopCounterMode`` (FLOPs / 2) on the meta device (no computation):
    ``encoder`` = one frame, ``temporal`` = one window of Nf frames, ``full`` = Nf encoders + temporal."""
    from torch.utils.flop_counter import FlopCounterMode

    nf, s, d = cfg.num_frames, cfg.input_size, cfg.depth_size
    with torch.device("meta"):
        m = FASSGTD(cfg).eval()
        image = torch.empty(1, 3, s, s)
        with FlopCounterMode(display=False) as fc:
            feats, ds = m.encode(image)
        enc = fc.get_total_flops() / 2
        feats = tuple(f.unsqueeze(1).expand(1, nf, *f.shape[1:]) for f in feats)
        with FlopCounterMode(display=False) as fc:
            m.temporal(feats, ds.unsqueeze(1).expand(1, nf, 1, d, d), torch.empty(1, nf, 1, d, d))
        tem = fc.get_total_flops() / 2
    return {"encoder": float(enc), "temporal": float(tem), "full": float(nf * enc + tem)}


def cost_report(presets: tuple[str, ...] = ("paper", "lite")) -> str:
    """A Markdown table of parameters and MACs (per frame for the encoder, per window for the temporal
    graph) of the given presets."""
    lines = [
        "| preset | input | depth | params single | params multi | encoder GMAC/frame | temporal GMAC/window |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in presets:
        cfg = getattr(SGTDConfig, name)()
        p = count_params(FASSGTD(cfg))
        c = count_macs(cfg)
        lines.append(
            f"| {name} | {cfg.input_size} | {cfg.depth_size} | {p['single_frame']:,} | {p['multi_frame']:,} | "
            f"{c['encoder'] / 1e9:.3f} | {c['temporal'] / 1e9:.3f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(cost_report())
