"""Haar DWT / IWT: the exact sub-band definition, perfect reconstruction, dtypes, export form."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from zoo.ops import HAAR_FILTERS, HaarDWT, HaarIWT, dwt, iwt, make_activation, pad_to_multiple


def test_subbands_follow_the_released_order_and_signs():
    a, b, c, d = 1.0, 2.0, 4.0, 8.0
    x = torch.tensor([[[[a, b], [c, d]], [[-a, 0.0], [0.0, 0.0]]]])  # two channels
    out = dwt(x).flatten().tolist()
    expected_ch0 = [(a + b + c + d) / 2, (a + b - c - d) / 2, (a - b + c - d) / 2, (a - b - c + d) / 2]
    assert out[:4] == pytest.approx(expected_ch0)
    assert out[4:] == pytest.approx([-a / 2] * 4)  # sub-bands of channel 1 follow channel 0's


@settings(max_examples=40, deadline=None)
@given(
    batch=st.integers(1, 3),
    channels=st.integers(1, 9),
    half_height=st.integers(1, 12),
    half_width=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_iwt_inverts_dwt(batch, channels, half_height, half_width, seed):
    x = torch.randn(batch, channels, 2 * half_height, 2 * half_width, generator=torch.Generator().manual_seed(seed))
    y = HaarDWT()(x)
    assert y.shape == (batch, 4 * channels, half_height, half_width)
    assert (HaarIWT()(y) - x).abs().max() < 1e-6
    # Orthogonal: energy is preserved.
    assert torch.allclose(y.square().sum(), x.square().sum(), rtol=1e-5)


@pytest.mark.parametrize("dtype, tolerance", [(torch.float32, 1e-6), (torch.float16, 2e-3), (torch.bfloat16, 2e-2)])
def test_reduced_precision(dtype, tolerance):
    x = torch.rand(2, 3, 16, 24)
    dwt_module, iwt_module = HaarDWT().to(dtype), HaarIWT().to(dtype)
    y = iwt_module(dwt_module(x.to(dtype)))
    assert y.dtype == dtype
    assert (y.float() - x).abs().max() < tolerance


def test_filters_are_constants_not_saved_parameters():
    module = HaarDWT()
    assert list(module.parameters()) == []
    assert module.state_dict() == {}
    assert torch.equal(module.weight, HAAR_FILTERS)


def test_exports_as_plain_convolutions():
    class Roundtrip(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dwt, self.iwt = HaarDWT(), HaarIWT()

        def forward(self, x):
            return self.iwt(self.dwt(x) * 2)

    graph = torch.export.export(Roundtrip(), (torch.rand(1, 3, 8, 8),)).graph
    ops = [str(node.target) for node in graph.nodes if node.op == "call_function"]
    convolutions = [op for op in ops if "conv" in op]
    assert len(convolutions) == 2, ops


def test_iwt_rejects_channel_counts_not_divisible_by_four():
    with pytest.raises(ValueError, match="divisible by 4"):
        iwt(torch.rand(1, 6, 4, 4))


@pytest.mark.parametrize("height, width", [(8, 8), (9, 17), (3, 5), (1, 1), (37, 101)])
def test_pad_to_multiple(height, width):
    x = torch.rand(1, 2, height, width)
    padded = pad_to_multiple(x, 8)
    assert padded.shape[-2] % 8 == 0 and padded.shape[-1] % 8 == 0
    assert padded.shape[-2] - height < 8 and padded.shape[-1] - width < 8
    assert torch.equal(padded[..., :height, :width], x)


def test_pad_reflects_as_far_as_a_small_image_allows_then_replicates():
    row = torch.tensor([[[[1.0, 2.0, 3.0]]]])  # 1 x 3
    padded = pad_to_multiple(row, 8)
    assert padded[0, 0, 0].tolist() == [1, 2, 3, 2, 1, 1, 1, 1]  # reflect 2, then replicate 3
    assert torch.equal(padded[0, 0], padded[0, 0, :1].expand(8, 8))  # one row: replicated down
    image = torch.rand(1, 1, 11, 10)  # room to reflect: plain reflection
    assert torch.equal(pad_to_multiple(image, 8), torch.nn.functional.pad(image, (0, 6, 0, 5), mode="reflect"))


def test_shared_prelu_is_prelu_in_inference_and_learns_in_training():
    act = make_activation("prelu")
    with torch.no_grad():
        act.weight.fill_(0.3)
    x = torch.randn(2, 5, 7, 9)
    expected = torch.nn.functional.prelu(x, torch.tensor([0.3]))
    with torch.inference_mode():
        assert torch.equal(act(x.clone()), expected)
    before = x.clone()
    out = act(x)
    assert torch.equal(out, expected) and torch.equal(x, before)  # the training path leaves x alone
    out.sum().backward()
    assert act.weight.grad is not None and act.weight.grad.item() == pytest.approx(x.clamp(max=0).sum().item(), rel=1e-5)


@pytest.mark.parametrize("name", ["mwrcanet", "mwresnet"])
def test_inference_fast_paths_match_the_training_path(name):
    import zoo
    model = zoo.create_model(name, widths=(16, 16, 16), depth=2).eval()
    x = torch.rand(1, 1, 32, 40)
    reference = model(x).detach()
    with torch.inference_mode():
        assert torch.allclose(model(x), reference, atol=1e-6)
