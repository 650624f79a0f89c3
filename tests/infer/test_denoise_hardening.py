"""Issue 17, zoo.denoise refusing data on another scale (naming the range), and taking noise that strays a
little around black and white."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zoo
from hardening import refusal

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# --- zoo.denoise and data on another scale ----------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_model():
    return zoo.create_model("mwresnet", widths=(8, 8, 8), depth=1)


@FAST
@given(scale=st.sampled_from([255.0, 1023.0, 65535.0, 1.6, -0.6]), numpy=st.booleans(),
       shape=st.sampled_from([(8, 8), (1, 8, 8), (2, 1, 8, 8)]))
def test_denoise_refuses_values_on_another_scale_naming_the_range(tiny_model, scale, numpy, shape):
    image = np.linspace(0.0, scale, int(np.prod(shape)), dtype=np.float32).reshape(shape)
    if not numpy:
        image = torch.from_numpy(image)
    message = refusal(zoo.denoise, tiny_model, image)
    low, high = sorted((0.0, scale))
    assert f"expected an image with values in [0, 1], found values in [{low:g}, {high:g}]" in message
    if scale > 2:
        assert f"divide it by {int(scale)}" in message


@FAST
@given(below=st.floats(0.0, 0.5), above=st.floats(0.0, 0.5))
def test_denoise_takes_noise_around_black_and_white(tiny_model, below, above):
    # Noisy data strays a little outside [0, 1] (as the image readers allow); the result is clipped.
    image = np.linspace(0.0, 1.0, 64, dtype=np.float64).reshape(8, 8)
    image[0, 0], image[-1, -1] = -below, 1.0 + above
    out = zoo.denoise(tiny_model, image)
    assert out.shape == image.shape and out.min() >= 0 and out.max() <= 1
