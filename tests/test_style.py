"""The code stays lint-clean and formatted (ruff, configured in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PATHS = ["livenessapp", "training", "tests"]


def _ruff() -> list[str]:
    exe = str(Path(sys.executable).with_name("ruff"))  # the venv's ruff first, then PATH's
    if not Path(exe).exists():
        exe = shutil.which("ruff") or ""
    if not exe:
        pytest.skip("ruff is not installed (it comes with the test extra)")
    return [exe]


def test_ruff_check(repo_root):
    out = subprocess.run([*_ruff(), "check", *PATHS], cwd=repo_root, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format(repo_root):
    out = subprocess.run(
        [*_ruff(), "format", "--check", *PATHS], cwd=repo_root, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
