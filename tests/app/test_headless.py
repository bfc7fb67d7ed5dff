from __future__ import annotations

import json
import subprocess
import sys

import pytest

from livenessapp.cli import build_parser, main


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_analyze_video_and_missing_file(tiny_model_path, hopper_video, tmp_path, capsys):
    missing = tmp_path / "missing.mp4"
    rc = main(["analyze", str(missing), str(hopper_video), "--per-frame", "--model", str(tiny_model_path)])
    out, err = capsys.readouterr()
    lines = _lines(out)
    assert rc != 0
    assert len(lines) == 2
    assert lines[0]["path"] == str(missing) and "error" in lines[0]
    assert "missing.mp4" in err
    good = lines[1]
    assert {"path", "frames", "frames_with_face", "windows", "score", "live", "threshold"} <= set(good)
    assert good["frames"] == 30 and good["frames_with_face"] == 30 and good["windows"] == 7
    assert good["threshold"] == 0.5 and isinstance(good["live"], bool)
    assert len(good["timeline"]) == 7
    assert good["score"] == pytest.approx(sum(t["score"] for t in good["timeline"]) / 7, abs=1e-3)


def test_analyze_ok_exit_zero(tiny_model_path, hopper_video, capsys):
    assert main(["analyze", str(hopper_video), "--model", str(tiny_model_path), "--threshold", "0.1"]) == 0
    line = _lines(capsys.readouterr().out)[0]
    assert line["threshold"] == 0.1 and "timeline" not in line


def test_no_model_message(tmp_path, hopper_video, capsys):
    rc = main(["analyze", str(hopper_video), "--model", str(tmp_path / "sgtd-lite.onnx")])
    _, err = capsys.readouterr()
    assert rc != 0 and "no model" in err and "liveness-train export" in err


def test_corrupt_model_message(tmp_path, hopper_video, capsys):
    bad = tmp_path / "bad.onnx"
    for name in ("bad.onnx", "bad.encoder.onnx", "bad.temporal.onnx"):
        (tmp_path / name).write_bytes(b"garbage")
    rc = main(["analyze", str(hopper_video), "--model", str(bad)])
    assert rc != 0 and "not a loadable ONNX model" in capsys.readouterr().err


def test_run_headless_json_lines(tiny_model_path, hopper_video, capsys):
    rc = main(
        [
            "run",
            "--source",
            str(hopper_video),
            "--headless",
            "--duration",
            "5",
            "--model",
            str(tiny_model_path),
        ]
    )
    lines = _lines(capsys.readouterr().out)
    assert rc == 0
    assert lines and {"score", "smoothed", "live", "verdict", "latency_ms", "parallax"} <= set(lines[0])


def test_help_lists_commands():
    text = build_parser().format_help()
    for cmd in ("analyze", "run", "bench", "cameras"):
        assert cmd in text


def test_module_entry_point_help():
    out = subprocess.run(
        [sys.executable, "-m", "livenessapp", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "analyze" in out.stdout


def test_app_core_does_not_import_torch():
    code = (
        "import sys, livenessapp.engine, livenessapp.headless, livenessapp.model, livenessapp.sources;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_analyze_reports_the_fused_decision_and_takes_a_fusion_rule(tiny_model_path, hopper_video, capsys):
    from livenessapp.cli import main

    rc = main(["analyze", str(hopper_video), "--model", str(tiny_model_path), "--fusion-rule", "network"])
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert rc == 0 and len(out) == 1
    line = out[0]
    assert line["fusion_rule"] == "network"
    assert line["fused_live"] in (True, False)
