"""End to end on a few simulated clips: simulate -> fit (preprocessing on the way, interrupted and resumed)
-> eval -> export -> the exported model runs in onnxruntime with the threshold eval chose."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from livenessapp_training import cli
from livenessapp_training.scoring import LIGHT_SHIFTS


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.slow
def test_simulate_fit_resume_eval_export(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    data, cache, run = tmp_path / "sim", tmp_path / "cache", tmp_path / "run"
    # seed 2: the first 16 clips are 4 groups -> 8 train, 4 dev, 4 test (half live)
    assert (
        cli.main(
            [
                "simulate",
                "generate",
                "--out",
                str(data),
                "--clips",
                "16",
                "--seed",
                "2",
                "--frames",
                "24",
                "--size",
                "240x180",
                "--workers",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    splits = [json.loads(x)["split"] for x in (data / "manifest.jsonl").read_text().splitlines()]
    assert sorted(set(splits)) == ["dev", "test", "train"]

    fit_args = [
        "fit",
        "--model",
        "tiny",
        "--dataset",
        "sim",
        "--data-root",
        str(data),
        "--cache-dir",
        str(cache),
        "--out-dir",
        str(run),
        "--stage1-steps",
        "3",
        "--stage2-steps",
        "3",
        "--stage1-batch",
        "4",
        "--stage2-batch",
        "2",
        "--checkpoint-every",
        "2",
        "--num-workers",
        "0",
        "--progress",
        "false",
        "--preprocess-workers",
        "2",
    ]
    assert cli.main([*fit_args, "--stop-after-steps", "4"]) == 0
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=False)["stage"] == 2
    assert cli.main(["fit", "--resume", str(run)]) == 0
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["steps"] == 6 and summary["best_dev"]  # dev selection ran
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"] == "tiny" and cfg["stage2_steps"] == 3
    data_summary = json.loads((run / "data_summary.json").read_text())
    assert data_summary["train_clips"] > 0

    assert cli.main(["eval", str(run), "--num-workers", "0", "--no-progress", "--photometric"]) == 0
    ev = json.loads((run / "eval" / "eval.json").read_text())
    assert set(ev["variants"]) >= {"score", "p_live", "depth", "depth_single"}
    assert ev["variants"]["score"]["threshold_source"] == "dev"
    light = ev["protocols"]["all"]["photometric"]
    assert list(light) == ["as recorded", *LIGHT_SHIFTS]
    # unshifted, the light table repeats the test metrics at the dev threshold
    assert light["as recorded"]["acer"] == pytest.approx(ev["variants"]["score"]["test"]["acer"])
    report = (run / "eval" / "report.md").read_text()
    assert "under a shifted light" in report and "- threshold: eer point of the dev split" in report
    for f in ("report.md", "scores.csv", "roc.png", "det.png", "hist_score.png"):
        assert (run / "eval" / f).is_file(), f

    # The fit check: the same dev threshold applied to the training videos, written beside, named as such.
    assert cli.main(["eval", str(run), "--num-workers", "0", "--no-progress", "--apply-to", "train"]) == 0
    fit_check = json.loads((run / "eval-train" / "eval.json").read_text())
    assert fit_check["applied_to"] == "train"
    assert fit_check["threshold"] == pytest.approx(ev["threshold"])  # chosen on the same dev videos
    assert set(fit_check["protocols"]["all"]["counts"]) == {"dev", "train"}
    csv_rows = [line.split(",") for line in (run / "eval-train" / "scores.csv").read_text().splitlines()[1:]]
    assert {row[0] for row in csv_rows} == {"dev", "train"}
    manifest = [json.loads(x) for x in (data / "manifest.jsonl").read_text().splitlines()]
    train_ids = {r["clip_id"] for r in manifest if r["split"] == "train"}
    scored_ids = {row[1] for row in csv_rows if row[0] == "train"}
    assert scored_ids and scored_ids <= train_ids
    assert "Fit check" in (run / "eval-train" / "report.md").read_text()
    # A threshold carried over from another evaluation is named as such, not as the dev split's EER point.
    given = [
        "eval",
        str(run),
        "--num-workers",
        "0",
        "--no-progress",
        "--no-plots",
        "--out",
        str(tmp_path / "g"),
    ]
    assert cli.main([*given, "--threshold-from", str(run / "eval" / "eval.json")]) == 0
    header = (tmp_path / "g" / "report.md").read_text().split("## ")[0]
    assert "given (--threshold-from" in header and "eer" not in header

    out = tmp_path / "model"
    assert cli.main(["export", str(run), "--name", "tinysgtd", "--out", str(out)]) == 0
    for f in ("tinysgtd.onnx", "tinysgtd.encoder.onnx", "tinysgtd.temporal.onnx", "tinysgtd.md"):
        assert (out / f).is_file(), f
    card = (out / "tinysgtd.md").read_text()
    assert "SHA-256" in card and "liveness-train fit" in card and "SYNTHETIC" in card

    sess = ort.InferenceSession(str(out / "tinysgtd.onnx"), providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    assert float(meta["livenessapp.threshold"]) == pytest.approx(ev["threshold"])
    assert json.loads(meta["livenessapp.training_data"])["dataset"] == "sim"
    mc = json.loads(meta["livenessapp.config"])
    nf, s, d = mc["num_frames"], mc["input_size"], mc["input_size"] // 8
    res = sess.run(
        ["score"],
        {"frames": np.zeros((1, nf, 3, s, s), np.float32), "masks": np.ones((1, nf, 1, d, d), np.float32)},
    )
    assert res[0].shape == (1,) and np.isfinite(res[0]).all()

    # The one-command recipe over the same folders: every clip is already rendered, the finished run is kept,
    # eval and export run again and give the same threshold.
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(
        f'[train]\nmodel = "tiny"\ndataset = "sim"\ndata_root = "{data}"\ncache_dir = "{cache}"\n'
        f'out_dir = "{run}"\n[simulate]\nclips = 16\nseed = 2\nframes = 24\nsize = "240x180"\n'
        f'[export]\nname = "again"\nout = "{out}"\n'
    )
    assert cli.main(["reproduce", "--config", str(recipe)]) == 0
    assert json.loads((data / "simulator.json").read_text())["rendered"] == 0
    again = ort.InferenceSession(str(out / "again.onnx"), providers=["CPUExecutionProvider"])
    assert float(again.get_modelmeta().custom_metadata_map["livenessapp.threshold"]) == pytest.approx(
        ev["threshold"]
    )
