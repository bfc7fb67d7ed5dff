"""``livenessapp soak``: a long run of the real engine (threads, tracking, streaming ONNX inference) that
prints the figures which show a leak or an unbounded queue.

The source (default: the bundled demo clip, looping; or any camera / file / folder) is streamed through
:class:`~livenessapp.engine.LivenessEngine` exactly as the desktop app streams it (real-time pacing, frames
kept in the events) for ``--minutes``. Every second the monitor samples the resident set size (RSS) and the
sizes of everything that could grow: the capture -> tracking mailbox, the tracking -> inference queue, the frame buffer, the parallax
history, the engine's error list, the source's problem list, the number of threads and of objects the
garbage collector tracks. Every ``--report-every`` seconds one JSON line goes to stdout (``"event":
"progress"``); at the end a ``"summary"`` line and a human-readable table (stderr) with:

- RSS at start (model loaded, source open), after the warm-up, at the end; growth in MB from the start and
  from the warm-up, and the slope after the warm-up (MB per hour, least squares) projected to 30 minutes;
- the largest queue sizes seen; frames captured / processed / dropped (latest-wins mailbox); windows
  scored; errors by kind.

Memory grows during the first seconds (onnxruntime's arena, MediaPipe's graph, first allocations of each
buffer), so the growth that tells a leak is the one after the warm-up (default: 10% of the run, 5-60 s).
Exit code 1 when that growth exceeds ``--max-growth-mb`` (default 50), when the run ended early or with a
fatal error; 2 when the model or the source cannot be opened.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["SoakMonitor", "SoakSample", "rss_mb", "run_soak", "soak_command"]


def rss_mb() -> float:
    """Current resident set size in MB (``/proc/self/statm`` on Linux; the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError, AttributeError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


@dataclass
class SoakSample:
    elapsed_s: float
    rss_mb: float
    frames_captured: int
    frames_processed: int
    dropped: int
    windows: int
    errors: int
    state: str
    queues: dict = field(default_factory=dict)


class SoakMonitor:
    """Engine listener + sampler: counts events, remembers the largest queue sizes."""

    def __init__(self, engine):
        self.engine = engine
        self._lock = threading.Lock()
        self.frames = 0
        self.windows = 0
        self.nonfinite_windows = 0
        self.errors: Counter[str] = Counter()
        self.last_error = ""
        self.hints: Counter[str] = Counter()
        self.max: dict[str, int] = {}
        self.end_reason: str | None = None

    def _high(self, name: str, value: int) -> None:
        if value > self.max.get(name, -1):
            self.max[name] = value

    # -- engine listener (worker thread) ---------------------------------------------------------------
    def on_frame(self, f) -> None:
        with self._lock:
            self.frames += 1
            self.hints[f.hint_code] += 1
            self._high("mailbox", len(self.engine.mailbox))
            self._high("tracked", len(self.engine.tracked))

    def on_window(self, w) -> None:
        with self._lock:
            self.windows += 1
            if not np.isfinite(w.score):
                self.nonfinite_windows += 1

    def on_error(self, e) -> None:
        with self._lock:
            self.errors[getattr(e, "kind", "error")] += 1
            self.last_error = str(e)

    def on_end(self, reason: str) -> None:
        self.end_reason = reason

    # -- sampling (main thread) ------------------------------------------------------------------------
    def queues(self, count_objects: bool = False) -> dict:
        """Current sizes of everything that could grow without bound in a long run."""
        eng = self.engine
        pipe = eng.pipeline
        sizes = {
            "mailbox": len(eng.mailbox),
            "tracked": len(eng.tracked),
            "buffer": len(pipe.buffer) if pipe is not None else 0,
            "parallax_history": len(getattr(getattr(pipe, "parallax", None), "_history", ()) or ()),
            "errors_kept": len(eng.errors),
            "source_problems": len(getattr(eng.source, "problems", ()) or ()),
            "threads": threading.active_count(),
        }
        if count_objects:
            sizes["gc_objects"] = len(gc.get_objects())
        with self._lock:
            for k, v in sizes.items():
                self._high(k, v)
        return sizes

    def sample(self, t0: float, count_objects: bool = False) -> SoakSample:
        eng = self.engine
        queues = self.queues(count_objects)
        with self._lock:
            errors = sum(self.errors.values())
        return SoakSample(
            elapsed_s=time.monotonic() - t0,
            rss_mb=rss_mb(),
            frames_captured=eng.frames_captured,
            frames_processed=eng.frames_processed,
            dropped=eng.dropped,
            windows=self.windows,
            errors=errors,
            state=getattr(eng, "state", ""),
            queues=queues,
        )


def _slope_mb_per_hour(samples: list[SoakSample]) -> float | None:
    if len(samples) < 3:
        return None
    t = np.array([s.elapsed_s for s in samples])
    r = np.array([s.rss_mb for s in samples])
    if float(t[-1] - t[0]) < 1.0:
        return None
    return float(np.polyfit(t, r, 1)[0] * 3600.0)


def run_soak(
    model,
    source,
    minutes: float,
    report_every_s: float = 60.0,
    warmup_s: float | None = None,
    realtime: bool = True,
    threshold: float | None = None,
    on_report=None,
    stop_event: threading.Event | None = None,
) -> dict:
    """Stream ``source`` through a fresh engine for ``minutes``; returns the summary (see the module
    docstring). ``on_report(progress_dict)`` is called every ``report_every_s`` seconds."""
    from livenessapp.engine import EngineConfig, LivenessEngine

    duration = max(0.0, float(minutes) * 60.0)
    if warmup_s is None:
        warmup_s = min(max(0.1 * duration, 5.0), 60.0)
    warmup_s = min(float(warmup_s), duration / 2)
    config = EngineConfig(threshold=threshold, realtime=realtime, loop=True, keep_images=True)
    engine = LivenessEngine(model, source, config)
    monitor = SoakMonitor(engine)
    engine.add_listener(monitor)
    stop_event = stop_event or threading.Event()
    gc_start = len(gc.get_objects())
    rss_start = rss_mb()
    samples: list[SoakSample] = []
    warm: SoakSample | None = None
    t0 = time.monotonic()
    next_report = report_every_s
    interrupted = False
    engine.start()
    try:
        while True:
            elapsed = time.monotonic() - t0
            if elapsed >= duration or not engine.running:
                break
            if stop_event.wait(min(1.0, max(0.0, duration - elapsed))):
                interrupted = True
                break
            report_now = time.monotonic() - t0 >= next_report
            s = monitor.sample(t0, count_objects=report_now)
            samples.append(s)
            if warm is None and s.elapsed_s >= warmup_s:
                warm = s
            if report_now:
                next_report += report_every_s
                if on_report is not None:
                    on_report(_progress(s, rss_start, warm))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        end = monitor.sample(t0, count_objects=True)
        engine.close()
    samples.append(end)
    warm = warm or samples[0]
    after_warm = [s for s in samples if s.elapsed_s >= warm.elapsed_s]
    slope = _slope_mb_per_hour(after_warm)
    fatal = [e for e in engine.errors if e.fatal]
    ended_early = monitor.end_reason not in (None, "stopped") and not interrupted
    return {
        "event": "summary",
        "model": os.path.basename(str(model.path)),
        "provider": getattr(model, "provider", ""),
        "source": source.name,
        "realtime": realtime,
        "duration_s": round(end.elapsed_s, 1),
        "interrupted": interrupted,
        "ended_early": ended_early,
        "end_reason": monitor.end_reason,
        "rss_start_mb": round(rss_start, 1),
        "rss_warm_mb": round(warm.rss_mb, 1),
        "rss_end_mb": round(end.rss_mb, 1),
        "rss_peak_mb": round(max(s.rss_mb for s in samples), 1),
        "warmup_s": round(warm.elapsed_s, 1),
        "growth_mb": round(end.rss_mb - rss_start, 1),
        "growth_after_warmup_mb": round(end.rss_mb - warm.rss_mb, 1),
        "slope_mb_per_hour": None if slope is None else round(slope, 2),
        "projected_30min_growth_mb": None if slope is None else round(slope / 2, 1),
        "frames_captured": end.frames_captured,
        "frames_processed": end.frames_processed,
        "dropped": end.dropped,
        "dropped_pct": round(100.0 * end.dropped / end.frames_captured, 1) if end.frames_captured else 0.0,
        "windows": monitor.windows,
        "nonfinite_windows": monitor.nonfinite_windows,
        "errors": sum(monitor.errors.values()),
        "errors_by_kind": dict(monitor.errors),
        "last_error": monitor.last_error,
        "fatal_errors": [str(e) for e in fatal],
        "queues_max": dict(monitor.max),
        "gc_objects_start": gc_start,
        "gc_objects_end": end.queues.get("gc_objects"),
        "hints": dict(monitor.hints.most_common(6)),
    }


def _progress(s: SoakSample, rss_start: float, warm: SoakSample | None) -> dict:
    out = {"event": "progress", **asdict(s)}
    out["elapsed_s"] = round(s.elapsed_s, 1)
    out["rss_mb"] = round(s.rss_mb, 1)
    out["growth_mb"] = round(s.rss_mb - rss_start, 1)
    if warm is not None:
        out["growth_after_warmup_mb"] = round(s.rss_mb - warm.rss_mb, 1)
    return out


def _table(summary: dict, max_growth_mb: float) -> str:
    q = summary["queues_max"]
    rows = [
        ("model / provider", f"{summary['model']} on {summary['provider']}"),
        (
            "source",
            f"{summary['source']} ({'real time' if summary['realtime'] else 'as fast as possible'}), "
            f"{summary['duration_s']:.0f} s",
        ),
        (
            "RSS MB start / warm / end / peak",
            f"{summary['rss_start_mb']:.1f} / {summary['rss_warm_mb']:.1f} (after {summary['warmup_s']:.0f} s)"
            f" / {summary['rss_end_mb']:.1f} / {summary['rss_peak_mb']:.1f}",
        ),
        (
            "RSS growth MB",
            f"{summary['growth_mb']:+.1f} from start, {summary['growth_after_warmup_mb']:+.1f} after warm-up "
            f"(limit {max_growth_mb:g})",
        ),
        (
            "RSS slope after warm-up",
            "n/a (run too short)"
            if summary["slope_mb_per_hour"] is None
            else f"{summary['slope_mb_per_hour']:+.2f} MB/h (projected 30 min: "
            f"{summary['projected_30min_growth_mb']:+.1f} MB)",
        ),
        (
            "frames captured / processed / dropped",
            f"{summary['frames_captured']} / {summary['frames_processed']} / {summary['dropped']} "
            f"({summary['dropped_pct']:.1f}%)",
        ),
        ("windows scored", f"{summary['windows']} ({summary['nonfinite_windows']} non-finite)"),
        ("errors", f"{summary['errors']} {summary['errors_by_kind'] or ''}".strip()),
        (
            "max queue sizes",
            f"mailbox {q.get('mailbox', 0)}, tracked {q.get('tracked', 0)}, buffer {q.get('buffer', 0)}, parallax {q.get('parallax_history', 0)}, "
            f"errors kept {q.get('errors_kept', 0)}, source problems {q.get('source_problems', 0)}, "
            f"threads {q.get('threads', 0)}",
        ),
        ("gc objects start / end", f"{summary['gc_objects_start']} / {summary['gc_objects_end']}"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{'metric':<{width}} | value", f"{'-' * width}-|-{'-' * 40}"]
    lines += [f"{k:<{width}} | {v}" for k, v in rows]
    return "\n".join(lines)


def soak_command(args: argparse.Namespace) -> int:
    from livenessapp.headless import load_model_or_explain
    from livenessapp.sources import SourceError, open_source

    model = load_model_or_explain(args)
    if model is None:
        return 2
    try:
        source = open_source(getattr(args, "source", None) or "demo", loop=True)
    except SourceError as exc:
        print(f"livenessapp: {exc}", file=sys.stderr, flush=True)
        return 2
    minutes = float(args.minutes)
    print(
        f"livenessapp soak: {source.name} for {minutes:g} min, model {model.path.name} on {model.provider}; "
        "progress every "
        f"{args.report_every:g} s (Ctrl+C ends early)",
        file=sys.stderr,
        flush=True,
    )

    def report(progress: dict) -> None:
        print(json.dumps(progress), flush=True)
        print(
            f"  {progress['elapsed_s']:7.0f} s  RSS {progress['rss_mb']:7.1f} MB ({progress['growth_mb']:+.1f})  "
            f"frames {progress['frames_processed']}  dropped {progress['dropped']}  windows {progress['windows']}  "
            f"errors {progress['errors']}  {progress['state']}",
            file=sys.stderr,
            flush=True,
        )

    summary = run_soak(
        model,
        source,
        minutes,
        report_every_s=float(args.report_every),
        warmup_s=args.warmup,
        realtime=not args.fast,
        threshold=getattr(args, "threshold", None),
        on_report=report,
    )
    print(json.dumps(summary), flush=True)
    print(_table(summary, args.max_growth_mb), file=sys.stderr, flush=True)
    failures = []
    if summary["growth_after_warmup_mb"] > args.max_growth_mb:
        failures.append(f"RSS grew {summary['growth_after_warmup_mb']:.1f} MB after the warm-up")
    if summary["fatal_errors"]:
        failures.append(f"fatal error: {summary['fatal_errors'][0]}")
    if summary["ended_early"]:
        failures.append(f"the run ended early ({summary['end_reason']})")
    for f in failures:
        print(f"livenessapp soak: FAILED: {f}", file=sys.stderr, flush=True)
    return 1 if failures else 0
