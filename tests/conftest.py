"""Shared test fixtures: Qt runs offscreen, and two real public-domain face photos that ship with
dependencies (matplotlib's Grace Hopper, scikit-image's astronaut) stand in for a camera."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


def _grace_hopper_path() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def grace_hopper_path() -> Path:
    path = _grace_hopper_path()
    if not path.exists():
        pytest.fail(f"matplotlib's sample photo is missing at {path}; install the [test] extra")
    return path


@pytest.fixture(scope="session")
def grace_hopper_bgr(grace_hopper_path: Path) -> np.ndarray:
    """Grace Hopper's portrait (512x600 BGR uint8), read-only."""
    image = cv2.imread(str(grace_hopper_path), cv2.IMREAD_COLOR)
    assert image is not None
    image.setflags(write=False)
    return image


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    """Eileen Collins, scikit-image's astronaut photo (512x512 BGR uint8), read-only."""
    from skimage import data

    image = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    image.setflags(write=False)
    return image
