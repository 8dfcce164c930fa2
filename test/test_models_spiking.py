"""Spiking layers: the LIF update against its equation and against snntorch.Leaky."""

from __future__ import annotations

import pytest
import snntorch as snn
import torch

from ness_ros.models import LIF, ConvLIF, ModelError, ParametricLIF, SEWBlock
from ness_ros.models.spiking import (
    FrameEventStem,
    calibrate_batch_norm,
    cat_channels,
    fold,
    fold_batch_norm,
    pad_to_multiple,
    surrogate_derivative,
    time_mean,
    unfold,
    upsample_nearest,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")



def test_lif_matches_hand_computed_update():
    # Values exact in binary: U[t] = 0.5 U[t-1] + X[t] - S[t-1], S[t] = U[t] > 1.
    x = torch.tensor([0.75, 0.75, 0.75, 0.0, 1.25, 1.0, 0.5]).view(7, 1, 1)
    spikes, membrane = LIF(beta=0.5, threshold=1.0).forward_with_membrane(x)
    expected_u = [0.75, 1.125, 0.3125, 0.15625, 1.328125, 0.6640625, 0.83203125]
    expected_s = [0, 1, 0, 0, 1, 0, 0]
    assert membrane.flatten().tolist() == expected_u
    assert spikes.flatten().tolist() == expected_s


def test_lif_does_not_fire_at_exactly_threshold():
    x = torch.tensor([1.0, 0.5]).view(2, 1)
    spikes, membrane = LIF(beta=0.5).forward_with_membrane(x)
    assert membrane.flatten().tolist() == [1.0, 1.0]
    assert spikes.sum() == 0


def _snntorch_reference(leaky: snn.Leaky, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    spikes, membranes = [], []
    mem = leaky.reset_mem()
    for t in range(x.shape[0]):
        spk, mem = leaky(x[t], mem) if t else leaky(x[t])
        spikes.append(spk)
        membranes.append(mem)
    return torch.stack(spikes), torch.stack(membranes)


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("surrogate", ["atan", "fast_sigmoid"])
def test_lif_identical_to_snntorch_leaky(per_channel, surrogate):
    torch.manual_seed(1)
    x = torch.randn(6, 3, 4, 5, 7) * 1.5
    beta = torch.rand(4) * 0.9 + 0.05 if per_channel else torch.tensor(0.8)
    spike_grad = (snn.surrogate.atan() if surrogate == "atan"
                  else snn.surrogate.fast_sigmoid())
    reference = snn.Leaky(beta=beta.view(-1, 1, 1).clone() if per_channel else beta.clone(),
                          learn_beta=True, spike_grad=spike_grad)
    ours = LIF(beta=0.5, learn_beta=True, channels=4 if per_channel else None,
               surrogate=surrogate)
    with torch.no_grad():
        ours.beta.copy_(beta)

    x_ref, x_ours = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    spk_ref, mem_ref = _snntorch_reference(reference, x_ref)
    spk_ours, mem_ours = ours.forward_with_membrane(x_ours)
    assert 0.05 < spk_ref.mean() < 0.5
    assert torch.equal(spk_ours, spk_ref)
    assert torch.equal(mem_ours, mem_ref)

    weights = torch.randn_like(x)
    ((spk_ref + mem_ref) * weights).sum().backward()
    ((spk_ours + mem_ours) * weights).sum().backward()
    # Same gradients up to the order of float additions (our backward is written by hand).
    torch.testing.assert_close(x_ours.grad, x_ref.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.beta.grad, reference.beta.grad.reshape(ours.beta.shape),
                               rtol=1e-5, atol=1e-5)

    with torch.inference_mode():
        spk_fast, mem_fast = ours.forward_with_membrane(x)
    assert torch.equal(spk_fast, spk_ref) and torch.equal(mem_fast, mem_ref)


@pytest.mark.parametrize(("name", "reference"), [
    ("atan", snn.surrogate.atan(alpha=3.0)), ("fast_sigmoid", snn.surrogate.fast_sigmoid(10.0))])
def test_surrogate_derivative_matches_snntorch(name, reference):
    u = torch.linspace(-2, 2, 101, requires_grad=True)
    reference(u).sum().backward()
    torch.testing.assert_close(surrogate_derivative(name, 3.0 if name == "atan" else 10.0)(
        u.detach()), u.grad, rtol=1e-6, atol=1e-7)


def test_lif_gradient_through_spikes_only():
    torch.manual_seed(2)
    x = (torch.randn(5, 2, 3) * 1.5).requires_grad_(True)
    reference = snn.Leaky(beta=0.6)
    spikes, _ = _snntorch_reference(reference, x)
    (spikes * torch.arange(3.0)).sum().backward()
    expected = x.grad.clone()
    x.grad = None
    (LIF(beta=0.6)(x) * torch.arange(3.0)).sum().backward()
    torch.testing.assert_close(x.grad, expected, rtol=1e-5, atol=1e-7)


def test_lif_state_is_reset_at_each_forward():
    lif = LIF(beta=0.9)
    x = torch.rand(4, 2, 3) * 2
    first = lif(x)
    assert lif.mem.shape == (2, 3)
    assert torch.equal(lif(x), first)
    lif.reset()
    assert lif.mem.numel() == 0
    assert "mem" not in lif.state_dict()


def test_parametric_lif_learns_per_channel_beta():
    lif = ParametricLIF(channels=3, beta=0.7)
    assert isinstance(lif.beta, torch.nn.Parameter) and lif.beta.shape == (3,)
    assert "beta" in lif.state_dict()
    lif(torch.rand(3, 2, 3, 4, 4) * 2).sum().backward()
    assert lif.beta.grad is not None and lif.beta.grad.abs().sum() > 0


@pytest.mark.parametrize(("options", "match"), [
    ({"beta": 1.5}, "beta must be in"),
    ({"threshold": 0.0}, "threshold must be > 0"),
    ({"channels": 0}, "channels must be"),
    ({"surrogate": "sigmoid"}, "surrogate must be one of"),
])
def test_lif_rejects_bad_options(options, match):
    with pytest.raises(ModelError, match=match):
        LIF(**options)


def test_lif_rejects_wrong_channel_count():
    with pytest.raises(ModelError, match="3 channels"):
        LIF(channels=3)(torch.zeros(2, 1, 4, 5, 5))


def test_conv_lif_and_sew_block_shapes():
    x = (torch.rand(3, 2, 4, 9, 11) < 0.3).float()
    out = ConvLIF(4, 6, stride=2)(x)
    assert out.shape == (3, 2, 6, 5, 6)
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    sew = SEWBlock(6)
    counts = sew(out)
    assert counts.shape == out.shape
    assert set(counts.unique().tolist()) <= {0.0, 1.0, 2.0}
    assert torch.all(counts >= out)  # ADD: the input spikes pass through


def test_sequence_helpers():
    x = torch.rand(3, 2, 4, 5, 6)
    assert fold(x).shape == (6, 4, 5, 6)
    assert fold(x).is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(unfold(fold(x), 3), x)
    assert cat_channels(x, x[:, :, :1]).shape == (3, 2, 5, 5, 6)
    assert torch.equal(upsample_nearest(x)[..., ::2, ::2], x)
    torch.testing.assert_close(time_mean(x), x.mean(0))
    padded = pad_to_multiple(x, 4)
    assert padded.shape[-2:] == (8, 8) and torch.equal(padded[..., :5, :6], x)
    assert padded[..., 5:, :].abs().sum() == 0


def test_calibrate_batch_norm_leaves_eval_mode_and_momentum():
    layer = ConvLIF(2, 4)
    calibrate_batch_norm(layer, torch.randn(2, 3, 2, 8, 8) * 5)
    assert not layer.training
    assert layer.norm.momentum == 0.1
    assert layer.norm.running_var.mean() > 1.5


def test_frame_event_stem_equals_one_convolution_over_the_concatenated_input():
    """The stem's frame share, computed once and added to every step, is the convolution over
    cat(frame, events[t]) of a ConvLIF with the same weights (which it can load)."""
    torch.manual_seed(3)
    stem = FrameEventStem(3, 2, 8, batch_norm=False)
    reference = ConvLIF(5, 8, stride=2, batch_norm=False)
    reference.load_state_dict(stem.state_dict())
    frame, events = torch.randn(2, 3, 20, 30), torch.rand(3, 2, 2, 20, 30) * 3
    currents = reference.conv(torch.cat([frame.expand(3, -1, -1, -1, -1), events], 2)
                              .flatten(0, 1)).unflatten(0, (3, 2))
    seen: list[torch.Tensor] = []
    stem.lif.register_forward_hook(lambda module, args, output: seen.append(args[0]))
    with torch.no_grad():
        currents = currents.detach()
        stem(frame, events)
    torch.testing.assert_close(seen[0], currents, atol=1e-5, rtol=1e-5)


def test_fold_batch_norm_keeps_the_currents_and_removes_the_norm():
    torch.manual_seed(4)
    layer = ConvLIF(3, 6, batch_norm=True)
    x = torch.randn(2, 2, 3, 12, 12) * 4
    calibrate_batch_norm(layer, x)
    with torch.no_grad():
        layer.norm.weight.uniform_(0.5, 2.0)
        layer.norm.bias.uniform_(-1.0, 1.0)
        expected = layer.norm(layer.conv(x.flatten(0, 1)))
        fold_batch_norm(layer)
        folded = layer.conv(x.flatten(0, 1))
    assert isinstance(layer.norm, torch.nn.Identity)
    torch.testing.assert_close(folded, expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ModelError, match="eval mode"):
        fold_batch_norm(ConvLIF(3, 6, batch_norm=True).train())
