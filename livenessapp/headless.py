"""Headless commands: ``analyze``, ``run --headless``, ``bench``, ``cameras`` (no Qt).

Every handler takes the parsed ``argparse`` namespace of :mod:`livenessapp.cli` and returns the exit
code. Machine-readable output goes to stdout (JSON lines), messages to stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from livenessapp.paths import DEMO_CLIP, MODELS_DIR, default_model_path

__all__ = ["analyze_command", "bench_command", "cameras_command", "load_model_or_explain", "run_command"]

NO_MODEL_HELP = (
    "livenessapp: no model at {path}.\n"
    "The trained model is not installed yet. Either pass one with --model PATH/NAME.onnx, or make one:\n"
    "  liveness-train simulate ...   # labelled live / print / replay clips\n"
    "  liveness-train preprocess ... && liveness-train fit ...\n"
    "  liveness-train export RUN_FOLDER --out models/ --name sgtd-lite\n"
    "(a model is NAME.onnx + NAME.encoder.onnx + NAME.pair.onnx + NAME.temporal.onnx in {models}/)."
)


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _emit(obj: dict) -> None:
    print(json.dumps(obj, default=_json_default), flush=True)


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, Path):
        return os.fspath(o)
    return str(o)


def _num(x, nd: int = 4):
    if x is None:
        return None
    x = float(x)
    return round(x, nd) if math.isfinite(x) else None


def load_model_or_explain(args: argparse.Namespace):
    """The model of ``--model`` / the default one with ``--provider``; None (message on stderr) on failure.

    The files are first checked against the SHA-256 of the model card (:mod:`livenessapp.integrity`): a
    mismatch refuses the model unless ``--allow-unverified``; a missing card is a warning. The result is
    kept as ``model.integrity``."""
    from livenessapp.integrity import IntegrityError, load_verified_model
    from livenessapp.model import ModelError

    path = Path(args.model).expanduser() if getattr(args, "model", None) else default_model_path()
    if not path.exists():
        _err(NO_MODEL_HELP.format(path=path, models=MODELS_DIR))
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = load_verified_model(
                path,
                provider=getattr(args, "provider", "auto") or "auto",
                allow_unverified=bool(getattr(args, "allow_unverified", False)),
            )
        except (IntegrityError, ModelError) as exc:
            _err(f"livenessapp: {exc}")
            return None
        except OSError as exc:
            _err(f"livenessapp: cannot read the model files: {exc}")
            return None
    if not model.integrity.ok:
        _err(f"livenessapp: warning: {model.integrity.message}")
    for w in caught:
        _err(f"livenessapp: warning: {w.message}")
    return model


def _card_status(model) -> str:
    """``ok`` / ``mismatch`` (run with --allow-unverified) / ``missing-card`` / ``incomplete``."""
    integrity = getattr(model, "integrity", None)
    return integrity.status.value if integrity is not None else "unchecked"


def _engine_config(args: argparse.Namespace, **overrides):
    from livenessapp.engine import EngineConfig

    cfg = EngineConfig(threshold=getattr(args, "threshold", None))
    if getattr(args, "fusion_rule", None):
        cfg.fusion_rule = args.fusion_rule
    for k, v in overrides.items():
        setattr(cfg, k, v)
    return cfg


# --------------------------------------------------------------------------------------------------------
def analyze_command(args: argparse.Namespace) -> int:
    """One JSON line per input: ``{"path", "frames", "frames_with_face", "windows", "score", "live",
    "threshold"}`` (+ ``"timeline"`` with ``--per-frame``); failed inputs get ``"error"`` (and a message on
    stderr) and make the exit code 1; the other inputs are still processed."""
    from livenessapp.engine import analyze_video
    from livenessapp.sources import SourceError

    model = load_model_or_explain(args)
    if model is None:
        for p in args.paths:
            _emit({"path": p, "error": "no usable model (see the message on stderr)"})
        return 2
    failed = 0
    for p in args.paths:
        spec = str(DEMO_CLIP) if p == "demo" else p
        quality: dict[str, int] = {}

        def count_quality(step, quality=quality):
            for code in step.frame.quality:
                quality[code] = quality.get(code, 0) + 1

        try:
            result = analyze_video(
                model, spec, _engine_config(args, keep_images=False), on_step=count_quality
            )
        except SourceError as exc:
            failed += 1
            _err(f"livenessapp: {p}: {exc}")
            _emit({"path": p, "error": str(exc)})
            continue
        except Exception as exc:  # keep going with the other inputs
            failed += 1
            _err(f"livenessapp: {p}: analysis failed: {exc!r}")
            _emit({"path": p, "error": f"analysis failed: {exc!r}"})
            continue
        line = {
            "path": p,
            "frames": result.frames,
            "frames_with_face": result.frames_with_face,
            "windows": len(result.windows),
            "score": _num(result.score),
            "live": result.live,
            "threshold": _num(result.threshold),
            "fusion_rule": result.fusion_rule,
            "fused_live": result.fused_live,
            "model": model.path.name,
            "provider": model.provider,
            "model_card": _card_status(model),
        }
        if not result.windows:
            line["note"] = (
                "no face found"
                if result.frames_with_face == 0
                else "too few frames with a judgeable face for a window"
            )
            worst = max(quality, key=quality.get) if quality else None
            if worst is not None and quality[worst] >= result.frames / 2:
                from livenessapp.quality import Quality

                line["note"] += f"; {quality[worst]} of {result.frames} frames: {Quality[worst].value}"
            _err(f"livenessapp: {p}: {line['note']}")
        if quality:
            line["quality"] = quality
        if result.problems:
            line["problems"] = result.problems
            for problem in result.problems:
                _err(f"livenessapp: {p}: warning: {problem}")
        if result.errors:
            line["errors"] = [str(e) for e in result.errors]
            _err(f"livenessapp: {p}: {len(result.errors)} window(s) discarded: {result.errors[0]}")
        if args.per_frame:
            line["timeline"] = [
                {
                    "frame": w.frame_index,
                    "t": round(w.timestamp_s, 3),
                    "score": _num(w.score),
                    "p_live": _num(w.p_live),
                    "smoothed": _num(w.smoothed),
                    "live": w.network_live,
                    "parallax": None if w.parallax is None else _num(w.parallax.score),
                    "fused_live": w.live,
                }
                for w in result.windows
            ]
        _emit(line)
    return 1 if failed else 0


# --------------------------------------------------------------------------------------------------------
def run_command(args: argparse.Namespace) -> int:
    """Stream decisions from a live source: one JSON line per scored window on stdout."""
    if not args.headless:
        from livenessapp.guicheck import check_gui

        problem = check_gui()  # before any QApplication: Qt aborts the process when it cannot open
        if problem is not None:
            _err(problem.message)
            _err("livenessapp: running headless (one JSON line per decision)")
        else:
            try:
                from livenessapp.gui.app import run_gui  # the window
            except ImportError as exc:
                _err(f"livenessapp: the desktop window is unavailable ({exc}); running headless")
            else:
                return run_gui(args)
    from livenessapp.engine import LivenessEngine
    from livenessapp.sources import SourceError, open_source

    model = load_model_or_explain(args)
    if model is None:
        return 2
    try:
        source = open_source(args.source)
    except SourceError as exc:
        _err(f"livenessapp: {exc}")
        return 2
    engine = LivenessEngine(model, source, _engine_config(args, keep_images=False, realtime=True))
    errors: list[str] = []
    hints = {"last": None}

    def on_window(w):
        line = {"source": source.name, **w.to_json(), "dropped": engine.dropped}
        _emit(line)

    def on_frame(f):
        if f.hint_code != hints["last"] and f.hint_code not in ("OK", "AT_EDGE"):  # faces and frame quality
            _err(f"livenessapp: {f.hint}")
        hints["last"] = f.hint_code

    def on_error(e):
        errors.append(str(e))
        _err(f"livenessapp: {e}")

    engine.subscribe(on_frame=on_frame, on_window=on_window, on_error=on_error)
    _err(
        f"livenessapp: {source.name} @ {source.fps:.1f} fps, model {model.path.name} on {model.provider}; Ctrl+C stops"
    )
    engine.start()
    try:
        engine.wait(args.duration)
    except KeyboardInterrupt:
        pass
    finally:
        engine.close()
    fatal = any(e.fatal for e in engine.errors)
    return 1 if fatal else 0


# --------------------------------------------------------------------------------------------------------
def _peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024.0 * 1024.0) if sys.platform == "darwin" else r / 1024.0


def _time_ms(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def bench_command(args: argparse.Namespace) -> int:
    """Tracking / encoder / pair / temporal cost, streaming vs full recompute, real-time factor (tracking
    and inference on two threads, and on one), frame-to-verdict latency of a paced live run, peak memory;
    then the issue-7 targets with PASS / FAIL."""
    from livenessapp.engine import LivenessEngine, analyze_video
    from livenessapp.sources import SourceError, open_source

    model = load_model_or_explain(args)
    if model is None:
        return 2
    spec = str(DEMO_CLIP) if args.source in (None, "demo") else args.source
    meta = model.meta
    nf, s, d = meta.num_frames, meta.input_size, meta.depth_size
    rng = np.random.default_rng(0)
    image = rng.standard_normal((1, 3, s, s), dtype=np.float32)
    feats, ds = model.encode(image)
    pair = model.pair(feats, feats)
    wp = np.repeat(pair[:, None], nf - 1, axis=1)
    wd = np.repeat(ds[:, None], nf, axis=1)
    masks = np.ones((1, nf, 1, d, d), np.float32)
    frames = rng.standard_normal((1, nf, 3, s, s), dtype=np.float32)
    repeat = int(getattr(args, "repeat", 20) or 20)
    enc_ms = _time_ms(lambda: model.encode(image), repeat)
    pair_ms = _time_ms(lambda: model.pair(feats, feats), repeat)
    tem_ms = _time_ms(lambda: model.temporal(wp, wd, masks), repeat)
    full_ms = _time_ms(lambda: model.full(frames, masks), max(3, repeat // 4))
    carried: list[bool] = []
    try:
        analysis = analyze_video(
            model,
            spec,
            _engine_config(args, keep_images=False),
            on_step=lambda step: carried.append(step.frame.carried),
        )
        single = analyze_video(model, spec, _engine_config(args, keep_images=False), concurrent=False)
    except SourceError as exc:
        _err(f"livenessapp: {exc}")
        return 2
    track = float(np.mean(analysis.tracking_ms)) if analysis.tracking_ms else float("nan")
    meshed = [t for t, c in zip(analysis.tracking_ms, carried, strict=False) if not c]
    mesh_ms = float(np.mean(meshed)) if meshed else float("nan")
    # Live pipeline (threads, real-time pacing, latest-wins) for a few seconds: latency and drops.
    duration = float(getattr(args, "duration", None) or 5.0)
    latencies: list[float] = []
    lock = threading.Lock()
    engine = LivenessEngine(model, open_source(spec), _engine_config(args, keep_images=False, realtime=True))

    def on_window(w):
        with lock:
            latencies.append(w.latency_ms)

    engine.subscribe(on_window=on_window)
    engine.start()
    engine.wait(duration)
    engine.close()
    st = engine.stats()
    stream = enc_ms + pair_ms + tem_ms
    clip_s = analysis.frames / analysis.fps if analysis.fps else 0.0
    p95 = float(np.percentile(latencies, 95)) if latencies else float("nan")
    rows = [
        ("model", f"{model.path.name} (sha256 {model.sha256[:12]})"),
        ("provider", f"{model.provider} ({model.threads} intra-op threads per graph)"),
        ("input / Nf / interval", f"{s}px / {nf} / {meta.frame_interval}"),
        (
            "clip",
            f"{Path(spec).name}: {analysis.frames} frames @ {analysis.fps:.0f} fps, {len(analysis.windows)} windows",
        ),
        (
            "tracking ms/frame",
            f"{track:.2f} (face mesh {mesh_ms:.2f} ms on {len(meshed)} of {len(carried)} frames, "
            "carried over in between)",
        ),
        ("encoder ms/sampled frame", f"{enc_ms:.2f}"),
        ("pair ms/sampled frame", f"{pair_ms:.2f} (STSTB of the new pair, cached)"),
        ("temporal ms/window", f"{tem_ms:.2f} (ConvGRU + heads on the Nf-1 cached pairs)"),
        ("streaming ms/sampled frame", f"{stream:.2f} (encoder + pair + temporal)"),
        (
            "full-window recompute ms",
            f"{full_ms:.2f} (streaming = {stream / full_ms:.2f} of it, {full_ms / stream:.1f}x less)"
            if stream > 0 and full_ms > 0
            else f"{full_ms:.2f}",
        ),
        (
            "pipeline real-time factor",
            f"{analysis.realtime_factor:.2f}x (every frame, tracking and inference on two threads: "
            f"{analysis.wall_s:.1f} s for {clip_s:.1f} s); both on one thread {single.realtime_factor:.2f}x",
        ),
        (
            "frame-to-verdict latency ms",
            f"median {np.median(latencies):.1f}, p95 {p95:.1f} (live run {duration:.0f} s, {len(latencies)} windows)"
            if latencies
            else "n/a (no window in the live run)",
        ),
        ("live run drops", f"{st.dropped} of {st.frames_captured} frames, processing {st.frames_processed}"),
        ("peak RSS MB", f"{_peak_rss_mb():.0f}"),
    ]
    targets = [
        ("pipeline >= 1.0x real time", analysis.realtime_factor >= 1.0),
        ("streaming <= 1/3 of full recompute", stream <= full_ms / 3.0),
        ("latency p95 <= 150 ms", bool(latencies) and p95 <= 150.0),
    ]
    rows.append(
        ("targets (issue 7)", ", ".join(f"{name}: {'PASS' if ok else 'FAIL'}" for name, ok in targets))
    )
    width = max(len(k) for k, _ in rows)
    print(f"{'metric':<{width}} | value")
    print(f"{'-' * width}-|-{'-' * 40}")
    for k, v in rows:
        print(f"{k:<{width}} | {v}")
    return 0


# --------------------------------------------------------------------------------------------------------
def cameras_command(args: argparse.Namespace) -> int:
    from livenessapp.sources import list_cameras

    cams = list_cameras()
    if not cams:
        _err("livenessapp: no camera found (checked indices 0-3); use a video file or 'demo' as the source")
        return 1
    for c in cams:
        _emit(
            {
                "index": c.index,
                "width": c.width,
                "height": c.height,
                "fps": _num(c.fps, 2),
                "backend": c.backend,
            }
        )
    return 0
