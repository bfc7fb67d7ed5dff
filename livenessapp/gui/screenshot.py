"""README screenshots: the main window and the kiosk on the demo clip, grabbed to PNG.

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python -m livenessapp.gui.screenshot \
        [--model models/sgtd-lite.onnx] [--out-dir assets/]

opens the main window on the demo clip with the default model (``--model``, ``--source`` to change),
waits for ``--windows`` scored windows and then for a window on which the motion-parallax cue has a
verdict (so that the score panel shows all the cues; ``--any-window`` grabs at once), grabs it to
``OUT/screenshot_main.png``; then runs the kiosk, grabs it while its progress ring fills
(``OUT/screenshot_kiosk_progress.png``, when the grab catches that moment) and when it shows a decision
(``OUT/screenshot_kiosk.png``). Settings and the kiosk audit log go to a temporary folder (the user's
settings are not touched). Works under ``QT_QPA_PLATFORM=offscreen`` too, with Qt's own fonts only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from livenessapp import paths
from livenessapp.parallax import FUSION_RULES

__all__ = ["main"]


def _wait_until(predicate: Callable[[], bool], timeout_s: float, poll_ms: int = 50) -> bool:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    deadline = time.monotonic() + timeout_s
    timer = QTimer()

    def check():
        if predicate() or time.monotonic() > deadline:
            loop.quit()

    timer.timeout.connect(check)
    timer.start(poll_ms)
    loop.exec()
    timer.stop()
    return predicate()


def _pause(seconds: float) -> None:
    end = time.monotonic() + seconds
    _wait_until(lambda: time.monotonic() >= end, seconds + 1)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m livenessapp.gui.screenshot", description=__doc__.split("\n\n")[0]
    )
    p.add_argument(
        "--model", default=str(paths.default_model_path()), help="full-graph .onnx (default: %(default)s)"
    )
    p.add_argument("--source", default="demo", help="camera index, video file or 'demo' (default: demo)")
    p.add_argument("--provider", default="auto", help="auto, cpu, cuda or tensorrt (default: auto)")
    p.add_argument(
        "--out",
        "--out-dir",
        dest="out",
        default=str(paths.ASSETS_DIR),
        help="folder for the PNGs (default: assets/)",
    )
    p.add_argument(
        "--fusion-rule",
        default="either_spoof",
        choices=FUSION_RULES,
        help="how the parallax cue joins the network (livenessapp.parallax.FUSION_RULES; default: %(default)s)",
    )
    p.add_argument("--windows", type=int, default=30, help="scored windows to wait for before the main grab")
    p.add_argument(
        "--any-window",
        action="store_true",
        help="grab after --windows windows even when the parallax cue has no verdict on the latest one",
    )
    p.add_argument("--size", default="1400x860", help="main window size WxH")
    p.add_argument("--skip-kiosk", action="store_true")
    p.add_argument("--skip-main", action="store_true")
    p.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for each grab")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from livenessapp.gui.app import create_app, show_full_screen
    from livenessapp.gui.kiosk_window import KioskWindow
    from livenessapp.gui.main_window import MainWindow
    from livenessapp.gui.settings import AppSettings
    from livenessapp.kiosk import KioskState

    app = create_app()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in args.size.lower().split("x"))
    ns = argparse.Namespace(
        kiosk=False,
        source=args.source,
        model=args.model,
        provider=args.provider,
        threshold=None,
        fusion_rule=args.fusion_rule,
    )
    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        settings = AppSettings(Path(tmp) / "settings.ini")
        settings.set("captures_dir", str(Path(tmp) / "captures"))
        settings.set("kiosk/audit_log", str(Path(tmp) / "audit.jsonl"))
        settings.set("fusion_rule", args.fusion_rule)
        if not args.skip_main:
            win = MainWindow(settings, ns)
            win.resize(width, height)
            win.show()
            if not win.start():
                print(f"cannot start: {win.last_error}", file=sys.stderr)
                return 2
            deadline = time.monotonic() + args.timeout
            ok = _wait_until(lambda: win.windows_received >= args.windows, args.timeout)
            if ok and not args.any_window:  # the head turns in the live part of the demo clip
                _wait_until(
                    lambda: win.last_window is not None and win.last_window.parallax_state == "ok",
                    max(deadline - time.monotonic(), 0.0),
                    poll_ms=10,
                )
            _pause(0.15)  # let the latest frame paint
            path = out / "screenshot_main.png"
            win.grab().save(str(path))
            w = win.last_window
            state = "none" if w is None or w.parallax_state is None else w.parallax_state
            print(f"{path} ({win.windows_received} windows, parallax {state}{'' if ok else ', timed out'})")
            status |= 0 if ok else 1
            win.close()
        if not args.skip_kiosk:
            ns.kiosk = True
            kiosk = KioskWindow(settings, ns)
            screen = app.primaryScreen()
            geo = screen.geometry() if screen is not None else None
            if geo is not None and geo.width() >= 800 and geo.height() >= 600:
                show_full_screen(kiosk)
            else:
                kiosk.resize(width, height)
                kiosk.show()
            if not kiosk.start():
                print(f"cannot start the kiosk: {kiosk.error}", file=sys.stderr)
                return 2

            def filling() -> bool:
                view = kiosk.machine.view()
                return view.state is KioskState.COLLECTING and view.face_present and 0.3 <= view.progress < 1

            if (
                _wait_until(lambda: filling() or bool(kiosk.audit_records), args.timeout, poll_ms=10)
                and filling()
            ):
                path = out / "screenshot_kiosk_progress.png"
                kiosk.grab().save(str(path))
                print(f"{path} (progress {kiosk.machine.view().progress:.0%})")
            ok = _wait_until(lambda: len(kiosk.audit_records) >= 1, args.timeout)
            _pause(0.4)
            path = out / "screenshot_kiosk.png"
            kiosk.grab().save(str(path))
            print(f"{path} ({kiosk.audit_records[0]['verdict'] if ok else 'timed out'})")
            status |= 0 if ok else 1
            kiosk.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
