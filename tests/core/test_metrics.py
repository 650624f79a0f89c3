"""zoo.metrics: PSNR and SSIM against exact values and scikit-image's structural_similarity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from zoo.metrics import mean_by_image, mean_over_blocks, psnr, psnr_per_image, ssim, ssim_per_image


def skimage_ssim(estimate: np.ndarray, reference: np.ndarray, data_range: float) -> float:
    """The reference: skimage in float64, channels first for colour (mean over channels)."""
    return structural_similarity(estimate.astype(np.float64), reference.astype(np.float64), data_range=data_range,
                                 gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 channel_axis=0 if estimate.ndim == 3 else None)


def noisy_copy(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return clean + sigma * rng.standard_normal(clean.shape)


def structured(shape: tuple[int, ...]) -> np.ndarray:
    """Edges, a gradient, a flat patch and a checkerboard: where local statistics vary most."""
    height, width = shape[-2:]
    y, x = np.mgrid[0:height, 0:width]
    image = 0.5 * x / width + 0.3 * (y > height // 2) + 0.2 * ((x // 3 + y // 3) % 2)
    image[: height // 4, : width // 4] = 0.7
    if len(shape) == 2:
        return image
    # Channels that differ: shifted and inverted copies.
    return np.stack([np.roll(image, 3 * c, axis=1) if c % 2 == 0 else 1.0 - image for c in range(shape[0])])


@pytest.mark.parametrize("shape", [(37, 53), (11, 11), (64, 29), (3, 41, 29), (3, 64, 64), (4, 13, 300)])
@pytest.mark.parametrize("data_range", [1.0, 255.0, 1023.0])
def test_ssim_matches_skimage_on_random_images(shape, data_range):
    rng = np.random.default_rng(sum(shape))
    clean = rng.random(shape) * data_range
    estimate = np.clip(noisy_copy(clean, 0.08 * data_range, 1), 0, data_range)
    assert ssim(estimate, clean, data_range=data_range) == pytest.approx(
        skimage_ssim(estimate, clean, data_range), abs=1e-4)


@pytest.mark.parametrize("shape", [(45, 61), (3, 33, 47), (300, 23)])
@pytest.mark.parametrize("data_range", [1.0, 255.0])
@pytest.mark.parametrize("sigma", [0.0, 0.01, 0.2])
def test_ssim_matches_skimage_on_structured_images(shape, data_range, sigma):
    clean = structured(shape) * data_range
    estimate = noisy_copy(clean, sigma * data_range, 2)
    assert ssim(estimate, clean, data_range=data_range) == pytest.approx(
        skimage_ssim(estimate, clean, data_range), abs=1e-4)


def test_ssim_of_float32_and_integer_images_matches_skimage_in_float64():
    rng = np.random.default_rng(3)
    clean = (rng.random((3, 40, 50)) * 255).astype(np.uint8)
    estimate = np.clip(clean.astype(int) + rng.integers(-20, 21, clean.shape), 0, 255).astype(np.uint8)
    assert ssim(estimate, clean, data_range=255) == pytest.approx(skimage_ssim(estimate, clean, 255), abs=1e-4)
    clean32, estimate32 = clean.astype(np.float32) / 255, estimate.astype(np.float32) / 255
    assert ssim(estimate32, clean32, data_range=1.0) == pytest.approx(
        skimage_ssim(estimate32, clean32, 1.0), abs=1e-4)


def test_ssim_over_tall_images_spans_strips_seamlessly():
    # Taller than one strip of rows: the strip boundaries must not change the mean.
    clean = structured((700, 20))
    estimate = noisy_copy(clean, 0.05, 4)
    assert ssim(estimate, clean, data_range=1.0) == pytest.approx(skimage_ssim(estimate, clean, 1.0), abs=1e-10)


def test_identical_images_give_infinite_psnr_and_unit_ssim():
    image = structured((3, 32, 32))
    assert psnr(image, image.copy(), data_range=1.0) == math.inf
    assert ssim(image, image.copy(), data_range=1.0) == pytest.approx(1.0, abs=1e-12)
    flat = np.full((16, 16), 0.3)
    assert ssim(flat, flat, data_range=1.0) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("offset,data_range,expected", [(0.1, 1.0, 20.0), (0.01, 1.0, 40.0), (2.55, 255.0, 40.0),
                                                        (1.0, 1.0, 0.0)])
def test_psnr_of_a_constant_offset_is_exact(offset, data_range, expected):
    reference = np.random.default_rng(5).random((3, 17, 19)) * data_range
    assert psnr(reference + offset, reference, data_range=data_range) == pytest.approx(expected, abs=1e-9)
    assert psnr(reference - offset, reference, data_range=data_range) == pytest.approx(expected, abs=1e-9)


def test_psnr_keeps_pooling_over_a_batch_and_per_image_splits_it():
    reference = np.zeros((2, 1, 8, 8))
    estimate = reference.copy()
    estimate[0] += 0.1  # MSE 0.01 -> 20 dB
    estimate[1] += 0.01  # MSE 0.0001 -> 40 dB
    assert psnr_per_image(estimate, reference, data_range=1.0) == pytest.approx([20.0, 40.0])
    pooled = 10 * math.log10(1 / ((0.01 + 0.0001) / 2))
    assert psnr(estimate, reference, data_range=1.0) == pytest.approx(pooled)
    assert mean_over_blocks(psnr_per_image(estimate, reference, data_range=1.0)) == pytest.approx(30.0)


def test_ssim_per_image_scores_each_image_of_a_batch():
    clean = np.stack([structured((3, 24, 30)), structured((3, 24, 30))[:, ::-1]])
    estimate = np.stack([noisy_copy(clean[0], 0.02, 6), noisy_copy(clean[1], 0.2, 7)])
    scores = ssim_per_image(estimate, clean, data_range=1.0)
    assert scores == pytest.approx([skimage_ssim(e, c, 1.0) for e, c in zip(estimate, clean)], abs=1e-4)
    assert scores[0] > scores[1]
    assert ssim(estimate[:1], clean[:1], data_range=1.0) == pytest.approx(scores[0])  # (1, C, H, W): one image


def test_numpy_and_torch_give_the_same_numbers():
    clean = structured((3, 30, 40)).astype(np.float32)
    estimate = noisy_copy(clean, 0.05, 8).astype(np.float32)
    for metric in (psnr, ssim):
        from_numpy = metric(estimate, clean, data_range=1.0)
        assert metric(torch.from_numpy(estimate), torch.from_numpy(clean), data_range=1.0) == pytest.approx(
            from_numpy, rel=1e-12)
        assert metric(torch.from_numpy(estimate), clean, data_range=1.0) == pytest.approx(from_numpy, rel=1e-12)
    batch_np, batch_t = estimate[None], torch.from_numpy(estimate[None]).requires_grad_()
    assert psnr_per_image(batch_t, clean[None], data_range=1.0) == pytest.approx(
        psnr_per_image(batch_np, clean[None], data_range=1.0), rel=1e-12)
    assert ssim_per_image(batch_t, clean[None], data_range=1.0) == pytest.approx(
        ssim_per_image(batch_np, clean[None], data_range=1.0), rel=1e-12)


def test_psnr_keeps_accepting_torch_tensors_as_before():
    reference = torch.zeros(1, 1, 4, 4)
    assert psnr(reference + 0.1, reference, data_range=1.0) == pytest.approx(20.0)


def test_data_range_is_required_and_checked():
    image = np.zeros((16, 16))
    for metric in (psnr, ssim, psnr_per_image, ssim_per_image):
        with pytest.raises(TypeError):
            metric(image, image)  # no guessing from the data
    for bad in (None, "1.0", True):
        with pytest.raises(TypeError, match="data_range"):
            psnr(image, image, data_range=bad)
    for bad in (0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="data_range"):
            ssim(image, image, data_range=bad)


def test_shape_mismatch_and_bad_layouts_are_errors():
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(np.zeros((3, 16, 16)), np.zeros((16, 16, 3)), data_range=1.0)
    with pytest.raises(ValueError, match="shapes differ"):
        ssim(np.zeros((16, 16)), np.zeros((16, 17)), data_range=1.0)
    with pytest.raises(ValueError, match="ssim_per_image"):
        ssim(np.zeros((2, 1, 16, 16)), np.zeros((2, 1, 16, 16)), data_range=1.0)
    with pytest.raises(ValueError, match="11x11"):
        ssim(np.zeros((10, 40)), np.zeros((10, 40)), data_range=1.0)  # as skimage: the window must fit
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        psnr_per_image(np.zeros((3, 16, 16)), np.zeros((3, 16, 16)), data_range=1.0)
    with pytest.raises(ValueError, match="empty"):
        psnr(np.zeros((0, 4)), np.zeros((0, 4)), data_range=1.0)
    with pytest.raises(TypeError, match="numeric"):
        psnr(np.array([["a"]]), np.array([["b"]]), data_range=1.0)


def test_mean_over_blocks_and_by_image():
    assert mean_over_blocks([30.0, 40.0, 50.0]) == 40.0
    assert mean_over_blocks(iter([1.0])) == 1.0
    assert mean_over_blocks([30.0, math.inf]) == math.inf  # an identical block: the challenge's mean is inf too
    with pytest.raises(ValueError):
        mean_over_blocks([])
    assert mean_by_image([1.0, 3.0, 10.0, 5.0], [0, 0, 1, 1]) == {0: 2.0, 1: 7.5}
    with pytest.raises(ValueError):
        mean_by_image([1.0], [0, 1])
