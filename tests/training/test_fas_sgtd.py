"""FAS-SGTD network (training/fas_sgtd.py, its generic blocks in blocks.py): blocks, shapes, the two
training stages, ConvGRU time recurrence, streaming (encode + temporal == forward)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from livenessapp_training import losses
from livenessapp_training.blocks import GreyWorld, InputStandardisation, SobelGradient
from livenessapp_training.fas_sgtd import FASSGTD, RSGB, ConvGRUCell, SGTDConfig

VARIANTS = {
    "model1_single_frame": dict(multi_frame=False),
    "model2_ststb": dict(use_convgru=False),
    "model2_star": dict(use_convgru=False, use_binary=False),
    "model3_convgru": dict(use_ststb=False),
    "model3_star": dict(use_ststb=False, use_binary=False),
    "model4_full": dict(),
    "model4_star": dict(use_binary=False),
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: one intra-op thread is faster and immune to a busy machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _model(seed: int = 0, **kw) -> FASSGTD:
    torch.manual_seed(seed)
    return FASSGTD(SGTDConfig.tiny(**kw))


def _clip(cfg: SGTDConfig, batch: int = 2, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    frames = torch.randn(batch, cfg.num_frames, 3, cfg.input_size, cfg.input_size, generator=g)
    masks = (torch.rand(batch, cfg.num_frames, 1, cfg.depth_size, cfg.depth_size, generator=g) > 0.3).float()
    return frames, masks


# -- blocks ---------------------------------------------------------------------------------------------


def test_sobel_magnitude_by_hand():
    x = torch.tensor([[1.0, 2.0, 4.0], [0.0, 3.0, 1.0], [5.0, 2.0, 2.0]]).view(1, 1, 3, 3)
    sobel = SobelGradient(1)
    gx, gy = sobel.components(x)
    # centre: Sx = [[-1,0,1],[-2,0,2],[-1,0,1]], Sy = [[1,2,1],[0,0,0],[-1,-2,-1]] (cross-correlation)
    cx = (-1 * 1 + 1 * 4) + (-2 * 0 + 2 * 1) + (-1 * 5 + 1 * 2)  # = 3 + 2 - 3 = 2
    cy = (1 * 1 + 2 * 2 + 1 * 4) - (1 * 5 + 2 * 2 + 1 * 2)  # = 9 - 11 = -2
    assert gx[0, 0, 1, 1].item() == cx == 2
    assert gy[0, 0, 1, 1].item() == cy == -2
    # top-left corner with zero padding: neighbours (0,1)=2, (1,0)=0, (1,1)=3
    tx = 2 * 2 + 1 * 3  # right column weights 2 (same row), 1 (row below)
    ty = -(2 * 0 + 1 * 3)  # bottom row weights -2 (same column), -1 (column right)
    assert gx[0, 0, 0, 0].item() == tx and gy[0, 0, 0, 0].item() == ty
    mag = sobel(x)
    assert mag[0, 0, 1, 1].item() == pytest.approx(math.sqrt(cx**2 + cy**2 + 1e-8), rel=1e-6)
    assert mag[0, 0, 0, 0].item() == pytest.approx(math.sqrt(tx**2 + ty**2 + 1e-8), rel=1e-6)
    # a constant image has zero gradient inside: the magnitude is sqrt(1e-8) there
    assert sobel(torch.ones(1, 1, 5, 5))[0, 0, 2, 2].item() == pytest.approx(1e-4, rel=1e-3)
    # depthwise: each channel on its own, fixed (a buffer, not a parameter)
    two = torch.cat([x, 2 * x], dim=1)
    m2 = SobelGradient(2)(two)
    assert torch.allclose(m2[:, 1], torch.sqrt(4 * (gx**2 + gy**2)[:, 0] + 1e-8))
    assert list(SobelGradient(3).parameters()) == []


def test_rsgb_formula():
    torch.manual_seed(0)
    block = RSGB(3, 5).eval()
    for bn in (block.bn, block.grad_bn):  # non-trivial BN statistics
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    x = torch.randn(2, 3, 8, 8)
    gx = F.conv2d(x, block.sobel.weight_x, padding=1, groups=3)
    gy = F.conv2d(x, block.sobel.weight_y, padding=1, groups=3)
    grad = torch.sqrt(gx**2 + gy**2 + 1e-8)
    want = F.relu(block.bn(block.conv(x) + block.grad_bn(block.grad_conv(grad))))
    assert torch.allclose(block(x), want, atol=1e-6)
    assert block.conv.kernel_size == (3, 3) and block.grad_conv.kernel_size == (1, 1)


def test_convgru_cell_is_eq9():
    torch.manual_seed(0)
    cell = ConvGRUCell(3, 4)
    assert torch.all(cell.gates.bias == 1.0)  # gate biases start at 1
    nn.init.normal_(cell.gates.bias)
    nn.init.normal_(cell.candidate.bias)
    x, h = torch.randn(2, 3, 5, 5), torch.randn(2, 4, 5, 5)
    wr, wu = cell.gates.weight.chunk(2, 0)
    br, bu = cell.gates.bias.chunk(2, 0)
    hx = torch.cat([h, x], 1)
    r = torch.sigmoid(F.conv2d(hx, wr, br, padding=1))
    u = torch.sigmoid(F.conv2d(hx, wu, bu, padding=1))
    h_hat = torch.tanh(
        F.conv2d(torch.cat([r * h, x], 1), cell.candidate.weight, cell.candidate.bias, padding=1)
    )
    want = (1 - u) * h + u * h_hat
    assert torch.allclose(cell(x, h), want, atol=1e-6)
    # h = None is H_0 = 0, computed without a zero tensor
    assert torch.allclose(cell(x, None), cell(x, torch.zeros(2, 4, 5, 5)), atol=1e-6)


# -- config -----------------------------------------------------------------------------------------------


def test_config_presets_and_roundtrip():
    p = SGTDConfig.paper()
    assert (p.input_size, p.depth_size, p.stem, p.widths, p.head) == (256, 32, 64, (128, 192, 128), (128, 64))
    assert (p.ststb_compress, p.ststb_out, p.gru_hidden, p.num_frames) == (32, 128, 64, 5)
    assert (p.alpha, p.beta, p.frame_interval) == (0.8, 0.9, 3)
    lite = SGTDConfig.lite()
    assert lite.input_size == 128 and lite.depth_size == 16
    for cfg in (p, lite, SGTDConfig.tiny(use_ststb=False)):
        d = cfg.to_dict()
        assert SGTDConfig.from_dict(d) == cfg
        import json

        assert SGTDConfig.from_dict(json.loads(json.dumps(d))) == cfg
    with pytest.raises(ValueError):
        SGTDConfig.from_dict({"nope": 1})
    with pytest.raises(ValueError):
        SGTDConfig(input_size=100)


# -- shapes -----------------------------------------------------------------------------------------------


def _check_shapes(out, b: int, cfg: SGTDConfig) -> None:
    nf, d = cfg.num_frames, cfg.depth_size
    assert out.depth_single.shape == (b, nf, 1, d, d)
    if cfg.has_stpm:
        assert out.depth_multi.shape == (b, nf - 1, 1, d, d)
    else:
        assert out.depth_multi is None
    assert out.depth_fusion.shape == (b, nf - 1, 1, d, d)
    assert out.logits.shape == (b, 2) and out.p_live.shape == (b,) and out.score.shape == (b,)


def test_paper_shapes_at_256_on_meta_device():
    cfg = SGTDConfig.paper()
    with torch.device("meta"):
        model = FASSGTD(cfg)
        out = model(torch.empty(1, 5, 3, 256, 256), torch.empty(1, 5, 1, 32, 32))
        feats, ds = model.encode(torch.empty(1, 3, 256, 256))
    _check_shapes(out, 1, cfg)
    assert [tuple(f.shape) for f in feats] == [(1, 128, 256, 256), (1, 128, 128, 128), (1, 128, 64, 64)]
    assert ds.shape == (1, 1, 32, 32)


def test_paper_widths_real_forward_small_input():
    cfg = SGTDConfig.paper(input_size=16)
    torch.manual_seed(0)
    model = FASSGTD(cfg).eval()
    frames, masks = _clip(cfg, batch=1)
    with torch.no_grad():
        out = model(frames, masks)
    _check_shapes(out, 1, cfg)
    assert all(torch.isfinite(t).all() for t in out if t is not None)


def test_lite_forward_shapes():
    cfg = SGTDConfig.lite()
    torch.manual_seed(0)
    model = FASSGTD(cfg).eval()
    frames, masks = _clip(cfg, batch=1)
    with torch.no_grad():
        out = model(frames, masks)
    _check_shapes(out, 1, cfg)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_shapes_and_outputs(variant):
    model = _model(**VARIANTS[variant]).eval()
    cfg = model.cfg
    frames, masks = _clip(cfg)
    with torch.no_grad():
        out = model(frames, masks)
    _check_shapes(out, 2, cfg)
    # softmax exactly once, in p_live; score is Eq. 18 on the fused maps with the masks of frames 0..Nf-2
    assert torch.allclose(out.p_live, torch.softmax(out.logits, 1)[:, 1])
    want = losses.liveness_score(out.p_live, out.depth_fusion, masks[:, :-1], cfg.beta)
    assert torch.allclose(out.score, want)
    if cfg.has_stpm:  # Eq. 10
        want = cfg.alpha * out.depth_single[:, :-1] + (1 - cfg.alpha) * out.depth_multi
        assert torch.allclose(out.depth_fusion, want)
    else:
        assert torch.equal(out.depth_fusion, out.depth_single[:, :-1])
    if not cfg.has_binary:
        assert torch.all(out.p_live == 0.5) and model.binary is None
    # no masks = all ones
    with torch.no_grad():
        no_mask = model(frames)
    ones = losses.liveness_score(no_mask.p_live, no_mask.depth_fusion, None, cfg.beta)
    assert torch.allclose(no_mask.score, ones)
    assert (out.depth_single >= 0).all()  # sigmoid (default) or ReLU output


@pytest.mark.parametrize(("activation", "alive"), [("sigmoid", True), ("relu", False)])
def test_depth_head_passes_a_gradient_when_every_preactivation_is_negative(activation, alive):
    """The dead-ReLU failure we met in training: a head whose pre-activations are all negative outputs
    zeros and never recovers with the paper's ReLU; the default sigmoid still learns."""
    cfg = SGTDConfig.tiny(depth_activation=activation)
    model = FASSGTD(cfg)
    last_conv = model.backbone.head[-2]
    with torch.no_grad():
        last_conv.bias.fill_(-8.0)
    _, depth = model.encode(torch.randn(2, 3, cfg.input_size, cfg.input_size))
    ((depth - 0.5) ** 2).mean().backward()
    grad = last_conv.weight.grad.abs().sum().item()
    assert (grad > 0) is alive


@pytest.mark.parametrize(("activation", "alive"), [("leaky_relu", True), ("relu", False)])
def test_binary_head_passes_a_gradient_to_the_stpm_when_every_unit_is_below_zero(activation, alive):
    """The dead binary head we met in a motion_only stage 2: with every FC-64 unit below zero for every
    input, the paper's ReLU head outputs its bias alone and the cross-entropy no longer reaches the STPM;
    the default leaky ReLU still passes it."""
    torch.manual_seed(0)
    cfg = SGTDConfig.tiny(binary_activation=activation)
    model = FASSGTD(cfg)
    with torch.no_grad():
        model.binary.fc1.bias.fill_(-50.0)
    size = cfg.input_size
    out = model(torch.randn(2, cfg.num_frames, 3, size, size))
    torch.nn.functional.cross_entropy(out.logits, torch.tensor([0, 1])).backward()
    grad = sum(p.grad.abs().sum().item() for p in model.stpm.parameters() if p.grad is not None)
    assert (grad > 0) is alive


def test_checkpoints_from_before_the_binary_activation_option_load_with_the_papers_relu():
    d = SGTDConfig.tiny().to_dict()
    assert d["binary_activation"] == "leaky_relu"
    del d["binary_activation"]
    cfg = SGTDConfig.from_dict(d)
    assert cfg.binary_activation == "relu"
    assert isinstance(FASSGTD(cfg).binary.act, torch.nn.ReLU)
    with pytest.raises(ValueError, match="binary_activation"):
        SGTDConfig.tiny(binary_activation="gelu")


def test_depth_activation_is_checked():
    with pytest.raises(ValueError, match="depth_activation"):
        SGTDConfig.tiny(depth_activation="tanh")


def test_input_standardisation_cancels_a_channel_gain_and_offset_exactly():
    torch.manual_seed(0)
    x = torch.rand(3, 3, 16, 16)
    gain = torch.tensor([0.7, 1.0, 1.3]).view(1, 3, 1, 1)
    offset = torch.tensor([0.1, -0.2, 0.05]).view(1, 3, 1, 1)
    exact = InputStandardisation(eps=0.0)
    assert torch.allclose(exact(x), exact(x * gain + offset), atol=1e-5)
    y = exact(x)
    assert torch.allclose(y.mean((2, 3)), torch.zeros(3, 3), atol=1e-5)
    assert torch.allclose(y.pow(2).mean((2, 3)), torch.ones(3, 3), atol=1e-4)


def test_instance_input_norm_makes_the_network_ignore_exposure_and_white_balance():
    """input_norm="instance": a per-channel gain and offset of the pixels (exposure, colour of the light,
    black level) barely moves the outputs (only through eps); with the paper's fixed normalisation the same
    change moves the depth maps 30x more."""
    cfg = SGTDConfig.tiny()
    torch.manual_seed(0)
    rgb = torch.rand(2, cfg.num_frames, 3, cfg.input_size, cfg.input_size) * 200 + 20
    gain = torch.tensor([0.8, 1.0, 1.15]).view(1, 1, 3, 1, 1)
    offset = torch.tensor([5.0, -3.0, 10.0]).view(1, 1, 3, 1, 1)

    def fixed(x):
        return (x - cfg.mean) / cfg.std  # what the app and the clips feed the network

    change = {}
    for norm in ("instance", "fixed"):
        torch.manual_seed(1)
        model = FASSGTD(SGTDConfig.tiny(input_norm=norm)).eval()
        with torch.no_grad():
            a, b = model(fixed(rgb)), model(fixed(rgb * gain + offset))
        change[norm] = (a.depth_single - b.depth_single).abs().max().item()
    assert change["instance"] < 0.02
    assert change["fixed"] > 30 * change["instance"]


def test_instance_input_norm_keeps_a_flat_crop_finite():
    model = FASSGTD(SGTDConfig.tiny(input_norm="instance")).eval()
    flat = torch.full((1, 4, 3, 32, 32), 0.25)
    with torch.no_grad():
        out = model(flat)
    assert torch.isfinite(out.score).all() and torch.isfinite(out.depth_single).all()


def test_grey_world_input_norm_cancels_a_gain_per_channel_but_keeps_an_offset():
    """input_norm="grey_world": exposure and the colour of the light (a gain per channel) leave the outputs
    unchanged; a raised black level (an offset, as a print's paper or a screen's backlight gives) does not
    cancel, unlike with input_norm="instance"."""
    cfg = SGTDConfig.tiny()
    torch.manual_seed(0)
    rgb = torch.rand(2, cfg.num_frames, 3, cfg.input_size, cfg.input_size) * 150 + 20
    gain = torch.tensor([0.8, 1.0, 1.15]).view(1, 1, 3, 1, 1)

    def fixed(x):
        return (x - cfg.mean) / cfg.std

    torch.manual_seed(1)
    grey = FASSGTD(SGTDConfig.tiny(input_norm="grey_world")).eval()
    torch.manual_seed(1)
    plain = FASSGTD(SGTDConfig.tiny()).eval()
    with torch.no_grad():
        ref = grey(fixed(rgb)).depth_single
        by_gain = (ref - grey(fixed(rgb * gain)).depth_single).abs().max().item()
        by_offset = (ref - grey(fixed(rgb + 40.0)).depth_single).abs().max().item()
        plain_by_gain = (plain(fixed(rgb)).depth_single - plain(fixed(rgb * gain)).depth_single).abs().max()
    assert by_gain < 1e-4
    assert by_offset > 100 * by_gain and plain_by_gain.item() > 100 * by_gain


def test_grey_world_moves_each_channel_mean_to_the_target_and_keeps_a_black_crop_finite():
    norm = GreyWorld(127.5, 128.0)
    pixels = torch.rand(3, 3, 16, 16) * torch.tensor([60.0, 120.0, 200.0]).view(1, 3, 1, 1)
    out = norm((pixels - 127.5) / 128.0) * 128.0 + 127.5
    assert torch.allclose(out.mean((2, 3)), torch.full((3, 3), 127.5), atol=1e-3)
    ratio = out / pixels.clamp_min(1e-3)  # one gain per crop and channel: the ratios inside are kept
    assert torch.allclose(ratio, ratio[..., :1, :1].expand_as(ratio), rtol=1e-3)
    black = norm(torch.full((1, 3, 8, 8), -127.5 / 128.0))
    assert torch.isfinite(black).all()
    model = FASSGTD(SGTDConfig.tiny(input_norm="grey_world")).eval()
    with torch.no_grad():
        out = model(torch.full((1, 4, 3, 32, 32), -127.5 / 128.0))
    assert torch.isfinite(out.score).all()


def test_input_norm_is_checked_and_old_configs_load_as_fixed():
    with pytest.raises(ValueError, match="input_norm"):
        SGTDConfig.tiny(input_norm="batch")
    old = SGTDConfig.lite().to_dict()
    del old["input_norm"]  # a model exported before the option existed
    assert SGTDConfig.from_dict(old).input_norm == "fixed"


# -- the two training stages -----------------------------------------------------------------------------


def _stage2_loss(model, frames, masks, depth, label):
    out = model(frames, masks)
    return losses.multi_frame_loss(out, depth, label, model.cfg)[0]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_gradients_reach_every_trainable_parameter(variant):
    model = _model(**VARIANTS[variant]).train()
    cfg = model.cfg
    frames, masks = _clip(cfg)
    g = torch.Generator().manual_seed(3)
    depth = torch.rand(2, cfg.num_frames, 1, cfg.depth_size, cfg.depth_size, generator=g)
    label = torch.tensor([1, 0])
    # stage 1: single-frame loss on single frames reaches every backbone parameter
    loss, _ = losses.single_frame_loss(model.encode(frames.flatten(0, 1))[1], depth.flatten(0, 1))
    loss.backward()
    for name, p in model.backbone.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"stage 1: no gradient at backbone.{name}"
    stage1 = {id(p) for gr in model.parameter_groups(1) for p in gr["params"]}
    assert stage1 == {id(p) for p in model.backbone.parameters()}
    if not cfg.multi_frame:
        assert model.parameter_groups(2) == []
        return
    # stage 2: frozen backbone; the loss reaches every STPM / binary-head parameter and nothing else
    model.zero_grad(set_to_none=True)
    model.freeze_backbone()
    model.train()
    _stage2_loss(model, frames, masks, depth, label).backward()
    for p in model.backbone.parameters():
        assert p.grad is None and not p.requires_grad
    groups = model.parameter_groups(2)
    trained = [p for gr in groups for p in gr["params"]]
    assert {id(p) for p in trained} == {id(p) for p in model.multi_frame_parameters()}
    assert len(trained) > 0
    names = {id(p): n for n, p in model.named_parameters()}
    for p in trained:
        assert p.grad is not None and p.grad.abs().sum() > 0, f"stage 2: no gradient at {names[id(p)]}"


def test_frozen_backbone_keeps_weights_and_bn_statistics():
    model = _model()
    model.freeze_backbone()
    model.train()  # .train() again: the backbone's BN layers must stay in eval mode
    assert all(not m.training for m in model.backbone.modules())
    assert model.stpm.training and model.binary.training
    before = copy.deepcopy(model.backbone.state_dict())
    stpm_bn = next(m for m in model.stpm.modules() if isinstance(m, nn.BatchNorm2d))
    stpm_mean = stpm_bn.running_mean.clone()
    opt = torch.optim.Adadelta(model.parameter_groups(2), lr=1.0)
    cfg = model.cfg
    for step in range(3):
        frames, masks = _clip(cfg, seed=10 + step)
        depth = torch.rand(2, cfg.num_frames, 1, cfg.depth_size, cfg.depth_size)
        opt.zero_grad()
        _stage2_loss(model, frames, masks, depth, torch.tensor([1, 0])).backward()
        opt.step()
    after = model.backbone.state_dict()
    for k, v in before.items():  # weights, running_mean / running_var / num_batches_tracked
        assert torch.equal(v, after[k]), f"backbone.{k} changed"
    assert not torch.equal(stpm_mean, stpm_bn.running_mean)  # the STPM's BN did train
    model.eval()
    model.train()
    assert all(not m.training for m in model.backbone.modules())
    model.unfreeze_backbone()
    model.train()
    assert all(m.training for m in model.backbone.modules())
    assert all(p.requires_grad for p in model.backbone.parameters())


# -- ConvGRU: recurrence over time, never over the batch -------------------------------------------------


def test_convgru_carries_hidden_state_over_time():
    model = _model(num_frames=5).eval()  # 4 pairs
    cfg = model.cfg
    frames, masks = _clip(cfg)
    changed = frames.clone()
    changed[:, 0] += torch.randn_like(changed[:, 0])  # frame 0 only enters pair 0 = (0, 1)
    with torch.no_grad():
        a, b = model(frames, masks), model(changed, masks)
    diff = (a.depth_multi - b.depth_multi).abs().flatten(2).amax(-1)  # [B, pairs]
    assert (diff[:, 0] > 0).all()
    # pairs 1..3 never see frame 0 directly: they change only through the hidden state carried in time
    assert (diff[:, 1:] > 1e-7).all(), diff
    # the STSTB output of pairs >= 1 is untouched (so the change can only come from the recurrence)
    feats_a = [f.unflatten(0, (2, cfg.num_frames)) for f in model.encode(frames.flatten(0, 1))[0]]
    feats_b = [f.unflatten(0, (2, cfg.num_frames)) for f in model.encode(changed.flatten(0, 1))[0]]
    with torch.no_grad():
        xa = model.stpm.ststb(tuple(f.flatten(0, 1) for f in feats_a)).unflatten(0, (2, 4))
        xb = model.stpm.ststb(tuple(f.flatten(0, 1) for f in feats_b)).unflatten(0, (2, 4))
    assert torch.equal(xa[:, 1:], xb[:, 1:]) and not torch.equal(xa[:, 0], xb[:, 0])
    # the authors' bug (GRU over the batch axis: one step from h0 = 0 per pair) would leave pair 1 unchanged
    with torch.no_grad():
        one_step = model.stpm.gru2(model.stpm.gru1(xb[:, 1]))
        assert torch.equal(one_step, model.stpm.gru2(model.stpm.gru1(xa[:, 1])))
        assert not torch.allclose(one_step, b.depth_multi[:, 1])


def test_batch_elements_are_never_mixed():
    model = _model().eval()
    frames, masks = _clip(model.cfg, batch=3)
    with torch.no_grad():
        out = model(frames, masks)
        perm = torch.tensor([2, 0, 1])
        swapped = model(frames[perm], masks[perm])
        for a, b in zip(out, swapped, strict=True):
            assert torch.allclose(a[perm], b, atol=1e-6)
        changed = frames.clone()
        changed[0] += 1.0
        other = model(changed, masks)
    for a, b in zip(out, other, strict=True):
        assert torch.equal(a[1:], b[1:])  # elements 1, 2 untouched by element 0


# -- streaming -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["model4_full", "model3_convgru", "model1_single_frame"])
def test_encode_then_temporal_equals_forward(variant):
    model = _model(**VARIANTS[variant]).eval()
    cfg = model.cfg
    frames, masks = _clip(cfg)
    with torch.no_grad():
        full = model(frames, masks)
        per_frame = [model.encode(frames[:, t]) for t in range(cfg.num_frames)]  # one frame at a time
        feats = tuple(torch.stack([pf[0][lvl] for pf in per_frame], 1) for lvl in range(3))
        ds = torch.stack([pf[1] for pf in per_frame], 1)
        streamed = model.temporal(feats, ds, masks)
    for name, a, b in zip(full._fields, full, streamed, strict=True):
        if a is None:
            assert b is None
        else:
            assert torch.allclose(a, b, atol=1e-5), name


def test_training_warns_about_a_dead_binary_head():
    from livenessapp_training.devcheck import dead_binary_head_warning

    cfg = SGTDConfig.tiny(binary_activation="relu")
    warning = dead_binary_head_warning(cfg, 0.0)
    assert warning and "dead" in warning and "'relu'" in warning
    assert dead_binary_head_warning(cfg, 0.02) is None  # p_live varies: alive
    assert dead_binary_head_warning(cfg, float("nan")) is None  # no dev videos
    assert dead_binary_head_warning(SGTDConfig.tiny(use_binary=False), 0.0) is None  # p_live is 0.5 by design
