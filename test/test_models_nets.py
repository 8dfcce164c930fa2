"""EvSegSNN and SegSNN: shapes, training, inference paths, crops against the full frame."""

from __future__ import annotations

from functools import partial

import pytest
import torch
import torch.nn.functional as F

from ness_ros.labels import NUM_CLASSES
from ness_ros.models import EvSegSNN, ModelError, SegSNN
from ness_ros.models.spiking import calibrate_batch_norm

#: Every architecture: EvSegSNN, SegSNN, and SegSNN with its 1/2-resolution decoder stage.
ARCHITECTURES = pytest.mark.parametrize(
    "cls", [EvSegSNN, SegSNN, partial(SegSNN, fine_width=4)],
    ids=["evsegsnn", "segsnn", "segsnn-fine"])


pytestmark = pytest.mark.usefixtures("one_torch_thread")



def _events(steps: int, batch: int, height: int, width: int, density: float = 0.1,
            seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, batch, 2, height, width, generator=generator) < density).float()


def _frame(batch: int, channels: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A smooth random image plus noise, normalised (zero mean, about unit variance)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randn(batch, channels, height // 16 + 2, width // 16 + 2, generator=generator)
    smooth = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
    return smooth + 0.3 * torch.randn(batch, channels, height, width, generator=generator)


@pytest.mark.parametrize(("height", "width"), [(48, 64), (33, 47), (1, 1), (17, 250)])
def test_evsegsnn_any_input_size(height, width):
    model = EvSegSNN(base_width=4, num_steps=2).eval()
    with torch.inference_mode():
        logits = model(_events(2, 3, height, width))
    assert logits.shape == (3, NUM_CLASSES, height, width)
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()


@pytest.mark.parametrize(("height", "width", "channels"), [(48, 64, 3), (33, 47, 1), (5, 91, 3)])
def test_segsnn_any_input_size(height, width, channels):
    model = SegSNN(frame_channels=channels, base_width=4, num_steps=2).eval()
    with torch.inference_mode():
        logits = model(_frame(2, channels, height, width), _events(2, 2, height, width))
    assert logits.shape == (2, NUM_CLASSES, height, width)
    assert torch.isfinite(logits).all()


def test_models_reject_wrong_inputs():
    with pytest.raises(ModelError, match=r"EvSegSNN expects events \[T=2"):
        EvSegSNN(num_steps=2)(torch.zeros(3, 1, 2, 16, 16))
    model = SegSNN(num_steps=2)
    with pytest.raises(ModelError, match=r"frame \[B, 3, H, W\]"):
        model(torch.zeros(1, 1, 16, 16), torch.zeros(2, 1, 2, 16, 16))
    with pytest.raises(ModelError, match="events of shape"):
        model(torch.zeros(1, 3, 16, 16), torch.zeros(2, 1, 2, 16, 8))
    with pytest.raises(ModelError, match="base_width must be a positive integer"):
        SegSNN(base_width=0)


@ARCHITECTURES
def test_config_rebuilds_the_architecture(cls):
    model = cls(num_classes=4, base_width=6, num_steps=2)
    rebuilt = cls(**model.config())
    assert rebuilt.config() == model.config()
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == \
        {k: v.shape for k, v in model.state_dict().items()}


def _inputs(model: torch.nn.Module, batch: int, height: int, width: int) -> tuple:
    events = _events(model.num_steps, batch, height, width, seed=3)
    if isinstance(model, SegSNN):
        return (_frame(batch, model.frame_channels, height, width, seed=3), events)
    return (events,)


@ARCHITECTURES
def test_a_few_training_steps_reduce_the_loss(cls):
    torch.manual_seed(0)
    model = cls(base_width=4, num_steps=2).train()
    inputs = _inputs(model, 2, 24, 32)
    labels = torch.zeros(2, 24, 32, dtype=torch.long)
    labels[:, :, 16:] = 1
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-2)
    losses = []
    for _ in range(10):
        optimiser.zero_grad()
        loss = F.cross_entropy(model(*inputs), labels)
        loss.backward()
        losses.append(loss.item())
        if len(losses) == 1:
            first = [name for name, p in model.named_parameters()
                     if p.grad is None or not p.grad.abs().sum() > 0]
            assert not first, f"no gradient reached {first}"
        optimiser.step()
    assert losses[-1] < 0.8 * losses[0], losses


@ARCHITECTURES
def test_inference_path_equals_autograd_path(cls):
    torch.manual_seed(0)
    model = cls(base_width=4, num_steps=3)
    inputs = _inputs(model, 2, 40, 56)
    if isinstance(model, SegSNN):
        calibrate_batch_norm(model, *inputs)
    model.eval()
    with torch.inference_mode():
        fast = model(*inputs)
    with_grad = model(*(x.clone().requires_grad_(True) for x in inputs))
    torch.testing.assert_close(with_grad.detach(), fast, rtol=1e-5, atol=1e-5)


def _segsnn_and_frame(height: int, width: int, fine_width: int = 0
                      ) -> tuple[SegSNN, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = SegSNN(base_width=8, fine_width=fine_width, num_steps=2)
    frame, events = _frame(1, 3, height, width, seed=5), _events(2, 1, height, width, seed=5)
    calibrate_batch_norm(model, frame, events)
    return model, frame, events


def _crop_logits(model: SegSNN, frame: torch.Tensor, events: torch.Tensor,
                 region: tuple[int, int, int, int], margin: int) -> torch.Tensor:
    """Logits of ``region`` (x0, y0, x1, y1) computed on a crop with ``margin`` around it, the
    crop's edges on multiples of the model's stride (or at the image border)."""
    x0, y0, x1, y1 = region
    height, width = frame.shape[-2:]
    stride = model.total_stride
    cx0, cy0 = max(0, x0 - margin) // stride * stride, max(0, y0 - margin) // stride * stride
    cx1 = min(width, -(-(x1 + margin) // stride) * stride)
    cy1 = min(height, -(-(y1 + margin) // stride) * stride)
    with torch.inference_mode():
        crop = model(frame[..., cy0:cy1, cx0:cx1], events[..., cy0:cy1, cx0:cx1])
    return crop[..., y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]


@pytest.mark.parametrize("fine_width", [0, 4])
def test_crop_with_exact_margin_equals_the_full_frame(fine_width):
    # The 1/2-resolution stage (1x1 convolutions) widens no receptive field: same margin.
    model, frame, events = _segsnn_and_frame(272, 304, fine_width)
    with torch.inference_mode():
        full = model(frame, events)
    margin = model.exact_margin
    for region in [(112, 112, 160, 160), (101, 99, 133, 150), (0, 0, 40, 40), (250, 210, 304, 272)]:
        x0, y0, x1, y1 = region
        crop = _crop_logits(model, frame, events, region, margin)
        # Same spikes everywhere; the real-valued head may round differently (measured 1.2e-7).
        torch.testing.assert_close(crop, full[..., y0:y1, x0:x1], rtol=0, atol=1e-5)
        assert torch.equal(crop.argmax(1), full[..., y0:y1, x0:x1].argmax(1)), region


def test_untrained_crop_agreement_grows_with_the_margin():
    # Measured on this untrained network (near-tied logits, the worst case for argmax), mean
    # over the regions: 0.48 at margin 0, 0.58 at 32, 0.77 at 64, 1.0 at 96 (exact_margin).
    model, frame, events = _segsnn_and_frame(272, 304)
    with torch.inference_mode():
        full = model(frame, events).argmax(1)
    regions = [(112, 112, 160, 160), (101, 99, 133, 150), (32, 48, 96, 112), (160, 128, 224, 192)]
    agreement = {}
    for margin in (0, model.context_margin, 64):
        agree = []
        for x0, y0, x1, y1 in regions:
            crop = _crop_logits(model, frame, events, (x0, y0, x1, y1), margin).argmax(1)
            agree.append((crop == full[..., y0:y1, x0:x1]).float().mean().item())
        agreement[margin] = sum(agree) / len(agree)
    assert agreement[model.context_margin] > 0.45, agreement
    assert agreement[64] > agreement[0] + 0.1, agreement


def _toy_scene(batch: int, height: int, width: int, generator: torch.Generator
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Voronoi cells of random classes, each class its own colour plus noise, events on the
    cell boundaries plus 1 % noise: (frame [B, 3, H, W], events [2, B, 2, H, W], labels)."""
    palette = torch.tensor([[1.0, -1, -1], [-1, 1, -1], [-1, -1, 1], [1, 1, -1], [1, -1, 1],
                            [-1, 1, 1]])  # well apart: a per-pixel task
    seeds = torch.rand(batch, 12, 2, generator=generator) * torch.tensor([height, width])
    classes = torch.randint(0, NUM_CLASSES, (batch, 12), generator=generator)
    yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    distance = (yy - seeds[..., 0, None, None]) ** 2 + (xx - seeds[..., 1, None, None]) ** 2
    labels = torch.gather(classes, 1, distance.argmin(1).flatten(1)).view(batch, height, width)
    frame = palette[labels].permute(0, 3, 1, 2)
    frame = frame + 0.4 * torch.randn(frame.shape, generator=generator)
    edges = torch.zeros(batch, height, width, dtype=torch.bool)
    edges[:, 1:, :] |= labels[:, 1:, :] != labels[:, :-1, :]
    edges[:, :, 1:] |= labels[:, :, 1:] != labels[:, :, :-1]
    noise = torch.rand(2, batch, 2, height, width, generator=generator)
    events = ((noise < 0.5) & edges[None, :, None]) | (noise > 0.99)
    return frame, events.float(), labels


def test_trained_crop_with_context_margin_agrees_with_the_full_frame():
    # After 60 steps on a toy task (about 2 s; 0.97-0.99 pixel accuracy over 6 seeds) the logits
    # are no longer near-tied and crops agree closely: measured 0.99 at margin 0, 0.999 at 32.
    torch.manual_seed(0)
    model = SegSNN(base_width=8, num_steps=2)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(1)
    for _ in range(60):
        frame, events, labels = _toy_scene(4, 48, 48, generator)
        loss = F.cross_entropy(model(frame, events), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    frame, events, labels = _toy_scene(1, 208, 240, torch.Generator().manual_seed(99))
    with torch.inference_mode():
        full = model(frame, events).argmax(1)
    assert (full == labels).float().mean() > 0.9
    for x0, y0, x1, y1 in [(96, 80, 144, 128), (32, 48, 96, 112), (160, 128, 224, 192)]:
        crop = _crop_logits(model, frame, events, (x0, y0, x1, y1), model.context_margin)
        agree = (crop.argmax(1) == full[..., y0:y1, x0:x1]).float().mean().item()
        assert agree > 0.98, (x0, y0, agree)
