"""The GUI's only contact with ``livenessapp.engine`` / ``model`` / ``sources``: build, start, stop, tune.

:func:`build_engine` loads the model group (``NAME.onnx`` + encoder + temporal; cached between runs with
the same file and provider, so start / stop / source changes do not reload it), opens the source right
away (so a camera or file that cannot be opened raises here, where the window turns it into a message
box) and creates a :class:`~livenessapp.engine.LivenessEngine` with the bridge as its listener.

Mapping of the GUI's settings to :class:`~livenessapp.engine.EngineConfig`:

* ``RunOptions.smoothing`` is the weight of the *newest* window (1 = no smoothing, as the slider reads);
  the engine's ``smoothing`` is the weight of the *previous* smoothed score:
  :func:`~livenessapp.smoothing.alpha_from_newest_weight` (``1 - smoothing``, at most 0.95).
* ``RunOptions.interval == 0`` means the model's ``frame_interval`` (``EngineConfig.interval = None``).
* Video files loop (``loop=True``) and play at their frame rate (``realtime=True``).
* ``RunOptions.fusion_rule`` is ``EngineConfig.fusion_rule`` (:data:`livenessapp.parallax.FUSION_RULES`);
  :func:`set_fusion_rule` changes it on a running engine (the next window is fused with the new rule).
"""

from __future__ import annotations

import threading
from pathlib import Path

from livenessapp.gui.run_options import RunInfo, RunOptions
from livenessapp.smoothing import alpha_from_newest_weight

__all__ = [
    "build_engine",
    "load_model",
    "reset",
    "set_fusion_rule",
    "set_smoothing",
    "set_threshold",
    "start",
    "stop",
]

_cache_lock = threading.Lock()
_model_cache: dict[tuple, object] = {}


def load_model(path: Path, provider: str = "auto", allow_unverified: bool = False):
    """``LivenessModel.load`` with a one-entry cache keyed by (path, size, mtime, provider).

    The files are checked against the SHA-256 of the model card first (:mod:`livenessapp.integrity`): a
    mismatch raises :class:`~livenessapp.integrity.IntegrityError` unless ``allow_unverified``; a missing
    card adds a warning to ``model.warnings``. The result is kept as ``model.integrity``."""
    from livenessapp.integrity import CardStatus, IntegrityError, load_verified_model
    from livenessapp.model import ModelError

    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelError(
            f"model not found: {path}.\nPick another model in the Model box, or make one with "
            "'liveness-train export --out models/ --name NAME' (NAME.onnx + NAME.encoder.onnx + "
            "NAME.temporal.onnx)."
        )
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, provider)
    with _cache_lock:
        model = _model_cache.get(key)
        if model is None:
            model = load_verified_model(path, provider, allow_unverified)
            _model_cache.clear()
            _model_cache[key] = model
    integrity = getattr(model, "integrity", None)
    if integrity is not None and integrity.status is CardStatus.MISMATCH and not allow_unverified:
        raise IntegrityError(integrity.message)
    return model


def build_engine(options: RunOptions, listener):
    """(engine, RunInfo) for ``options``; raises ``ModelError`` / ``SourceError`` with readable messages."""
    from livenessapp.engine import EngineConfig, LivenessEngine
    from livenessapp.sources import open_source

    model = load_model(
        options.model_path, options.provider, bool(getattr(options, "allow_unverified", False))
    )
    source = open_source(options.source or "demo", loop=options.loop)
    try:
        cfg = EngineConfig(
            threshold=options.threshold,
            interval=int(options.interval) or None,
            smoothing=alpha_from_newest_weight(options.smoothing),
            fusion_rule=options.fusion_rule,
            realtime=options.realtime,
            loop=options.loop,
        )
        engine = LivenessEngine(model, source, cfg, listener=listener)
    except Exception:
        source.close()
        raise
    meta = model.meta
    info = RunInfo(
        provider=getattr(model, "provider", ""),
        model_path=Path(model.path),
        model_version=str(meta.version or ""),
        model_threshold=float(meta.threshold),
        num_frames=int(meta.num_frames),
        frame_interval=int(cfg.interval or meta.frame_interval),
        source_name=source.name,
        fps=float(source.fps or 30.0),
        extra={
            "sha256": getattr(model, "sha256", ""),
            "warnings": list(getattr(model, "warnings", [])),
            "model_card": _card_status(model),
        },
    )
    return engine, info


def _card_status(model) -> str:
    """The model card check: "ok", "mismatch" (allowed), "missing-card", "incomplete" or "unchecked"."""
    integrity = getattr(model, "integrity", None)
    return integrity.status.value if integrity is not None else "unchecked"


def start(engine) -> None:
    engine.start()


def stop(engine) -> None:
    """Stop the threads and release the source and the face tracker."""
    engine.close()


def reset(engine) -> None:
    engine.reset()


def set_threshold(engine, threshold: float | None) -> None:
    engine.set_threshold(threshold)


def set_smoothing(engine, newest_weight: float) -> None:
    engine.set_smoothing(alpha_from_newest_weight(newest_weight))


def set_fusion_rule(engine, rule: str) -> None:
    engine.set_fusion_rule(rule)
