"""The ``livenessapp`` command line.

``livenessapp`` with no subcommand opens the desktop app (``--kiosk`` for kiosk mode). Where the window
cannot open (no display, a display that does not answer, a system library Qt's platform plugin needs is
missing: :func:`livenessapp.guicheck.check_gui`, asked before any QApplication exists) it says so in one
line, with the package to install, and runs the headless analysis of the source (a video file or frame
folder; else the bundled demo clip) instead; the exit code is then the analysis's (0 when it ran). The
subcommands are the headless paths for automation and benchmarks.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from livenessapp import __version__
from livenessapp.paths import DEMO_CLIP, default_model_path


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=None,
        help=f"full-graph ONNX model (default: {default_model_path().name} in models/)",
    )
    parser.add_argument(
        "--provider",
        choices=["auto", "tensorrt", "cuda", "cpu"],
        default="auto",
        help="ONNX Runtime execution provider; auto tries CUDA then CPU (default: auto)",
    )
    parser.add_argument(
        "--threshold", type=float, default=None, help="override the model's calibrated threshold"
    )
    parser.add_argument(
        "--fusion-rule",
        choices=["network", "either_spoof", "logistic"],  # livenessapp.parallax.FUSION_RULES
        default=None,
        help="how the parallax cue joins the network: network only, spoof if either cue says spoof, or "
        "logistic fusion (default: the GUI's saved choice; either_spoof headless)",
    )
    parser.add_argument(
        "--allow-unverified",
        action="store_true",
        help="run a model whose files do not match the SHA-256 in its model card NAME.md (refused otherwise)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livenessapp",
        description="Real-time face liveness: live face vs printed photo vs replayed video, with the depth map "
        "the network sees. Without a subcommand the desktop app opens.",
    )
    parser.add_argument("--version", action="version", version=f"livenessapp {__version__}")
    parser.add_argument("--kiosk", action="store_true", help="full-screen kiosk mode (exit: Ctrl+Shift+Q)")
    parser.add_argument(
        "--source",
        default=None,
        help="camera index, video file, frame folder or 'demo' (default: first camera, else the demo clip)",
    )
    _add_model_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    gui.add_argument("--kiosk", action="store_true", help="full-screen kiosk mode")
    gui.add_argument("--source", default=None)
    _add_model_options(gui)

    analyze = sub.add_parser("analyze", help="score videos or frame folders; one JSON line per input")
    analyze.add_argument("paths", nargs="+", help="video files or folders of frames ('demo' = bundled clip)")
    analyze.add_argument("--per-frame", action="store_true", help="add a per-window timeline to each line")
    _add_model_options(analyze)

    run = sub.add_parser("run", help="stream decisions from a live source")
    run.add_argument("--source", default="0", help="camera index, video file, frame folder or 'demo'")
    run.add_argument(
        "--headless", action="store_true", help="no window: one JSON line per decision on stdout"
    )
    run.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    _add_model_options(run)

    bench = sub.add_parser("bench", help="measure tracking, inference and pipeline speed; prints a table")
    bench.add_argument("--source", default="demo", help="clip to benchmark on (default: the bundled demo)")
    bench.add_argument(
        "--duration",
        type=float,
        default=5.0,
        help="seconds of the threaded live run for latency (default: 5)",
    )
    bench.add_argument("--repeat", type=int, default=20, help="timed repetitions per graph (default: 20)")
    _add_model_options(bench)

    sub.add_parser("cameras", help="list the cameras OpenCV can open")

    soak = sub.add_parser(
        "soak", help="long run through the real engine: memory growth, queue sizes, drops, errors"
    )
    soak.add_argument("--source", default="demo", help="source to stream, looping (default: the demo clip)")
    soak.add_argument("--minutes", type=float, default=30.0, help="how long to run (default: 30)")
    soak.add_argument(
        "--report-every", type=float, default=60.0, help="seconds between progress lines (default: 60)"
    )
    soak.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="seconds before the RSS baseline (default: 10%% of the run, 5-60)",
    )
    soak.add_argument(
        "--max-growth-mb",
        type=float,
        default=50.0,
        help="exit 1 when RSS grows more than this after the warm-up (default: 50)",
    )
    soak.add_argument(
        "--fast",
        action="store_true",
        help="do not pace the file at its frame rate (stress: as fast as possible)",
    )
    _add_model_options(soak)
    return parser


def has_display() -> bool:
    """Whether a display is configured (not whether the window can open there: see
    :func:`livenessapp.guicheck.check_gui`)."""
    if sys.platform in ("win32", "darwin"):
        return True
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal", "vnc")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "gui"
    if command == "gui":
        from livenessapp.guicheck import check_gui

        problem = check_gui()  # before any QApplication: Qt aborts the process when it cannot open
        if problem is not None:
            return _headless_fallback(args, problem.message)
        try:
            from livenessapp.gui.app import run_gui
        except ImportError as e:  # a system library of Qt's that the check does not know of
            if "shared object" not in str(e):
                raise
            return _headless_fallback(args, f"livenessapp: the window cannot open: {e}")
        return run_gui(args)
    if command == "soak":
        from livenessapp.soak import soak_command

        return soak_command(args)
    from livenessapp import headless

    handler = {
        "analyze": headless.analyze_command,
        "run": headless.run_command,
        "bench": headless.bench_command,
        "cameras": headless.cameras_command,
    }[command]
    return handler(args)


def _headless_fallback(args: argparse.Namespace, why: str) -> int:
    """Print ``why`` (one line) and run the headless analysis of ``--source`` when that is a video file or
    a frame folder, else of the bundled demo clip; returns the analysis's exit code (0 when it ran)."""
    source = getattr(args, "source", None)
    target = source if source and source != "demo" and os.path.exists(source) else str(DEMO_CLIP)
    name = "the bundled demo clip" if target == str(DEMO_CLIP) else target
    print(why, file=sys.stderr)
    print(
        f"livenessapp: running the headless analysis of {name} instead (for a camera: "
        "'livenessapp run --source 0 --headless').",
        file=sys.stderr,
        flush=True,
    )
    return main(["analyze", "--per-frame", target] + _model_argv(args))


def _model_argv(args: argparse.Namespace) -> list[str]:
    argv: list[str] = []
    if args.model:
        argv += ["--model", args.model]
    if args.provider != "auto":
        argv += ["--provider", args.provider]
    if args.threshold is not None:
        argv += ["--threshold", str(args.threshold)]
    if getattr(args, "allow_unverified", False):
        argv += ["--allow-unverified"]
    return argv
