"""The FAS-SGTD ONNX model group as the app runs it (onnxruntime only, no torch).

A model named NAME is four graphs in one folder (``contracts.md``): ``NAME.onnx`` (full graph, Nf frames
-> Eq. 18 score), ``NAME.encoder.onnx`` (one frame -> per-level features F_1..F_3 and the single-frame depth
D_single), ``NAME.pair.onnx`` (the features of two consecutive sampled frames -> the STSTB output of that
pair, computed once when the newer frame arrives and cached) and ``NAME.temporal.onnx`` (the Nf-1 cached
pair outputs of a window, D_single and masks -> D_fusion, logits, p_live and the Eq. 18 score). This is
``livenessapp.format`` "2"; format "1" (no pair graph, a temporal graph on the Nf frames' features) is
refused with a message to re-export (the training checkpoint exports to format 2 unchanged). Everything
the app needs to prepare inputs (input size, Nf, sampling interval, normalisation, crop scale, depth size,
threshold, alpha / beta) is read from the ``livenessapp.*`` metadata_props: nothing is duplicated here.

Execution providers are tried in order (TensorRT only when asked for, CUDA, CPU); the provider actually
used is read back from ``session.get_providers()`` and a :class:`UserWarning` is issued when the requested
one could not be used.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from livenessapp.model_files import GRAPHS, file_sha256, sibling_paths

__all__ = ["PROVIDERS", "GraphOutput", "LivenessModel", "ModelError", "ModelMeta", "sibling_paths"]

PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
_SHORT = {v: k for k, v in PROVIDERS.items()}
_REQUIRED_KEYS = (
    "livenessapp.format",
    "livenessapp.input_size",
    "livenessapp.num_frames",
    "livenessapp.frame_interval",
    "livenessapp.normalization",
    "livenessapp.crop_scale",
    "livenessapp.depth_size",
    "livenessapp.threshold",
    "livenessapp.alpha",
    "livenessapp.beta",
)
FORMAT = "2"
FULL_INPUTS = ("frames", "masks")
FULL_OUTPUTS = ("depth_single", "depth_fusion", "logits", "p_live", "score")
ENCODER_INPUTS = ("image",)
ENCODER_OUTPUTS = ("feat1", "feat2", "feat3", "depth_single")
PAIR_INPUTS = ("prev_feat1", "prev_feat2", "prev_feat3", "feat1", "feat2", "feat3")
PAIR_OUTPUTS = ("pair",)
TEMPORAL_INPUTS = ("pairs", "depth_single", "masks")
TEMPORAL_OUTPUTS = ("depth_fusion", "logits", "p_live", "score")


class ModelError(RuntimeError):
    """The model files are missing, damaged, not ONNX, or do not follow the livenessapp format."""


_REEXPORT = "Export the model again with 'liveness-train export' and keep the files of one export together."


@dataclass(frozen=True)
class ModelMeta:
    """The ``livenessapp.*`` metadata of a model group."""

    format: str
    input_size: int
    num_frames: int  # Nf
    frame_interval: int
    mean: float
    std: float
    crop_scale: float
    depth_size: int
    threshold: float  # live if score >= threshold
    alpha: float
    beta: float  # Eq. 18: score = beta * p_live + (1 - beta) * depth score
    version: str = ""
    created: str = ""
    training_data: str = ""
    config: dict = field(default_factory=dict)
    # How the training cache stored the face crops: "" (lossless: png / raw) or "jpeg:<quality>". A network
    # that reads texture learns its training crops' codec, so the app gives it crops through the same codec
    # (livenessapp.face.crop_face_like_training): without it, the bundled model (trained on JPEG q95 crops)
    # scored a live test video 0.36 instead of the 0.60 its evaluation measured on the same frames.
    crop_codec: str = ""
    crop_margin: int = 0  # pixels the cache's encoded crop extends beyond the network's crop on each side
    # What filled the training crops outside the frame (livenessapp.face.CROP_BORDERS); models exported
    # before the option existed were trained on black.
    crop_border: str = "black"

    @classmethod
    def from_props(cls, props: dict[str, str], where: str = "model") -> ModelMeta:
        missing = [k for k in _REQUIRED_KEYS if k not in props]
        if missing:
            raise ModelError(
                f"{where} lacks the livenessapp metadata {', '.join(missing)}: it was not written by "
                "training/export.py. Re-export it with 'liveness-train export'."
            )
        try:
            norm = json.loads(props["livenessapp.normalization"])
            config = json.loads(props.get("livenessapp.config", "{}") or "{}")
            meta = cls(
                format=props["livenessapp.format"],
                input_size=int(props["livenessapp.input_size"]),
                num_frames=int(props["livenessapp.num_frames"]),
                frame_interval=int(props["livenessapp.frame_interval"]),
                mean=float(norm["mean"]),
                std=float(norm["std"]),
                crop_scale=float(props["livenessapp.crop_scale"]),
                depth_size=int(props["livenessapp.depth_size"]),
                threshold=float(props["livenessapp.threshold"]),
                alpha=float(props["livenessapp.alpha"]),
                beta=float(props["livenessapp.beta"]),
                version=props.get("livenessapp.version", ""),
                created=props.get("livenessapp.created", ""),
                training_data=props.get("livenessapp.training_data", ""),
                config=config,
                crop_codec=_crop_codec(props),
                crop_margin=_crop_margin(props),
                crop_border=_crop_border(props),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{where} has malformed livenessapp metadata: {exc}. {_REEXPORT}") from exc
        if meta.format == "1":
            raise ModelError(
                f"{where} is livenessapp format '1' (streaming graphs without the cached pair graph); this app "
                f"reads format '{FORMAT}'. Export the model again with 'liveness-train export RUN_FOLDER "
                "--out DIR --name NAME' (the training checkpoint is unchanged) to get NAME.onnx, "
                "NAME.encoder.onnx, NAME.pair.onnx and NAME.temporal.onnx."
            )
        if meta.format != FORMAT:
            raise ModelError(
                f"{where} is livenessapp format {meta.format!r}; this app reads format '{FORMAT}' (a newer "
                "app may read it, or export the model again with this version's 'liveness-train export')"
            )
        if meta.num_frames < 2 or meta.frame_interval < 1 or meta.input_size < 8 or meta.depth_size < 1:
            raise ModelError(
                f"{where} has implausible metadata (input_size {meta.input_size}, num_frames "
                f"{meta.num_frames}, frame_interval {meta.frame_interval}, depth_size {meta.depth_size}). "
                f"{_REEXPORT}"
            )
        if norm.get("color", "RGB") != "RGB" or norm.get("layout", "NCHW") != "NCHW":
            raise ModelError(f"{where} expects {norm}; this app feeds RGB NCHW. {_REEXPORT}")
        return meta


# The quality of the training cache's JPEG crops (livenessapp_training.preprocess.PreprocessConfig, which
# a run's train config does not change); a test checks that the two agree.
TRAINING_JPEG_QUALITY = 95


def _crop_codec(props: dict[str, str]) -> str:
    """The training crops' codec: ``livenessapp.crop_codec`` when the export wrote it, else the run's train
    config in ``livenessapp.training_data`` (``crop_format``: jpeg | png | raw); ``""`` = lossless."""
    codec = props.get("livenessapp.crop_codec")
    if codec is None:
        data = json.loads(props.get("livenessapp.training_data", "") or "{}")
        train_config = data.get("train_config", {}) if isinstance(data, dict) else {}
        fmt = train_config.get("crop_format", "") if isinstance(train_config, dict) else ""
        codec = f"jpeg:{TRAINING_JPEG_QUALITY}" if fmt == "jpeg" else ""
    if codec in ("", "png", "raw"):
        return ""
    kind, _, quality = codec.partition(":")
    if kind != "jpeg" or not quality.isdigit() or not 1 <= int(quality) <= 100:
        raise ValueError(f"unknown crop codec {codec!r} (expected '', 'png', 'raw' or 'jpeg:<1-100>')")
    return codec


def _crop_border(props: dict[str, str]) -> str:
    from livenessapp.face import CROP_BORDERS  # not at import: it loads MediaPipe

    border = props.get("livenessapp.crop_border", "black")
    if border not in CROP_BORDERS:
        raise ValueError(f"unknown crop border {border!r} (this app knows {', '.join(CROP_BORDERS)})")
    return border


def _crop_margin(props: dict[str, str]) -> int:
    """``livenessapp.crop_margin`` when the export wrote it, else the training cache's rule
    (``livenessapp_training.preprocess.PreprocessConfig.from_model``: the stored crop covers a box scale of
    1.5, grown with the crop scale beyond 1.3); a test checks the two agree."""
    if "livenessapp.crop_margin" in props:
        return int(props["livenessapp.crop_margin"])
    input_size, crop_scale = int(props["livenessapp.input_size"]), float(props["livenessapp.crop_scale"])
    store_scale = round(1.5 * crop_scale / 1.3, 4) if crop_scale > 1.3 else 1.5
    return int(round(input_size * (store_scale / crop_scale - 1.0) / 2.0))


@dataclass
class GraphOutput:
    """Outputs of the full or temporal graph (batched numpy arrays; ``depth_single`` only from the full
    graph, or filled in by the caller from the cached encoder outputs)."""

    depth_fusion: np.ndarray  # [B, Nf-1, 1, d, d]
    logits: np.ndarray  # [B, 2]
    p_live: np.ndarray  # [B]
    score: np.ndarray  # [B] Eq. 18
    depth_single: np.ndarray | None = None  # [B, Nf, 1, d, d]

    def is_finite(self) -> bool:
        arrays = [self.depth_fusion, self.logits, self.p_live, self.score]
        if self.depth_single is not None:
            arrays.append(self.depth_single)
        return all(bool(np.isfinite(a).all()) for a in arrays)


def default_threads() -> int:
    """Intra-op threads: every core, 1..4. The face mesh runs only on sampled frames, just before their
    inference, so the two rarely overlap and the encoder can use the cores tracking leaves idle (spinning is
    off, so idle ORT threads do not take them back). On the 2-core reference machine, under load, 2 threads
    gave ~3x real time and ~30 ms median latency where 1 thread gave ~2x and ~50 ms (``livenessapp bench``)."""
    return max(1, min(4, os.cpu_count() or 2))


def _provider_chain(provider: str) -> list[str]:
    available = set(ort.get_available_providers())
    provider = provider.lower()
    if provider not in ("auto", *PROVIDERS):
        raise ValueError(f"unknown provider {provider!r}: auto, tensorrt, cuda or cpu")
    if provider == "cpu":
        chain = ["cpu"]
    elif provider == "tensorrt":
        chain = ["tensorrt", "cuda", "cpu"]
    else:
        chain = ["cuda", "cpu"]
    return [PROVIDERS[p] for p in chain if PROVIDERS[p] in available or p == "cpu"]


@contextlib.contextmanager
def _quiet_ort():
    """onnxruntime prints an error for every provider library it cannot load; we report that ourselves."""
    ort.set_default_logger_severity(4)
    try:
        yield
    finally:
        ort.set_default_logger_severity(2)


class LivenessModel:
    """A loaded model group: ``encode`` (per sampled frame), ``pair`` (per new pair of consecutive sampled
    frames), ``temporal`` (per window, on the cached pairs), ``window`` (pair + temporal on a whole window),
    ``full`` (recompute from the frames).

    Attributes: ``path``, ``meta`` (:class:`ModelMeta`), ``provider`` (short name actually used: "cpu",
    "cuda", "tensorrt"), ``requested_provider``, ``providers`` (the session's full list), ``sha256`` (of the
    full-graph file), ``warnings`` (messages also issued as UserWarning), ``threads``.
    """

    def __init__(
        self, path: Path, meta: ModelMeta, sessions: dict[str, ort.InferenceSession], requested: str
    ):
        self.path = path
        self.meta = meta
        self._sessions = sessions
        self.requested_provider = requested
        self.providers = list(sessions["full"].get_providers())
        self.provider = _SHORT.get(self.providers[0], self.providers[0])
        self.sha256 = file_sha256(path)
        self.warnings: list[str] = []
        self.threads = 0

    # -------------------------------------------------------------------------------------------------
    @classmethod
    def load(
        cls, path: str | os.PathLike, provider: str = "auto", threads: int | None = None
    ) -> LivenessModel:
        """Load ``NAME.onnx`` and its ``.encoder.onnx`` / ``.pair.onnx`` / ``.temporal.onnx`` siblings.

        Raises :class:`ModelError` for a missing, truncated or non-ONNX file, missing metadata, an old
        format or input shapes that do not match the metadata.
        """
        paths = sibling_paths(Path(path).expanduser())
        chain = _provider_chain(provider)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads or default_threads()
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # do not burn the shared cores
        so.log_severity_level = 3
        sessions: dict[str, ort.InferenceSession] = {}
        metas: dict[str, ModelMeta] = {}
        # The full graph first: its format says which siblings the model has, so that an old-format model
        # is reported as such rather than as a missing pair graph.
        for graph, p in paths.items():
            if not p.is_file():
                what = "model" if graph == "full" else f"streaming {graph} graph"
                raise ModelError(
                    f"{what} not found: {p}. A model is NAME.onnx + NAME.encoder.onnx + NAME.pair.onnx + "
                    "NAME.temporal.onnx as written by 'liveness-train export'."
                )
            with _quiet_ort():
                try:
                    sessions[graph] = ort.InferenceSession(os.fspath(p), so, providers=chain)
                except Exception as exc:  # onnxruntime raises its own exception types
                    raise ModelError(
                        f"{p} is not a loadable ONNX model ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). "
                        "The file may be truncated (an interrupted download or export) or not ONNX; export it "
                        "again with 'liveness-train export'."
                    ) from exc
            props = dict(sessions[graph].get_modelmeta().custom_metadata_map)
            metas[graph] = ModelMeta.from_props(props, where=p.name)
            if props.get("livenessapp.graph", graph) != graph:
                raise ModelError(
                    f"{p.name} says it is the {props['livenessapp.graph']!r} graph, not {graph!r} (files "
                    f"renamed or mixed up). {_REEXPORT}"
                )
        meta = metas["full"]
        for graph in GRAPHS[1:]:
            m = metas[graph]
            if (m.input_size, m.num_frames, m.depth_size, m.config) != (
                meta.input_size,
                meta.num_frames,
                meta.depth_size,
                meta.config,
            ):
                raise ModelError(
                    f"{paths[graph].name} belongs to another model than {paths['full'].name}. {_REEXPORT}"
                )
        model = cls(paths["full"], meta, sessions, provider)
        model.threads = so.intra_op_num_threads
        model._check_shapes()
        requested = provider.lower()
        if requested != "auto" and model.provider != requested:
            msg = (
                f"execution provider {requested!r} is not available here ({_why_unavailable(requested)}); "
                f"running on {model.provider!r}"
            )
            model.warnings.append(msg)
            warnings.warn(msg, UserWarning, stacklevel=2)
        return model

    def _check_shapes(self) -> None:
        m = self.meta
        nf, s, d = m.num_frames, m.input_size, m.depth_size

        def check(graph: str, names: tuple[str, ...], expected: dict[str, tuple]) -> dict[str, list]:
            sess = self._sessions[graph]
            got = {i.name: list(i.shape) for i in sess.get_inputs()}
            if set(got) != set(names):
                raise ModelError(
                    f"{graph} graph inputs are {sorted(got)}, expected {list(names)} (not a livenessapp model)"
                )
            for name, shape in expected.items():
                tail = got[name][1:]
                if len(got[name]) != len(shape) + 1 or any(
                    isinstance(a, int) and b is not None and a != b for a, b in zip(tail, shape, strict=False)
                ):
                    dims = ", ".join("C" if b is None else str(b) for b in shape)
                    raise ModelError(
                        f"{graph} graph input {name!r} has shape {got[name]}, expected [batch, {dims}] "
                        f"from the metadata. {_REEXPORT}"
                    )
            outs = {o.name for o in sess.get_outputs()}
            return got if outs else got

        check("full", FULL_INPUTS, {"frames": (nf, 3, s, s), "masks": (nf, 1, d, d)})
        check("encoder", ENCODER_INPUTS, {"image": (3, s, s)})
        levels = {f"feat{i + 1}": (None, s >> i, s >> i) for i in range(3)}
        check("pair", PAIR_INPUTS, {**levels, **{f"prev_{k}": v for k, v in levels.items()}})
        check(
            "temporal",
            TEMPORAL_INPUTS,
            {"pairs": (nf - 1, None, d, d), "depth_single": (nf, 1, d, d), "masks": (nf, 1, d, d)},
        )
        for graph, names in (
            ("full", FULL_OUTPUTS),
            ("encoder", ENCODER_OUTPUTS),
            ("pair", PAIR_OUTPUTS),
            ("temporal", TEMPORAL_OUTPUTS),
        ):
            outs = [o.name for o in self._sessions[graph].get_outputs()]
            if any(n not in outs for n in names):
                raise ModelError(f"{graph} graph outputs are {outs}, expected {list(names)}. {_REEXPORT}")

    # -------------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.path.name[: -len(".onnx")]

    @property
    def num_frames(self) -> int:
        return self.meta.num_frames

    @property
    def frame_interval(self) -> int:
        return self.meta.frame_interval

    @property
    def input_size(self) -> int:
        return self.meta.input_size

    @property
    def depth_size(self) -> int:
        return self.meta.depth_size

    @property
    def threshold(self) -> float:
        return self.meta.threshold

    def encode(self, images: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
        """Encoder graph on normalised images ``[B, 3, H, W]`` float32 -> ``((feat1, feat2, feat3),
        depth_single [B, 1, d, d])``."""
        x = np.ascontiguousarray(images, dtype=np.float32)
        if x.ndim == 3:
            x = x[None]
        f1, f2, f3, ds = self._sessions["encoder"].run(list(ENCODER_OUTPUTS), {"image": x})
        return (f1, f2, f3), ds

    def pair(self, prev_feats, feats) -> np.ndarray:
        """Pair graph: the encoder features of two consecutive sampled frames (``prev_feats`` of frame t,
        ``feats`` of frame t+1, each ``(feat1, feat2, feat3)`` ``[B, C, h, w]``) -> the pair's STSTB output
        ``[B, P, d, d]``. It does not change when the window slides: compute it once per new frame."""
        feed = {
            f"prev_feat{i + 1}": np.ascontiguousarray(f, dtype=np.float32) for i, f in enumerate(prev_feats)
        }
        feed.update({f"feat{i + 1}": np.ascontiguousarray(f, dtype=np.float32) for i, f in enumerate(feats)})
        return self._sessions["pair"].run(list(PAIR_OUTPUTS), feed)[0]

    def temporal(self, pairs: np.ndarray, depth_single: np.ndarray, masks: np.ndarray) -> GraphOutput:
        """Temporal graph on a window of cached outputs: ``pairs [B, Nf-1, P, d, d]`` (pair t = frames
        (t, t+1), oldest first), ``depth_single`` / ``masks`` ``[B, Nf, 1, d, d]``."""
        feed = {
            "pairs": np.ascontiguousarray(pairs, dtype=np.float32),
            "depth_single": np.ascontiguousarray(depth_single, dtype=np.float32),
            "masks": np.ascontiguousarray(masks, dtype=np.float32),
        }
        fusion, logits, p_live, score = self._sessions["temporal"].run(list(TEMPORAL_OUTPUTS), feed)
        return GraphOutput(fusion, logits, p_live, score, depth_single=feed["depth_single"])

    def window(self, feats, depth_single: np.ndarray, masks: np.ndarray) -> GraphOutput:
        """Pair + temporal graphs on a whole window of encoder outputs (no cache): ``feats`` each
        ``[B, Nf, C, h, w]``, ``depth_single`` / ``masks`` ``[B, Nf, 1, d, d]``. The engine caches the pairs
        instead; this is for offline use and checks."""
        b, nf = depth_single.shape[:2]
        prev = [np.asarray(f)[:, :-1].reshape(b * (nf - 1), *f.shape[2:]) for f in feats]
        nxt = [np.asarray(f)[:, 1:].reshape(b * (nf - 1), *f.shape[2:]) for f in feats]
        pairs = self.pair(prev, nxt)
        return self.temporal(pairs.reshape(b, nf - 1, *pairs.shape[1:]), depth_single, masks)

    def full(self, frames: np.ndarray, masks: np.ndarray) -> GraphOutput:
        """Full graph (every frame re-encoded): ``frames [B, Nf, 3, H, W]``, ``masks [B, Nf, 1, d, d]``."""
        ds, fusion, logits, p_live, score = self._sessions["full"].run(
            list(FULL_OUTPUTS),
            {
                "frames": np.ascontiguousarray(frames, dtype=np.float32),
                "masks": np.ascontiguousarray(masks, dtype=np.float32),
            },
        )
        return GraphOutput(fusion, logits, p_live, score, depth_single=ds)

    def describe(self) -> dict:
        """A JSON-able summary (model card essentials)."""
        m = self.meta
        return {
            "path": os.fspath(self.path),
            "sha256": self.sha256,
            "provider": self.provider,
            "version": m.version,
            "created": m.created,
            "input_size": m.input_size,
            "num_frames": m.num_frames,
            "frame_interval": m.frame_interval,
            "depth_size": m.depth_size,
            "threshold": m.threshold,
            "alpha": m.alpha,
            "beta": m.beta,
        }

    def __repr__(self) -> str:
        return f"LivenessModel({self.path.name!r}, provider={self.provider!r}, Nf={self.num_frames})"


def _why_unavailable(provider: str) -> str:
    if PROVIDERS.get(provider) not in ort.get_available_providers():
        return f"this onnxruntime build has no {PROVIDERS.get(provider)}"
    return "its libraries or the GPU could not be loaded (see the onnxruntime GPU requirements)"
