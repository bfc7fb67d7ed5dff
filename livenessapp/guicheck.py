"""Can the desktop window open here? A check made before any QApplication exists (Qt-free, no PySide6).

Qt aborts the process (``qFatal``) when no platform plugin can be initialised, e.g. when the xcb plugin's
system library ``libxcb-cursor.so.0`` (Qt >= 6.5) is missing or ``DISPLAY`` names an X server that does not
answer. :func:`check_gui` finds these cases first, so that ``livenessapp`` can print one line that says what
to install and fall back to the headless analysis instead of aborting.

The libraries checked are the ones PySide6's Qt libraries and its xcb plugin link against that the wheel
does not bundle (``DT_NEEDED`` of ``libQt6Core/Gui/DBus/Widgets`` and ``plugins/platforms/libqxcb.so``;
``tests/app/test_guicheck.py`` keeps the list in step with the installed wheel). Each is loaded with
``ctypes`` exactly as the dynamic linker would; the display is asked with ``xcb_connect``.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "GUI_LIBRARIES",
    "XCB_LIBRARIES",
    "GuiProblem",
    "check_gui",
    "distro_family",
    "install_command",
    "missing_packages",
    "qt_platforms",
    "x_display_answers",
]

# soname -> package (Debian/Ubuntu, Fedora, Arch)
GUI_LIBRARIES: dict[str, tuple[str, str, str]] = {  # every platform (libQt6Core/Gui/DBus/Widgets)
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype", "freetype2"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "dbus"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11"),
    "libz.so.1": ("zlib1g", "zlib", "zlib"),
    "libzstd.so.1": ("libzstd1", "libzstd", "zstd"),
}
XCB_LIBRARIES: dict[str, tuple[str, str, str]] = {  # the xcb platform plugin (X11)
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),  # Qt >= 6.5
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil", "xcb-util-renderutil"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11"),
}
_FAMILIES = ("debian", "fedora", "arch")
_INSTALL = {
    "debian": "sudo apt-get install",
    "fedora": "sudo dnf install",
    "arch": "sudo pacman -S",
}


@dataclass(frozen=True)
class GuiProblem:
    """Why the window cannot open: ``kind`` is ``"no-display"``, ``"missing-libraries"`` or
    ``"display-not-answering"``; ``message`` is the one line to print; ``missing``: the sonames."""

    kind: str
    message: str
    missing: tuple[str, ...] = field(default=())


def can_load(soname: str) -> bool:
    """Whether the dynamic linker finds and loads ``soname`` (with all it needs)."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def distro_family(os_release: str | os.PathLike = "/etc/os-release") -> str | None:
    """``"debian"``, ``"fedora"`` or ``"arch"`` from ``ID`` / ``ID_LIKE`` in os-release; None otherwise."""
    try:
        text = Path(os_release).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    ids: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("ID", "ID_LIKE"):
            ids += value.strip().strip("\"'").lower().split()
    aliases = {
        "debian": "debian",
        "ubuntu": "debian",
        "fedora": "fedora",
        "rhel": "fedora",
        "centos": "fedora",
        "arch": "arch",
        "manjaro": "arch",
    }
    for i in ids:
        if i in aliases:
            return aliases[i]
    return None


def install_command(sonames: list[str] | tuple[str, ...], family: str | None) -> str:
    """The command(s) that install the packages holding ``sonames``: the distribution's own first, the
    others in brackets (all three when the distribution is not known)."""
    table = {**GUI_LIBRARIES, **XCB_LIBRARIES}

    def command(fam: str) -> str:
        i = _FAMILIES.index(fam)
        packages = list(dict.fromkeys(table[s][i] for s in sonames if s in table))
        return f"{_INSTALL[fam]} {' '.join(packages)}" if packages else ""

    first = family if family in _FAMILIES else "debian"
    others = [f for f in _FAMILIES if f != first]
    names = {"debian": "Debian/Ubuntu", "fedora": "Fedora", "arch": "Arch"}
    main = command(first)
    if family not in _FAMILIES:
        main = f"{main} on {names[first]}"
    rest = "; ".join(f"{names[f]}: {command(f)}" for f in others if command(f))
    return f"{main} ({rest})" if rest else main


def qt_platforms(env: Mapping[str, str]) -> list[str]:
    """The platform plugins Qt tries, in order, as ``QGuiApplication`` chooses them on Linux/BSD:
    ``QT_QPA_PLATFORM`` (a ``;`` list) when set, else Wayland when ``WAYLAND_DISPLAY`` is set (or the
    session is Wayland), then xcb when ``DISPLAY`` is set (or the session is X11); empty: no display."""
    explicit = env.get("QT_QPA_PLATFORM", "").strip()
    if explicit:
        return [p.split(":")[0].strip() for p in explicit.split(";") if p.strip()]
    session = env.get("XDG_SESSION_TYPE", "")
    order = []
    if env.get("WAYLAND_DISPLAY") or session == "wayland":
        order.append("wayland")
    if env.get("DISPLAY") or session == "x11":
        order.append("xcb")
    return order


def x_display_answers(display: str, timeout_s: float = 5.0, load=ctypes.CDLL) -> bool:
    """Whether the X server named by ``display`` accepts a connection (``xcb_connect``, with the usual
    ``XAUTHORITY``), given up after ``timeout_s``."""
    try:
        xcb = load("libxcb.so.1")
    except OSError:
        return False
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    xcb.xcb_connection_has_error.restype = ctypes.c_int
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.restype = None
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    result: list[bool] = []

    def ask() -> None:
        conn = xcb.xcb_connect(display.encode(), None)
        try:
            result.append(bool(conn) and xcb.xcb_connection_has_error(conn) == 0)
        finally:
            if conn:
                xcb.xcb_disconnect(conn)

    t = threading.Thread(target=ask, name="xcb-connect-check", daemon=True)
    t.start()
    t.join(timeout_s)
    return bool(result and result[0])


def _wayland_socket(env: Mapping[str, str]) -> bool:
    name = env.get("WAYLAND_DISPLAY") or "wayland-0"
    path = Path(name) if os.path.isabs(name) else Path(env.get("XDG_RUNTIME_DIR", "/nonexistent")) / name
    return path.exists()


def check_gui(
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
    load: Callable[[str], bool] = can_load,
    display_answers: Callable[[str], bool] = x_display_answers,
    family: str | None | bool = False,
) -> GuiProblem | None:
    """None when Qt can open a window here, else the :class:`GuiProblem`. ``load``, ``display_answers``
    and ``family`` (the distribution; False: read os-release) are injectable for tests."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if platform in ("win32", "darwin"):
        return None
    if family is False:
        family = distro_family()
    order = qt_platforms(env)
    if not order:
        return GuiProblem(
            "no-display",
            "livenessapp: no display found (DISPLAY / WAYLAND_DISPLAY are not set), so the window cannot "
            "open; start the app from a desktop session.",
        )
    missing = [s for s in GUI_LIBRARIES if not load(s)]
    xcb = order[0] == "xcb" or (
        "xcb" in order and not (order[0] == "wayland" and _wayland_socket(env))
    )  # Qt tries the list in order: a Wayland session with its socket uses the Wayland plugin
    if xcb:
        missing += [s for s in XCB_LIBRARIES if not load(s)]
    if missing:
        what = "Qt's xcb platform plugin" if set(missing) & set(XCB_LIBRARIES) else "Qt"
        return GuiProblem(
            "missing-libraries",
            f"livenessapp: the window cannot open: {what} needs {', '.join(missing)}, not installed; "
            f"fix: {install_command(missing, family)}",
            tuple(missing),
        )
    if not xcb:
        return None  # offscreen, Wayland, ...: Qt says itself what a platform we do not check lacks
    display = env.get("DISPLAY", "")
    if not display:
        return GuiProblem(
            "no-display", "livenessapp: no display found (DISPLAY is not set), so the window cannot open."
        )
    if not display_answers(display):
        return GuiProblem(
            "display-not-answering",
            f"livenessapp: the X display {display} (DISPLAY) does not answer, so the window cannot open; "
            "is the X server running, and may this user connect to it (XAUTHORITY)?",
        )
    return None


def missing_packages(family: str | None = "debian", load: Callable[[str], bool] = can_load) -> list[str]:
    """The packages (of ``family``'s names) holding the libraries, Qt's and its xcb plugin's, that do not
    load here; ``.ci/run`` installs them with apt for the Xvfb test."""
    i = _FAMILIES.index(family if family in _FAMILIES else "debian")
    table = {**GUI_LIBRARIES, **XCB_LIBRARIES}
    return list(dict.fromkeys(table[s][i] for s in table if not load(s)))


if __name__ == "__main__":  # python3 -m livenessapp.guicheck [debian|fedora|arch]: what to install
    print(" ".join(missing_packages(sys.argv[1] if len(sys.argv) > 1 else distro_family())))
