"""ONNX export of FAS-SGTD for the app (``livenessapp/model.py``), parity check, and cost report.

A model named NAME is written as four graphs in one folder (see ``contracts.md``):

- ``NAME.onnx``          full graph: ``frames [B,Nf,3,H,W]``, ``masks [B,Nf,1,d,d]`` ->
  ``depth_single``, ``depth_fusion``, ``logits``, ``p_live``, ``score``;
- ``NAME.encoder.onnx``  per-frame graph: ``image [B,3,H,W]`` -> ``feat1``, ``feat2``, ``feat3`` (the
  pre-pool block outputs F_1..F_3 the STSTB needs), ``depth_single [B,1,d,d]``;
- ``NAME.pair.onnx``     per-pair graph: the features of two consecutive sampled frames
  (``prev_feat1..3`` of frame t, ``feat1..3`` of frame t+1, each ``[B,C,h,w]``) -> ``pair [B,P,d,d]``, the
  STSTB output of pair (t, t+1) (``P = ststb_out``);
- ``NAME.temporal.onnx`` per-window graph: ``pairs [B,Nf-1,P,d,d]`` (the Nf-1 pair outputs of the window,
  oldest first), ``depth_single [B,Nf,1,d,d]``, ``masks`` -> ``depth_fusion``, ``logits``, ``p_live``,
  ``score`` (ConvGRU over the pairs from a zero hidden state at the window start, Eq. 10 fusion, binary
  head, Eq. 18).

Streaming: a pair's STSTB output does not change when the window slides, so the app runs the pair graph
once when a sampled frame arrives and caches the result; per sampled frame it costs encoder + pair +
the small temporal graph instead of re-running the STSTB on all Nf-1 pairs (format ``"2"``; format ``"1"``
had a temporal graph taking the Nf frames' features). The wrappers below reuse the network's own modules
(:class:`PairGraph` runs the STSTB on a two-frame clip, :class:`TemporalGraph` feeds the cached pairs into
the STPM in place of its STSTB); no parameter of :mod:`fas_sgtd` is renamed, so every checkpoint exports.

The batch axis is dynamic (``batch``); Nf and the image size are fixed (the ConvGRU loop is unrolled over
the Nf-1 pairs). All four carry the same ``livenessapp.*`` metadata_props.

Exporter: torch 2.13's legacy TorchScript exporter (``torch.onnx.export(..., dynamo=False)``) — it still
exists (with a DeprecationWarning, silenced here), exports the graphs of the lite model in a few
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

from livenessapp.integrity import GRAPHS, sibling_paths  # the app's naming of a model group's files

from .fas_sgtd import FASSGTD, SGTDConfig

__all__ = [
    "FORMAT_VERSION",
    "GRAPHS",
    "FullGraph",
    "EncoderGraph",
    "PairGraph",
    "TemporalGraph",
    "export_onnx",
    "metadata",
    "check_parity",
    "count_macs",
    "count_params",
    "cost_report",
]

FORMAT_VERSION = "2"
FULL_INPUTS, FULL_OUTPUTS = ("frames", "masks"), ("depth_single", "depth_fusion", "logits", "p_live", "score")
ENCODER_INPUTS, ENCODER_OUTPUTS = ("image",), ("feat1", "feat2", "feat3", "depth_single")
PAIR_INPUTS = ("prev_feat1", "prev_feat2", "prev_feat3", "feat1", "feat2", "feat3")
PAIR_OUTPUTS = ("pair",)
TEMPORAL_INPUTS = ("pairs", "depth_single", "masks")
TEMPORAL_OUTPUTS = ("depth_fusion", "logits", "p_live", "score")
INPUTS = {"full": FULL_INPUTS, "encoder": ENCODER_INPUTS, "pair": PAIR_INPUTS, "temporal": TEMPORAL_INPUTS}
OUTPUTS = {
    "full": FULL_OUTPUTS,
    "encoder": ENCODER_OUTPUTS,
    "pair": PAIR_OUTPUTS,
    "temporal": TEMPORAL_OUTPUTS,
}


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


class PairGraph(nn.Module):
    """The STSTB (or, without one, :class:`~fas_sgtd.PairFeatures`) of ONE pair of consecutive sampled
    frames: the network's own block run on a two-frame clip (a copy whose ``num_frames`` is 2, so its
    forward code is reused as is). A model without an STPM has no pair stage: its pair output is a
    ``[B, 1, d, d]`` zero map that the temporal graph ignores."""

    def __init__(self, model: FASSGTD):
        super().__init__()
        self.depth_size = model.cfg.depth_size
        if model.stpm is None:
            self.block = None
        else:
            self.block = copy.deepcopy(model.stpm.ststb)
            self.block.num_frames = 2

    def forward(self, prev_feat1, prev_feat2, prev_feat3, feat1, feat2, feat3):
        if self.block is None:
            d = self.depth_size
            return feat3[:, :1, :d, :d] * 0.0  # a product keeps the batch size symbolic in the graph
        clip = tuple(
            torch.stack([a, b], dim=1).flatten(0, 1)
            for a, b in ((prev_feat1, feat1), (prev_feat2, feat2), (prev_feat3, feat3))
        )
        return self.block(clip)


class _CachedPairs(nn.Module):
    """Stands in for the STSTB inside the temporal graph: the pair outputs arrive already computed."""

    def forward(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return feats[0]


class TemporalGraph(nn.Module):
    """The per-window part after the pairs: ConvGRU over the Nf-1 cached pair outputs (time order, zero
    hidden state at the window start), Eq. 10 fusion, binary head, Eq. 18 score. Runs the network's own
    :meth:`FASSGTD.temporal` on a copy whose STSTB is replaced by :class:`_CachedPairs`."""

    def __init__(self, model: FASSGTD):
        super().__init__()
        self.model = copy.deepcopy(model)
        if self.model.stpm is not None:
            self.model.stpm.ststb = _CachedPairs()

    def forward(self, pairs, depth_single, masks):
        o = self.model.temporal((pairs,), depth_single, masks)
        return o.depth_fusion, o.logits, o.p_live, o.score


def graph_modules(model: FASSGTD) -> dict[str, nn.Module]:
    return {
        "full": FullGraph(model),
        "encoder": EncoderGraph(model),
        "pair": PairGraph(model),
        "temporal": TemporalGraph(model),
    }


def _example_inputs(model: FASSGTD, batch: int = 2, seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    """Random inputs of every graph (normal frames, binary masks); the pair inputs are the encoder
    features of frames 0 and 1 of each clip, the temporal ones the pair outputs of all consecutive pairs."""
    cfg = model.cfg
    g = torch.Generator().manual_seed(seed)
    nf, s, d = cfg.num_frames, cfg.input_size, cfg.depth_size
    frames = torch.randn(batch, nf, 3, s, s, generator=g)
    masks = (torch.rand(batch, nf, 1, d, d, generator=g) > 0.3).float()
    with torch.no_grad():
        feats, ds = model.encode(frames.flatten(0, 1))
        feats = [f.unflatten(0, (batch, nf)) for f in feats]
        prev = [f[:, :-1].flatten(0, 1) for f in feats]
        nxt = [f[:, 1:].flatten(0, 1) for f in feats]
        pairs = PairGraph(model)(*prev, *nxt).unflatten(0, (batch, nf - 1))
    pair_inputs = {f"prev_feat{i + 1}": f[:, 0].contiguous() for i, f in enumerate(feats)}
    pair_inputs.update({f"feat{i + 1}": f[:, 1].contiguous() for i, f in enumerate(feats)})
    return {
        "full": {"frames": frames, "masks": masks},
        "encoder": {"image": frames[:, 0].contiguous()},
        "pair": pair_inputs,
        "temporal": {"pairs": pairs, "depth_single": ds.unflatten(0, (batch, nf)), "masks": masks},
    }


def metadata(cfg: SGTDConfig, graph: str, threshold: float, training_data: str | dict = "") -> dict[str, str]:
    """The ``livenessapp.*`` metadata_props of the contract (all values strings)."""
    from livenessapp import __version__ as version
    from livenessapp_training.preprocess import PreprocessConfig

    if not isinstance(training_data, str):
        training_data = json.dumps(training_data, default=str)
    # The codec of the training cache's crops, which the app reproduces (livenessapp.face.crop_face_like_training)
    try:
        train_config = json.loads(training_data or "{}").get("train_config", {}) or {}
    except (ValueError, AttributeError):
        train_config = {}
    codec, margin = PreprocessConfig.crop_codec(cfg, train_config)
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
        "livenessapp.crop_border": cfg.crop_border,
        "livenessapp.crop_codec": codec,
        "livenessapp.crop_margin": str(margin),
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
                module,
                args,
                os.fspath(path),
                dynamo=False,
                input_names=list(input_names),
                output_names=list(output_names),
                dynamic_axes=dyn,
                opset_version=opset,
                do_constant_folding=True,
            )
    elif exporter == "dynamo":
        batch = torch.export.Dim("batch", min=1, max=4096)
        shapes = {n: {0: batch} for n in input_names}
        torch.onnx.export(
            module,
            args,
            os.fspath(path),
            dynamo=True,
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_shapes=shapes,
            opset_version=max(opset, 18),
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
    """Write ``NAME.onnx``, ``NAME.encoder.onnx``, ``NAME.pair.onnx`` and ``NAME.temporal.onnx`` into
    ``out_dir`` with the contract's input/output names, a dynamic batch axis and the ``livenessapp.*``
    metadata. Returns ``{"full": path, "encoder": path, "pair": path, "temporal": path}``."""
    if out_dir is None:
        raise ValueError("export_onnx needs out_dir")
    cfg = cfg or model.cfg
    if cfg.to_dict() != model.cfg.to_dict():
        raise ValueError("cfg differs from the model's own config")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = sibling_paths(out / f"{name}.onnx")
    with _eval_copy(model) as m:
        inputs = _example_inputs(m, batch=2)
        modules = graph_modules(m)
        for graph in GRAPHS:
            ins, outs = INPUTS[graph], OUTPUTS[graph]
            _export_one(modules[graph], inputs[graph], paths[graph], ins, outs, opset, exporter)
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

    Returns per graph (``{"full": .., "encoder": .., "pair": .., "temporal": ..}``) the max over its outputs
    of ``|onnx - torch|``, divided by ``max(1, max|torch|)`` of that output when ``scaled`` (default): an
    absolute difference for the outputs in ``[0, 1]``-ish ranges (depth maps, logits, p_live, score) and a
    relative one for the unbounded encoder features (``feat1..3`` reach tens in a trained lite model, where
    float32 itself is only good to ~1e-4 absolute: torch float32 differs from float64 by as much).
    With the encoder, pair and temporal graphs given, ``"streaming"`` compares the app's path in ONNX
    (encoder per frame, pair graph per consecutive pair, temporal graph on the cached pairs) with the PyTorch
    network's ``forward`` on the whole clip. ``scaled=False`` gives the plain max abs differences. ``atol``
    is not applied here (the caller compares)."""
    import onnxruntime as ort

    del atol
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    result: dict[str, float] = {}

    def compare(name: str, got, want) -> float:
        diff = 0.0
        for out_name, g, w in zip(OUTPUTS[name], got, want, strict=True):
            w = w.numpy().astype(np.float64) if isinstance(w, torch.Tensor) else np.asarray(w, np.float64)
            if g.shape != w.shape:
                raise AssertionError(f"{name}.{out_name}: ONNX shape {g.shape} != torch {w.shape}")
            d = float(np.max(np.abs(g.astype(np.float64) - w)))
            if scaled:
                d /= max(1.0, float(np.max(np.abs(w))))
            diff = max(diff, d)
        return diff

    with _eval_copy(model) as m, torch.no_grad():
        inputs = _example_inputs(m, batch=batch, seed=seed)
        modules = graph_modules(m)
        sessions = {}
        for graph, path in paths.items():
            if graph not in modules:
                continue
            sess = sessions[graph] = ort.InferenceSession(
                os.fspath(path), so, providers=["CPUExecutionProvider"]
            )
            got = sess.run(list(OUTPUTS[graph]), {n: inputs[graph][n].numpy() for n in INPUTS[graph]})
            want = modules[graph](*(inputs[graph][n] for n in INPUTS[graph]))
            result[graph] = compare(graph, got, (want,) if isinstance(want, torch.Tensor) else want)
        if {"encoder", "pair", "temporal"} <= set(sessions):
            frames, masks = inputs["full"]["frames"], inputs["full"]["masks"]
            got = _onnx_streaming(sessions, frames.numpy(), masks.numpy())
            ref = m(frames, masks)
            result["streaming"] = compare(
                "full", got, (ref.depth_single, ref.depth_fusion, ref.logits, ref.p_live, ref.score)
            )
    return result


def _onnx_streaming(sessions, frames: np.ndarray, masks: np.ndarray) -> list[np.ndarray]:
    """The app's streaming path in onnxruntime, one clip at a time with batch 1: encoder per frame, pair
    graph per consecutive pair (each computed once, as the app caches it), temporal graph on the pairs.
    Returns the full graph's outputs ``[depth_single, depth_fusion, logits, p_live, score]``."""
    outs = []
    for clip, clip_masks in zip(frames, masks, strict=True):
        enc = [sessions["encoder"].run(None, {"image": f[None]}) for f in clip]
        pairs = [
            sessions["pair"].run(
                None,
                {
                    **{f"prev_feat{i + 1}": a[i] for i in range(3)},
                    **{f"feat{i + 1}": b[i] for i in range(3)},
                },
            )[0]
            for a, b in zip(enc[:-1], enc[1:], strict=True)
        ]
        depth_single = np.stack([e[3] for e in enc], axis=1)
        tem = sessions["temporal"].run(
            list(TEMPORAL_OUTPUTS),
            {"pairs": np.stack(pairs, axis=1), "depth_single": depth_single, "masks": clip_masks[None]},
        )
        outs.append([depth_single, *tem])
    return [np.concatenate(parts, axis=0) for parts in zip(*outs, strict=True)]


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
    ``encoder`` = one frame, ``pair`` = the pair graph (one pair), ``window`` = the temporal graph on
    cached pairs, ``temporal`` = the whole per-window part without caching (Nf-1 pairs + window), ``full`` =
    Nf encoders + temporal, ``streaming`` = what the app runs per sampled frame (encoder + pair + window)."""
    from torch.utils.flop_counter import FlopCounterMode

    nf, s, d = cfg.num_frames, cfg.input_size, cfg.depth_size

    def macs(fn):
        """(MACs of ``fn()``, its result)."""
        with FlopCounterMode(display=False) as fc:
            out = fn()
        return fc.get_total_flops() / 2, out

    with torch.device("meta"):
        m = FASSGTD(cfg).eval()
        enc, (feats, ds) = macs(lambda: m.encode(torch.empty(1, 3, s, s)))
        window_feats = tuple(f.unsqueeze(1).expand(1, nf, *f.shape[1:]) for f in feats)
        masks = torch.empty(1, nf, 1, d, d)
        depth = ds.unsqueeze(1).expand(1, nf, 1, d, d)
        tem, _ = macs(lambda: m.temporal(window_feats, depth, masks))
        pair, pair_out = macs(lambda: PairGraph(m)(*feats, *feats))
        pairs = pair_out.unsqueeze(1).expand(1, nf - 1, *pair_out.shape[1:])
        window, _ = macs(lambda: TemporalGraph(m)(pairs, depth, masks))
    return {
        "encoder": float(enc),
        "pair": float(pair),
        "window": float(window),
        "temporal": float(tem),
        "full": float(nf * enc + tem),
        "streaming": float(enc + pair + window),
    }


def cost_report(presets: tuple[str, ...] = ("paper", "lite")) -> str:
    """A Markdown table of parameters and MACs (per frame for the encoder and the pair graph, per window for
    the temporal part; per sampled frame for the app's streaming path) of the given presets."""
    lines = [
        "| preset | input | depth | params single | params multi | encoder GMAC/frame | pair GMAC/frame | "
        "temporal GMAC/window (uncached) | streaming GMAC/sampled frame |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in presets:
        cfg = getattr(SGTDConfig, name)()
        p = count_params(FASSGTD(cfg))
        c = count_macs(cfg)
        lines.append(
            f"| {name} | {cfg.input_size} | {cfg.depth_size} | {p['single_frame']:,} | {p['multi_frame']:,} | "
            f"{c['encoder'] / 1e9:.3f} | {c['pair'] / 1e9:.3f} | {c['temporal'] / 1e9:.3f} | "
            f"{c['streaming'] / 1e9:.3f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(cost_report())
