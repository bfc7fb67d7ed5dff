"""App-test fixtures: a real tiny FAS-SGTD model exported to ONNX (random weights, threshold 0.5) and a
short video of the conftest photo. torch is only imported here, in the test process (never by the app)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> Path:
    torch = pytest.importorskip("torch")
    from livenessapp_training.export import export_onnx
    from livenessapp_training.fas_sgtd import FASSGTD, SGTDConfig

    torch.manual_seed(0)
    cfg = SGTDConfig.tiny()
    model = FASSGTD(cfg).eval()
    out = tmp_path_factory.mktemp("model")
    paths = export_onnx(model, cfg, out_dir=out, name="tiny", threshold=0.5)
    return Path(paths["full"])


@pytest.fixture(scope="session")
def tiny_model(tiny_model_path):
    from livenessapp.model import LivenessModel

    return LivenessModel.load(tiny_model_path, provider="cpu")


def write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(np.ascontiguousarray(f))
    writer.release()
    return path


def moving_frames(image: np.ndarray, n: int, step: int = 2) -> list[np.ndarray]:
    """``n`` frames of ``image`` shifted sideways a little each frame (a face that moves)."""
    out = []
    for i in range(n):
        m = np.float32([[1, 0, (i % 10) * step - 10], [0, 1, 0]])
        out.append(
            cv2.warpAffine(
                np.ascontiguousarray(image),
                m,
                (image.shape[1], image.shape[0]),
                borderMode=cv2.BORDER_REPLICATE,
            )
        )
    return out


@pytest.fixture(scope="session")
def hopper_video(tmp_path_factory, grace_hopper_bgr) -> Path:
    """A 30-frame 30 fps AVI of Grace Hopper's photo moving sideways."""
    return write_video(tmp_path_factory.mktemp("video") / "hopper.avi", moving_frames(grace_hopper_bgr, 30))


@pytest.fixture(scope="session")
def moving():
    """The :func:`moving_frames` helper as a fixture (tests/ is not a package)."""
    return moving_frames


@pytest.fixture
def no_working_cuda(tiny_model_path) -> None:
    """Skips a CUDA-fallback test on a machine where the CUDA provider really runs the model."""
    import onnxruntime as ort

    model_path = tiny_model_path

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return
    try:
        session = ort.InferenceSession(str(model_path), providers=["CUDAExecutionProvider"])
    except Exception:
        return
    if "CUDAExecutionProvider" in session.get_providers():
        pytest.skip("a working CUDA provider is present")
