"""Noise-aware networks: the map beside the image, the strength a user turns, the data they
learn from (noise where cameras have it, regular textures), and the held-out kinds that check it."""

import json

import numpy as np
import pytest
import torch

import zoo
from zoo.cli import main
from zoo.data import crossdomain, phone
from zoo.data.patches import NLF_KNOTS, NoiseMapped, make_batch
from zoo.data.procedural import textures
from zoo.data.specs import open_sources
from zoo.data.unprocess import random_unprocess_params, unprocess
from zoo.errors import ZooError
from zoo.evaluation import load_data
from zoo.metrics import psnr
from zoo.ops.noiselevel import NoiseLevel
from zoo.ops.noisemap import empirical_nlf, interpolate, sigma_map
from zoo.plugins.models.mwnet import with_noise_map


def _tiny(channels: int, noise_map: bool = True):
    return zoo.create_model("mwrcanet", in_channels=channels, widths=[8, 8, 8], depth=1, noise_map=noise_map)


def test_a_noise_aware_network_takes_the_map_after_the_image_and_returns_the_image():
    model = _tiny(3)
    assert model.noise_channels == 3 and model.in_channels == 3
    out = model(torch.rand(2, 6, 40, 24))
    assert out.shape == (2, 3, 40, 24)


def test_a_blind_network_made_noise_aware_computes_what_it_did_until_trained():
    blind = _tiny(1, noise_map=False)
    aware = with_noise_map(blind)
    x = torch.rand(1, 1, 32, 32)
    assert torch.equal(aware(torch.cat([x, torch.rand_like(x)], 1)), blind(x))
    with pytest.raises(ValueError, match="noise-aware already"):
        with_noise_map(aware)


def test_the_map_is_the_level_at_each_pixels_local_mean():
    knots = torch.tensor([0.0, 0.5, 1.0])
    sigma = torch.tensor([[[0.01, 0.03, 0.05]]])
    flat = torch.full((1, 1, 16, 16), 0.25)
    np.testing.assert_allclose(sigma_map(flat, knots, sigma).numpy(), 0.02, rtol=1e-6)
    np.testing.assert_allclose(interpolate(torch.tensor([[[[-1.0, 2.0]]]]), knots, sigma).numpy(), [[[[0.01, 0.05]]]])
    # A mosaic: each pixel takes its CFA plane's function (R, G1, G2, B in row-major order).
    planes = torch.tensor([[[0.01] * 3, [0.02] * 3, [0.03] * 3, [0.04] * 3]])
    mosaic_map = sigma_map(torch.full((1, 1, 8, 10), 0.3), knots, planes, mosaic=True)[0, 0]
    assert mosaic_map[0, 0] == pytest.approx(0.01) and mosaic_map[0, 1] == pytest.approx(0.02)
    assert mosaic_map[1, 0] == pytest.approx(0.03) and mosaic_map[1, 1] == pytest.approx(0.04)


def test_the_training_maps_hold_the_pairs_own_noise_level():
    rng = np.random.default_rng(0)
    clean = np.repeat(np.linspace(0.05, 0.95, 96)[None, :], 96, 0)[None].astype(np.float32)
    noisy = (clean + rng.standard_normal(clean.shape) * np.sqrt(0.01 * clean + 1e-4)).astype(np.float32)
    level = empirical_nlf(torch.from_numpy(noisy), torch.from_numpy(clean), NLF_KNOTS, mosaic=True)
    truth = np.sqrt(0.01 * NLF_KNOTS.numpy() + 1e-4)
    inside = slice(3, 8)  # the knots within the pair's intensities (0.14-0.77); beyond them it is held constant
    np.testing.assert_allclose(level.numpy()[:, inside], np.broadcast_to(truth[inside], (4, 5)), rtol=0.1)
    source = NoiseMapped(open_sources(["mixed-srgb"]))
    noisy_batch, clean_batch = make_batch(source, seed=3, step=0, rank=0, batch=2, patch=32)
    assert noisy_batch.shape == (2, 6, 32, 32) and clean_batch.shape == (2, 3, 32, 32)
    told = noisy_batch[:, 3:].mean((1, 2, 3))
    actual = (noisy_batch[:, :3] - clean_batch).std((1, 2, 3))
    np.testing.assert_allclose(told.numpy(), actual.numpy(), rtol=0.5)  # within the jitter and binning


def test_strength_zero_leaves_the_input_and_a_blind_model_refuses_a_level():
    image = np.random.default_rng(1).uniform(size=(3, 24, 24)).astype(np.float32)
    assert np.array_equal(zoo.denoise(_tiny(3), image, strength=0.0), image)
    for bad in ({"strength": 2.5}, {"strength": float("nan")}):
        with pytest.raises(ZooError, match="strength must be between 0 and 2"):
            zoo.denoise(_tiny(3), image, **bad)
    with pytest.raises(ZooError, match="blind"):
        zoo.denoise(_tiny(3, noise_map=False), image, strength=0.5)
    with pytest.raises(ZooError, match="blind"):
        zoo.denoise(_tiny(3, noise_map=False), image, noise_level=0.02)


def test_what_the_network_is_told_follows_the_level_and_the_strength(monkeypatch):
    told = []
    model = _tiny(3)
    original = model.forward
    monkeypatch.setattr(model, "forward", lambda x: told.append(x[:, 3:].mean().item()) or original(x))
    image = np.full((3, 32, 32), 0.5, dtype=np.float32)
    for strength in (0.5, 1.0, 2.0):
        zoo.denoise(model, image, noise_level=0.04, strength=strength, device="cpu")
    zoo.denoise(model, image, noise_level=NoiseLevel.from_shot_read(0.0, 0.0016, channels=3), device="cpu")
    np.testing.assert_allclose(told, [0.02, 0.04, 0.08, 0.04], rtol=1e-5)


class _Smoother(torch.nn.Module):
    """A noise-aware network that overdoes it: a 5x5 box blur, whatever it is told."""

    in_channels, noise_channels = 3, 3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(x[:, :3], 5, stride=1, padding=2, count_include_pad=False)


def test_a_given_level_holds_the_network_to_it_so_texture_taken_for_noise_is_kept():
    rng = np.random.default_rng(5)
    clean = textures(rng, 96).transpose(2, 0, 1).astype(np.float32)
    for sigma in (0.01, 0.03):  # low noise on fine texture: a blind smoother loses far more than the noise
        noisy = np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 1).astype(np.float32)
        before = psnr(noisy, clean, data_range=1.0)
        unguarded = zoo.denoise(_Smoother(), noisy, noise_level=sigma, guard=False, device="cpu")
        guarded = zoo.denoise(_Smoother(), noisy, noise_level=sigma, device="cpu")
        assert psnr(unguarded, clean, data_range=1.0) < before - 3.0
        assert psnr(guarded, clean, data_range=1.0) > before - 0.1
    # On a flat image the smoother removes only noise: held to the level, it still removes it.
    flat = np.full((3, 96, 96), 0.4, dtype=np.float32)
    noisy = (flat + rng.normal(0, 0.05, flat.shape)).astype(np.float32)
    guarded = zoo.denoise(_Smoother(), noisy, noise_level=0.05, device="cpu")
    assert psnr(guarded, flat, data_range=1.0) > psnr(noisy, flat, data_range=1.0) + 8.0


def test_each_image_of_a_batch_is_told_its_own_estimated_level(monkeypatch):
    told = []
    model = _tiny(3)
    original = model.forward
    monkeypatch.setattr(model, "forward", lambda x: told.append(x[:, 3:].mean((1, 2, 3)).tolist()) or original(x))
    rng = np.random.default_rng(4)
    batch = np.stack([np.clip(0.5 + rng.normal(0, sigma, (3, 96, 96)), 0, 1) for sigma in (0.01, 0.08)])
    zoo.denoise(model, batch.astype(np.float32), device="cpu")
    quiet, loud = told[0]
    assert quiet == pytest.approx(0.01, rel=0.3) and loud == pytest.approx(0.08, rel=0.3)


def test_the_phone_pipeline_keeps_the_clean_brightness_where_nothing_clips():
    rng = np.random.default_rng(2)
    camera = random_unprocess_params(rng)
    clean = unprocess(np.full((128, 128, 3), 0.45), camera, "RGGB")  # a mid-grey wall
    noise = phone.sensor_noise(clean, 2e-3, 1e-5, rng)
    noisy, clean_srgb = phone.phone_develop(clean, noise, camera, phone.InCamera(quality=None))
    assert (noisy > 0).all() and (noisy < 1).all()
    np.testing.assert_allclose(noisy.mean((0, 1)), clean_srgb.mean((0, 1)), atol=2e-3)
    at, _, scale = phone.at_psnr(clean, noise, camera, phone.InCamera(quality=90), 18.0)
    assert psnr(at, clean_srgb, data_range=1.0) == pytest.approx(18.0, abs=0.5) and scale > 1


def test_textures_are_regular_and_drawn_from_the_seed():
    first, again = textures(np.random.default_rng(5), 64), textures(np.random.default_rng(5), 64)
    assert np.array_equal(first, again) and first.shape == (64, 64, 3)
    spectrum = np.abs(np.fft.fft2(first.mean(-1) - first.mean()))
    assert spectrum.max() > 20 * np.median(spectrum)  # a few strong frequencies: a pattern, not noise


def test_the_held_out_sets_have_the_texture_and_phone_lowlight_kinds():
    pairs = load_data("crossdomain-srgb")
    phones = [p for p in pairs if p.tags["kind"] == "phone-lowlight"]
    assert len(phones) == 4 * crossdomain.LEVELS and any(p.tags["kind"] == "texture" for p in pairs)
    psnrs = [10 * np.log10(1 / np.mean((p.noisy.astype(np.float64) - p.clean) ** 2)) for p in phones]
    assert 14.5 <= min(psnrs) and max(psnrs) <= 20.5  # a phone's low-light shots: 15-20 dB


def test_zoo_denoise_strength_flags_are_one_line_errors_when_out_of_range(tmp_path, capsys):
    for flag, value, says in (("--strength", "3", "expected a number from 0 to 2"),
                              ("--noise-level", "nan", "standard deviation")):
        code = main(["denoise", "mwrcanet-srgb-demo", str(tmp_path / "x.png"), "-o", str(tmp_path / "y.png"), flag, value])
        assert code == 2 and says in capsys.readouterr().err


def test_a_dngs_noise_profile_is_the_level_a_noise_aware_model_is_told(tmp_path, monkeypatch):
    pytest.importorskip("rawpy")
    from rawfiles import scene, write_dng

    import zoo.infer.pipeline as pipeline
    from zoo.raw.meta import noise_profile

    dng = write_dng(tmp_path / "shot.dng", scene(32, 48), "GRBG")  # NoiseProfile (1e-4, 1e-6) per colour
    level = noise_profile(dng, "RGGB")
    np.testing.assert_allclose(level.at(np.full((4, 1, 1), 0.5))[:, 0, 0], np.sqrt(1e-4 * 0.5 + 1e-6), rtol=1e-6)
    assert noise_profile(tmp_path / "none.png", "RGGB") is None
    told = []
    original = pipeline.Conditioned
    monkeypatch.setattr(pipeline, "Conditioned",
                        lambda runner, lvls, strength, **kw: told.append(lvls[0]) or original(runner, lvls, strength, **kw))
    zoo.register_model("tiny-aware-raw", lambda: _tiny(1))
    assert main(["denoise", "tiny-aware-raw", str(dng), "-o", str(tmp_path / "out.dng"), "--engine", "torch"]) == 0
    np.testing.assert_allclose(told[0].sigma, level.sigma)
    assert main(["denoise", "tiny-aware-raw", str(dng), "-o", str(tmp_path / "out2.dng"), "--noise-level", "0.01"]) == 0
    np.testing.assert_allclose(told[1].sigma, 0.01)


def test_dark_very_noisy_photos_keep_their_local_brightness_and_colour():
    """The shipped sRGB model on dim phone shots at 18 dB: its 16x16 box means, per channel, stay
    within the noise of the input's (where the input's noise is not clipped at black, which
    biases the input itself)."""
    from zoo.data.capture import PATTERN, level_grid
    from zoo.data.natural import load_srgb, split

    model = zoo.create_model("mwrcanet-srgb-demo")
    deviations = []
    for seed, name in enumerate(split("train")[:3]):
        rng = np.random.default_rng(200 + seed)
        camera = random_unprocess_params(rng)
        clean_raw = unprocess(load_srgb(name)[:256, :256].astype(np.float64), camera, PATTERN) * 2.0 ** -0.5
        noise = phone.sensor_noise(clean_raw, *level_grid(5)[-1], rng)
        noisy, clean, _ = phone.at_psnr(clean_raw, noise, camera, phone.random_in_camera(rng, jpeg_share=1.0), 18.0)
        noisy, clean = (a.transpose(2, 0, 1).astype(np.float32) for a in (noisy, clean))
        out = zoo.denoise(model, noisy, device="cpu")
        box = lambda a: a.reshape(3, 16, 16, 16, 16).mean((2, 4))  # noqa: E731
        sigma = (noisy - clean).std((1, 2))[:, None, None]
        box_noise = (box(noisy) - box(clean)).std((1, 2))[:, None, None]
        unclipped = box(clean) > 2.5 * sigma
        deviations.append((np.abs(box(out) - box(noisy)) / box_noise)[unclipped])
    deviation = np.concatenate(deviations)
    assert deviation.size >= 50
    assert deviation.mean() < 1.5 and deviation.max() < 4.5


def test_bright_noise_survives_the_camera_pipeline():
    """Near white the tone curve flattens: to first order a bright channel's noise all but vanishes
    from the training pairs, developed exactly it keeps its spread (and clipping's pull down)."""
    camera = random_unprocess_params(np.random.default_rng(0))
    clean = np.full((64, 64), 0.3)
    noise = phone.sensor_noise(clean, 1e-2, 1e-4, np.random.default_rng(1))
    processing = phone.InCamera(0.3, 0.8, 0.0, None)
    first, developed = phone.phone_develop(clean, noise, camera, processing, exact_highlights=False)
    exact, _ = phone.phone_develop(clean, noise, camera, processing)
    bright = developed.mean((0, 1)) > 0.95
    assert bright.any()
    assert ((exact - developed).std((0, 1))[bright] > 3 * (first - developed).std((0, 1))[bright]).all()


def test_zoo_bench_times_a_noise_aware_model_with_its_map(capsys):
    zoo.register_model("tiny-aware-srgb", lambda: _tiny(3))
    assert main(["bench", "tiny-aware-srgb", "--size", "32", "--backends", "eager", "--warmup", "0", "--runs", "1",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["backends"][0]["status"] == "ok" and report["gmacs_per_image"] > 0
