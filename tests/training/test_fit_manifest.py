"""End to end on a manifest-described real-data layout: still-image captures and videos (frames of simulated
clips stand in for real footage) -> fit mixing them with simulator clips -> eval on the manifest's dev/test
split with the people/sources section -> export."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import torch

from livenessapp_training import cli
from livenessapp_training.datasets.manifest import read_manifest

HEADER = "file\tlabel\tattack\tmedia\tsubject\tsource_repo\tlicence\n"


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _frames(video: Path, n: int) -> list:
    cap = cv2.VideoCapture(str(video))
    out = []
    while len(out) < n:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(frame)
    cap.release()
    return out


def _manifest_corpus(sim: Path, root: Path) -> Path:
    """5 people of an image source (a live and a print capture of 4 frames each, from simulated live/print
    clips), one video source (a live and a replay video)."""
    rows = [json.loads(x) for x in (sim / "manifest.jsonl").read_text().splitlines()]
    by_pai: dict[str, list[Path]] = {}
    for r in rows:
        by_pai.setdefault(r["pai"], []).append(sim / r["path"])
    lives = by_pai["live"]
    attacks = [p for k, v in by_pai.items() if k != "live" for p in v]
    lines = []
    for person in range(5):
        for label, clip, folder in (
            ("live", lives[person % len(lives)], "live"),
            ("spoof", attacks[person % len(attacks)], "print"),
        ):
            for i, frame in enumerate(_frames(clip, 4)):
                rel = f"faces/{folder}/p{person}/cap_{i}.jpg"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / rel), frame)
                attack = "none" if label == "live" else "print"
                lines.append(f"{rel}\t{label}\t{attack}\timage\tp{person}\tfaces-db\tCC0\n")
    (root / "clips").mkdir(parents=True)
    for label, clip, attack in (("live", lives[-1], "none"), ("spoof", attacks[-1], "replay")):
        rel = f"clips/{label}.mp4"
        (root / rel).write_bytes(clip.read_bytes())
        lines.append(f"{rel}\t{label}\t{attack}\tvideo\t\tclip-src\tCC0\n")
    (root / "MANIFEST.tsv").write_text(HEADER + "".join(lines))
    return root


@pytest.mark.slow
def test_fit_on_real_layout_mix_and_eval(tmp_path):
    sim, cache, run = tmp_path / "sim", tmp_path / "cache", tmp_path / "run"
    gen = [
        "simulate",
        "generate",
        "--out",
        str(sim),
        "--clips",
        "12",
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
    assert cli.main(gen) == 0
    real = _manifest_corpus(sim, tmp_path / "real")
    samples = read_manifest(real)
    assert {s.split for s in samples if s.is_still} == {"train", "dev", "test"}

    config = tmp_path / "mix.toml"
    config.write_text(
        f"""[train]
model = "tiny"
dataset = "sim"
data_root = "{sim.as_posix()}"
cache_dir = "{cache.as_posix()}"
out_dir = "{run.as_posix()}"
stage1_steps = 3
stage2_steps = 2
stage1_batch = 4
stage2_batch = 2
checkpoint_every = 2
num_workers = 0
progress = false
preprocess_workers = 2

[[train.mix]]
dataset = "manifest"
data_root = "{real.as_posix()}"
protocol = "groups"
repeat = 2
"""
    )
    assert cli.main(["fit", "--config", str(config)]) == 0
    data = json.loads((run / "data_summary.json").read_text())
    mix = data["mix"][0]
    assert mix["dataset"] == "manifest" and mix["repeat"] == 2
    # stills join stage 1 only; the videos join both stages
    train_real = [s for s in samples if s.split == "train"]
    assert mix["train_samples"] == len(train_real)
    assert mix["stage2_samples"] == sum(1 for s in train_real if not s.is_still)

    out = tmp_path / "eval-real"
    args = [
        "eval",
        str(run),
        "--dataset",
        "manifest",
        "--data-root",
        str(real),
        "--protocol",
        "groups",
        "--out",
        str(out),
        "--num-workers",
        "0",
        "--no-progress",
        "--no-plots",
    ]
    assert cli.main(args) == 0
    ev = json.loads((out / "eval.json").read_text())
    entry = ev["protocols"]["groups"]
    assert ev["variants"]["score"]["threshold_source"] == "dev"
    assert entry["population"]["test"]["people"] == 1 and entry["population"]["dev"]["people"] == 1
    assert set(entry["per_source"]) == {"faces-db"}
    assert entry["per_source"]["faces-db"]["live"] == 1
    report = (out / "report.md").read_text()
    assert "People and sources behind each split" in report and "| faces-db | 1 |" in report

    model_out = tmp_path / "model"
    export = ["export", str(run), "--name", "tinymix", "--out", str(model_out), "--skip-parity"]
    assert cli.main([*export, "--eval-json", str(out / "eval.json")]) == 0
    card = (model_out / "tinymix.md").read_text()
    real_part, sim_part = card.split("### Simulator test split")
    assert "### Real held-out" in real_part and "| faces-db | 1 |" in real_part
    assert "Not measured." in sim_part.split("##")[0]
    assert "SYNTHETIC" not in card  # trained on a mix with real data
