"""Work counts: MACs, synaptic operations, energy and spike rate, against hand counts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ness_ros.models import (
    ENERGY_PER_AC_J,
    ENERGY_PER_MAC_J,
    EvSegSNN,
    SegSNN,
    WorkReport,
    count_parameters,
    measure_work,
)
from ness_ros.models.ops import synaptic_ops
from ness_ros.models.spiking import calibrate_batch_norm

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_macs_of_a_single_conv_equal_the_hand_count():
    conv = nn.Conv2d(3, 5, 3, padding=1)
    report = measure_work(conv, torch.randn(1, 3, 8, 10))
    assert report.macs == 5 * 8 * 10 * 3 * 3 * 3  # outputs x inputs per output
    assert report.synops == 0 and report.spike_rate == 0.0
    assert report.params == 5 * 3 * 3 * 3 + 5 == count_parameters(conv)
    assert report.energy_mac_j == pytest.approx(report.macs * 4.6e-12)
    assert report.energy_total_j == report.energy_mac_j + report.energy_ac_j


def test_macs_of_strided_grouped_conv_and_linear():
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    assert measure_work(conv, torch.randn(1, 4, 9, 9)).macs == 6 * 5 * 5 * 2 * 9
    assert measure_work(nn.Linear(7, 3), torch.randn(2, 7)).macs == 3 * 7


@pytest.mark.parametrize(("position", "stride", "expected_positions"), [
    ((0, 0), 1, 4),   # a corner spike reaches 2 x 2 outputs
    ((3, 4), 1, 9),   # an interior spike reaches 3 x 3
    ((2, 2), 2, 1),   # with stride 2, an even position is the centre of one window only
    ((1, 1), 2, 4),   # an odd position lies on the edge of 2 x 2 windows
])
def test_synops_of_one_spike_equal_the_hand_count(position, stride, expected_positions):
    conv = nn.Conv2d(2, 5, 3, stride=stride, padding=1)
    x = torch.zeros(1, 2, 8, 8)
    x[0, 1, position[0], position[1]] = 1.0
    report = measure_work(conv, x)
    assert report.synops == expected_positions * 5
    assert report.macs == 0
    assert report.energy_ac_j == pytest.approx(expected_positions * 5 * 0.9e-12)
    x[0, 1, position[0], position[1]] = 2.0  # a SEW count of 2 is two spikes
    assert measure_work(conv, x).synops == 2 * expected_positions * 5


@pytest.mark.parametrize("groups", [1, 2])
def test_synops_agree_with_a_brute_force_count(groups):
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=groups)
    x = (torch.rand(3, 4, 11, 13, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    # Every (output position, tap) pair of each group reads one input value; each value read
    # feeds the group's out_channels / groups output channels.
    windows = F.unfold(x, 3, padding=1, stride=2)  # [B, C * 9, positions]
    assert synaptic_ops(conv, x) == windows.sum().item() * (6 // groups)


def test_no_spikes_means_no_synops():
    model = EvSegSNN(base_width=4, num_steps=2).eval()  # zero biases: silent on silent input
    report = measure_work(model, torch.zeros(2, 1, 2, 24, 32))
    assert report.synops == 0 and report.spike_rate == 0.0
    # enc0 (T x 4 channels x 12 x 16 positions x 2 inputs x 9) and the head on the rate at 1/2
    assert report.macs == 2 * 4 * 12 * 16 * 2 * 9 + 6 * 12 * 16 * 4


def test_segsnn_dense_layers_are_the_stem_and_the_head():
    torch.manual_seed(0)
    model = SegSNN(base_width=4, num_steps=2)
    frame, events = torch.randn(1, 3, 32, 48), (torch.rand(2, 1, 2, 32, 48) < 0.2).float()
    calibrate_batch_norm(model, frame, events)
    report = measure_work(model, frame, events)
    # out channels x positions x 9 x (3 frame channels once + T x 2 event channels)
    stem = 4 * 16 * 24 * 9 * (3 + 2 * 2)
    head = 6 * 8 * 12 * 4           # classes x positions at 1/4 x w, once on the rate
    assert report.macs == stem + head
    assert report.synops > 0 and 0.01 < report.spike_rate < 0.5
    assert report.energy_ac_j == pytest.approx(report.synops * ENERGY_PER_AC_J)
    assert report.energy_mac_j == pytest.approx(report.macs * ENERGY_PER_MAC_J)


def test_figures_are_per_sample_and_scale():
    torch.manual_seed(0)
    model = EvSegSNN(base_width=4, num_steps=2).eval()
    events = (torch.rand(2, 1, 2, 24, 32) < 0.2).float()
    one = measure_work(model, events)
    three = measure_work(model, events.expand(-1, 3, -1, -1, -1).contiguous())
    assert three.macs == one.macs
    assert three.synops == pytest.approx(one.synops)
    assert three.spike_rate == pytest.approx(one.spike_rate)
    scaled = one.scaled(12)
    assert isinstance(scaled, WorkReport)
    assert scaled.synops == 12 * one.synops and scaled.params == one.params
    assert scaled.energy_total_j == pytest.approx(12 * one.energy_total_j)
    assert set(one.as_dict()) == {"params", "macs", "synops", "energy_mac_j", "energy_ac_j",
                                  "energy_total_j", "spike_rate"}


def test_hooks_are_removed():
    model = EvSegSNN(base_width=4, num_steps=2)
    measure_work(model, torch.zeros(2, 1, 2, 16, 16))
    assert all(not m._forward_hooks for m in model.modules())
