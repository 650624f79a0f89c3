"""Fused convolutions (zoo.ops.fused): the plain ops' results, by a faster path in CPU inference."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo
from zoo.ops import fused, make_activation

ACTIVATIONS = ["relu", "prelu", "lrelu", "gelu", "silu"]
LAYOUTS = [torch.contiguous_format, torch.channels_last]


def _conv(channels: int = 12, **kwargs) -> nn.Conv2d:
    torch.manual_seed(0)
    return nn.Conv2d(channels, channels, 3, padding=1, **kwargs)


def _ran_fused(fn) -> bool:
    """Whether ``fn()`` ran oneDNN's fused convolution."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    return any("_convolution_pointwise" in event.name for event in prof.events())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_conv_act_gives_the_plain_result_and_fuses_in_inference(name, layout):
    conv, act = _conv(), make_activation(name)
    if name == "prelu":
        with torch.no_grad():
            act.weight.fill_(0.3)
    x = torch.randn(2, 12, 9, 13).contiguous(memory_format=layout)
    expected = act(conv(x.clone())).detach()
    with torch.inference_mode():
        assert torch.allclose(fused.conv_act(conv, act, x), expected, atol=1e-6)
        assert _ran_fused(lambda: fused.conv_act(conv, act, x))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv_add_gives_the_plain_result_and_fuses_in_inference(layout):
    conv = _conv()
    x, residual = (torch.randn(2, 12, 9, 13).contiguous(memory_format=layout) for _ in range(2))
    expected = (residual + conv(x)).detach()
    with torch.inference_mode():
        out = fused.conv_add(conv, x, residual)
        assert torch.allclose(out, expected, atol=1e-6) and out.data_ptr() != residual.data_ptr()
        assert torch.equal(residual, residual.clone())  # the residual itself is left alone
        assert _ran_fused(lambda: fused.conv_add(conv, x, residual))


def test_what_the_post_op_cannot_do_takes_the_plain_path():
    with torch.inference_mode():
        strided = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        x = torch.randn(1, 4, 8, 8)
        residual = torch.randn(1, 4, 4, 4)
        assert torch.allclose(fused.conv_add(strided, x, residual), residual + strided(x))
        broadcast = torch.randn(1, 4, 1, 1)  # the post-op adds element by element
        conv = _conv(4)
        assert torch.allclose(fused.conv_add(conv, x, broadcast), broadcast + conv(x))
        promoted = torch.randn(1, 4, 8, 8, dtype=torch.float64)
        assert fused.conv_add(conv, x, promoted).dtype == torch.float64
        per_channel = nn.PReLU(4)  # one slope per channel: no leaky ReLU
        assert torch.allclose(fused.conv_act(conv, per_channel, x), per_channel(conv(x)))
        assert not _ran_fused(lambda: fused.conv_act(conv, per_channel, x))


def test_training_takes_the_plain_path_and_gets_gradients():
    conv, act = _conv(), make_activation("prelu")
    x = torch.randn(1, 12, 8, 8, requires_grad=True)
    out = fused.conv_add(conv, fused.conv_act(conv, act, x), x)
    out.sum().backward()
    assert x.grad is not None and conv.weight.grad is not None and act.weight.grad is not None


def test_sequential_fuses_each_conv_with_the_activation_after_it():
    torch.manual_seed(0)
    stack = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), make_activation("prelu"), nn.Conv2d(8, 8, 3, padding=1),
                          nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Identity(), nn.Conv2d(8, 4, 1))
    x = torch.randn(2, 3, 10, 6)
    expected = stack(x).detach()
    with torch.inference_mode():
        assert torch.allclose(fused.sequential(stack, x), expected, atol=1e-6)


def test_bfloat16_under_autocast_matches_plain_autocast():
    conv, act = _conv().to(torch.bfloat16), make_activation("prelu").to(torch.bfloat16)
    x = torch.randn(1, 12, 16, 16)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = fused.conv_add(conv, fused.conv_act(conv, act, x), x.bfloat16())
        plain = x.bfloat16() + conv(act(conv(x)))
    assert out.dtype == torch.bfloat16
    assert torch.allclose(out.float(), plain.float(), atol=2e-2)


@pytest.mark.parametrize("name", ["mwrcanet", "mwresnet", "mwdensenet"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_models_in_inference_match_their_training_path(name, layout):
    model = zoo.create_model(name, widths=(16, 16, 16), depth=2).eval().to(memory_format=layout)
    x = torch.rand(2, 1, 37, 45).contiguous(memory_format=layout)
    reference = model(x).detach()
    with torch.inference_mode():
        assert torch.allclose(model(x), reference, atol=1e-5)
