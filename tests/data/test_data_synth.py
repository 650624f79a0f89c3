"""Synthetic raw data: Bayer packing, raw normalisation, unprocessing and heteroscedastic noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from zoo.ops.bayer import CFA_PATTERNS, denormalize_raw, normalize_raw, pack_bayer, unpack_bayer
from zoo.data.noise import (
    SIDD_LOG10_SHOT_MAX,
    SIDD_LOG10_SHOT_MIN,
    add_noise,
    mean_noise_sigma,
    noise_sigma,
    sample_noise_levels,
)
from zoo.data.unprocess import (
    UnprocessParams,
    inverse_smoothstep,
    process,
    random_unprocess_params,
    smoothstep,
    unprocess,
)

# --- Bayer packing ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    pattern=st.sampled_from(CFA_PATTERNS),
    lead=st.lists(st.integers(1, 3), max_size=2),
    half_h=st.integers(1, 6),
    half_w=st.integers(1, 6),
    use_torch=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_pack_unpack_round_trip(pattern, lead, half_h, half_w, use_torch, seed):
    mosaic = np.random.default_rng(seed).random((*lead, 2 * half_h, 2 * half_w)).astype(np.float32)
    if use_torch:
        mosaic = torch.from_numpy(mosaic)
    planes = pack_bayer(mosaic, pattern)
    assert type(planes) is type(mosaic)
    assert tuple(planes.shape) == (*lead, 4, half_h, half_w)
    back = unpack_bayer(planes, pattern)
    assert type(back) is type(mosaic) and back.dtype == mosaic.dtype
    assert (back == mosaic).all()
    # And the other way: any planes are the packing of their unpacking.
    assert (pack_bayer(unpack_bayer(planes, pattern), pattern) == planes).all()


# The 2x2 mosaic [[1, 2], [3, 4]] read in each pattern, as canonical planes R, G1, G2, B
# (G1 is the green on red's row).
KNOWN_PLANES = {
    "RGGB": [1, 2, 3, 4],  # R G / G B
    "BGGR": [4, 3, 2, 1],  # B G / G R: red's row is row 1, its green is 3
    "GRBG": [2, 1, 4, 3],  # G R / B G: red's row is row 0, its green is 1
    "GBRG": [3, 4, 1, 2],  # G B / R G: red's row is row 1, its green is 4
}


@pytest.mark.parametrize("pattern", CFA_PATTERNS)
@pytest.mark.parametrize("use_torch", [False, True])
def test_known_mosaic_maps_to_canonical_planes(pattern, use_torch):
    tile = np.array([[1, 2], [3, 4]], dtype=np.int64)
    mosaic = np.tile(tile, (2, 3))  # repeating tiles: every plane is constant
    if use_torch:
        mosaic = torch.from_numpy(mosaic)
    planes = pack_bayer(mosaic, pattern)
    for index, value in enumerate(KNOWN_PLANES[pattern]):
        assert (planes[index] == value).all(), (pattern, index)


def test_pack_copies_and_unpack_keeps_autograd():
    mosaic = np.zeros((4, 4), dtype=np.float32)
    planes = pack_bayer(mosaic)
    planes[0] = 7.0
    assert (mosaic == 0).all()  # the planes never alias the caller's mosaic
    planes_t = torch.rand(1, 4, 3, 3, requires_grad=True)
    unpack_bayer(planes_t, "GBRG").sum().backward()
    assert torch.equal(planes_t.grad, torch.ones_like(planes_t))


def test_pattern_is_case_insensitive():
    mosaic = np.arange(16).reshape(4, 4)
    assert (pack_bayer(mosaic, "bggr") == pack_bayer(mosaic, "BGGR")).all()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: pack_bayer(np.zeros((3, 4))), "even"),
        (lambda: pack_bayer(np.zeros((4, 5))), "even"),
        (lambda: pack_bayer(np.zeros(4)), "at least 2 dimensions"),
        (lambda: pack_bayer(np.zeros((4, 4)), "RGBG"), "unknown CFA pattern"),
        (lambda: unpack_bayer(np.zeros((4, 2, 2)), "XYZW"), "unknown CFA pattern"),
        (lambda: unpack_bayer(np.zeros((3, 2, 2))), r"\(\.\.\., 4, h, w\)"),
        (lambda: normalize_raw(np.zeros((4, 4)), 512, 512), "white level"),
        (lambda: normalize_raw(np.zeros((4, 4)), [64, 64, 64, 1100], 1023), "white level"),
        (lambda: normalize_raw(np.zeros((4, 4)), [64, 64, 64], 1023), "black_level"),
    ],
)
def test_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- raw normalisation --------------------------------------------------------------------


def test_normalize_with_per_position_black_levels():
    black = np.array([[64.0, 60.0], [62.0, 70.0]])  # positions (0,0), (0,1), (1,0), (1,1)
    white = 1023.0
    rng = np.random.default_rng(0)
    level = rng.random((6, 8))
    black_map = np.tile(black, (3, 4))
    mosaic = np.rint(black_map + level * (white - black_map)).astype(np.uint16)
    expected = (mosaic - black_map) / (white - black_map)

    out = normalize_raw(mosaic, black.ravel().tolist(), white)  # rawpy-style: 4 values
    assert out.dtype == np.float32 and out.shape == mosaic.shape
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_array_equal(normalize_raw(mosaic, black, white), out)  # the 2x2 form

    out_t = normalize_raw(torch.from_numpy(mosaic.astype(np.int32)), black, white)
    assert out_t.dtype == torch.float32
    np.testing.assert_allclose(out_t.numpy(), out, atol=1e-7)

    back = denormalize_raw(out, black.ravel(), white)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, mosaic, atol=1e-3)
    assert mosaic.dtype == np.uint16  # the input is left as it was


def test_normalize_clips_and_a_scalar_black_level_applies_everywhere():
    mosaic = np.array([[0, 64], [1023, 2000]], dtype=np.uint16)
    out = normalize_raw(mosaic, 64, 1023)
    np.testing.assert_array_equal(out, np.array([[0, 0], [1, 1]], dtype=np.float32))
    # A dark pixel below its own black level clips to 0, per position.
    out = normalize_raw(np.full((2, 2), 63, dtype=np.uint16), [60, 63, 64, 70], 1023)
    np.testing.assert_allclose(out, [[3 / 963, 0], [0, 0]], atol=1e-7)


# --- unprocessing -------------------------------------------------------------------------


def _smooth_image(size: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    channels = [0.2 + 0.6 * xx, 0.3 + 0.5 * yy, 0.5 + 0.3 * np.sin(3 * xx) * np.cos(2 * yy)]
    return np.stack(channels, -1).astype(np.float32)


def test_tone_curve_inverse():
    y = np.linspace(0.0, 1.0, 101)
    np.testing.assert_allclose(smoothstep(inverse_smoothstep(y)), y, atol=1e-12)
    np.testing.assert_allclose(inverse_smoothstep(smoothstep(y)), y, atol=1e-7)


def test_random_params_are_plausible_and_deterministic():
    a = random_unprocess_params(np.random.default_rng(3))
    b = random_unprocess_params(np.random.default_rng(3))
    c = random_unprocess_params(np.random.default_rng(4))
    np.testing.assert_array_equal(a.rgb2cam, b.rgb2cam)
    assert (a.red_gain, a.blue_gain, a.rgb_gain) == (b.red_gain, b.blue_gain, b.rgb_gain)
    assert not np.allclose(a.rgb2cam, c.rgb2cam) and a.red_gain != c.red_gain
    for seed in range(20):
        p = random_unprocess_params(np.random.default_rng(seed))
        np.testing.assert_allclose(p.rgb2cam.sum(axis=1), 1.0, atol=1e-12)  # grey stays grey
        np.testing.assert_allclose(p.cam2rgb @ p.rgb2cam, np.eye(3), atol=1e-10)
        assert 1.9 <= p.red_gain <= 2.4 and 1.5 <= p.blue_gain <= 1.9 and 0 < p.rgb_gain <= 2.0


def test_identity_camera_applies_just_the_curves():
    params = UnprocessParams(np.eye(3), 1.0, 1.0)
    raw = unprocess(np.full((4, 4, 3), 0.5, dtype=np.float32), params)
    # inverse smoothstep(0.5) = 0.5, then linearised by x ** 2.2
    np.testing.assert_allclose(raw, 0.5**2.2, rtol=1e-6)


@pytest.mark.parametrize("pattern", CFA_PATTERNS)
def test_unprocess_puts_each_colour_at_its_cfa_position(pattern):
    # On grey, colour correction (rows sum to 1) changes nothing, so the planes differ only by the
    # inverse white-balance gains: G / R is the red gain and G / B the blue gain, exactly.
    params = random_unprocess_params(np.random.default_rng(1))
    raw = unprocess(np.full((6, 8, 3), 0.6, dtype=np.float64), params, pattern)
    r, g1, g2, b = pack_bayer(raw, pattern)
    np.testing.assert_allclose(g1, g2)
    np.testing.assert_allclose(g1 / r, params.red_gain, rtol=1e-9)
    np.testing.assert_allclose(g1 / b, params.blue_gain, rtol=1e-9)


def test_highlights_stay_white():
    # Plain inverse gains would turn saturated white into a tinted raw value no camera records.
    params = random_unprocess_params(np.random.default_rng(2))
    raw = unprocess(np.ones((4, 4, 3), dtype=np.float32), params)
    np.testing.assert_allclose(raw, 1.0)
    np.testing.assert_allclose(process(raw, params), 1.0, atol=1e-6)


@pytest.mark.parametrize("pattern", CFA_PATTERNS)
def test_unprocess_shape_range_and_types(pattern):
    params = random_unprocess_params(np.random.default_rng(0))
    image = np.random.default_rng(0).random((10, 14, 3)).astype(np.float32)
    raw = unprocess(image, params, pattern)
    assert isinstance(raw, np.ndarray) and raw.shape == (10, 14) and raw.dtype == np.float32
    assert raw.min() >= 0.0 and raw.max() <= 1.0

    raw_t = unprocess(torch.from_numpy(image).permute(2, 0, 1), params, pattern)
    assert isinstance(raw_t, torch.Tensor) and raw_t.shape == (10, 14) and raw_t.dtype == torch.float32
    np.testing.assert_allclose(raw_t.numpy(), raw, atol=1e-5)  # measured 6e-7

    back = process(raw, params, pattern)
    back_t = process(raw_t, params, pattern)
    assert back.shape == (10, 14, 3) and back_t.shape == (3, 10, 14)
    np.testing.assert_allclose(back_t.permute(1, 2, 0).numpy(), back, atol=1e-5)

    batch = unprocess(torch.rand(2, 3, 6, 8), params, pattern)  # leading dims pass through
    assert batch.shape == (2, 6, 8)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("pattern", CFA_PATTERNS)
def test_process_inverts_unprocess_on_a_smooth_image(seed, pattern):
    # Measured over these 12 cases: mean abs error <= 2.3e-4, <= 5.1e-4 away from the 2-pixel
    # border (bilinear demosaicing is one-sided there: up to 1.6e-2). Bilinear interpolation is
    # exact on linear ramps; this image is smooth but not linear in the linear-light domain.
    image = _smooth_image()
    params = random_unprocess_params(np.random.default_rng(seed))
    back = process(unprocess(image, params, pattern), params, pattern)
    assert back.shape == image.shape and back.dtype == image.dtype
    error = np.abs(back - image)
    assert error.mean() < 5e-4
    assert error[2:-2, 2:-2].max() < 2e-3


@pytest.mark.parametrize("seed", [0, 3])
def test_process_roughly_inverts_unprocess_on_a_real_image(seed):
    # Edges (bilinear demosaicing) and out-of-gamut colours (clipped in the camera's space) do
    # not come back exactly. Measured on astronaut (512x512, seeds 0-3): mean abs error
    # 0.015-0.018, median 0.0047-0.0062 (coffee: mean up to 0.022, chelsea 0.014).
    data = pytest.importorskip("skimage.data")
    image = (data.astronaut() / 255.0).astype(np.float32)
    params = random_unprocess_params(np.random.default_rng(seed))
    error = np.abs(process(unprocess(image, params), params) - image)
    assert error.mean() < 0.025
    assert np.median(error) < 0.01


def test_unprocess_is_deterministic_for_a_seed():
    image = _smooth_image(16)
    first = unprocess(image, random_unprocess_params(np.random.default_rng(7)))
    again = unprocess(image, random_unprocess_params(np.random.default_rng(7)))
    other = unprocess(image, random_unprocess_params(np.random.default_rng(8)))
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).mean() > 1e-3


# --- noise --------------------------------------------------------------------------------


def test_sampler_log10_ranges_and_slope():
    rng = np.random.default_rng(0)
    shot, read = np.array([sample_noise_levels(rng) for _ in range(20000)]).T
    log_shot, log_read = np.log10(shot), np.log10(read)
    # Base-10 bounds from the SIDD calibration, filled evenly.
    assert math.isclose(SIDD_LOG10_SHOT_MIN, math.log10(6.8674e-4))
    assert log_shot.min() >= SIDD_LOG10_SHOT_MIN and log_shot.max() <= SIDD_LOG10_SHOT_MAX
    assert log_shot.min() < SIDD_LOG10_SHOT_MIN + 0.01 and log_shot.max() > SIDD_LOG10_SHOT_MAX - 0.01
    uniform = stats.uniform(SIDD_LOG10_SHOT_MIN, SIDD_LOG10_SHOT_MAX - SIDD_LOG10_SHOT_MIN)
    assert stats.kstest(log_shot, uniform.cdf).pvalue > 1e-3
    slope, intercept = np.polyfit(log_shot, log_read, 1)
    residual = log_read - (slope * log_shot + intercept)
    # Standard errors at n = 20000: slope 0.003, intercept 0.008, std 0.001.
    assert abs(slope - 1.85) < 0.02
    assert abs(intercept - 0.30) < 0.05
    # Mixing bases (exp instead of 10 **) would give intercept 0.13 and std 0.087 here.
    assert abs(residual.std() - 0.20) < 0.01


def test_sampler_is_deterministic():
    a = [sample_noise_levels(np.random.default_rng(5)) for _ in range(2)]
    assert a[0] == a[1]
    assert sample_noise_levels(np.random.default_rng(6)) != a[0]


@pytest.mark.parametrize("level", [0.0, 0.2, 0.9])
@pytest.mark.parametrize("use_torch", [False, True])
def test_noise_variance_matches_the_model(level, use_torch):
    shot, read = 0.01, 2e-4
    shape = (512, 512)  # relative standard error of a sample variance: sqrt(2 / n) = 0.3%
    if use_torch:
        clean = torch.full(shape, level)
        noisy = add_noise(clean, shot, read, torch.Generator().manual_seed(0))
        residual = (noisy - clean).double().numpy()
    else:
        clean = np.full(shape, level, dtype=np.float32)
        noisy = add_noise(clean, shot, read, np.random.default_rng(0))
        residual = (noisy - clean).astype(np.float64)
    assert noisy.dtype == clean.dtype and noisy.shape == clean.shape
    expected = shot * level + read
    assert abs(residual.var() / expected - 1.0) < 0.03
    assert abs(residual.mean()) < 4 * math.sqrt(expected / residual.size)  # zero mean: not clipped
    if level == 0.0:
        assert (residual < 0).mean() > 0.45  # below the black level, as real raw does


def test_noise_is_reproducible_and_seed_dependent():
    clean = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    a = add_noise(clean, 0.01, 1e-4, np.random.default_rng(1))
    np.testing.assert_array_equal(a, add_noise(clean, 0.01, 1e-4, np.random.default_rng(1)))
    assert not np.array_equal(a, add_noise(clean, 0.01, 1e-4, np.random.default_rng(2)))
    clean_t = torch.from_numpy(clean)
    b = add_noise(clean_t, 0.01, 1e-4, torch.Generator().manual_seed(1))
    assert torch.equal(b, add_noise(clean_t, 0.01, 1e-4, torch.Generator().manual_seed(1)))
    assert not torch.equal(b, add_noise(clean_t, 0.01, 1e-4, torch.Generator().manual_seed(2)))
    with pytest.raises(TypeError):
        add_noise(clean, 0.01, 1e-4, torch.Generator())
    with pytest.raises(TypeError):
        add_noise(clean_t, 0.01, 1e-4, np.random.default_rng(0))


def test_numpy_and_torch_noise_agree_in_distribution():
    clean = np.tile(np.linspace(0.0, 1.0, 256, dtype=np.float32), (256, 1))
    shot, read = sample_noise_levels(np.random.default_rng(11))
    sigma = noise_sigma(clean, shot, read)
    z_np = (add_noise(clean, shot, read, np.random.default_rng(0)) - clean) / sigma
    clean_t = torch.from_numpy(clean)
    noisy_t = add_noise(clean_t, shot, read, torch.Generator().manual_seed(0))
    z_t = ((noisy_t - clean_t) / noise_sigma(clean_t, shot, read)).numpy()
    for z in (z_np, z_t):  # each is standard normal once divided by the model's sigma
        assert abs(z.mean()) < 0.02 and abs(z.std() - 1.0) < 0.02
    assert stats.ks_2samp(z_np.ravel(), z_t.ravel()).pvalue > 1e-3


def test_per_image_levels_broadcast_over_a_batch():
    clean = torch.full((2, 1, 128, 128), 0.5)
    shot = torch.tensor([1e-3, 2e-2]).view(2, 1, 1, 1)
    read = torch.tensor([1e-5, 1e-3]).view(2, 1, 1, 1)
    residual = add_noise(clean, shot, read, torch.Generator().manual_seed(0)) - clean
    variance = residual.double().var(dim=(1, 2, 3))
    expected = (shot * 0.5 + read).double().view(2)
    assert torch.allclose(variance, expected, rtol=0.05)


def test_noise_sigma_and_mean_sigma():
    clean = np.array([[0.0, 1.0], [-1.0, 0.5]], dtype=np.float32)
    sigma = noise_sigma(clean, 0.01, 1e-4)
    # The variance is clamped at 0 where a negative value would make it negative.
    np.testing.assert_allclose(sigma, np.sqrt([[1e-4, 0.0101], [0.0, 0.0051]]), rtol=1e-5)
    expected = math.sqrt((1e-4 + 0.0101 + 0.0 + 0.0051) / 4)  # root of the mean variance
    assert math.isclose(mean_noise_sigma(clean, 0.01, 1e-4), expected, rel_tol=1e-5)
    assert math.isclose(mean_noise_sigma(torch.from_numpy(clean), 0.01, 1e-4), expected, rel_tol=1e-5)
