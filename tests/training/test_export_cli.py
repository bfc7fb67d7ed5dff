"""``liveness-train export``: threshold from eval.json and the data summary into the ONNX metadata, the
parity check that fails loudly, and the model card."""

from __future__ import annotations

import hashlib
import json

import onnxruntime as ort
import pytest
import torch

from livenessapp_training import export as X
from livenessapp_training import export_cli as EC
from livenessapp_training.fas_sgtd import FASSGTD, SGTDConfig
from livenessapp_training.train_config import TrainConfig


@pytest.fixture()
def run_dir(tmp_path):
    data = tmp_path / "sim"
    data.mkdir()
    recs = [
        {
            "clip_id": f"c{i}",
            "split": ["train", "dev", "test"][i % 3],
            "pai": ["live", "print_flat"][i % 2],
            "identity": f"id{i // 2}",
            "scene": "s",
            "camera": "cam1",
            "protocol": "normal",
            "face_photo": "astronaut",
        }
        for i in range(6)
    ]
    (data / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    run = tmp_path / "run"
    run.mkdir()
    tc = TrainConfig(model="tiny", dataset="sim", data_root=str(data), out_dir=str(run)).to_dict()
    (run / "config.json").write_text(json.dumps(tc))
    (run / "data_summary.json").write_text(json.dumps({"videos": {"train": {"live": 1}}, "train_clips": 3}))
    torch.manual_seed(0)
    model = FASSGTD(SGTDConfig.tiny())
    torch.save(
        {
            "format": "livenessapp-train/1",
            "model": model.state_dict(),
            "model_config": model.cfg.to_dict(),
            "train_config": tc,
            "step": 7,
        },
        run / "best.pt",
    )
    (run / "eval").mkdir()
    variants = {
        "score": {
            "threshold": 0.4321,
            "test": {
                "apcer": 0.1,
                "bpcer": 0.2,
                "acer": 0.15,
                "hter": 0.1,
                "eer": 0.12,
                "worst_pai": "print_flat",
            },
        }
    }
    (run / "eval" / "eval.json").write_text(
        json.dumps(
            {
                "threshold": 0.4321,
                "dataset": "sim",
                "data_root": str(data),
                "threshold_mode": "eer",
                "command": "liveness-train eval RUN",
                "variants": variants,
                "protocols": {"normal": {"variants": variants}},
            }
        )
    )
    return run


def test_export_writes_graphs_metadata_and_card(run_dir):
    out = run_dir / "m"
    notes = run_dir / "notes.md"
    notes.write_text("## Measured through the app\n\nBPCER 12.3 % on the test videos.\n")
    assert EC.main([str(run_dir), "--name", "demo", "--out", str(out), "--notes", str(notes)]) == 0
    sess = ort.InferenceSession(str(out / "demo.onnx"), providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    assert float(meta["livenessapp.threshold"]) == pytest.approx(0.4321)
    td = json.loads(meta["livenessapp.training_data"])
    assert td["dataset"] == "sim" and td["manifest"]["clips"] == 6 and td["manifest"]["identities"] == 3
    card = (out / "demo.md").read_text()
    for g in ("demo.onnx", "demo.encoder.onnx", "demo.pair.onnx", "demo.temporal.onnx"):
        digest = hashlib.sha256((out / g).read_bytes()).hexdigest()
        assert f"| `{g}` | `{digest}` |" in card
    assert "live if score >= 0.432100" in card
    assert "| score | 0.4321 | 10.00 (print_flat) | 20.00 | 15.00 |" in card
    assert "liveness-train eval RUN" in card and f"liveness-train export {run_dir}" in card
    assert "## Intended use" in card and "## Limits" in card and "SYNTHETIC" in card
    assert meta["livenessapp.format"] == "2" and "streaming" in card  # the cached-pair path was checked
    # the hand-measured notes sit before the intended use, and the card's export command names them
    assert card.index("BPCER 12.3 % on the test videos.") < card.index("## Intended use")
    assert f"--notes {notes}" in card
    with pytest.raises(SystemExit, match="cannot read --notes"):
        EC.main([str(run_dir), "--name", "demo", "--out", str(out), "--notes", str(run_dir / "none.md")])


def test_parity_failure_is_loud(run_dir, monkeypatch):
    monkeypatch.setattr(X, "check_parity", lambda model, paths, atol=1e-4: {"full": 3e-3, "encoder": 0.0})
    with pytest.raises(SystemExit, match="parity"):
        EC.main([str(run_dir), "--out", str(run_dir / "m2"), "--threshold", "0.7"])


def test_card_names_the_one_command_recipe(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert EC._recipe_of(run) is None  # no commands.txt
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('[train]\nmodel = "tiny"\n')
    (run / "commands.txt").write_text(f"liveness-train fit --config {recipe} --progress false\n")
    assert EC._recipe_of(run) is None  # a plain training config: nothing to simulate, no recipe
    recipe.write_text('[train]\nmodel = "tiny"\n[simulate]\nclips = 4\n')
    assert EC._recipe_of(run) == str(recipe)


def test_card_steps_are_the_recipe_plan_from_nothing(tmp_path):
    """The card's step-by-step block is the recipe's own plan: the data it prepares, the simulator's real
    identities, the clips rendered from them (``--faces``), the fit and every evaluation."""
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(
        f"""[prepare]
commands = ["python build_corpus.py {tmp_path}/real"]
[train]
model = "tiny"
dataset = "sim"
data_root = "{tmp_path}/sim"
out_dir = "{tmp_path}/run"
[simulate]
clips = 4
faces = "{tmp_path}/faces"
faces_from = "{tmp_path}/real"
[eval]
dataset = "manifest"
data_root = "{tmp_path}/real"
"""
    )
    steps = EC._recipe_steps(str(recipe))
    assert steps[0] == f"python build_corpus.py {tmp_path}/real"
    assert steps[1] == f"liveness-train simulate faces --manifest {tmp_path}/real --out {tmp_path}/faces"
    assert steps[2].startswith("liveness-train simulate generate") and f"--faces {tmp_path}/faces" in steps[2]
    assert steps[3] == f"liveness-train fit --config {recipe}"  # from nothing, even beside a finished run
    assert steps[4].startswith(f"liveness-train eval {tmp_path}/run --dataset manifest")
    recipe.write_text("[simulate]\nclip = 4\n")
    # A recipe that no longer plans: the card falls back to the run's own command lines.
    assert EC._recipe_steps(str(recipe)) is None


def test_a_fit_check_eval_cannot_feed_the_model_card(run_dir):
    """``eval --apply-to train`` scores the training videos: its metrics must not reach a card as test metrics."""
    fit_check = json.loads((run_dir / "eval" / "eval.json").read_text()) | {"applied_to": "train"}
    path = run_dir / "eval-train.json"
    path.write_text(json.dumps(fit_check))
    with pytest.raises(SystemExit, match="fit check on the train split"):
        EC.main([str(run_dir), "--out", str(run_dir / "m3"), "--eval-json", str(path)])
    assert not (run_dir / "m3" / "sgtd.onnx").exists()
