"""Evaluation: score variants from the network output, video-level averaging, the cheap dev subset, the
dev -> test protocol (scoring.py), the report / plots (eval_report.py) and the eval command (evaluate.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from livenessapp_training import eval_report as R
from livenessapp_training import evaluate as E
from livenessapp_training import scoring as S
from livenessapp_training.fas_sgtd import FASSGTD, SGTDConfig


def test_score_variants_match_eq18():
    torch.manual_seed(0)
    model = FASSGTD(SGTDConfig.tiny()).eval()
    frames = torch.randn(3, 4, 3, 32, 32)
    masks = (torch.rand(3, 4, 1, 4, 4) > 0.3).float()
    with torch.no_grad():
        out = model(frames, masks)
    s = S.clip_scores_from_output(out, masks)
    beta = model.cfg.beta
    torch.testing.assert_close(s["score"], beta * s["p_live"] + (1 - beta) * s["depth"])
    torch.testing.assert_close(s["p_live"], out.p_live)
    want_single = ((out.depth_single * masks).flatten(2).sum(-1) / masks.flatten(2).sum(-1)).mean(1)
    torch.testing.assert_close(s["depth_single"], want_single)


def test_gain_shift_scales_the_pixels_and_clips_like_a_camera():
    cfg = SGTDConfig.tiny()
    pixels = torch.tensor([10.0, 100.0, 250.0]).view(1, 3, 1, 1).expand(2, 3, 2, 2)
    item = {"frames": (pixels - cfg.mean) / cfg.std, "label": torch.tensor(1)}
    shifted = S.GainShifted([item], (0.5, 1.0, 1.15), cfg.mean, cfg.std)[0]
    got = shifted["frames"] * cfg.std + cfg.mean
    torch.testing.assert_close(got[0, :, 0, 0], torch.tensor([5.0, 100.0, 255.0]))  # 287.5 clipped
    assert shifted["label"] is item["label"] and len(S.GainShifted([item], (1, 1, 1), 0, 1)) == 1


def test_video_level_means_and_subset():
    clips = S.ClipScores()
    for vid, lab, pai, sc in [("a", 1, "live", 0.2), ("a", 1, "live", 0.4), ("b", 0, "print", 0.9)]:
        clips.video_id.append(vid)
        clips.label.append(lab)
        clips.pai.append(pai)
        for k in S.VARIANTS:
            clips.scores[k].append(sc)
    v = S.video_level(clips)
    assert v.video_id == ["a", "b"] and list(v.clips) == [2, 1] and list(v.label) == [1, 0]
    np.testing.assert_allclose(v.scores["score"], [0.3, 0.9])

    samples = [SimpleNamespace(video_id=f"v{i}", label=i % 2) for i in range(6)]
    ds = SimpleNamespace(items=[(v, t) for v in range(6) for t in range(5)], samples=samples)
    idx = S.subset_indices(ds, max_videos=4, clips_per_video=2)
    videos = {ds.items[i][0] for i in idx}
    assert len(videos) == 4 and len(idx) == 8
    assert {samples[v].label for v in videos} == {0, 1}
    assert S.subset_indices(ds, 4, 2) == idx  # deterministic
    assert len(S.subset_indices(ds)) == 30


def _scores(live, spoof, pais):
    n = len(live) + len(spoof)
    s = np.array(live + spoof, float)
    return S.VideoScores(
        [f"v{i}" for i in range(n)],
        np.array([1] * len(live) + [0] * len(spoof)),
        ["live"] * len(live) + pais,
        np.ones(n, int),
        {k: s for k in S.VARIANTS},
    )


def _result(variants, plots, protocol):
    """The eval.json fields ``markdown_report`` reads, around one protocol's variants."""
    return {
        "model": "m",
        "dataset": "manifest",
        "data_root": "/d",
        "threshold_mode": "eer",
        "target_bpcer": 0.01,
        "primary": "score",
        "created": "now",
        "seconds": 1.0,
        "protocols": {protocol: {"counts": {}, "variants": variants, "plots": plots}},
    }


def test_protocol_report_and_plots(tmp_path):
    dev = _scores([0.9, 0.8, 0.7, 0.4], [0.6, 0.3, 0.2, 0.1], ["print", "print", "replay", "replay"])
    test = _scores([0.55, 0.45], [0.52, 0.1], ["print", "replay"])
    rep = S.evaluate_protocol(dev, test)
    assert rep["score"]["threshold"] == pytest.approx(0.5)  # the dev EER threshold
    assert rep["score"]["test"]["acer"] == pytest.approx(0.75)
    fixed = S.evaluate_protocol(None, test, thresholds={k: 0.5 for k in S.VARIANTS})
    assert fixed["score"]["threshold_source"] == "given"
    files = R.write_plots(tmp_path, dev, test, rep, "score")
    assert all((tmp_path / f).stat().st_size > 1000 for f in files) and "det.png" in files
    result = _result(rep, files, "p1")
    md = R.markdown_report(result)
    assert "| score * | 0.5000 | dev | 100.00 | 50.00 | 75.00 |" in md
    assert "| print | 1 | 100.00 |" in md


@pytest.mark.parametrize(("stage", "untrained"), [(1, E.STAGE1_ONLY_UNTRAINED), (2, ())])
def test_eval_reports_only_the_single_frame_maps_of_a_stage_1_checkpoint(tmp_path, capsys, stage, untrained):
    cfg = SGTDConfig.tiny()
    path = tmp_path / "final.pt"
    torch.save({"model_config": cfg.to_dict(), "model": FASSGTD(cfg).state_dict(), "stage": stage}, path)
    *_, got = E._load_any(str(path), torch.device("cpu"))
    assert got == untrained
    assert ("stage 1 only" in capsys.readouterr().err) is bool(untrained)
    assert E.resolve_primary(None, got, "m") == ("depth_single" if untrained else "score")
    assert E.resolve_primary("depth_single", got, "m") == "depth_single"
    if untrained:
        with pytest.raises(SystemExit, match="--primary score needs the STPM"):
            E.resolve_primary("score", got, "m")


def test_evaluate_protocol_leaves_out_the_untrained_variants():
    rng = np.random.default_rng(0)
    n = 12
    labels = np.array([1, 0] * (n // 2))

    def scored():
        scores = {k: rng.random(n) + 0.5 * labels for k in S.VARIANTS}
        pai = ["live" if y else "print" for y in labels]
        return S.VideoScores([f"v{i}" for i in range(n)], labels, pai, np.ones(n, dtype=int), scores)

    rep = S.evaluate_protocol(scored(), scored(), skip=E.STAGE1_ONLY_UNTRAINED)
    assert sorted(rep) == sorted(set(S.VARIANTS) - set(E.STAGE1_ONLY_UNTRAINED))


def test_a_live_only_folder_is_scored_at_a_given_threshold_and_refused_without_one(tmp_path):
    live_only = _scores([0.9, 0.7, 0.3], [], [])
    rep = S.evaluate_protocol(None, live_only, thresholds={"score": 0.5})
    assert list(rep) == ["score"]  # the other variants have no threshold to be scored at
    assert rep["score"]["test"]["bpcer"] == pytest.approx(1 / 3) and "eer" not in rep["score"]["test"]
    assert S.evaluate_protocol(None, live_only) == {}  # no threshold can be chosen on one class
    budget = S.evaluate_protocol(
        None, live_only, mode="bpcer", target_bpcer=0.4
    )  # a BPCER budget needs live only
    assert sorted(budget) == sorted(S.VARIANTS) and budget["score"]["test"]["bpcer"] <= 0.4
    files = R.write_plots(tmp_path, None, live_only, rep, "score")
    assert "hist_score.png" in files
    result = _result(rep, files, "all")
    assert "| score * | 0.5000 | given | — | 33.33 | — |" in R.markdown_report(result)
