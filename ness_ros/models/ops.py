"""Work per frame of a spiking model: parameters, MACs, synaptic operations and 45 nm energy.

Counting rules (Conv2d and Linear layers; element-wise work such as neuron updates, batch norm,
up-sampling and bias additions is not counted):

- A layer fed with real-valued input does dense multiply-accumulates: ``MACs = output elements x
  input channels per group x kernel height x kernel width`` (``x in_features`` for Linear). That
  is the case of the layers a model lists in ``dense_input_layers()`` (in EvSegSNN: the first
  convolution, fed with event counts; in both models: the head, fed once with the time-averaged
  spike rates) and of any other layer whose input is not spike-valued. A module with a
  ``count_macs(*inputs)`` method counts its own calls (SegSNN's stem, which convolves the frame
  once and the events once per time step).
- A layer fed with spikes (every input value a non-negative integer: 0/1 spikes, or the 0/1/2
  counts of a SEW ADD connection) only accumulates, once per spike and per synapse it reaches.
  The count is exact, borders and strides included: for a convolution it is
  ``sum over output positions of (sum of the input values in the receptive field, all input
  channels) x output channels per group``, computed with an all-ones kernel of the layer's own
  geometry; a spike of value 2 counts twice.

Energy uses the 45 nm CMOS figures of Horowitz (ISSCC 2014) that SNN papers quote: 4.6 pJ per
32-bit MAC, 0.9 pJ per 32-bit accumulate.

Figures are per sample: totals over the measured forward pass divided by the batch size (the
first dimension of the model's output). For a batch of crops they are per crop; multiply with
:meth:`WorkReport.scaled` by the number of crops for the work of the whole batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ness_ros.models.spiking import LIF

#: Energy of one 32-bit floating-point multiply-accumulate at 45 nm, joules.
ENERGY_PER_MAC_J = 4.6e-12
#: Energy of one 32-bit floating-point accumulate at 45 nm, joules.
ENERGY_PER_AC_J = 0.9e-12


@dataclass(frozen=True)
class WorkReport:
    """Work of one forward pass per sample.

    Attributes:
        params: trainable and stored parameters of the model.
        macs: dense multiply-accumulates per sample.
        synops: synaptic operations (accumulates triggered by spikes) per sample.
        energy_mac_j: ``macs x 4.6 pJ``, joules.
        energy_ac_j: ``synops x 0.9 pJ``, joules.
        energy_total_j: the sum of the two, joules.
        spike_rate: spikes per neuron and time step over all LIF layers (0 to 1).
    """

    params: int
    macs: float
    synops: float
    energy_mac_j: float
    energy_ac_j: float
    energy_total_j: float
    spike_rate: float

    def scaled(self, factor: float) -> WorkReport:
        """The same report with operation counts and energies multiplied by ``factor`` (for
        example the number of crops in a batch); ``params`` and ``spike_rate`` unchanged."""
        return replace(self, macs=self.macs * factor, synops=self.synops * factor,
                       energy_mac_j=self.energy_mac_j * factor,
                       energy_ac_j=self.energy_ac_j * factor,
                       energy_total_j=self.energy_total_j * factor)

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (for JSON)."""
        return asdict(self)


def count_parameters(model: nn.Module) -> int:
    """Number of parameter elements of ``model``."""
    return sum(p.numel() for p in model.parameters())


def is_spike_valued(x: torch.Tensor) -> bool:
    """True when every value of ``x`` is a non-negative integer (spikes or spike counts)."""
    if x.numel() == 0:
        return True
    return bool(x.min() >= 0) and bool(torch.equal(x, torch.round(x)))


def dense_macs(module: nn.Module, output: torch.Tensor) -> int:
    """Dense multiply-accumulates of one call of a Conv2d or Linear that produced ``output``."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return output.numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    raise TypeError(f"cannot count MACs of {type(module).__name__}")


def synaptic_ops(module: nn.Module, x: torch.Tensor) -> float:
    """Exact accumulates of one call of a Conv2d or Linear fed with spike counts ``x``: every
    input value times the number of (output position, output channel) pairs it reaches."""
    if isinstance(module, nn.Conv2d):
        per_position = x.sum(dim=1, keepdim=True, dtype=torch.float64)
        ones = torch.ones((1, 1, *module.kernel_size), dtype=torch.float64, device=x.device)
        # Zero padding, as in the models here; other padding modes would be undercounted.
        reached = F.conv2d(per_position, ones, stride=module.stride, padding=module.padding,
                           dilation=module.dilation)
        return float(reached.sum()) * (module.out_channels // module.groups)
    if isinstance(module, nn.Linear):
        return float(x.sum(dtype=torch.float64)) * module.out_features
    raise TypeError(f"cannot count synaptic operations of {type(module).__name__}")


def measure_work(model: nn.Module, *inputs: torch.Tensor) -> WorkReport:
    """Run ``model(*inputs)`` once with forward hooks and count its work per sample.

    The model runs as it is (put it in eval mode first), under ``torch.inference_mode``. Hooks are
    removed afterwards; the model is not otherwise changed.

    Args:
        model: a model whose output's first dimension is the batch, optionally with a
            ``dense_input_layers()`` method naming the layers fed with real-valued input.
        inputs: its inputs, for example ``(events,)`` or ``(frame, events)``.

    Returns:
        The work per sample (see the module notes for the counting rules).
    """
    dense_layers = {id(m) for m in getattr(model, "dense_input_layers", tuple)()}
    totals = {"macs": 0.0, "synops": 0.0, "spikes": 0.0, "neuron_steps": 0.0}

    def count_layer(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> None:
        x = args[0]
        if id(module) in dense_layers or not is_spike_valued(x):
            totals["macs"] += dense_macs(module, output)
        else:
            totals["synops"] += synaptic_ops(module, x)

    def count_spikes(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> None:
        totals["spikes"] += float(output.sum(dtype=torch.float64))
        totals["neuron_steps"] += output.numel()

    def count_own(module: Any, args: tuple[Any, ...], output: torch.Tensor) -> None:
        # module: a layer with its own count_macs (nn.Module types attributes as Tensor)
        totals["macs"] += module.count_macs(*args)

    handles = []
    for module in model.modules():
        if callable(getattr(module, "count_macs", None)):
            handles.append(module.register_forward_hook(count_own))
        elif isinstance(module, (nn.Conv2d, nn.Linear)):
            handles.append(module.register_forward_hook(count_layer))
        elif isinstance(module, LIF):
            handles.append(module.register_forward_hook(count_spikes))
    try:
        with torch.inference_mode():
            output = model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    batch = output.shape[0] if output.dim() else 1
    macs, synops = totals["macs"] / batch, totals["synops"] / batch
    energy_mac, energy_ac = macs * ENERGY_PER_MAC_J, synops * ENERGY_PER_AC_J
    rate = totals["spikes"] / totals["neuron_steps"] if totals["neuron_steps"] else 0.0
    return WorkReport(params=count_parameters(model), macs=macs, synops=synops,
                      energy_mac_j=energy_mac, energy_ac_j=energy_ac,
                      energy_total_j=energy_mac + energy_ac, spike_rate=rate)
