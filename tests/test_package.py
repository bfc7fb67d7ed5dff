"""The house rules that keep the project installable and the app core free of torch."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys

import livenessapp


def _app_modules() -> list[str]:
    names = ["livenessapp"]
    for info in pkgutil.walk_packages(livenessapp.__path__, prefix="livenessapp."):
        names.append(info.name)
    return names


def test_app_core_never_imports_torch():
    """Importing every module of the app (GUI included) must not pull torch in."""
    modules = _app_modules()
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "assert not bad, bad[:5]\n"
        "print(len(sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_ci_runs_exactly_the_readme_test_command(repo_root):
    readme = (repo_root / "README.md").read_text()
    ci = (repo_root / ".ci" / "run").read_text()
    commands = re.findall(r"^(python3 -m venv .*pytest.*)$", readme, flags=re.M)
    assert commands, "README has no test command"
    assert commands[0] in ci.splitlines(), "the README's test command and .ci/run differ"


def test_python_dash_m_entry_point_prints_help():
    result = subprocess.run(
        [sys.executable, "-m", "livenessapp", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "analyze" in result.stdout


def test_training_package_maps_to_its_own_import_name():
    import livenessapp_training

    assert livenessapp_training.__file__.replace("\\", "/").split("/")[-2] == "training"
