"""``liveness-train ablate``: the Table 4 / 5 variants, shared stage 1, and the one markdown table."""

from __future__ import annotations

import argparse
import math

import pytest
import torch
from test_fit import fake_data

from livenessapp_training import ablate as A
from livenessapp_training import fit as F
from livenessapp_training.train_config import TrainConfig


def test_variants_follow_tables_4_and_5(tmp_path):
    base = TrainConfig(model="tiny", stage1_steps=5, stage2_steps=7)
    v4 = A._variant_config(base, A.VARIANTS["model4"], tmp_path)
    assert (v4.stage1_steps, v4.stage2_steps, v4.init_from) == (0, 7, str(tmp_path / "model1" / "final.pt"))
    mc = v4.model_config()
    assert mc.use_ststb and mc.use_convgru and mc.use_binary and mc.multi_frame
    mc = A._variant_config(base, A.VARIANTS["model3_star"], tmp_path).model_config()
    assert (mc.use_ststb, mc.use_convgru, mc.use_binary) == (False, True, False)
    m1 = A._variant_config(base, A.VARIANTS["model1_nocdl"], tmp_path)
    assert (m1.stage1_steps, m1.stage2_steps, m1.init_from) == (5, 0, "")
    assert m1.model_config().use_contrastive is False
    assert A.VARIANTS["model1"].score == "depth_single" and A.VARIANTS["model2_star"].score == "depth"


@pytest.fixture()
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_ablation_shares_stage_1_and_writes_one_table(tmp_path, monkeypatch, one_thread):
    monkeypatch.setattr(F, "build_data", lambda *a, **k: fake_data())
    seen = []

    def fake_eval(run_dir, v, args):
        seen.append(v.name)
        return {
            "score": v.score,
            "threshold": 0.5,
            "threshold_source": "dev",
            "apcer": 0.1,
            "bpcer": 0.2,
            "acer": 0.15,
            "eer": math.nan,
            "worst_pai": "print",
            "apcer_per_pai": {"replay": 0.05, "print": 0.1},
        }

    monkeypatch.setattr(A, "_evaluate", fake_eval)
    base = TrainConfig(
        model="tiny",
        stage1_steps=2,
        stage2_steps=2,
        stage1_batch=4,
        stage2_batch=2,
        num_workers=0,
        progress=False,
        checkpoint_every=0,
        dev_every=100,
    )
    args = argparse.Namespace(force=False, max_videos=0, clips_per_video=0, eval_device="cpu")
    rows = A.run_ablation(base, tmp_path, ["model3_star", "model4"], args)
    assert seen == ["model1", "model3_star", "model4"]  # the shared stage-1 run first
    s1 = torch.load(tmp_path / "model1" / "final.pt", weights_only=False)["model"]
    m3 = torch.load(tmp_path / "model3_star" / "final.pt", weights_only=False)["model"]
    bb = [k for k in s1 if k.startswith("backbone.")]
    assert bb and all(torch.equal(s1[k], m3[k]) for k in bb)  # stage 2 from the shared, frozen stage 1
    md = (tmp_path / "ablation.md").read_text()
    assert [r["name"] for r in rows][:2] == ["model3_star", "model4"]
    assert (
        "| model4 | 4 | +STSTB+ConvGRU, depth+binary (full) | score | 10.00 | print 10.00, replay 5.00 | 20.00 | "
        "15.00 | — | 1.3 |" in md
    )
    with pytest.raises(SystemExit):
        A.main(["--variants", "model9", "--out", str(tmp_path / "x")])
