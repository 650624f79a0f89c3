"""The training losses: relative-l1 gives every noise level the same say."""

from __future__ import annotations

import pytest
import torch

from zoo.train.trainer import loss_fn


def test_relative_l1_is_l1_when_every_patch_has_the_same_noise():
    torch.manual_seed(0)
    clean = torch.rand(4, 1, 16, 16)
    noise = torch.randn(1, 1, 16, 16).expand(4, -1, -1, -1) * 0.05
    output = clean + torch.randn_like(clean) * 0.01
    assert loss_fn("relative-l1", output, clean, clean + noise) == pytest.approx(loss_fn("l1", output, clean).item())


def test_relative_l1_weighs_an_error_on_a_clean_patch_more():
    clean = torch.zeros(2, 1, 8, 8)
    noisy = clean.clone()
    noisy[0] += 0.1 * torch.randn(1, 8, 8)   # a noisy patch
    noisy[1] += 0.01 * torch.randn(1, 8, 8)  # a nearly clean one
    error = torch.zeros_like(clean)
    on_noisy, on_clean = error.clone(), error.clone()
    on_noisy[0] += 0.01
    on_clean[1] += 0.01
    # The same absolute error costs more on the patch that was nearly clean to begin with.
    assert loss_fn("relative-l1", clean + on_clean, clean, noisy) > 5 * loss_fn("relative-l1", clean + on_noisy, clean, noisy)
    assert loss_fn("l1", clean + on_clean, clean) == loss_fn("l1", clean + on_noisy, clean)
    with pytest.raises(ValueError, match="needs the noisy batch"):
        loss_fn("relative-l1", clean, clean)
