"""The check made before any QApplication (livenessapp.guicheck) and the CLI's fallback when the window
cannot open: one line that names the package to install, then the headless analysis, never a Qt abort."""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

import pytest

from livenessapp import cli, guicheck
from livenessapp.guicheck import GUI_LIBRARIES, XCB_LIBRARIES, check_gui, distro_family, qt_platforms

NO_CURSOR = {"libxcb-cursor.so.0"}


def _loader(missing=frozenset()):
    return lambda soname: soname not in missing


def _check(env, missing=frozenset(), answers=True, family="debian"):
    return check_gui(
        env=env, platform="linux", load=_loader(missing), display_answers=lambda d: answers, family=family
    )


def test_missing_xcb_cursor_names_the_package_for_each_distribution():
    problem = _check({"DISPLAY": ":0"}, NO_CURSOR)
    assert problem is not None and problem.kind == "missing-libraries"
    assert problem.missing == ("libxcb-cursor.so.0",)
    line = problem.message
    assert "\n" not in line
    assert "fix: sudo apt-get install libxcb-cursor0 (" in line
    assert (
        "Fedora: sudo dnf install xcb-util-cursor" in line and "Arch: sudo pacman -S xcb-util-cursor" in line
    )
    fedora = _check({"DISPLAY": ":0"}, NO_CURSOR, family="fedora").message
    assert (
        "fix: sudo dnf install xcb-util-cursor (Debian/Ubuntu: sudo apt-get install libxcb-cursor0" in fedora
    )
    unknown = _check({"DISPLAY": ":0"}, NO_CURSOR, family=None).message
    assert "fix: sudo apt-get install libxcb-cursor0 on Debian/Ubuntu (Fedora:" in unknown


def test_several_missing_libraries_are_one_command():
    problem = _check({"DISPLAY": ":0"}, {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libEGL.so.1"})
    assert problem is not None
    assert "sudo apt-get install libegl1 libxcb-cursor0 libxcb-icccm4" in problem.message


def test_a_window_can_open_where_everything_is_there():
    assert _check({"DISPLAY": ":0"}) is None
    assert _check({"QT_QPA_PLATFORM": "offscreen"}, NO_CURSOR) is None  # offscreen needs no xcb
    assert check_gui(env={}, platform="win32") is None and check_gui(env={}, platform="darwin") is None


def test_no_display_and_a_display_that_does_not_answer():
    assert _check({}).kind == "no-display"
    assert _check({"QT_QPA_PLATFORM": "xcb"}).kind == "no-display"
    problem = _check({"DISPLAY": ":42"}, answers=False)
    assert problem is not None and problem.kind == "display-not-answering" and ":42" in problem.message


def test_wayland_with_its_socket_does_not_need_xcb(tmp_path):
    (tmp_path / "wayland-1").touch()
    env = {"WAYLAND_DISPLAY": "wayland-1", "XDG_RUNTIME_DIR": str(tmp_path), "DISPLAY": ":0"}
    assert qt_platforms(env) == ["wayland", "xcb"]
    assert _check(env, NO_CURSOR, answers=False) is None
    env["WAYLAND_DISPLAY"] = "wayland-9"  # no socket: Qt falls back to xcb, which needs the library
    assert _check(env, NO_CURSOR).kind == "missing-libraries"


def test_qt_platforms_follows_qt_platform_env():
    assert qt_platforms({"QT_QPA_PLATFORM": "xcb;offscreen", "WAYLAND_DISPLAY": "w"}) == ["xcb", "offscreen"]
    assert qt_platforms({"QT_QPA_PLATFORM": "vnc:size=800x600"}) == ["vnc"]
    assert qt_platforms({"DISPLAY": ":1"}) == ["xcb"]
    assert qt_platforms({}) == []


def test_distro_family_from_os_release(tmp_path):
    cases = {
        'ID=debian\nVERSION_ID="12"\n': "debian",
        "ID=ubuntu\nID_LIKE=debian\n": "debian",
        'ID="fedora"\n': "fedora",
        'ID="rocky"\nID_LIKE="rhel centos fedora"\n': "fedora",
        "ID=manjaro\nID_LIKE=arch\n": "arch",
        "ID=alpine\n": None,
    }
    for text, family in cases.items():
        (tmp_path / "os-release").write_text(text)
        assert distro_family(tmp_path / "os-release") == family, text
    assert distro_family(tmp_path / "missing") is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 only")
def test_a_display_nobody_serves_does_not_answer():
    if not guicheck.can_load("libxcb.so.1"):
        pytest.skip("libxcb.so.1 is not installed")
    assert guicheck.x_display_answers(":987", timeout_s=5) is False


def _needed(path: Path) -> list[str]:
    """DT_NEEDED of a 64-bit little-endian ELF file (pure Python: no readelf needed)."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, path
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    dynamic = next(s for s in sections if s[1] == 6)  # SHT_DYNAMIC
    strtab = sections[dynamic[6]]  # sh_link: its string table
    names = []
    for off in range(dynamic[4], dynamic[4] + dynamic[5], 16):
        tag, value = struct.unpack_from("<qQ", data, off)
        if tag == 0:
            break
        if tag == 1:  # DT_NEEDED
            start = strtab[4] + value
            names.append(data[start : data.index(b"\0", start)].decode())
    return names


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the check is for Linux")
def test_the_library_lists_cover_what_the_installed_pyside6_links_against():
    """Every system library that PySide6's Qt and its xcb plugin need (and the wheel does not bundle) is
    in the check's lists, so a PySide6 upgrade that needs a new one fails here, not on a user's desktop."""
    import PySide6

    qt = Path(PySide6.__file__).parent / "Qt"
    bundled = {p.name for p in (qt / "lib").iterdir()}
    base = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2"}
    base |= {"libdl.so.2", "libpthread.so.0", "librt.so.1", "ld-linux-aarch64.so.1"}
    gui = ["libQt6Core.so.6", "libQt6Gui.so.6", "libQt6DBus.so.6", "libQt6Widgets.so.6"]
    needed_gui = {n for lib in gui for n in _needed(qt / "lib" / lib)}
    needed_xcb = set(_needed(qt / "plugins" / "platforms" / "libqxcb.so"))
    needed_xcb |= set(_needed(qt / "lib" / "libQt6XcbQpa.so.6"))
    unknown_gui = needed_gui - bundled - base - set(GUI_LIBRARIES)
    unknown_xcb = needed_xcb - bundled - base - set(GUI_LIBRARIES) - set(XCB_LIBRARIES)
    assert not unknown_gui and not unknown_xcb, (unknown_gui, unknown_xcb)
    assert "libxcb-cursor.so.0" in needed_xcb


# ------------------------------------------------------------------------------------------------ CLI
@pytest.fixture
def fallback(monkeypatch):
    """``livenessapp`` with check_gui reporting a missing library; the analysis recorded, not run."""
    calls = []
    problem = guicheck.GuiProblem("missing-libraries", "livenessapp: the window cannot open: X; fix: Y")
    monkeypatch.setattr(guicheck, "check_gui", lambda: problem)
    from livenessapp import headless

    def fake_analyze(args: argparse.Namespace) -> int:
        calls.append(args)
        return 0

    monkeypatch.setattr(headless, "analyze_command", fake_analyze)
    return calls


def test_the_cli_prints_the_fix_and_runs_the_headless_analysis(fallback, capsys):
    assert cli.main([]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "livenessapp: the window cannot open: X; fix: Y"
    assert "headless analysis of the bundled demo clip" in err[1]
    (args,) = fallback
    assert args.command == "analyze" and args.per_frame and Path(args.paths[0]).name == "demo.mp4"


def test_the_fallback_analyses_the_given_video(fallback, capsys, tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    assert cli.main(["--source", str(video), "--provider", "cpu"]) == 0
    (args,) = fallback
    assert args.paths == [str(video)] and args.provider == "cpu"
    assert f"headless analysis of {video} instead" in capsys.readouterr().err


def test_without_libxcb_cursor_the_command_never_reaches_qt(tmp_path):
    """A real ``livenessapp`` process whose check sees no libxcb-cursor (injected): the one line, the
    headless analysis of the demo clip, exit code 0, no Qt abort (exit code 134)."""
    import subprocess

    code = (
        "import sys; from livenessapp import cli, guicheck\n"
        "real = guicheck.can_load\n"
        "guicheck.can_load = lambda s: s != 'libxcb-cursor.so.0' and real(s)\n"
        "f = guicheck.check_gui\n"
        "guicheck.check_gui = lambda: f(load=guicheck.can_load)\n"
        "sys.exit(cli.main([]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(DISPLAY=":987", LIVENESSAPP_SETTINGS=str(tmp_path / "s.ini"))
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("livenessapp:")]
    # Where other xcb libraries are missing too (a bare machine) the same line names them all.
    missing = lines[0].split(" needs ", 1)[1].split(", not installed", 1)[0]
    assert "libxcb-cursor.so.0" in missing.split(", ")
    assert ", not installed; fix: sudo " in lines[0]
    assert "libxcb-cursor0" in lines[0] and "xcb-util-cursor" in lines[0]
    assert '"path":' in result.stdout and "demo.mp4" in result.stdout
